package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestEqRate(t *testing.T) {
	rate, slowest, ok := eqRate(map[string]float64{"moldau": 230000, "kafka": 160001}, 0.5)
	if !ok || slowest != "kafka" || rate != 80001 {
		t.Errorf("eqRate = %v %q %v, want 80001 kafka true", rate, slowest, ok)
	}
	if _, slowest, _ := eqRate(map[string]float64{"moldau": 100, "kafka": 100}, 0.5); slowest != "kafka" {
		t.Errorf("a tie went to %q, want the first name in order (kafka)", slowest)
	}
	if _, _, ok := eqRate(map[string]float64{"moldau": 230000}, 0.5); ok {
		t.Error("one target alone has a like-for-like rate")
	}
	if _, _, ok := eqRate(map[string]float64{"moldau": 1, "kafka": 0}, 0.5); ok {
		t.Error("a zero saturation gave a rate")
	}
}

func TestLatencyRate(t *testing.T) {
	old := *w11Rate
	defer func() { *w11Rate = old }()
	*w11Rate = 0
	if r, basis := latencyRate(123457); r != 61729 || basis != "50% of its own W11" {
		t.Errorf("latencyRate = %v %q, want 61729 (half of 123457, rounded) and 50%% of its own W11", r, basis)
	}
	*w11Rate = 8192
	if r, basis := latencyRate(123457); r != 8192 || basis != "fixed" {
		t.Errorf("with -w11-rate: %v %q, want 8192 fixed", r, basis)
	}
	if got := pct(0.333); got != "33.3%" {
		t.Errorf("pct(0.333) = %q", got)
	}
}

func TestConsumeResult(t *testing.T) {
	lr, err := consumeResult([]byte(`{"mode":"consume","mib_per_s":512.5,"records_per_s":524800,"bytes":1073741824,"client_cpu_s":2}`))
	if err != nil || lr.MiBPerSec != 512.5 || lr.Bytes != 1<<30 || lr.ClientCPUSec != 2 {
		t.Errorf("consumeResult = %+v, %v", lr, err)
	}
	if _, err := consumeResult([]byte(`{"mode":"consume","mib_per_s":0,"bytes":0}`)); err == nil {
		t.Error("an empty read parsed without error")
	}
}

func TestLeadersAndVictim(t *testing.T) {
	resp := kmsg.NewPtrMetadataResponse()
	resp.Topics = []kmsg.MetadataResponseTopic{
		metadataTopic("other", metadataPartition(0, 1)),
		metadataTopic("w14", metadataPartition(0, 2), metadataPartition(1, 3), metadataPartition(2, 2), metadataPartition(3, 3), metadataPartition(4, 1), metadataPartition(5, -1)),
	}
	leaders := leadersOf(resp, "w14")
	if !slices.Equal(leaders[2], []int32{0, 2}) || !slices.Equal(leaders[3], []int32{1, 3}) || !slices.Equal(leaders[-1], []int32{5}) || len(leaders[1]) != 1 {
		t.Errorf("leadersOf = %v", leaders)
	}
	if v := pickVictim(leaders); v != 2 {
		t.Errorf("pickVictim = %d, want 2 (ties with 3: the lowest id; -1 is no node)", v)
	}
	if v := pickVictim(map[int32][]int32{-1: {0, 1, 2}}); v != -1 {
		t.Errorf("pickVictim without leaders = %d", v)
	}
	if ledWithout(resp, "w14", 6, 9) {
		t.Error("a partition without a leader counted as led")
	}
	resp.Topics[1].Partitions[5].Leader = 1
	if !ledWithout(resp, "w14", 6, 9) {
		t.Error("every partition led, yet not ledWithout")
	}
	if ledWithout(resp, "w14", 6, 3) {
		t.Error("partitions led by the dead node counted")
	}
	if ledWithout(resp, "w14", 7, 9) {
		t.Error("a missing partition went unnoticed")
	}
}

