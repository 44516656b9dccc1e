package jepsen

import (
	"strings"
	"testing"
	"time"
)

// hb builds synthetic histories: each op gets the next millisecond.
type hb struct {
	t0  time.Time
	n   int
	ops []Op
}

func (b *hb) at() time.Time { b.n++; return b.t0.Add(time.Duration(b.n) * time.Millisecond) }

func (b *hb) add(op Op) *hb {
	if op.Start.IsZero() {
		op.Start = b.at()
	}
	op.Time = b.at()
	if op.Partition == 0 && op.F != FnSend {
		op.Partition = -1
	}
	b.ops = append(b.ops, op)
	return b
}

func (b *hb) send(proc, topic string, p int32, o int64, v string) *hb {
	b.ops = append(b.ops, Op{Time: b.at(), Process: proc, Type: OpInvoke, F: FnSend, Topic: topic, Partition: p, Offset: -1, Value: v})
	return b.add(Op{Process: proc, Type: OpOK, F: FnSend, Topic: topic, Partition: p, Offset: o, Value: v})
}

func (b *hb) sendInfo(proc, topic string, p int32, v string) *hb {
	b.ops = append(b.ops, Op{Time: b.at(), Process: proc, Type: OpInvoke, F: FnSend, Topic: topic, Partition: p, Offset: -1, Value: v})
	return b.add(Op{Process: proc, Type: OpInfo, F: FnSend, Topic: topic, Partition: p, Offset: -1, Value: v})
}

func (b *hb) drain(topic string, recs ...Rec) *hb {
	return b.add(Op{Process: "drain", Type: OpOK, F: FnDrain, Topic: topic, Records: recs})
}

func (b *hb) poll(proc, topic string, recs ...Rec) *hb {
	return b.add(Op{Process: proc, Type: OpOK, F: FnPoll, Topic: topic, Records: recs})
}

func (b *hb) txn(proc string, typ OpType, name, topic string, recs ...Rec) *hb {
	return b.add(Op{Process: proc, Type: typ, F: FnTxn, Topic: topic, Txn: name, Records: recs})
}

func (b *hb) copyTxn(proc, from, to string, recs ...Rec) *hb {
	return b.add(Op{Process: proc, Type: OpOK, F: FnCopy, Topic: from, To: to, Records: recs})
}

func (b *hb) gpoll(group, member string, gen int32, topic string, recs ...Rec) *hb {
	return b.add(Op{Process: member, Type: OpOK, F: FnGroupPoll, Group: group, Member: member, Generation: gen, Topic: topic, Records: recs})
}

func (b *hb) offsets(f string, group string, offs map[int32]int64) *hb {
	return b.add(Op{Process: "offsets", Type: OpOK, F: f, Group: group, Offsets: offs})
}

func r(p int32, o int64, v string) Rec { return Rec{p, o, v} }

func newHB() *hb { return &hb{t0: time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)} }

