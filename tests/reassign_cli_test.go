package tests

// Kafka's kafka-reassign-partitions.sh (ReassignPartitionsCommand, run from
// the Maven jars as tests/compat/cli/driver.sh runs Kafka's tools) against
// a four-node in-process Moldau (and one node, below): --execute moves a partition from {1 2 3}
// to {2 3 4}, --verify reports it completed, Metadata and the data follow.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/embed"
	"github.com/moldau/moldau/internal/testenv"
)

// kafkaLibs is the directory of Apache Kafka's jars that the compat
// harness fetches (tests/compat/kafka-ref.sh fetch; COMPAT_CACHE moves it).
func kafkaLibs(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("COMPAT_CACHE")
	if cache == "" {
		cache = filepath.Join("compat", ".cache")
	}
	cache, err := filepath.Abs(cache)
	if err != nil {
		t.Fatal(err)
	}
	libs := filepath.Join(cache, "kafka-4.4.0", "libs")
	jar := filepath.Join(libs, "kafka-tools-4.4.0.jar")
	if _, err := os.Stat(jar); err != nil {
		// Fetched as the compat harness does (Maven; make test runs the
		// Go tests before make compat fetches them).
		testenv.RequireTool(t, "mvn", "make deps (apt-get install maven)")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join("compat", "kafka-ref.sh"), "fetch")
		cmd.Env = append(os.Environ(), "COMPAT_CACHE="+cache)
		if out, err := cmd.CombinedOutput(); err != nil {
			testenv.Unavailable(t, "Apache Kafka's jars are not in %s and tests/compat/kafka-ref.sh fetch failed: %v\n%s", libs, err, out)
		}
		if _, err := os.Stat(jar); err != nil {
			testenv.Unavailable(t, "Apache Kafka's jars are not in %s after the fetch: %v", libs, err)
		}
	}
	return libs
}

