package metadata

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moldau/moldau/internal/scripttest"
)

// TestScripts runs testdata/*.txt (internal/scripttest). After every
// applying command the machine checks that a restore of the snapshot and a
// replay of the whole log from an empty state both give the same snapshot
// bytes.
func TestScripts(t *testing.T) {
	scripttest.Run(t, "testdata/*.txt", func(t *testing.T) func(scripttest.Cmd) string {
		m := &scriptMachine{t: t, st: New()}
		return m.run
	})
}

type logEntry struct {
	index uint64
	rec   []byte
}

type scriptMachine struct {
	t   *testing.T
	st  *State
	log []logEntry
}

// shortID is UUID{15: n}: scripts name topics and incarnations by small
// numbers.
func shortID(n int64) UUID { return UUID{15: byte(n)} }

func showID(id UUID) string {
	if id == shortID(int64(id[15])) {
		return strconv.Itoa(int(id[15]))
	}
	return id.String()
}

func ints32(s string) []int32 {
	if s == "" {
		return []int32{}
	}
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			panic(fmt.Sprintf("bad number %q", f))
		}
		out = append(out, int32(n))
	}
	return out
}

// lists parses "1,2;2,3" into [[1 2] [2 3]].
func lists(s string) [][]int32 {
	var out [][]int32
	for _, l := range strings.Split(s, ";") {
		out = append(out, ints32(l))
	}
	return out
}

// configs parses "a:b,c:d".
func configs(s string) map[string]string {
	if s == "" {
		return map[string]string{}
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, ":")
		out[k] = v
	}
	return out
}

func (m *scriptMachine) apply(c scripttest.Cmd, rec []byte) string {
	index := m.st.View().Applied() + 1
	if c.Has("index") {
		index = uint64(c.Int("index", 0))
	}
	res := m.st.Apply(index, rec)
	if !res.Skipped {
		m.log = append(m.log, logEntry{index, rec})
	}
	m.check(c)
	switch {
	case res.Skipped:
		return fmt.Sprintf("skipped index=%d", index)
	case res.Err != nil:
		return fmt.Sprintf("rejected index=%d: %v", index, res.Err)
	}
	return fmt.Sprintf("ok index=%d", index)
}

// check compares the state's snapshot with a restored copy and a replay.
func (m *scriptMachine) check(c scripttest.Cmd) {
	snap := m.st.Snapshot()
	restored := New()
	if err := restored.Restore(snap); err != nil {
		m.t.Fatalf("%s: restore: %v", c.Pos, err)
	}
	if got := restored.Snapshot(); !bytes.Equal(got, snap) {
		m.t.Fatalf("%s: restored snapshot differs:\n%s\n%s", c.Pos, got, snap)
	}
	replay := New()
	for _, e := range m.log {
		replay.Apply(e.index, e.rec)
	}
	if got := replay.Snapshot(); !bytes.Equal(got, snap) {
		m.t.Fatalf("%s: replayed snapshot differs:\n%s\n%s", c.Pos, got, snap)
	}
}

func (m *scriptMachine) encode(r Record) []byte {
	b, err := Encode(r)
	if err != nil {
		m.t.Fatal(err)
	}
	return b
}