// TestCheck: for each anomaly kind, one history that must be flagged with
// it (and only anomalies of kinds listed) and one that must be clean.
func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		h    *hb
		want []string // kinds, in any order, with multiplicity
	}{
		{"lost-write", newHB().send("p1", "q", 0, 0, "a").send("p1", "q", 0, 1, "b").drain("q", r(0, 0, "a")), []string{"lost-write"}},
		{"lost-write/info-may-be-missing", newHB().send("p1", "q", 0, 0, "a").sendInfo("p1", "q", 0, "b").drain("q", r(0, 0, "a")), nil},
		{"lost-write/committed-txn", newHB().txn("t1", OpOK, "t1-1", "x", r(0, 0, "a"), r(1, 0, "b")).drain("x", r(0, 0, "a")), []string{"lost-write"}},
		{"lost-write/clean", newHB().send("p1", "q", 0, 0, "a").send("p1", "q", 1, 0, "b").drain("q", r(0, 0, "a"), r(1, 0, "b")), nil},
		{"duplicate", newHB().send("p1", "q", 0, 0, "a").drain("q", r(0, 0, "a"), r(0, 1, "a")), []string{"duplicate"}},
		{"duplicate/across-partitions", newHB().txn("t1", OpOK, "t1-1", "x", r(0, 0, "a")).copyTxn("c", "x", "y", r(0, 0, "a")).drain("y", r(0, 0, "a"), r(1, 0, "a")), []string{"duplicate"}},
		{"duplicate/clean-same-place-twice", newHB().send("p1", "q", 0, 0, "a").poll("r1", "q", r(0, 0, "a")).drain("q", r(0, 0, "a")), nil},
		{"inconsistent-offset", newHB().send("p1", "q", 0, 0, "a").sendInfo("p1", "q", 0, "b").drain("q", r(0, 0, "b")),
			// the ack says offset 0 is "a", the drain says "b"; "a" is then also lost
			[]string{"inconsistent-offset", "lost-write"}},
		{"inconsistent-offset/two-reads", newHB().sendInfo("p1", "q", 0, "a").sendInfo("p1", "q", 0, "b").poll("r1", "q", r(0, 0, "a")).drain("q", r(0, 0, "b")),
			[]string{"inconsistent-offset"}},
		{"non-monotonic-send", newHB().send("p1", "q", 0, 5, "a").send("p1", "q", 0, 3, "b").drain("q", r(0, 3, "b"), r(0, 5, "a")), []string{"non-monotonic-send"}},
		{"non-monotonic-send/other-process", newHB().send("p1", "q", 0, 5, "a").send("p2", "q", 0, 3, "b").drain("q", r(0, 3, "b"), r(0, 5, "a")), nil},
		{"non-monotonic-poll", newHB().send("p1", "q", 0, 0, "a").send("p1", "q", 0, 1, "b").
			poll("r1", "q", r(0, 0, "a"), r(0, 1, "b")).poll("r1", "q", r(0, 1, "b")).drain("q", r(0, 0, "a"), r(0, 1, "b")), []string{"non-monotonic-poll"}},
		{"non-monotonic-poll/clean", newHB().send("p1", "q", 0, 0, "a").send("p1", "q", 0, 1, "b").
			poll("r1", "q", r(0, 0, "a")).poll("r1", "q", r(0, 1, "b")).poll("r2", "q", r(0, 0, "a")).drain("q", r(0, 0, "a"), r(0, 1, "b")), nil},
		{"poll-skip", newHB().send("p1", "q", 0, 0, "a").send("p1", "q", 0, 1, "b").send("p1", "q", 0, 2, "c").
			poll("r1", "q", r(0, 0, "a"), r(0, 2, "c")).drain("q", r(0, 0, "a"), r(0, 1, "b"), r(0, 2, "c")), []string{"poll-skip"}},
		{"poll-skip/from-start", newHB().send("p1", "q", 0, 0, "a").send("p1", "q", 0, 1, "b").
			poll("r1", "q", r(0, 1, "b")).drain("q", r(0, 0, "a"), r(0, 1, "b")), []string{"poll-skip"}},
		{"poll-skip/gap-of-aborted-records", newHB().txn("t1", OpOK, "t1-1", "x", r(0, 0, "a")).txn("t1", OpFail, "t1-2", "x", r(0, 2, "b")).
			txn("t1", OpOK, "t1-3", "x", r(0, 4, "c")).poll("r1", "x", r(0, 0, "a"), r(0, 4, "c")).drain("x", r(0, 0, "a"), r(0, 4, "c")), nil},
		{"aborted-read", newHB().txn("t1", OpFail, "t1-1", "x", r(0, 0, "a")).poll("r1", "x", r(0, 0, "a")).drain("x"), []string{"aborted-read"}},
		{"aborted-read/by-copier", newHB().txn("t1", OpFail, "t1-1", "x", r(0, 0, "a")).copyTxn("c", "x", "y", r(0, 0, "a")).drain("x").drain("y", r(0, 0, "a")),
			[]string{"aborted-read"}},
		{"aborted-read/unknown-may-show", newHB().txn("t1", OpInfo, "t1-1", "x", r(0, -1, "a")).poll("r1", "x", r(0, 0, "a")).drain("x", r(0, 0, "a")), nil},
		{"partial-txn", newHB().txn("t1", OpInfo, "t1-1", "x", r(0, -1, "a"), r(1, -1, "b")).drain("x", r(0, 0, "a")), []string{"partial-txn"}},
		{"partial-txn/all-or-nothing", newHB().txn("t1", OpInfo, "t1-1", "x", r(0, -1, "a"), r(1, -1, "b")).txn("t1", OpInfo, "t1-2", "x", r(0, -1, "c"), r(1, -1, "d")).
			drain("x", r(0, 0, "a"), r(1, 0, "b")), nil},
		{"phantom-read", newHB().send("p1", "q", 0, 0, "a").drain("q", r(0, 0, "a"), r(0, 1, "zz")), []string{"phantom-read"}},
		{"phantom-read/copy-destination", newHB().txn("t1", OpOK, "t1-1", "x", r(0, 0, "a")).copyTxn("c", "x", "y", r(0, 0, "a")).
			drain("x", r(0, 0, "a")).drain("y", r(0, 0, "a"), r(0, 1, "b")), []string{"phantom-read"}},
		{"lost-copy", newHB().txn("t1", OpOK, "t1-1", "x", r(0, 0, "a"), r(1, 0, "b")).copyTxn("c", "x", "y", r(0, 0, "a")).
			drain("x", r(0, 0, "a"), r(1, 0, "b")).drain("y", r(0, 0, "a")), []string{"lost-copy"}},
		{"lost-copy/clean", newHB().txn("t1", OpOK, "t1-1", "x", r(0, 0, "a"), r(1, 0, "b")).copyTxn("c", "x", "y", r(0, 0, "a")).copyTxn("c", "x", "y", r(1, 0, "b")).
			drain("x", r(0, 0, "a"), r(1, 0, "b")).drain("y", r(0, 0, "a"), r(0, 1, "b")), nil},
		{"g1c-cycle/read-from-the-future", func() *hb {
			b := newHB()
			b.copyTxn("c", "x", "y", r(0, 0, "a")) // completes at t=2ms
			b.add(Op{Process: "t1", Type: OpOK, F: FnTxn, Topic: "x", Txn: "t1-1", Records: []Rec{r(0, 0, "a")}, Start: b.t0.Add(time.Second)})
			return b.drain("x", r(0, 0, "a")).drain("y", r(0, 0, "a"))
		}(), []string{"g1c-cycle"}},
		{"g1c-cycle/clean", newHB().txn("t1", OpOK, "t1-1", "x", r(0, 0, "a")).txn("t1", OpOK, "t1-2", "x", r(0, 1, "b")).
			copyTxn("c", "x", "y", r(0, 0, "a"), r(0, 1, "b")).drain("x", r(0, 0, "a"), r(0, 1, "b")).drain("y", r(0, 0, "a"), r(0, 1, "b")), nil},
		{"offset-regression", newHB().offsets(FnCommit, "g", map[int32]int64{0: 10}).offsets(FnCommitted, "g", map[int32]int64{0: 7}), []string{"offset-regression"}},
		{"offset-regression/fetches", newHB().offsets(FnCommitted, "g", map[int32]int64{0: 10, 1: 3}).offsets(FnCommitted, "g", map[int32]int64{0: 10, 1: 2}),
			[]string{"offset-regression"}},
		{"offset-regression/clean", newHB().offsets(FnCommitted, "g", map[int32]int64{0: 3}).offsets(FnCommit, "g", map[int32]int64{0: 10}).
			offsets(FnCommitted, "g", map[int32]int64{0: 10, 1: 1}).offsets(FnCommitted, "h", map[int32]int64{0: 2}), nil},
		{"offset-regression/concurrent", func() *hb {
			// A fetch invoked before a commit completed may see the older value.
			b := newHB()
			b.ops = append(b.ops, Op{Process: "c", Type: OpOK, F: FnCommit, Group: "g", Offsets: map[int32]int64{0: 10}, Start: b.t0, Time: b.t0.Add(5 * time.Millisecond), Partition: -1})
			b.ops = append(b.ops, Op{Process: "o", Type: OpOK, F: FnCommitted, Group: "g", Offsets: map[int32]int64{0: 7}, Start: b.t0.Add(time.Millisecond), Time: b.t0.Add(9 * time.Millisecond), Partition: -1})
			return b
		}(), nil},
		{"double-assignment", newHB().send("p", "g", 0, 0, "a").send("p", "g", 0, 1, "b").
			gpoll("G", "m1", 4, "g", r(0, 0, "a")).gpoll("G", "m2", 4, "g", r(0, 1, "b")), []string{"double-assignment"}},
		{"double-assignment/different-generations", newHB().send("p", "g", 0, 0, "a").send("p", "g", 0, 1, "b").
			gpoll("G", "m1", 4, "g", r(0, 0, "a")).gpoll("G", "m2", 5, "g", r(0, 0, "a"), r(0, 1, "b")).gpoll("H", "m3", 4, "g", r(0, 0, "a"), r(0, 1, "b")).
			gpoll("G", "m4", 0, "g", r(0, 1, "b")).gpoll("G", "m5", 0, "g", r(0, 1, "b")), nil},
		// A zombie: m1's generation-4 poll was followed by a fenced commit
		// (ILLEGAL_GENERATION), so its generation was never confirmed.
		{"double-assignment/fenced-commit", newHB().send("p", "g", 0, 0, "a").send("p", "g", 0, 1, "b").
			gpoll("G", "m1", 4, "g", r(0, 0, "a")).
			add(Op{Process: "m1", Type: OpInfo, F: FnCommit, Group: "G", Member: "m1", Generation: 4, Error: "ILLEGAL_GENERATION"}).
			gpoll("G", "m2", 4, "g", r(0, 1, "b")).
			add(Op{Process: "m2", Type: OpOK, F: FnCommit, Group: "G", Member: "m2", Generation: 4}), nil},
		{"double-assignment/confirmed-commits", newHB().send("p", "g", 0, 0, "a").send("p", "g", 0, 1, "b").
			gpoll("G", "m1", 4, "g", r(0, 0, "a")).
			add(Op{Process: "m1", Type: OpOK, F: FnCommit, Group: "G", Member: "m1", Generation: 4}).
			gpoll("G", "m2", 4, "g", r(0, 1, "b")).
			add(Op{Process: "m2", Type: OpOK, F: FnCommit, Group: "G", Member: "m2", Generation: 4}), []string{"double-assignment"}},
		{"group-lost", newHB().send("p", "g", 0, 0, "a").send("p", "g", 1, 0, "b").gpoll("G", "m1", 1, "g", r(0, 0, "a")), []string{"group-lost"}},
		{"group-lost/clean", newHB().send("p", "g", 0, 0, "a").sendInfo("p", "g", 1, "b").gpoll("G", "m1", 1, "g", r(0, 0, "a")), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.h.ops)
			count := map[string]int{}
			for _, a := range got {
				count[a.Kind]++
			}
			want := map[string]int{}
			for _, k := range tc.want {
				want[k]++
			}
			var details []string
			for _, a := range got {
				details = append(details, a.Kind+": "+a.Detail)
			}
			for k := range mergeKeys(count, want) {
				if count[k] != want[k] {
					t.Errorf("%s: %d, want %d\n%s", k, count[k], want[k], strings.Join(details, "\n"))
				}
			}
		})
	}
	// Every kind has a case that flags it.
	covered := map[string]bool{}
	for _, tc := range cases {
		for _, k := range tc.want {
			covered[k] = true
		}
	}
	for _, k := range AnomalyKinds {
		if !covered[k] {
			t.Errorf("no case flags %s", k)
		}
	}
}

func mergeKeys(ms ...map[string]int) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}
