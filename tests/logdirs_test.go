package tests

// Kafka 4.4's kafka-log-dirs.sh (LogDirsCommand), kafka-metadata-quorum.sh
// (MetadataQuorumCommand) and kafka-reassign-partitions.sh with log_dirs,
// run from the cached jars as the other CLI tests do, against the moldau
// binary (single node, on disk and --memory) and a three-node in-process
// cluster.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/embed"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// logDirsReport is kafka-log-dirs.sh --describe's JSON.
type logDirsReport struct {
	Version int `json:"version"`
	Brokers []struct {
		Broker  int32 `json:"broker"`
		LogDirs []struct {
			LogDir     string  `json:"logDir"`
			Error      *string `json:"error"`
			Partitions []struct {
				Partition string `json:"partition"`
				Size      int64  `json:"size"`
				OffsetLag int64  `json:"offsetLag"`
				IsFuture  bool   `json:"isFuture"`
			} `json:"partitions"`
		} `json:"logDirs"`
	} `json:"brokers"`
}

// describeLogDirs runs kafka-log-dirs.sh --describe and parses its report.
func describeLogDirs(t *testing.T, libs, bootstrap string, args ...string) logDirsReport {
	t.Helper()
	out, err := javaTool(t, libs, "", "org.apache.kafka.tools.LogDirsCommand",
		append([]string{"--bootstrap-server", bootstrap, "--describe"}, args...)...)
	if err != nil {
		t.Fatalf("kafka-log-dirs --describe: %v\n%s", err, out)
	}
	i := strings.Index(out, `{"brokers"`)
	if i < 0 {
		t.Fatalf("kafka-log-dirs --describe: no report\n%s", out)
	}
	var rep logDirsReport
	if err := json.Unmarshal([]byte(strings.TrimSpace(out[i:])), &rep); err != nil {
		t.Fatalf("kafka-log-dirs report: %v\n%s", err, out)
	}
	return rep
}

