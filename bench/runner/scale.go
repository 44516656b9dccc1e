package main

// W9: how a broker's cost grows with the number of partitions it hosts. For
// each partition count the runner starts a target on a fresh data dir,
// creates one topic with that many partitions, writes a few records to each,
// then measures idle RSS, idle CPU over -idle, open files (/proc/PID/fd),
// start-up after a clean stop and recovery after kill -9, both until every
// partition answers ListOffsets. The produce throughput over 1,000 partitions
// is an ordinary workload (W9-1000p) in the main table.
//
// Kafka is started here from the compat cache's jars directly, not through
// tests/compat/kafka-ref.sh, because that script removes its log dir on exit
// and a restart needs the same one.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

// scaleSample is one (target, partition count) of W9.
type scaleSample struct {
	Partitions   int
	CreateMs     float64 // CreateTopics until every partition has a leader
	RecordsIn    int64   // records produced before the restarts
	IdleRSSMiB   float64
	IdleCPUPct   float64 // % of one core, over the idle window
	OpenFiles    int
	StartupMs    float64 // restart after SIGTERM, until every partition answers ListOffsets
	RecoveryMs   float64 // restart after kill -9, likewise
	RecoveredRec int64   // sum of high watermarks after the recovery
	RSSAfterMiB  float64 // RSS right after recovery
}

var (
	scaleCounts  = flag.String("w9-partitions", "1,100,1000,10000", "W9 partition counts")
	scaleIdle    = flag.Duration("w9-idle", 10*time.Second, "W9 idle-CPU window")
	scaleTimeout = flag.Duration("w9-timeout", 5*time.Minute, "W9: give up on one create/start after this long")
	scaleSkip    = flag.String("w9-skip", "", "W9: target:count pairs not to run, with a reason for the report, e.g. 'kafka:10000=heap'")
)

// scaleStart starts t on dir and waits until it answers Metadata.
func scaleStart(t target, dir string) (*proc, error) {
	if t.Name != "kafka" {
		return startTarget(t, dir)
	}
	return startKafkaDirect(dir, false)
}

// startKafkaDirect starts Kafka with kafkaNode; c2 drops
// -XX:TieredStopAtLevel=1 (kafka-ref.sh's flag for a fast JVM start, which
// also keeps the broker on the C1 compiler for good).
func startKafkaDirect(dir string, c2 bool) (*proc, error) {
	c, addr, err := kafkaNode(dir, c2)
	if err != nil {
		return nil, err
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	if err := c.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: c, pid: c.Process.Pid, addr: addr, done: make(chan struct{})}
	go func() { c.Wait(); close(p.done) }()
	if err := waitMetadata(addr, began.Add(*scaleTimeout)); err != nil {
		p.kill()
		return nil, fmt.Errorf("kafka: %w (log: %s)", err, filepath.Join(dir, "kafka.log"))
	}
	p.startup = time.Since(began)
	return p, nil
}