func (m *scriptMachine) run(c scripttest.Cmd) string {
	v := m.st.View()
	switch c.Name {
	case "register":
		id := int32(c.Int("id", 0))
		var ls []Listener
		spec := c.Str("listeners", fmt.Sprintf("PLAINTEXT/PLAINTEXT/b%d/9092", id))
		if spec != "none" {
			for _, l := range strings.Split(spec, ",") {
				f := strings.Split(l, "/")
				port, _ := strconv.Atoi(f[3])
				ls = append(ls, Listener{Name: f[0], SecurityProtocol: f[1], Host: f[2], Port: int32(port)})
			}
		}
		return m.apply(c, m.encode(RegisterBroker{NodeID: id, Incarnation: shortID(c.Int("inc", 1)), Listeners: ls, Rack: c.Str("rack", "")}))
	case "fence":
		return m.apply(c, m.encode(FenceBroker{NodeID: int32(c.Int("id", 0))}))
	case "unregister":
		return m.apply(c, m.encode(UnregisterBroker{NodeID: int32(c.Int("id", 0))}))
	case "unfence":
		return m.apply(c, m.encode(UnfenceBroker{NodeID: int32(c.Int("id", 0))}))
	case "create-topic":
		id := shortID(c.Int("id", 1))
		name := c.Str("name", "t")
		if c.Has("direct") {
			r := CreateTopic{Name: name, TopicID: id, Configs: configs(c.Str("configs", ""))}
			m.direct(c, v, 0, &r.Partitions)
			return m.apply(c, m.encode(r))
		}
		var manual [][]int32
		if c.Has("replicas") {
			manual = lists(c.Str("replicas", ""))
		}
		r, err := v.NewCreateTopic(name, id, configs(c.Str("configs", "")), int32(c.Int("partitions", 1)), int16(c.Int("rf", 1)), manual)
		if err != nil {
			return "propose error: " + err.Error()
		}
		return m.apply(c, m.encode(r))
	case "create-partitions":
		id := shortID(c.Int("id", 1))
		if c.Has("direct") {
			r := CreatePartitions{TopicID: id}
			start := int32(0)
			if t, ok := v.TopicByID(id); ok {
				start = int32(len(t.Partitions))
			}
			m.direct(c, v, start, &r.Partitions)
			return m.apply(c, m.encode(r))
		}
		var manual [][]int32
		if c.Has("replicas") {
			manual = lists(c.Str("replicas", ""))
		}
		r, err := v.NewCreatePartitions(id, int32(c.Int("total", 0)), manual)
		if err != nil {
			return "propose error: " + err.Error()
		}
		return m.apply(c, m.encode(r))
	case "delete-topic":
		return m.apply(c, m.encode(DeleteTopic{TopicID: shortID(c.Int("id", 1))}))
	case "alter-configs":
		return m.apply(c, m.encode(AlterTopicConfigs{TopicID: shortID(c.Int("id", 1)), Configs: configs(c.Str("configs", ""))}))
	case "leadership":
		r := ChangePartitionLeadership{TopicID: shortID(c.Int("id", 1))}
		for _, p := range ints32(c.Str("p", "0")) {
			r.Partitions = append(r.Partitions, LeadershipChange{
				Partition: p, Leader: int32(c.Int("leader", -1)), LeaderEpoch: int32(c.Int("epoch", -1)), ISR: ints32(c.Str("isr", "")),
			})
		}
		return m.apply(c, m.encode(r))
	case "put-entities":
		// put-entities id=N kind=K puts=k1:v1,k2:v2 dels=k3,k4
		r := PutEntities{ID: shortID(c.Int("id", 1)), Kind: c.Str("kind", "acl")}
		for _, kv := range strings.Split(c.Str("puts", ""), ",") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, ":")
			r.Puts = append(r.Puts, Entity{Key: k, Value: []byte(v)})
		}
		for _, k := range strings.Split(c.Str("dels", ""), ",") {
			if k != "" {
				r.Deletes = append(r.Deletes, k)
			}
		}
		return m.apply(c, m.encode(r))
	case "advance-groups":
		return m.apply(c, m.encode(AdvanceGroupIDs{Next: uint64(c.Int("next", 0))}))
	case "raw":
		b, err := hex.DecodeString(c.Str("hex", ""))
		if err != nil {
			m.t.Fatalf("%s: %v", c.Pos, err)
		}
		if s, ok := c.Args["json"]; ok {
			b = append(b, s...)
		}
		return m.apply(c, b)
	case "controller":
		if c.Has("id") {
			m.st.SetController(int32(c.Int("id", -1)), int32(c.Int("epoch", -1)))
		}
		ctl := m.st.View().Controller()
		return fmt.Sprintf("controller=%d epoch=%d", ctl.NodeID, ctl.Epoch)
	case "restore":
		// Restore a corrupted copy of the snapshot (flip byte at), which
		// must fail and leave the state unchanged.
		before := m.st.Snapshot()
		snap := slices.Clone(before)
		if c.Has("flip") {
			snap[c.Int("flip", 0)] ^= 0x20
		}
		if err := m.st.Restore(snap); err != nil {
			if !bytes.Equal(m.st.Snapshot(), before) {
				m.t.Fatalf("%s: state changed", c.Pos)
			}
			return "restore error: " + err.Error()
		}
		return "restored"
	case "state":
		if c.Has("entities") {
			return m.showEntities(v)
		}
		return m.show(v, c.Has("brokers"), c.Has("topics"))
	}
	m.t.Fatalf("%s: unknown command %q", c.Pos, c.Name)
	return ""
}