func TestAckTracker(t *testing.T) {
	var a ackTracker
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	a.done(0, at(-5), at(-4), nil) // before any kill
	a.arm(t0)
	a.done(0, at(-1), at(300), nil) // handed over before the kill: the old leader's record
	if _, ok := a.lastFirstAck([]int32{0}); ok {
		t.Error("a record sent before the kill counted")
	}
	a.done(0, at(10), at(900), nil)
	a.done(0, at(20), at(950), nil)
	a.done(1, at(30), at(1200), errors.New("NOT_ENOUGH_REPLICAS"))
	if _, ok := a.lastFirstAck([]int32{0, 1}); ok {
		t.Error("partition 1 has no ack, yet counted")
	}
	a.done(1, at(40), at(1500), nil)
	last, ok := a.lastFirstAck([]int32{0, 1})
	if !ok || !last.Equal(at(1500)) {
		t.Errorf("lastFirstAck = %v %v, want 1.5 s after the kill", last.Sub(t0), ok)
	}
	if a.acked != 5 || a.failed != 1 || a.firstErr != "NOT_ENOUGH_REPLICAS" {
		t.Errorf("acked %d failed %d first %q", a.acked, a.failed, a.firstErr)
	}
	a.arm(at(2000))
	if _, ok := a.lastFirstAck([]int32{0}); ok {
		t.Error("arming again kept the previous kill's acks")
	}
}

func TestJavaBackoff(t *testing.T) {
	for fails, want := range map[int]time.Duration{0: 100 * time.Millisecond, 1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		if got := javaBackoff(fails); got != want {
			t.Errorf("javaBackoff(%d) = %v, want %v", fails, got, want)
		}
	}
}

// clusterSamples is a report's worth of W11-lat, W11-lat-eq, W13 and W14.
func clusterSamples() []sample {
	lat := func(w, target string, round int, rate, p50, p99, p999 float64, basis string) sample {
		return sample{Workload: w, Target: target, Round: round, MiBPerSec: rate / 1024, Run: "r",
			Cluster: &clusterSample{Rate: rate, RecordsPerSec: rate, RateBasis: basis, AckUs: map[string]float64{"p50": p50, "p99": p99, "p999": p999, "max": p999 * 2}, BrokerCPUSec: 5, LoadSec: 10,
				SendLagUs: map[string]float64{"p50": 300, "p99": 2500}}}
	}
	consume := func(target string, round int, mibs float64) sample {
		return sample{Workload: "W13", Target: target, Round: round, MiBPerSec: mibs, Run: "r",
			Cluster: &clusterSample{RecordsPerSec: mibs * 1024, PreloadMiBPerSec: mibs / 4, BrokerCPUSec: 2, ClientCPUSec: 4, ConsumedGiB: 1}}
	}
	fo := func(target string, round int, err string, kills ...failoverKill) sample {
		return sample{Workload: "W14", Target: target, Round: round, Run: "r", Err: err,
			Cluster: &clusterSample{Failover: &failoverSample{Partitions: 6, Rate: 1000, Kills: kills, Acked: 1000, Failed: 1}}}
	}
	behind := lat("W11-lat", "kafka", 1, 80000, 10000, 40000, 80000, "50% of its own W11")
	behind.Cluster.RecordsPerSec = 60000
	kept := lat("W11-lat", "moldau", 1, 120000, 1000, 4000, 8000, "50% of its own W11")
	kept.Cluster.RecordsPerSec = 119000
	return []sample{
		kept, behind,
		lat("W11-lat-eq", "moldau", 1, 80000, 800, 2000, 5000, "50% of kafka's W11"), lat("W11-lat-eq", "kafka", 1, 80000, 10000, 40000, 80000, "50% of kafka's W11"),
		consume("moldau", 1, 600), consume("kafka", 1, 400), consume("moldau", 2, 800), consume("kafka", 2, 400),
		fo("moldau", 1, "", failoverKill{Victim: 1, Led: []int32{0, 3}, LeaderMs: 1000, ProduceMs: 1100, RejoinMs: 50}, failoverKill{Victim: 2, Led: []int32{1}, LeaderMs: 1500, ProduceMs: 1700, RejoinMs: 70}),
		fo("moldau", 2, "node 3 after its restart: ISR", failoverKill{Victim: 3, Led: []int32{2}, LeaderMs: 2000, ProduceMs: 2100}, failoverKill{Victim: 1, Err: "no acknowledgement"}),
		fo("kafka", 1, "", failoverKill{Victim: 1, Led: []int32{0, 3}, LeaderMs: 9000, ProduceMs: 9500, RejoinMs: 6000, Controller: true}, failoverKill{Victim: 2, Led: []int32{1, 4}, LeaderMs: 11000, ProduceMs: 11000, RejoinMs: 7000}),
	}
}