// kafkaNode returns the command running Apache Kafka 4.4 (KRaft, combined
// broker and controller) on dir, formatting dir on first use. The JVM flags
// and broker properties are kafka-ref.sh's.
func kafkaNode(dir string, c2 bool) (*exec.Cmd, string, error) {
	libs := filepath.Join(*root, "tests/compat/.cache/kafka-4.4.0/libs")
	props := filepath.Join(dir, "server.properties")
	jvm := []string{"-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true", "-cp", libs + "/*"}
	if c2 {
		jvm = slices.DeleteFunc(jvm, func(f string) bool { return f == "-XX:TieredStopAtLevel=1" })
	}
	logf, err := os.OpenFile(filepath.Join(dir, "kafka.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(props); err != nil {
		port, cport := freePort(), freePort()
		for cport == port {
			cport = freePort()
		}
		text := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=%[3]s
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# bench: port %[1]d
`, port, cport, filepath.Join(dir, "data"))
		if err := os.WriteFile(props, []byte(text), 0o644); err != nil {
			return nil, "", err
		}
		f := exec.Command("java", append(jvm, "kafka.tools.StorageTool", "format", "-t", "bench-w9-cluster-0001", "-c", props)...)
		f.Stdout, f.Stderr = logf, logf
		if err := f.Run(); err != nil {
			return nil, "", fmt.Errorf("kafka format: %w", err)
		}
	}
	b, err := os.ReadFile(props)
	if err != nil {
		return nil, "", err
	}
	_, portS, _ := strings.Cut(string(b), "# bench: port ")
	c := exec.Command("java", append(jvm, "kafka.Kafka", props)...)
	c.Stdout, c.Stderr = logf, logf
	return c, "127.0.0.1:" + strings.TrimSpace(portS), nil
}

func freePort() int {
	ports, err := testenv.FreePorts(1)
	if err != nil {
		return 0
	}
	return ports[0]
}

// kill ends the broker with SIGKILL (its process group, so kafka-ref.sh's
// wrapper and the JVM both go).
func (p *proc) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// adminClient is a client whose requests may take as long as a W9 step.
func adminClient(addr string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestTimeoutOverhead(*scaleTimeout), kgo.RetryTimeout(*scaleTimeout))
}

// createChunk is the most partitions one CreateTopics or CreatePartitions
// request asks for: Kafka's controller refuses a request that would write
// more than 10,000 metadata records (POLICY_VIOLATION, "excessively large
// number of partitions"), so 10,000 partitions are made as 5,000 and then
// 5,000 more, on every target alike.
const createChunk = 5000

// createTopic creates topic with n partitions and waits until every partition
// has a leader.
func createTopic(addr, topic string, n int) error {
	cl, err := adminClient(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *scaleTimeout)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32(scaleTimeout.Milliseconds())
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, int32(min(n, createChunk)), 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		return fmt.Errorf("create %s: %s", topic, topicError(resp.Topics))
	}
	for have := min(n, createChunk); have < n; {
		if _, err := waitPartitions(addr, topic, have, time.Now().Add(*scaleTimeout)); err != nil {
			return err
		}
		have = min(n, have+createChunk)
		preq := kmsg.NewPtrCreatePartitionsRequest()
		preq.TimeoutMillis = int32(scaleTimeout.Milliseconds())
		pt := kmsg.NewCreatePartitionsRequestTopic()
		pt.Topic, pt.Count = topic, int32(have)
		preq.Topics = append(preq.Topics, pt)
		presp, err := preq.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if len(presp.Topics) != 1 || presp.Topics[0].ErrorCode != 0 {
			msg := ""
			if len(presp.Topics) == 1 && presp.Topics[0].ErrorMessage != nil {
				msg = *presp.Topics[0].ErrorMessage
			}
			return fmt.Errorf("create partitions %s to %d: %v %s", topic, have, presp.Topics, msg)
		}
	}
	_, err = waitPartitions(addr, topic, n, time.Now().Add(*scaleTimeout))
	return err
}

func topicError(ts []kmsg.CreateTopicsResponseTopic) string {
	var out []string
	for _, t := range ts {
		msg := ""
		if t.ErrorMessage != nil {
			msg = *t.ErrorMessage
		}
		out = append(out, fmt.Sprintf("error %d %s", t.ErrorCode, msg))
	}
	return strings.Join(out, "; ")
}

// waitPartitions polls Metadata and then ListOffsets until all n partitions of
// topic answer both without error; it returns the sum of their high
// watermarks.
func waitPartitions(addr, topic string, n int, deadline time.Time) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(0), kgo.DialTimeout(time.Second), kgo.RequestTimeoutOverhead(time.Minute))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	last := errors.New("timed out")
	for time.Now().Before(deadline) {
		hw, err := listOffsets(cl, topic, n)
		if err == nil {
			return hw, nil
		}
		last = err
		time.Sleep(5 * time.Millisecond)
	}
	return 0, last
}

func listOffsets(cl *kgo.Client, topic string, n int) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 || len(mresp.Topics[0].Partitions) != n {
		return 0, fmt.Errorf("metadata: topic not ready")
	}
	for _, p := range mresp.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 {
			return 0, fmt.Errorf("metadata: partition %d not ready", p.Partition)
		}
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for i := range n {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = int32(i), -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	var hw int64
	got := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return 0, fmt.Errorf("list offsets: partition %d: error %d", p.Partition, p.ErrorCode)
			}
			hw += p.Offset
			got++
		}
	}
	if got != n {
		return 0, fmt.Errorf("list offsets: %d of %d partitions", got, n)
	}
	return hw, nil
}

func openFiles(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(es)
}

// runScale measures one (target, partition count).
func runScale(bin string, t target, n, round int) (s sample) {
	s = sample{Workload: "W9", Target: t.Name, Round: round + 1, Scale: &scaleSample{Partitions: n}}
	s.Load1Start = loadAvg()
	defer func() { s.Load1End = loadAvg() }()
	if reason, ok := skipScale(t.Name, n); ok {
		s.Err = "n/a (" + reason + ")"
		return s
	}
	dir, err := os.MkdirTemp("", "moldau-bench-w9-"+t.Name+"-")
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer os.RemoveAll(dir)
	fail := func(step string, err error) sample {
		s.Err = fmt.Sprintf("%s: %v", step, err)
		return s
	}
	p, err := scaleStart(t, dir)
	if err != nil {
		return fail("start", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			p.stop()
		}
	}()
	s.StartupMs = p.startup.Seconds() * 1000 // fresh, no partitions
	topic := fmt.Sprintf("bench-w9-%d", n)
	began := time.Now()
	if err := createTopic(p.addr, topic, n); err != nil {
		return fail("create", err)
	}
	sc := s.Scale
	sc.CreateMs = time.Since(began).Seconds() * 1000
	// A few records in every partition: n × 16 KiB of 1 KiB records.
	mib := max(1, float64(n)/64)
	out, err := runLoad(bin, []string{"-brokers", p.addr, "-topic", topic, "-create=false", "-partitions", strconv.Itoa(n),
		"-size", "1024", "-mib", strconv.FormatFloat(mib, 'f', -1, 64), "-warmup-mib", "0", "-acks", "1", "-linger", "5ms",
		"-target", t.Name, "-workload", "W9-fill"})
	if err != nil {
		return fail("fill", err)
	}
	s.Load = out
	if sc.RecordsIn, err = waitPartitions(p.addr, topic, n, time.Now().Add(*scaleTimeout)); err != nil {
		return fail("fill", err)
	}
	time.Sleep(3 * time.Second)
	sc.IdleRSSMiB = float64(procStatus(p.pid, "VmRSS:")) / 1024
	sc.OpenFiles = openFiles(p.pid)
	cpu0 := procCPU(p.pid)
	time.Sleep(*scaleIdle)
	sc.IdleCPUPct = (procCPU(p.pid) - cpu0) / scaleIdle.Seconds() * 100
	// Clean stop, start again: start-up with n partitions.
	p.stop()
	stopped = true
	if p, err = scaleRestart(t, dir, topic, n); err != nil {
		return fail("restart", err)
	}
	stopped = false
	sc.StartupMs = p.startup.Seconds() * 1000
	// kill -9, start again: recovery.
	p.kill()
	stopped = true
	if p, err = scaleRestart(t, dir, topic, n); err != nil {
		return fail("recovery", err)
	}
	stopped = false
	sc.RecoveryMs = p.startup.Seconds() * 1000
	sc.RSSAfterMiB = float64(procStatus(p.pid, "VmRSS:")) / 1024
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.addr))
	if err == nil {
		sc.RecoveredRec, err = listOffsets(cl, topic, n)
		cl.Close()
	}
	if err != nil {
		return fail("after recovery", err)
	}
	return s
}

// scaleRestart starts t on its existing dir and sets startup to the time
// until every partition of topic answers ListOffsets.
func scaleRestart(t target, dir, topic string, n int) (*proc, error) {
	began := time.Now()
	p, err := scaleStart(t, dir)
	if err != nil {
		return nil, err
	}
	if _, err := waitPartitions(p.addr, topic, n, began.Add(*scaleTimeout)); err != nil {
		p.stop()
		return nil, err
	}
	p.startup = time.Since(began)
	return p, nil
}

func skipScale(target string, n int) (string, bool) {
	for _, kv := range strings.Split(*scaleSkip, ",") {
		k, reason, _ := strings.Cut(kv, "=")
		if k == fmt.Sprintf("%s:%d", target, n) {
			return reason, true
		}
	}
	return "", false
}

func loadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
