package jepsen

import (
	"strings"
	"testing"
	"time"
)

// TestRecoveries: the partition last to acknowledge a send after the
// reference instant sets the recovery time; a partition that never does
// leaves the fault unrecovered.
func TestRecoveries(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	send := func(p int32, start, end int) Op {
		return Op{Process: "queue-p1", Type: OpOK, F: FnSend, Topic: "q", Partition: p, Offset: 0, Start: at(start), Time: at(end)}
	}
	ops := []Op{
		send(0, 0, 10), send(1, 0, 10),
		{Process: "nemesis", Type: OpOK, F: FnFault, Value: string(FaultKillLeader), Time: at(1000)},
		send(0, 1000, 1100), // partition 0 unaffected: 100 ms after the kill
		send(1, 900, 2500),  // partition 1 fails over: 1.5 s after the kill
		{Process: "nemesis", Type: OpOK, F: FnHeal, Time: at(5000)},
		send(0, 5000, 5050), // 50 ms after the heal
		send(1, 4900, 5300), // 300 ms after the heal
		{Process: "nemesis", Type: OpOK, F: FnFault, Value: string(FaultPause), Time: at(6000)},
		{Process: "nemesis", Type: OpOK, F: FnHeal, Time: at(9000)},
		send(0, 9000, 9100), // partition 1 never acknowledges again
	}
	got := Recoveries(ops)
	want := []Recovery{
		{Kind: FaultKillLeader, FromHeal: 300 * time.Millisecond, FromInject: 1500 * time.Millisecond},
		{Kind: FaultPause, FromHeal: -1, FromInject: -1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("fault %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	sum := Summarize("test", time.Minute, 2*time.Minute, append(ops, Op{Process: "nemesis", Type: OpFail, F: FnFault, Detail: string(FaultIsolate)}),
		[]Anomaly{{Kind: "lost-write"}, {Kind: "lost-write"}, {Kind: "weird"}})
	for _, line := range []string{
		"| kill9-leader | 1 | 0 | 0 | 0.30 s | 0.30 s | 0 | 1.50 s | 1.50 s |",
		"| pause | 1 | 0 | 0 | – | – | 1 | – | – |",
		"| partition-isolate | 0 | 1 | 0 |",
		"| lost-write | 2 |", "| duplicate | 0 |", "| group-lost | 0 |", "| weird | 1 |",
		"| queue | send | 7 | 0 | 0 |", "| test | 1m0s | 2m0s | 7 | 2 | 3 |",
	} {
		if !strings.Contains(sum, line) {
			t.Errorf("summary lacks %q:\n%s", line, sum)
		}
	}
}
