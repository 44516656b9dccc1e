package coordinator

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/scripttest"
)

// memLog is an in-memory OffsetLog.
type memLog struct {
	mu    sync.Mutex
	parts map[int32][]LogRecord
	fail  bool
	// last describes the latest append (one batch on the real log): each
	// record's type (the key's int16), "-" marking a tombstone.
	last string
}

func newMemLog() *memLog { return &memLog{parts: map[int32][]LogRecord{}} }

var errInjected = errors.New("injected append failure")

func (l *memLog) Append(p int32, recs []Record) (int64, error) {
	return l.AppendTxn(p, -1, -1, recs, nil)
}

func (l *memLog) AppendTxn(p int32, pid int64, _ int16, recs []Record, verify func() error) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return 0, errInjected
	}
	if verify != nil {
		if err := verify(); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrTxnRefused, err)
		}
	}
	var kinds []string
	for _, r := range recs {
		l.parts[p] = append(l.parts[p], LogRecord{Record: Record{Key: append([]byte(nil), r.Key...), Value: r.Value},
			Offset: int64(len(l.parts[p])), ProducerID: pid})
		k := "?"
		if len(r.Key) >= 2 {
			k = strconv.Itoa(int(int16(uint16(r.Key[0])<<8 | uint16(r.Key[1]))))
		}
		if r.Value == nil {
			k += "-"
		}
		kinds = append(kinds, k)
	}
	l.last = strings.Join(kinds, " ")
	return int64(len(l.parts[p]) - 1), nil
}

// writeMarker appends a transaction marker, as the broker does before
// CompleteTxnOffsets.
func (l *memLog) writeMarker(p int32, pid int64, commit bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := AbortMarker
	if commit {
		m = CommitMarker
	}
	l.parts[p] = append(l.parts[p], LogRecord{Offset: int64(len(l.parts[p])), ProducerID: pid, Marker: m})
}

func (l *memLog) Sync(p int32, offset int64) error { return nil }