// produceTo writes n records to each listed partition of topic (created
// with partitions partitions and replication factor rf) and returns each
// partition's record count.
func produceTo(t *testing.T, bootstrap []string, topic string, partitions int32, rf int16, counts map[int32]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, rf
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || kerr.ErrorForCode(resp.Topics[0].ErrorCode) != nil {
		t.Fatalf("create %s: %v %+v", topic, err, resp)
	}
	for p, n := range counts {
		for i := range n {
			r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("record-%04d-%s", i, strings.Repeat("x", 100)))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkOneBroker checks a single broker's report: one directory, dir, with
// topic's partitions, the ones written to larger than 100 bytes a record,
// the others empty, no lag, no future replica.
func checkLogDir(t *testing.T, rep logDirsReport, broker int32, dir, topic string, partitions int32, counts map[int32]int) {
	t.Helper()
	for _, b := range rep.Brokers {
		if b.Broker != broker {
			continue
		}
		if len(b.LogDirs) != 1 || b.LogDirs[0].LogDir != dir || b.LogDirs[0].Error != nil {
			t.Fatalf("broker %d: log dirs %+v, want one, %s", broker, b.LogDirs, dir)
		}
		seen := map[string]bool{}
		for _, p := range b.LogDirs[0].Partitions {
			if !strings.HasPrefix(p.Partition, topic+"-") {
				continue
			}
			seen[p.Partition] = true
			var idx int32
			fmt.Sscanf(strings.TrimPrefix(p.Partition, topic+"-"), "%d", &idx)
			n := counts[idx]
			if (n == 0) != (p.Size == 0) || (n > 0 && p.Size < int64(n)*100) || p.OffsetLag != 0 || p.IsFuture {
				t.Errorf("broker %d: %s size %d lag %d future %v after %d records", broker, p.Partition, p.Size, p.OffsetLag, p.IsFuture, n)
			}
		}
		if len(seen) != int(partitions) {
			t.Errorf("broker %d: partitions %v of %s, want %d", broker, seen, topic, partitions)
		}
		return
	}
	t.Fatalf("no broker %d in %+v", broker, rep)
}

func TestKafkaLogDirsToolSingleNode(t *testing.T) {
	libs := kafkaLibs(t)
	p := harness.Start(t)
	counts := map[int32]int{1: 40}
	produceTo(t, []string{p.Addr}, "ld", 2, 1, counts)
	dir, err := filepath.Abs(p.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"--topic-list", "ld"}} {
		rep := describeLogDirs(t, libs, p.Addr, args...)
		if len(rep.Brokers) != 1 {
			t.Fatalf("brokers %+v", rep.Brokers)
		}
		checkLogDir(t, rep, rep.Brokers[0].Broker, dir, "ld", 2, counts)
	}
	// The metadata quorum: a one-voter quorum led by the node.
	out, err := javaTool(t, libs, "", "org.apache.kafka.tools.MetadataQuorumCommand", "--bootstrap-server", p.Addr, "describe", "--status")
	if err != nil || !strings.Contains(out, "LeaderId:               0") || !strings.Contains(out, `CurrentVoters:          [{"id": 0,`) ||
		!strings.Contains(out, "CurrentObservers:       []") {
		t.Fatalf("kafka-metadata-quorum describe --status: %v\n%s", err, out)
	}
	out, err = javaTool(t, libs, "", "org.apache.kafka.tools.MetadataQuorumCommand", "--bootstrap-server", p.Addr, "describe", "--replication")
	if err != nil || !strings.Contains(out, "Leader") || strings.Contains(out, "Follower") {
		t.Fatalf("kafka-metadata-quorum describe --replication: %v\n%s", err, out)
	}
}

func TestKafkaLogDirsToolMemory(t *testing.T) {
	libs := kafkaLibs(t)
	p := harness.Start(t, "--memory")
	counts := map[int32]int{0: 10}
	produceTo(t, []string{p.Addr}, "mem", 1, 1, counts)
	rep := describeLogDirs(t, libs, p.Addr, "--topic-list", "mem")
	if len(rep.Brokers) != 1 {
		t.Fatalf("brokers %+v", rep.Brokers)
	}
	checkLogDir(t, rep, rep.Brokers[0].Broker, "/moldau", "mem", 1, counts)
}

func TestKafkaLogDirsToolCluster(t *testing.T) {
	libs := kafkaLibs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := embed.StartCluster(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	counts := map[int32]int{0: 30}
	produceTo(t, c.Addrs(), "cld", 2, 3, counts)
	// Every replica holds the records once its follower caught up.
	var rep logDirsReport
	testenv.WaitFor(t, time.Minute, "every replica of cld-0 holds the records", func() bool {
		rep = describeLogDirs(t, libs, c.Bootstrap(), "--topic-list", "cld")
		if len(rep.Brokers) != 3 {
			return false
		}
		for _, b := range rep.Brokers {
			for _, d := range b.LogDirs {
				for _, p := range d.Partitions {
					if p.Partition == "cld-0" && p.Size < 30*100 {
						return false
					}
				}
			}
		}
		return true
	})
	for i := range 3 {
		n := c.Node(i)
		dir, err := filepath.Abs(n.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		checkLogDir(t, rep, n.ID, dir, "cld", 2, counts)
	}
	out, err := javaTool(t, libs, "", "org.apache.kafka.tools.MetadataQuorumCommand", "--bootstrap-server", c.Bootstrap(), "describe", "--status")
	if err != nil || !strings.Contains(out, `"id": 1`) || !strings.Contains(out, `"id": 2`) || !strings.Contains(out, `"id": 3`) {
		t.Fatalf("kafka-metadata-quorum describe --status: %v\n%s", err, out)
	}

	// kafka-reassign-partitions.sh with log_dirs: the replicas stay, each
	// in the directory it is in (NONE), as on a one-dir Kafka broker; a
	// directory that does not exist is Kafka's LogDirNotFoundException.
	dirs := make([]string, 3)
	for i := range 3 {
		dirs[i], _ = filepath.Abs(c.Node(i).DataDir)
	}
	// The plan names the replicas in their current order.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("cld")
	md.Topics = append(md.Topics, mt)
	mresp, err := md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var replicas []int32
	for _, p := range mresp.Topics[0].Partitions {
		if p.Partition == 1 {
			replicas = p.Replicas
		}
	}
	logDirs := make([]string, len(replicas))
	for i, id := range replicas {
		logDirs[i] = dirs[id-1]
	}
	plan := filepath.Join(t.TempDir(), "plan.json")
	write := func(logDirs []string) {
		text := fmt.Sprintf(`{"version":1,"partitions":[{"topic":"cld","partition":1,"replicas":%s,"log_dirs":%s}]}`, mustJSON(replicas), mustJSON(logDirs))
		if err := os.WriteFile(plan, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(logDirs)
	out, err = reassignTool(t, libs, c.Bootstrap(), "--reassignment-json-file", plan, "--execute")
	if err != nil || !strings.Contains(out, "Successfully started") {
		t.Fatalf("--execute with log_dirs: %v\n%s", err, out)
	}
	logDirs[0] = "/no/such/dir"
	write(logDirs)
	out, err = reassignTool(t, libs, c.Bootstrap(), "--reassignment-json-file", plan, "--execute")
	if err == nil || !strings.Contains(out, "LogDirNotFoundException") {
		t.Fatalf("--execute with a missing log dir: %v\n%s", err, out)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
