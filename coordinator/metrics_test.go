package coordinator

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	clock := NewFakeClock(time.Unix(1000, 0))
	c := New(Config{Partitions: 1, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Minute}, newMemLog(), clock, nil, NewMetrics(reg))
	c.MarkLoaded()
	c.RegisterLag(func(topic string, p int32) (int64, bool) { return 100, topic == "t" })
	// Two brokers in one process: a second registry works too.
	NewMetrics(prometheus.NewRegistry())

	done := make(chan JoinResult, 1)
	c.JoinGroup(JoinRequest{Group: "g", ClientID: "c", SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
		ProtocolType: "consumer", Protocols: []Protocol{{Name: "range"}}}, func(r JoinResult) { done <- r })
	clock.Advance(0) // the initial rebalance delay (0) fires
	r := <-done
	c.SyncGroup(SyncRequest{Group: "g", MemberID: r.MemberID, Generation: r.Generation}, func(SyncResult) {})
	c.WaitIdle()
	if errs := c.CommitOffsets(CommitRequest{Group: "g", MemberID: r.MemberID, Generation: r.Generation,
		Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 60, LeaderEpoch: -1, ExpireTimestamp: -1}}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	c.CommitOffsets(CommitRequest{Group: "simple", Generation: -1,
		Offsets: []OffsetCommit{{Topic: "t", Partition: 1, Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1}}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			got[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	for k, want := range map[string]float64{
		"moldau_group_consumer_lag{group=g,partition=0,topic=t}":      40,
		"moldau_group_consumer_lag{group=simple,partition=1,topic=t}": 99,
		"moldau_group_groups{state=Stable}":                           1,
		"moldau_group_groups{state=Empty}":                            1,
		"moldau_group_groups{state=PreparingRebalance}":               0,
		"moldau_group_groups{state=CompletingRebalance}":              0,
		"moldau_group_groups{state=Dead}":                             0,
		"moldau_group_members{}":                                      1,
		"moldau_group_offset_commits_total{}":                         2,
		"moldau_group_rebalances_total{}":                             1,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	c.Close()
}