func reassignTool(t *testing.T, libs, bootstrap string, args ...string) (string, error) {
	t.Helper()
	java := testenv.RequireTool(t, "java", "make deps (a JRE)")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	full := append([]string{"-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlog4j2.level=off",
		"-cp", libs + "/*", "org.apache.kafka.tools.reassign.ReassignPartitionsCommand", "--bootstrap-server", bootstrap}, args...)
	cmd := exec.CommandContext(ctx, java, full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestKafkaReassignPartitionsTool(t *testing.T) {
	libs := kafkaLibs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := embed.StartCluster(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.DefaultProduceTopic("cli-move"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "cli-move", -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, []int32{1, 2, 3}
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || kerr.ErrorForCode(resp.Topics[0].ErrorCode) != nil {
		t.Fatalf("create: %v %v", err, resp)
	}
	for i := range 50 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"cli-move","partition":0,"replicas":[2,3,4]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := reassignTool(t, libs, c.Bootstrap(), "--reassignment-json-file", plan, "--execute")
	if err != nil || !strings.Contains(out, "Successfully started partition reassignment") {
		t.Fatalf("--execute: %v\n%s", err, out)
	}
	var last string
	testenv.WaitFor(t, time.Minute, "--verify reports the reassignment completed", func() bool {
		out, err := reassignTool(t, libs, c.Bootstrap(), "--reassignment-json-file", plan, "--verify")
		last = out
		return err == nil && strings.Contains(out, "Reassignment of partition cli-move-0 is completed")
	})
	t.Logf("--verify:\n%s", last)
	// Every broker's Metadata follows (the one --verify asked saw it).
	for i, addr := range c.Addrs() {
		one, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, 30*time.Second, "node "+fmt.Sprint(i+1)+" reports [2 3 4]", func() bool {
			mreq := kmsg.NewPtrMetadataRequest()
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr("cli-move")
			mreq.Topics = append(mreq.Topics, mt)
			mresp, err := mreq.RequestWith(ctx, one)
			return err == nil && len(mresp.Topics) == 1 && len(mresp.Topics[0].Partitions) == 1 &&
				slices.Equal(mresp.Topics[0].Partitions[0].Replicas, []int32{2, 3, 4})
		})
		one.Close()
	}
	// DescribeLogDirs (the tool's view of where replicas are): node 4
	// hosts the partition now, node 1 no longer.
	adm := kadm.NewClient(cl)
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	hosting := map[int32]bool{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
			t.Errorf("broker %d log dir %s: total %d usable %d bytes", d.Broker, d.Dir, d.TotalBytes, d.UsableBytes)
		}
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == "cli-move" {
				hosting[p.Broker] = true
			}
		})
	})
	if !hosting[4] || hosting[1] {
		t.Fatalf("log dirs hold cli-move-0 on %v", hosting)
	}
	// --cancel: a move back onto node 1 while node 1 is down cannot
	// finish; cancelled, the partition stays on {2 3 4}.
	if err := c.StopNode(0); err != nil {
		t.Fatal(err)
	}
	rest := strings.Join(c.Addrs()[1:], ",")
	back := filepath.Join(t.TempDir(), "back.json")
	if err := os.WriteFile(back, []byte(`{"version":1,"partitions":[{"topic":"cli-move","partition":0,"replicas":[1,2,3]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = reassignTool(t, libs, rest, "--reassignment-json-file", back, "--execute")
	if err != nil || !strings.Contains(out, "Successfully started partition reassignment") {
		t.Fatalf("--execute back: %v\n%s", err, out)
	}
	out, err = reassignTool(t, libs, rest, "--reassignment-json-file", back, "--verify", "--preserve-throttles")
	if err != nil || !strings.Contains(out, "Reassignment of partition cli-move-0 is still in progress") {
		t.Fatalf("--verify while node 1 is down: %v\n%s", err, out)
	}
	out, err = reassignTool(t, libs, rest, "--reassignment-json-file", back, "--cancel", "--preserve-throttles")
	if err != nil || !strings.Contains(out, "Successfully cancelled partition reassignment") {
		t.Fatalf("--cancel: %v\n%s", err, out)
	}
	if err := c.RestartNode(0); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, time.Minute, "the cancelled move rolled back", func() bool {
		ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"cli-move": {0: {}}})
		if err != nil || len(ls["cli-move"]) != 0 {
			return false
		}
		meta, err := adm.Metadata(ctx, "cli-move")
		return err == nil && slices.Equal(meta.Topics["cli-move"].Partitions[0].Replicas, []int32{2, 3, 4})
	})
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics("cli-move"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	n := 0
	for n < 50 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 50", n)
		}
		n += fs.NumRecords()
	}
}

// TestKafkaReassignPartitionsToolSingleNode: the tool against one Moldau
// node (no --peers), as against a one-broker Kafka 4.4 (the outputs checked
// are the ones the tool printed against tests/compat/kafka-ref.sh): a plan
// that keeps a partition on the node starts and is completed at once, one
// that names another broker is refused by the tool itself.
func TestKafkaReassignPartitionsToolSingleNode(t *testing.T) {
	libs := kafkaLibs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := embed.Start(ctx, embed.WithDataDir(t.TempDir()), embed.WithConfig(func(c *config.Config) { c.NodeID = 1 }))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "one"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"one","partition":0,"replicas":[1]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := reassignTool(t, libs, b.Addr(), "--reassignment-json-file", plan, "--execute")
	if err != nil || !strings.Contains(out, `{"topic":"one","partition":0,"replicas":[1],"log_dirs":[`) ||
		!strings.Contains(out, "Successfully started partition reassignment for one-0") {
		t.Fatalf("--execute: %v\n%s", err, out)
	}
	out, err = reassignTool(t, libs, b.Addr(), "--reassignment-json-file", plan, "--verify")
	if err != nil || !strings.Contains(out, "Reassignment of partition one-0 is completed.") ||
		!strings.Contains(out, "Clearing broker-level throttles on broker 1") {
		t.Fatalf("--verify: %v\n%s", err, out)
	}
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"version":1,"partitions":[{"topic":"one","partition":1,"replicas":[2]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = reassignTool(t, libs, b.Addr(), "--reassignment-json-file", other, "--execute")
	if err == nil || !strings.Contains(out, "Unknown broker id 2") {
		t.Fatalf("--execute onto broker 2: %v\n%s", err, out)
	}
	ls, err := kadm.NewClient(cl).ListPartitionReassignments(ctx, nil)
	if err != nil || len(ls) != 0 {
		t.Fatalf("in progress after: %v %v", ls, err)
	}
}