// direct fills partitions from replicas= and groups= as given, for
// records the proposer would not have built.
func (m *scriptMachine) direct(c scripttest.Cmd, v *View, start int32, parts *[]PartitionAssignment) {
	rs := lists(c.Str("replicas", "1"))
	var groups []uint64
	if c.Has("groups") {
		for _, g := range ints32(c.Str("groups", "")) {
			groups = append(groups, uint64(g))
		}
	} else {
		groups = v.GroupIDs(len(rs))
	}
	first := int32(c.Int("first", int64(start)))
	for i, r := range rs {
		*parts = append(*parts, PartitionAssignment{Partition: first + int32(i), GroupID: groups[i], Replicas: r})
	}
}

func (m *scriptMachine) show(v *View, brokers, topics bool) string {
	all := !brokers && !topics
	var b strings.Builder
	fmt.Fprintf(&b, "applied=%d next-group=%d", v.Applied(), v.NextGroupID())
	if all || brokers {
		for _, br := range v.Brokers() {
			var ls []string
			for _, l := range br.Listeners {
				ls = append(ls, fmt.Sprintf("%s/%s/%s/%d", l.Name, l.SecurityProtocol, l.Host, l.Port))
			}
			fmt.Fprintf(&b, "\nbroker %d inc=%s fenced=%t rack=%q listeners=%s", br.NodeID, showID(br.Incarnation), br.Fenced, br.Rack, strings.Join(ls, ","))
		}
	}
	if all || topics {
		for _, t := range v.Topics() {
			keys := make([]string, 0, len(t.Configs))
			for k := range t.Configs {
				keys = append(keys, k+":"+t.Configs[k])
			}
			slices.Sort(keys)
			fmt.Fprintf(&b, "\ntopic %s id=%s configs=[%s]", t.Name, showID(t.ID), strings.Join(keys, ","))
			if byID, ok := v.TopicByID(t.ID); !ok || byID != t {
				m.t.Fatalf("topic %s not found by id", t.Name)
			}
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n  p%d group=%d replicas=%v leader=%d epoch=%d isr=%v", p.Partition, p.GroupID, p.Replicas, p.Leader, p.LeaderEpoch, p.ISR)
			}
		}
	}
	return b.String()
}

// showEntities prints the entities of every kind and the index of the
// last entity change.
func (m *scriptMachine) showEntities(v *View) string {
	var b strings.Builder
	fmt.Fprintf(&b, "applied=%d entities-changed=%d count=%d", v.Applied(), v.EntitiesChanged(), v.Entities().Len())
	for _, kind := range v.Entities().Kinds() {
		fmt.Fprintf(&b, "\n%s:", kind)
		for _, e := range v.Entities().List(kind) {
			if got, ok := v.Entities().Get(kind, e.Key); !ok || !bytes.Equal(got, e.Value) {
				m.t.Fatalf("%s/%s listed but not found", kind, e.Key)
			}
			fmt.Fprintf(&b, " %s=%s", e.Key, e.Value)
		}
	}
	return b.String()
}
