package sharestate

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/moldau/moldau/broker/share"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testTopic = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// TestGoldenBytes checks the encodings against bytes derived by hand from
// Kafka's ShareSnapshotKey/Value and ShareUpdateKey/Value schemas.
func TestGoldenBytes(t *testing.T) {
	k := share.Key{Group: "g", TopicID: testTopic, Partition: 3}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"snapshot key", EncodeKey(RecordSnapshot, k),
			"0000 0001 67 0102030405060708090a0b0c0d0e0f10 00000003"},
		{"update key", EncodeKey(RecordUpdate, k),
			"0001 0001 67 0102030405060708090a0b0c0d0e0f10 00000003"},
		{"snapshot value", EncodeSnapshot(Snapshot{SnapshotEpoch: 1, StateEpoch: 2, LeaderEpoch: 3, StartOffset: 10,
			DeliveryCompleteCount: 5, CreateTimestamp: 0x100, WriteTimestamp: 0x200,
			Batches: []share.StateBatch{{FirstOffset: 10, LastOffset: 14, DeliveryState: 2, DeliveryCount: 1}}}),
			"0000 00000001 00000002 00000003 000000000000000a 0000000000000100 0000000000000200" +
				" 02 000000000000000a 000000000000000e 02 0001 00" + // one batch, no tags
				" 01 00 04 00000005"}, // tag 0: DeliveryCompleteCount
		{"update value, dcc unknown", EncodeUpdate(Update{SnapshotEpoch: 1, LeaderEpoch: 3, StartOffset: -1, DeliveryCompleteCount: -1}),
			"0000 00000001 00000003 ffffffffffffffff 01 00"},
		{"update value", EncodeUpdate(Update{SnapshotEpoch: 0, LeaderEpoch: -1, StartOffset: 7, DeliveryCompleteCount: 0,
			Batches: []share.StateBatch{{FirstOffset: 7, LastOffset: 7, DeliveryState: 4, DeliveryCount: 5}}}),
			"0000 00000000 ffffffff 0000000000000007 02 0000000000000007 0000000000000007 04 0005 00 01 00 04 00000000"},
	}
	for _, c := range cases {
		if want := unhex(t, c.want); !bytes.Equal(c.got, want) {
			t.Errorf("%s:\n got %x\nwant %x", c.name, c.got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	k := share.Key{Group: "group-é", TopicID: testTopic, Partition: 1 << 20}
	for _, typ := range []int16{RecordSnapshot, RecordUpdate} {
		gt, gk, err := DecodeKey(EncodeKey(typ, k))
		if err != nil || gt != typ || gk != k {
			t.Fatalf("key %d: %v %v %v", typ, gt, gk, err)
		}
	}
	snap := Snapshot{SnapshotEpoch: 9, StateEpoch: 8, LeaderEpoch: 7, StartOffset: 6, DeliveryCompleteCount: -1,
		CreateTimestamp: 5, WriteTimestamp: 4, Batches: []share.StateBatch{{FirstOffset: 1, LastOffset: 2, DeliveryState: 0, DeliveryCount: 1}, {FirstOffset: 3, LastOffset: 9, DeliveryState: 4, DeliveryCount: 3}}}
	gs, err := DecodeSnapshot(EncodeSnapshot(snap))
	if err != nil || fmt.Sprint(gs) != fmt.Sprint(snap) {
		t.Fatalf("snapshot: %+v %v", gs, err)
	}
	up := Update{SnapshotEpoch: 1, LeaderEpoch: 2, StartOffset: -1, DeliveryCompleteCount: 77, Batches: []share.StateBatch{{FirstOffset: 5, LastOffset: 5, DeliveryState: 2, DeliveryCount: 1}}}
	gu, err := DecodeUpdate(EncodeUpdate(up))
	if err != nil || fmt.Sprint(gu) != fmt.Sprint(up) {
		t.Fatalf("update: %+v %v", gu, err)
	}
	// Unknown tags are skipped; truncations and trailing bytes fail.
	v := EncodeUpdate(Update{StartOffset: 1, DeliveryCompleteCount: -1})
	withTag := append(append([]byte{}, v[:len(v)-1]...), 0x02, 0x00, 0x04, 0, 0, 0, 3, 0x07, 0x01, 0xaa)
	if gu, err := DecodeUpdate(withTag); err != nil || gu.DeliveryCompleteCount != 3 {
		t.Fatalf("tags: %+v %v", gu, err)
	}
	full := EncodeSnapshot(snap)
	for i := range full {
		if _, err := DecodeSnapshot(full[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	if _, err := DecodeSnapshot(append(full, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
	if _, _, err := DecodeKey(EncodeKey(5, k)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("type 5: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(EncodeSnapshot(Snapshot{Batches: []share.StateBatch{{FirstOffset: 1, LastOffset: 2, DeliveryState: 0, DeliveryCount: 1}}, DeliveryCompleteCount: 3}))
	f.Add(EncodeUpdate(Update{DeliveryCompleteCount: -1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := DecodeSnapshot(b); err == nil {
			if _, err := DecodeSnapshot(EncodeSnapshot(s)); err != nil {
				t.Fatal(err)
			}
		}
		if u, err := DecodeUpdate(b); err == nil {
			if _, err := DecodeUpdate(EncodeUpdate(u)); err != nil {
				t.Fatal(err)
			}
		}
		_, _, _ = DecodeKey(b)
	})
}

func parseBatches(t *testing.T, s string) []share.StateBatch {
	t.Helper()
	var out []share.StateBatch
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		var b share.StateBatch
		if _, err := fmt.Sscanf(f, "%d-%d:%d:%d", &b.FirstOffset, &b.LastOffset, &b.DeliveryState, &b.DeliveryCount); err != nil {
			t.Fatalf("batch %q: %v", f, err)
		}
		out = append(out, b)
	}
	return out
}

func formatBatches(bs []share.StateBatch, sep string) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = fmt.Sprintf("%d-%d:%d:%d", b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount)
	}
	return strings.Join(parts, sep)
}

// args parses "k=v" fields.
func args(fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return n
}

func script(t *testing.T, path string, fn func(line int, cmd string, fields []string) string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, want, hasWant := strings.Cut(line, "=>")
		fields := strings.Fields(in)
		got := fn(n, fields[0], fields)
		if hasWant && strings.TrimSpace(got) != strings.TrimSpace(want) {
			t.Errorf("%s:%d: %s\n got: %s\nwant: %s", path, n, strings.TrimSpace(in), got, strings.TrimSpace(want))
		}
	}
}

func TestCombineScript(t *testing.T) {
	script(t, "testdata/merge.txt", func(_ int, _ string, fields []string) string {
		a := args(fields)
		got := Combine(parseBatches(t, a["sofar"]), parseBatches(t, a["next"]), atoi(t, a["start"]))
		return formatBatches(got, " ")
	})
}

func errName(err error) string {
	switch {
	case errors.Is(err, share.ErrUninitialized):
		return "uninitialized"
	case errors.Is(err, share.ErrFencedLeaderEpoch):
		return "fenced-leader"
	case errors.Is(err, share.ErrFencedStateEpoch):
		return "fenced-state"
	}
	return "error: " + err.Error()
}

func TestShardScript(t *testing.T) {
	s := NewShard(0)
	off := int64(0)
	apply := func(rec *Record) string {
		if rec == nil {
			return "none"
		}
		typ, _, err := DecodeKey(rec.Key)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Replay(off, rec.Key, rec.Value); err != nil {
			t.Fatal(err)
		}
		off++
		switch {
		case rec.Value == nil:
			return "tombstone"
		case typ == RecordSnapshot:
			return "snapshot"
		}
		return "update"
	}
	script(t, "testdata/shard.txt", func(_ int, cmd string, fields []string) string {
		if cmd == "updates" {
			s = NewShard(int(atoi(t, fields[1])))
			return ""
		}
		if cmd == "cold" {
			a := args(fields)
			recs := s.PrepareColdSnapshots(atoi(t, a["now"]), atoi(t, a["interval"]))
			for i := range recs {
				if got := apply(&recs[i]); got != "snapshot" {
					t.Fatalf("cold snapshot record: %s", got)
				}
			}
			return strconv.Itoa(len(recs))
		}
		k := share.Key{Group: fields[1], TopicID: testTopic, Partition: int32(atoi(t, fields[2]))}
		a := args(fields)
		switch cmd {
		case "init":
			rec, err := s.PrepareInitialize(k, int32(atoi(t, a["state"])), atoi(t, a["start"]), off)
			if err != nil {
				return errName(err)
			}
			return apply(&rec)
		case "write":
			rec, err := s.PrepareWrite(k, int32(atoi(t, a["state"])), int32(atoi(t, a["leader"])), atoi(t, a["start"]), -1, parseBatches(t, a["batches"]), off)
			if err != nil {
				return errName(err)
			}
			return apply(&rec)
		case "read":
			rec, err := s.PrepareRead(k, int32(atoi(t, a["leader"])), off)
			if err != nil {
				return errName(err)
			}
			return apply(rec)
		case "delete":
			return apply(s.PrepareDelete(k))
		case "state":
			st, ok := s.State(k)
			if !ok {
				return "none"
			}
			return fmt.Sprintf("state=%d leader=%d start=%d dcc=%d batches=%s", st.StateEpoch, st.LeaderEpoch, st.StartOffset,
				st.DeliveryCompleteCount, formatBatches(st.Batches, ","))
		}
		t.Fatalf("unknown command %q", cmd)
		return ""
	})
}

// TestReplayRebuilds checks that replaying the records a shard wrote
// rebuilds the same state (what a new leader or a restart does).
func TestReplayRebuilds(t *testing.T) {
	s := NewShard(4)
	var log []Record
	k := share.Key{Group: "g", TopicID: testTopic}
	push := func(r Record, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Replay(int64(len(log)), r.Key, r.Value); err != nil {
			t.Fatal(err)
		}
		log = append(log, r)
	}
	push(s.PrepareInitialize(k, 0, 0, 1))
	for i := int64(0); i < 20; i++ {
		push(s.PrepareWrite(k, 0, 1, i/2, -1, []share.StateBatch{{FirstOffset: i * 3, LastOffset: i*3 + 2, DeliveryState: int8(2 * (i % 3)), DeliveryCount: 1}}, i))
	}
	want, _ := s.State(k)
	r := NewShard(4)
	for i, rec := range log {
		if err := r.Replay(int64(i), rec.Key, rec.Value); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := r.State(k)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replayed %+v\nwant %+v", got, want)
	}
	// Snapshots were written every 4 updates: everything before the latest is redundant.
	if rb := r.RedundantBefore(int64(len(log))); rb <= 0 || rb >= int64(len(log)) {
		t.Fatalf("RedundantBefore = %d of %d", rb, len(log))
	}
	// Replaying from the latest snapshot alone gives the same state.
	rb := r.RedundantBefore(int64(len(log)))
	tail := NewShard(4)
	for i := rb; i < int64(len(log)); i++ {
		if err := tail.Replay(i, log[i].Key, log[i].Value); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := tail.State(k); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("from offset %d: %+v\nwant %+v", rb, got, want)
	}
}
