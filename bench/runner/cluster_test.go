package main

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestVotersList(t *testing.T) {
	if got, want := votersList(3, 9093), "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093"; got != want {
		t.Errorf("votersList = %q, want %q", got, want)
	}
}

func TestKafkaClusterProps(t *testing.T) {
	props := kafkaClusterProps(2, 3, 19092, 19093, "/d/node2/data")
	for _, line := range []string{
		"node.id=2",
		"process.roles=broker,controller",
		"controller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.2:19093,3@127.0.0.3:19093",
		"listeners=PLAINTEXT://127.0.0.2:19092,CONTROLLER://127.0.0.2:19093",
		"advertised.listeners=PLAINTEXT://127.0.0.2:19092",
		"log.dirs=/d/node2/data",
	} {
		if !strings.Contains(props, line+"\n") {
			t.Errorf("properties lack %q:\n%s", line, props)
		}
	}
	// Replication settings stay Kafka's defaults (RF 3 for the internal topics).
	if strings.Contains(props, "replication.factor=1") {
		t.Errorf("properties pin a replication factor of 1:\n%s", props)
	}
}

func TestClusterPortsFreeOnEveryAddress(t *testing.T) {
	ports, err := clusterPorts(3, 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d returned twice: %v", p, ports)
		}
		seen[p] = true
		for i := 1; i <= 3; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", nodeIP(i), p))
			if err != nil {
				t.Fatalf("port %d not free on %s: %v", p, nodeIP(i), err)
			}
			l.Close()
		}
	}
}

func metadataTopic(name string, parts ...kmsg.MetadataResponseTopicPartition) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = kmsg.StringPtr(name)
	mt.Partitions = parts
	return mt
}

func metadataPartition(i, leader int32, isr ...int32) kmsg.MetadataResponseTopicPartition {
	p := kmsg.NewMetadataResponseTopicPartition()
	p.Partition, p.Leader, p.ISR = i, leader, isr
	return p
}

func TestPartitionsReady(t *testing.T) {
	full := func(name string) kmsg.MetadataResponseTopic {
		return metadataTopic(name, metadataPartition(0, 1, 1, 2, 3), metadataPartition(1, 2, 2, 3, 1))
	}
	cases := []struct {
		name   string
		topics []kmsg.MetadataResponseTopic
		minISR int
		want   bool
	}{
		{"all led, full ISR", []kmsg.MetadataResponseTopic{full("a"), full("b")}, 3, true},
		{"an unrelated topic is ignored", []kmsg.MetadataResponseTopic{full("a"), full("b"), metadataTopic("other")}, 3, true},
		{"a topic missing", []kmsg.MetadataResponseTopic{full("a")}, 1, false},
		{"a partition without a leader", []kmsg.MetadataResponseTopic{full("a"), metadataTopic("b", metadataPartition(0, 1, 1), metadataPartition(1, -1))}, 1, false},
		{"fewer partitions than asked", []kmsg.MetadataResponseTopic{full("a"), metadataTopic("b", metadataPartition(0, 1, 1, 2, 3))}, 1, false},
		{"ISR below the minimum", []kmsg.MetadataResponseTopic{full("a"), metadataTopic("b", metadataPartition(0, 1, 1, 2), metadataPartition(1, 2, 2, 3, 1))}, 3, false},
		{"ISR at the minimum", []kmsg.MetadataResponseTopic{full("a"), metadataTopic("b", metadataPartition(0, 1, 1, 2), metadataPartition(1, 2, 2, 3, 1))}, 2, true},
	}
	for _, c := range cases {
		resp := kmsg.NewPtrMetadataResponse()
		resp.Topics = c.topics
		if got := partitionsReady(resp, []string{"a", "b"}, 2, c.minISR); got != c.want {
			t.Errorf("%s: partitionsReady = %v, want %v", c.name, got, c.want)
		}
	}
	resp := kmsg.NewPtrMetadataResponse()
	bad := full("a")
	bad.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
	resp.Topics = []kmsg.MetadataResponseTopic{bad}
	if partitionsReady(resp, []string{"a"}, 2, 1) {
		t.Error("a topic with an error code counted as ready")
	}
}