func TestRenderClusterLatencyConsumeFailover(t *testing.T) {
	var b strings.Builder
	renderCluster(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, clusterSamples())
	got := b.String()
	for _, want := range []string{
		"each target at the same load relative to its own saturation",
		"| moldau | 120000 | 117.2 | 1.00 | 4.0 (4.0) | 8.0 | 16.0 | 50 |",        // W11-lat: own rate, percentiles ms
		"| kafka | 80000 | 78.1 | 10.00 | 40.0 (40.0) | 80.0 | 160.0 | 50 |",      // W11-lat-eq: no pause column
		"**0.05×** | **0.0625×** |",                                               // W11-lat-eq p99 2 ÷ 40, p99.9 5 ÷ 80
		"| 160.0 | 50 | 0 | 0.30 / 2.50 | **0.1×** |",                             // send lag; W11-lat p50 ratio 1 ÷ 10
		"one absolute rate for every target in a round**, 50% of kafka's W11",     // which is which
		"| moldau | 600 · 800 | 700.0 | 716800 | 175.0 | 2.00 | 4.00 | — |",       // W13
		"| kafka | 400 · 400 | 400.0 |",                                           // W13
		"**1.75×** (pairs 1.50–2.00)",                                             // W13 ratio
		"| moldau | 3 of 4 | 1500 | 2000 | 1700 | 2100 | 60 | 2000 / 2 | — | — |", // W14: the failed kill is counted, not measured
		"| kafka | 2 of 2 | 10000 | 11000 | 10250 | 11000 | 6500 | 1000 / 1 |",
		"r2 node 1 (0): no acknowledgement",
		"r1 node 1 (2, controller): 9000 / 9500",
		"**kafka fell behind the rate** (round 1: 75% of 80000 records/s)",
		"moldau round 2 stopped early: `node 3 after its restart: ISR`",
		"| W11-lat-eq p99 ≤ 0.5× Kafka's (both at one rate) | **0.05×** | met |",
		"| W11 acks=all RF=3 throughput ≥ 1.5× Kafka | no run | – |",
		"| Moldau p50 1.70 s, max 2.10 s (Kafka 10.25 s / 11.00 s) | met at the median, missed at the max |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "moldau fell behind") {
		t.Errorf("99%% of the rate flagged as behind:\n%s", got)
	}
}

func TestFailoverTimesRatios(t *testing.T) {
	leader, produce, tried, perP, perL := failoverTimes(clusterSamples(), "moldau")
	if tried != 4 || len(leader) != 3 || median(produce) != 1700 || slices.Max(leader) != 2000 {
		t.Errorf("failoverTimes: leader %v produce %v tried %d", leader, produce, tried)
	}
	if perP[1] != 1400 || perP[2] != 2100 || perL[1] != 1250 {
		t.Errorf("per-round medians: produce %v leader %v", perP, perL)
	}
}

func TestClusterPlots(t *testing.T) {
	dir := t.TempDir()
	samples := append(clusterSamples(), sample{Workload: "W11", Target: "moldau", Round: 1, MiBPerSec: 200, Run: "r", Cluster: &clusterSample{}})
	if err := plots(dir, nil, samples); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cluster-throughput.png", "cluster-latency.png", "w14-failover.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if st.Size() < 1000 {
			t.Errorf("%s: %d bytes", f, st.Size())
		}
	}
}