func (l *memLog) Replay(p int32, fn func(LogRecord) error) error {
	l.mu.Lock()
	recs := append([]LogRecord(nil), l.parts[p]...)
	l.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// scriptEnv runs one testdata script.
type scriptEnv struct {
	t     *testing.T
	clock *FakeClock
	log   *memLog
	cfg   Config
	c     *Coordinator
	ids   int

	mu  sync.Mutex
	out []string

	topics []TopicMeta
}

func (e *scriptEnv) topicByName(name string) TopicMeta {
	for _, t := range e.topics {
		if t.Name == name {
			return t
		}
	}
	e.t.Fatalf("no topic %s", name)
	return TopicMeta{}
}

// parseAssignment reads "t:0,1;u:0" ("-" is empty).
func (e *scriptEnv) parseAssignment(v string) Assignment {
	out := Assignment{}
	if v == "-" {
		return out
	}
	for _, part := range strings.Split(v, ";") {
		name, ps, _ := strings.Cut(part, ":")
		tm := e.topicByName(name)
		out[tm.ID] = []int32{}
		for _, p := range strings.Split(ps, ",") {
			n, _ := strconv.Atoi(p)
			out[tm.ID] = append(out[tm.ID], int32(n))
		}
	}
	return out
}

func (e *scriptEnv) formatAssignment(a Assignment) string {
	var parts []string
	for _, t := range e.topics {
		ps := a[t.ID]
		if len(ps) == 0 {
			continue
		}
		var ns []string
		for _, p := range ps {
			ns = append(ns, strconv.Itoa(int(p)))
		}
		parts = append(parts, t.Name+":"+strings.Join(ns, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ";")
}

func newScriptEnv(t *testing.T) *scriptEnv {
	e := &scriptEnv{t: t, clock: NewFakeClock(time.Unix(1_700_000_000, 0)), log: newMemLog()}
	e.cfg = Config{
		Partitions:             4,
		InitialRebalanceDelay:  3 * time.Second,
		MinSessionTimeout:      time.Second,
		MaxSessionTimeout:      5 * time.Minute,
		MaxGroupSize:           100,
		OffsetsRetention:       time.Hour,
		OffsetMetadataMaxBytes: 16,
		NewMemberID: func(prefix string) string {
			e.ids++
			return fmt.Sprintf("%s-%d", prefix, e.ids)
		},
	}
	e.start()
	return e
}

func (e *scriptEnv) start() {
	e.c = New(e.cfg, e.log, e.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	e.c.SetTopics(func() []TopicMeta { return append([]TopicMeta(nil), e.topics...) }, 45*time.Second, 5*time.Second)
	e.c.SetShareStates(shareStubFor(e)) // share_script_test.go
	for p := int32(0); p < e.cfg.Partitions; p++ {
		if err := e.c.Load(p); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *scriptEnv) emit(format string, args ...any) {
	e.mu.Lock()
	e.out = append(e.out, fmt.Sprintf(format, args...))
	e.mu.Unlock()
}

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	return "error=" + strings.TrimPrefix(err.Error(), "coordinator: ")
}

// run executes one command and returns its output (including callbacks
// that fired while it ran).
func (e *scriptEnv) run(a scripttest.Cmd) string {
	t := e.t
	group := a.Str("group", "g")
	switch a.Name {
	case "join":
		name := a.Str("name", "c")
		req := JoinRequest{Group: group, MemberID: a.Str("member", ""), InstanceID: a.Ptr("instance"),
			ClientID: name, ClientHost: "/127.0.0.1", SessionTimeout: a.Dur("session", 10*time.Second),
			RebalanceTimeout: a.Dur("rebalance", 30*time.Second), ProtocolType: a.Str("type", "consumer"),
			RequireKnownMemberID: a.Str("require-id", "false") == "true"}
		for _, p := range strings.Split(a.Str("protocols", "range"), ",") {
			n, meta, _ := strings.Cut(p, ":")
			req.Protocols = append(req.Protocols, Protocol{Name: n, Metadata: []byte(meta)})
		}
		if v, ok := a.Args["subscribe"]; ok {
			// A consumer protocol subscription (v1, with owned partitions).
			sub := kmsg.NewConsumerMemberMetadata()
			sub.Version = 1
			sub.Topics = strings.Split(v, ",")
			owned := e.parseAssignment(a.Str("owned", "-"))
			for _, tm := range e.topics {
				if ps := owned[tm.ID]; len(ps) > 0 {
					op := kmsg.NewConsumerMemberMetadataOwnedPartition()
					op.Topic, op.Partitions = tm.Name, ps
					sub.OwnedPartitions = append(sub.OwnedPartitions, op)
				}
			}
			for i := range req.Protocols {
				req.Protocols[i].Metadata = sub.AppendTo(nil)
			}
		}
		e.c.JoinGroup(req, func(r JoinResult) {
			if r.Err != nil {
				e.emit("%s: join %s member=%s", name, errName(r.Err), r.MemberID)
				return
			}
			var ms []string
			for _, m := range r.Members {
				if _, ok := a.Args["subscribe"]; ok {
					ms = append(ms, m.MemberID) // binary metadata
					continue
				}
				ms = append(ms, m.MemberID+":"+string(m.Metadata))
			}
			skip := ""
			if r.SkipAssignment {
				skip = " skip-assignment"
			}
			e.emit("%s: join ok member=%s gen=%d proto=%s leader=%s members=[%s]%s", name, r.MemberID, r.Generation,
				r.ProtocolName, r.LeaderID, strings.Join(ms, " "), skip)
		})
	case "sync":
		name := a.Str("name", "c")
		req := SyncRequest{Group: group, MemberID: a.Str("member", ""), InstanceID: a.Ptr("instance"),
			Generation: int32(a.Int("gen", -1)), ProtocolType: a.Ptr("type"), ProtocolName: a.Ptr("proto"),
			Assignments: map[string][]byte{}}
		if v := a.Str("assign", ""); v != "" {
			for _, kv := range strings.Split(v, ",") {
				k, val, _ := strings.Cut(kv, ":")
				req.Assignments[k] = []byte(val)
			}
		}
		byName, byID := map[string][16]byte{}, map[[16]byte]string{}
		for _, tm := range e.topics {
			byName[tm.Name], byID[tm.ID] = tm.ID, tm.Name
		}
		// cassign=m1=t:0,1|m2=t:2,3: consumer protocol assignments.
		if v := a.Str("cassign", ""); v != "" {
			for _, kv := range strings.Split(v, "|") {
				k, val, _ := strings.Cut(kv, "=")
				req.Assignments[k] = encodeClassicAssignment(e.parseAssignment(val), byID)
			}
		}
		decode := a.Str("decode", "false") == "true"
		e.c.SyncGroup(req, func(r SyncResult) {
			if r.Err != nil {
				e.emit("%s: sync %s", name, errName(r.Err))
				return
			}
			if decode {
				e.emit("%s: sync ok proto=%s assignment=%s", name, r.ProtocolName, e.formatAssignment(parseClassicAssignment(r.Assignment, byName)))
				return
			}
			e.emit("%s: sync ok assignment=%q", name, r.Assignment)
		})
	case "heartbeat":
		err := e.c.Heartbeat(group, a.Str("member", ""), a.Ptr("instance"), int32(a.Int("gen", -1)))
		e.emit("heartbeat %s: %s", a.Str("member", ""), errName(err))
	case "leave":
		var ms []LeaveMember
		for _, id := range strings.Split(a.Str("member", ""), ",") {
			ms = append(ms, LeaveMember{MemberID: id, InstanceID: a.Ptr("instance")})
		}
		errs, err := e.c.LeaveGroup(group, ms)
		if err != nil {
			e.emit("leave: %s", errName(err))
			break
		}
		for i, m := range ms {
			e.emit("leave %s: %s", m.MemberID, errName(errs[i]))
		}
	case "commit":
		req := CommitRequest{Group: group, MemberID: a.Str("member", ""), InstanceID: a.Ptr("instance"),
			Generation: int32(a.Int("gen", -1))}
		var keys []string
		for k := range a.Args {
			if strings.HasPrefix(k, "t") && k != "type" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p, _ := strconv.Atoi(k[1:])
			off, meta, _ := strings.Cut(a.Args[k], "/")
			n, _ := strconv.ParseInt(off, 10, 64)
			req.Offsets = append(req.Offsets, OffsetCommit{Topic: "t", Partition: int32(p), Offset: n, LeaderEpoch: -1, Metadata: meta, ExpireTimestamp: -1})
		}
		errs := e.c.CommitOffsets(req)
		for i, o := range req.Offsets {
			e.emit("commit t%d: %s", o.Partition, errName(errs[i]))
		}
	case "fetch":
		offs, err := e.c.FetchOffsets(group, nil)
		if err != nil {
			e.emit("fetch: %s", errName(err))
			break
		}
		if len(offs) == 0 {
			e.emit("fetch: none")
		}
		for _, o := range offs {
			e.emit("fetch %s%d: %d %q", o.Topic, o.Partition, o.Offset, o.Metadata)
		}
	case "delete-offsets":
		errs, err := e.c.DeleteOffsets(group, []TopicPartition{{"t", int32(a.Int("p", 0))}})
		if err != nil {
			e.emit("delete-offsets: %s", errName(err))
		} else {
			e.emit("delete-offsets: %s", errName(errs[0]))
		}
	case "describe":
		d, err := e.c.DescribeGroup(group)
		if err != nil {
			e.emit("describe: %s state=%s", errName(err), d.State)
			break
		}
		g := e.c.getGroup(group)
		g.mu.Lock()
		gen, leader := g.generation, g.leader
		g.mu.Unlock()
		var ms []string
		for _, m := range d.Members {
			s := m.MemberID
			if m.InstanceID != nil {
				s += "(" + *m.InstanceID + ")"
			}
			if d.State == StateStable {
				s += fmt.Sprintf(":%q", m.Assignment)
			}
			ms = append(ms, s)
		}
		e.emit("describe: state=%s gen=%d type=%s proto=%s leader=%s members=[%s]", d.State, gen, d.ProtocolType, d.Protocol, leader, strings.Join(ms, " "))
	case "list":
		for _, l := range e.c.ListGroups() {
			e.emit("list: %s %s %s %s", l.Group, l.Type, l.ProtocolType, l.StateName)
		}
	case "delete":
		e.emit("delete: %s", errName(e.c.DeleteGroup(group)))
	case "expire":
		e.emit("expire: %d", e.c.ExpireOffsets())
	case "advance":
		e.clock.Advance(a.Dur("by", 0))
		e.c.WaitIdle()
		e.emit("now +%s", e.clock.Now().Sub(time.Unix(1_700_000_000, 0)))
	case "topic":
		// Adds or resizes a topic seen by KIP-848 assignment.
		name := a.Str("name", "t")
		n := int32(a.Int("partitions", 1))
		found := false
		for i := range e.topics {
			if e.topics[i].Name == name {
				e.topics[i].Partitions, found = n, true
			}
		}
		if !found {
			e.topics = append(e.topics, TopicMeta{ID: [16]byte{byte(len(e.topics) + 1)}, Name: name, Partitions: n})
		}
	case "chb":
		req := ConsumerHeartbeatRequest{Group: group, MemberID: a.Str("member", ""), MemberEpoch: int32(a.Int("epoch", 0)),
			InstanceID: a.Ptr("instance"), RebalanceTimeout: a.Dur("rebalance", 10*time.Second), ServerAssignor: a.Ptr("assignor"),
			SubscribedRegex: a.Ptr("regex"), ClientID: "c", ClientHost: "/127.0.0.1"}
		if v, ok := a.Args["topics"]; ok {
			req.SubscribedTopics = strings.Split(v, ",")
		}
		if v, ok := a.Args["owned"]; ok {
			req.Owned = e.parseAssignment(v)
		}
		r := e.c.ConsumerHeartbeat(req)
		if r.Err != nil {
			e.emit("chb %s: %s epoch=%d", req.MemberID, errName(r.Err), r.MemberEpoch)
			break
		}
		as := "(unchanged)"
		if r.Assignment != nil {
			as = e.formatAssignment(r.Assignment)
		}
		e.emit("chb %s: ok epoch=%d assignment=%s", r.MemberID, r.MemberEpoch, as)
	case "cdescribe":
		d, err := e.c.DescribeConsumerGroup(group)
		if err != nil {
			e.emit("cdescribe: %s", errName(err))
			break
		}
		e.emit("cdescribe: state=%s epoch=%d target-epoch=%d", d.State, d.GroupEpoch, d.TargetEpoch)
		for _, m := range d.Members {
			classic := ""
			if m.Classic {
				classic = " (classic)"
			}
			e.emit("  %s%s epoch=%d assigned=%s target=%s", m.MemberID, classic, m.MemberEpoch, e.formatAssignment(m.Assignment), e.formatAssignment(m.Target))
		}
	case "set":
		// Changes a setting for the rest of the script (a restart applies
		// it to the coordinator).
		if v, ok := a.Args["max-size"]; ok {
			n, _ := strconv.Atoi(v)
			e.cfg.MaxGroupSize = n
			e.c.cfg.MaxGroupSize = n
		}
	case "last-append":
		// The record types of the latest append: one append is one batch.
		e.log.mu.Lock()
		e.emit("last append: %s", e.log.last)
		e.log.mu.Unlock()
	case "fail-appends":
		e.log.mu.Lock()
		e.log.fail = a.Str("on", "true") == "true"
		e.log.mu.Unlock()
	case "restart":
		e.c.Close()
		e.start()
		e.emit("restarted")
	default:
		if !e.runStreams(a, group) && !e.runShare(a) { // streams_script_test.go, share_script_test.go
			t.Fatalf("%s: unknown command %q", a.Pos, a.Name)
		}
	}
	e.c.WaitIdle()
	e.checkPersisted(a.Line)
	e.mu.Lock()
	out := strings.Join(e.out, "\n")
	e.out = nil
	e.mu.Unlock()
	return out
}

// checkPersisted fails the test if a consumer group's state differs from
// what its records in the log say (the scoped persistence of heartbeats
// missed a change), unless appends are being failed on purpose.
func (e *scriptEnv) checkPersisted(cmd string) {
	e.log.mu.Lock()
	failing := e.log.fail
	e.log.mu.Unlock()
	if failing {
		return
	}
	for _, g := range e.c.allGroups() {
		g.mu.Lock()
		if g.consumer != nil {
			if recs, _ := g.consumerDiffLocked(""); len(recs) > 0 {
				e.t.Errorf("after %q group %s has %d unpersisted consumer records", cmd, g.id, len(recs))
			}
		}
		if g.streams != nil {
			if recs, _ := g.streamsDiffLocked(""); len(recs) > 0 {
				e.t.Errorf("after %q group %s has %d unpersisted streams records", cmd, g.id, len(recs))
			}
		}
		if g.share != nil {
			if recs, _ := g.shareDiffLocked(""); len(recs) > 0 {
				e.t.Errorf("after %q share group %s has %d unpersisted records", cmd, g.id, len(recs))
			}
		}
		g.mu.Unlock()
	}
}

// TestScripts runs testdata/*.txt (internal/scripttest); -rewrite
// regenerates the expected output.
func TestScripts(t *testing.T) {
	scripttest.Run(t, "testdata/*.txt", func(t *testing.T) func(scripttest.Cmd) string {
		e := newScriptEnv(t)
		t.Cleanup(e.c.Close)
		return e.run
	})
}