func TestIdleCost(t *testing.T) {
	sumPct, sumMiB, pct, mib, err := idleCost([]float64{10, 20, 30}, []float64{13, 26, 30.6}, []int64{1024, 2048, 512}, 60)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if !near(sumPct, 16) || !near(pct[0], 5) || !near(pct[1], 10) || !near(pct[2], 1) {
		t.Errorf("CPU %% = %v %v, want 16 [5 10 1]", sumPct, pct)
	}
	if !near(sumMiB, 3.5) || !near(mib[0], 1) || !near(mib[1], 2) || !near(mib[2], 0.5) {
		t.Errorf("RSS MiB = %v %v, want 3.5 [1 2 0.5]", sumMiB, mib)
	}
	for name, f := range map[string]func() error{
		"node counts differ": func() error {
			_, _, _, _, err := idleCost([]float64{1, 2}, []float64{1, 2, 3}, []int64{1, 1, 1}, 1)
			return err
		},
		"CPU went backwards (another process)": func() error {
			_, _, _, _, err := idleCost([]float64{5}, []float64{4}, []int64{1}, 1)
			return err
		},
		"no RSS (process gone)": func() error {
			_, _, _, _, err := idleCost([]float64{1}, []float64{1}, []int64{0}, 1)
			return err
		},
		"empty window": func() error {
			_, _, _, _, err := idleCost([]float64{1}, []float64{1}, []int64{1}, 0)
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseLoad(t *testing.T) {
	out := []byte(`{"mode":"produce","mib_per_s":155.6,"records_per_s":159383.9,"bytes":1073741824,"failed":0,"warmup_mib":32,"ack_latency_us":{"count":1048576,"max":814249,"p50":393215,"p99":688127,"p999":786431},"client_cpu_s":1.5}` + "\n")
	lr, err := parseLoad(out)
	if err != nil {
		t.Fatal(err)
	}
	if lr.MiBPerSec != 155.6 || lr.RecordsPerSec != 159383.9 || lr.Bytes != 1<<30 || lr.WarmupMiB != 32 || lr.AckUs["p99"] != 688127 || lr.ClientCPUSec != 1.5 {
		t.Errorf("parsed %+v", lr)
	}
	if _, err := parseLoad([]byte(`{"mib_per_s":0,"bytes":0,"failed":0}`)); err == nil {
		t.Error("a run that produced nothing parsed without error")
	}
	if _, err := parseLoad([]byte("load: dial tcp: refused")); err == nil {
		t.Error("non-JSON output parsed")
	}
}

func TestRenderClusterRatiosAndPending(t *testing.T) {
	w11 := func(target string, round int, mibs, p99us float64) sample {
		return sample{Workload: "W11", Target: target, Round: round, MiBPerSec: mibs, ProducedGiB: 1, Run: "r",
			Cluster: &clusterSample{RecordsPerSec: mibs * 1024, AckUs: map[string]float64{"p50": 1000, "p99": p99us}, BrokerCPUSec: 4}}
	}
	lat := func(target string, round int, p99us float64) sample {
		return sample{Workload: "W11-lat", Target: target, Round: round, MiBPerSec: 8, Run: "r",
			Cluster: &clusterSample{Rate: 8192, AckUs: map[string]float64{"p50": 1000, "p99": p99us}, BrokerCPUSec: 5, LoadSec: 10}}
	}
	idle := func(target string, round int, rss, cpu float64) sample {
		return sample{Workload: "W12", Target: target, Round: round, Run: "r",
			Cluster: &clusterSample{Partitions: 1000, IdleSec: 60, IdleRSSMiB: rss, IdleCPUPct: cpu, NodeRSSMiB: []float64{rss / 3, rss / 3, rss / 3}, NodeCPUPct: []float64{cpu, 0, 0}}}
	}
	render := func(samples []sample) string {
		var b strings.Builder
		renderCluster(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, samples)
		return b.String()
	}
	both := render([]sample{
		w11("moldau", 1, 200, 4000), w11("kafka", 1, 100, 8000), w11("moldau", 2, 300, 4000), w11("kafka", 2, 100, 8000),
		lat("moldau", 1, 2000), lat("kafka", 1, 40000),
		idle("moldau", 1, 90, 1), idle("kafka", 1, 1200, 30),
	})
	for _, want := range []string{
		"| kafka | 100 · 100 | 100.0 | 104.9 |",       // MiB/s per round, median, MB/s
		"**2.50×** (pairs 2.00–3.00)",                 // throughput ratio: median 250 ÷ 100, per round 2 and 3
		"| kafka | 8192 | 8.0 | 1.00 | 40.0 (40.0) |", // W11-lat rate, p50 and p99 in ms
		"**0.05×**", // W11-lat p99 ratio 2 ÷ 40
		"| 1200 (400 + 400 + 400) | 30.00 (30.00", // W12 per-node RSS and CPU
		"**0.075×**",  // W12 RSS ratio 90 ÷ 1200
		"**0.0333×**", // W12 CPU ratio 1 ÷ 30
	} {
		if !strings.Contains(both, want) {
			t.Errorf("report lacks %q:\n%s", want, both)
		}
	}
	if strings.Contains(both, "not measured") {
		t.Errorf("a target with results reported as not measured:\n%s", both)
	}
	failed := sample{Workload: "W11", Target: "moldau", Round: 1, Run: "r", Err: "moldau cluster: node 1 exited: flag provided but not defined: -peer-addr\nRun 'moldau --help'", Cluster: &clusterSample{}}
	pending := render([]sample{failed, w11("kafka", 1, 100, 8000)})
	if !strings.Contains(pending, "**moldau: not measured** (every round failed; first error: `moldau cluster: node 1 exited: flag provided but not defined: -peer-addr`)") {
		t.Errorf("report does not say Moldau is pending:\n%s", pending)
	}
	tables, _, _ := strings.Cut(pending, "## Targets") // the targets' names have × in them
	if !strings.Contains(tables, "| moldau | err |") || strings.Contains(tables, "×") {
		t.Errorf("a failed target got numbers or a ratio:\n%s", pending)
	}
}

// TestRenderIdleByPartitionCount: W12 at 1,000 and at 10,000 partitions,
// from two runs, both survive merge and get a table each, ratios within a count.
func TestRenderIdleByPartitionCount(t *testing.T) {
	idle := func(run, target string, partitions int, rss, cpu float64) sample {
		return sample{Workload: "W12", Target: target, Round: 1, Run: run,
			Cluster: &clusterSample{Partitions: partitions, IdleSec: 60, IdleRSSMiB: rss, IdleCPUPct: cpu, NodeRSSMiB: []float64{rss}, NodeCPUPct: []float64{cpu}}}
	}
	older := []sample{idle("2026-01-01", "moldau", 1000, 90, 3), idle("2026-01-01", "kafka", 1000, 1200, 30)}
	newer := []sample{idle("2026-02-01", "moldau", 10000, 400, 8), idle("2026-02-01", "kafka", 10000, 1600, 80)}
	merged := merge([]workload{{Name: "W12"}}, newer, older)
	if len(merged) != 4 {
		t.Fatalf("merge kept %d W12 samples of 4", len(merged))
	}
	var b strings.Builder
	renderCluster(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, merged)
	out := b.String()
	for _, want := range []string{
		"idle cost at 1,000 and 10,000 partitions", "### 1,000 partitions", "### 10,000 partitions",
		"**0.075×**", "**0.1×**", // RSS and CPU at 1,000: 90 ÷ 1200, 3 ÷ 30
		"**0.25×**", // RSS at 10,000: 400 ÷ 1600 (CPU 8 ÷ 80 is 0.1× too)
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestCreateChunks: createClusterTopics' requests stay within Kafka's
// 10,000-record CreateTopics limit and keep every topic, in order.
func TestCreateChunks(t *testing.T) {
	for _, tc := range []struct{ topics, n, wantChunks int }{
		{1000, 10, 10}, {100, 10, 1}, {1, 6, 1}, {3, 5000, 3}, {250, 1, 3}, {0, 10, 0},
	} {
		var topics []string
		for i := range tc.topics {
			topics = append(topics, fmt.Sprintf("t%d", i))
		}
		chunks := createChunks(topics, tc.n)
		if len(chunks) != tc.wantChunks {
			t.Errorf("%d topics × %d: %d chunks, want %d", tc.topics, tc.n, len(chunks), tc.wantChunks)
		}
		var got []string
		for _, c := range chunks {
			if len(c) == 0 || len(c) > createChunkTopics || (len(c) > 1 && len(c)*tc.n > createChunkPartitions) {
				t.Errorf("%d topics × %d: chunk of %d topics", tc.topics, tc.n, len(c))
			}
			got = append(got, c...)
		}
		if !slices.Equal(got, topics) {
			t.Errorf("%d topics × %d: chunks lose or reorder topics", tc.topics, tc.n)
		}
	}
}
