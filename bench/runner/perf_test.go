package main

import "testing"

// Output of kafka-producer-perf-test and kafka-consumer-perf-test 4.4.0
// against Moldau (captured 2026-11-26), with the tools' noise lines.
const producerOut = `SLF4J: Defaulting to no-operation (NOP) logger implementation
SLF4J: See http://www.slf4j.org/codes.html#StaticLoggerBinder for further details.
120001 records sent, 24000.2 records/sec (23.44 MB/sec), 500.1 ms avg latency, 800.0 ms max latency.
200000 records sent, 58997.050147 records/sec (57.61 MB/sec), 382.92 ms avg latency, 533.00 ms max latency, 398 ms 50th, 495 ms 95th, 521 ms 99th, 531 ms 99.9th.
`

const consumerOut = `Warning: --messages is deprecated. Use --num-records instead.
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-26 21:47:25:796, 2026-11-26 21:47:30:606, 195.3125, 40.6055, 200000, 41580.0416, 3764, 1046, 186.7232, 191204.5889
`

func TestParseProducerPerf(t *testing.T) {
	m, err := parseProducerPerf(producerOut)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"records": 200000, "records_per_s": 58997.050147, "mb_per_s": 57.61, "avg_ms": 382.92,
		"max_ms": 533, "p50_ms": 398, "p95_ms": 495, "p99_ms": 521, "p999_ms": 531}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, err := parseProducerPerf("1000 records sent, 10 records/sec (0.01 MB/sec), 1 ms avg latency, 2 ms max latency.\n"); err == nil {
		t.Error("a progress line without percentiles parsed as the summary")
	}
}

func TestParseConsumerPerf(t *testing.T) {
	m, err := parseConsumerPerf(consumerOut)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{"MB.sec": 40.6055, "data.consumed.in.nMsg": 200000, "rebalance.time.ms": 3764, "fetch.MB.sec": 186.7232} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, err := parseConsumerPerf("Exception in thread main\n"); err == nil {
		t.Error("output without a summary parsed")
	}
}

func TestMergeTakesNewestRunPerWorkloadAndPartitionCount(t *testing.T) {
	wls := []workload{{Name: "W2"}, {Name: "W9"}}
	previous := []sample{
		{Workload: "W2", Target: "moldau", Run: "legacy:runs.jsonl", src: "runs.jsonl", MiBPerSec: 1},
		{Workload: "W2", Target: "moldau", Run: "2026-11-26T22:00:00Z", src: "runs-side.jsonl", MiBPerSec: 2},
		{Workload: "W9", Target: "moldau", Run: "2026-11-26T21:00:00Z", src: "runs.jsonl", Scale: &scaleSample{Partitions: 1}},
		{Workload: "W9", Target: "moldau", Run: "2026-11-26T21:00:00Z", src: "runs.jsonl", Scale: &scaleSample{Partitions: 10}, Err: "old"},
	}
	current := []sample{{Workload: "W9", Target: "moldau", Run: "2026-11-26T23:00:00Z", Scale: &scaleSample{Partitions: 10}}}
	got := merge(wls, current, previous)
	if len(got) != 3 {
		t.Fatalf("merged %d samples, want 3: %+v", len(got), got)
	}
	if got[0].MiBPerSec != 1 {
		t.Errorf("W2 came from %q; runs.jsonl must win over a side file", got[0].Run)
	}
	for _, s := range got[1:] {
		if s.Scale.Partitions == 10 && s.Err != "" {
			t.Error("W9 at 10 partitions kept the older run")
		}
	}
}
