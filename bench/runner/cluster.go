package main

// W11 and W12: three-node clusters on one machine (issue 14).
//
// Each cluster is three processes on 127.0.0.1, 127.0.0.2 and 127.0.0.3,
// the same ports on every address:
//
//   - Apache Kafka 4.4: three combined broker+controller KRaft processes
//     (the compat cache's jars, kafka-ref.sh's JVM flags: -Xms256m -Xmx768m,
//     G1, C1 only), controller.quorum.voters naming all three, each data dir
//     formatted with one cluster id.
//   - Moldau: `moldau --node-id N --addr 127.0.0.N:P --peer-addr
//     127.0.0.N:C --peers 1@127.0.0.1:C,2@127.0.0.2:C,3@127.0.0.3:C
//     --data-dir DIR --admin-addr 127.0.0.N:A`.
//
// A cluster counts as started once Metadata lists all three brokers.
//
// W11 (acks=all, RF=3): one topic, 6 partitions, replication factor 3,
// min.insync.replicas=2, created once every partition has a leader and an ISR
// of at least 2; then bench/load with an idempotent acks=all producer and 1 KiB
// records, closed loop (throughput; its per-record latency is mostly queueing
// in the client's 64 MiB buffer), and again open loop at a fixed rate
// (-w11-rate records/s for -w11-lat-seconds; per-record latency from the
// record's due time to its acknowledgement, no coordinated omission): sample
// "W11-lat". W12 (idle cost): 100 topics × 10 partitions, RF 3, until every
// partition has a leader, then CPU (utime+stime) and RSS of the three
// processes over -w12-idle.
//
// Every (workload, target, round) starts a fresh cluster on fresh data dirs
// and kills it afterwards (SIGKILL: nothing is measured after the load, and a
// controlled shutdown of three KRaft nodes at once waits on its own quorum).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

var (
	w11MiB        = flag.Float64("w11-mib", 2048, "W11: MiB of 1 KiB records produced closed loop (× -scale)")
	w11Rate       = flag.Float64("w11-rate", 0, "W11-lat: a fixed produce rate in records/s (1 KiB each) instead of -w11-lat-frac of the same run's W11")
	w11LatFrac    = flag.Float64("w11-lat-frac", 0.5, "W11-lat: the fixed rate as a fraction of the same cluster's W11 records/s; W11-lat-eq: of the slowest target's in the round")
	w11LatEq      = flag.Bool("w11-lat-eq", true, "W11-lat-eq: after each round's W11, every target again on a fresh cluster at one rate, -w11-lat-frac of the slowest target's W11")
	w11LatSeconds = flag.Float64("w11-lat-seconds", 20, "W11-lat: how long the fixed-rate run lasts (× -scale)")
	w12Idle       = flag.Duration("w12-idle", 60*time.Second, "W12: idle window for CPU and RSS")
	w12Topics     = flag.Int("w12-topics", 100, "W12: topics, each with -w12-partitions partitions, RF 3")
	w12PerTopic   = flag.Int("w12-partitions", 10, "W12: partitions per topic")
	clusterWait   = flag.Duration("cluster-timeout", 3*time.Minute, "W11/W12: give up on a cluster start or a create after this long")
	clusterHeap   = flag.String("cluster-kafka-heap", "768m", "W11/W12: the Kafka JVMs' -Xmx (kafka-ref.sh's 768m by default)")
)

const (
	clusterNodes   = 3
	w11Partitions  = 6
	w11MinISR      = 2
	clusterRF      = 3
	w12SettleAfter = 5 * time.Second // after every partition has a leader, before the idle window
	w11Settle      = 3 * time.Second // between W11's closed-loop run and W11-lat, after the ISR is full again
)

// clusterSample is one (target, round) of W11, W11-lat or W12.
type clusterSample struct {
	Nodes      int
	Partitions int // W11: the topic's; W12: all topics'
	RF         int
	StartupMs  float64 // exec of the three processes until Metadata lists every node
	CreateMs   float64 // CreateTopics until every partition has a leader (W11: and an ISR ≥ min.insync.replicas)
	// W11 / W11-lat
	RecordsPerSec float64
	Rate          float64            // W11-lat, W11-lat-eq: the fixed rate asked for, records/s
	RateBasis     string             `json:",omitempty"` // how Rate was chosen ("50% of its own W11", "50% of kafka's W11", "fixed")
	AckUs         map[string]float64 // per-record produce latency, µs (p50, p99, p999, max, count)
	SendLagUs     map[string]float64 `json:",omitempty"` // open loop: the load tool's lateness against its schedule, µs (part of AckUs)
	BrokerCPUSec  float64            // summed over the nodes during the load run, warm-up included
	LoadSec       float64            // wall time of that load run (process start to exit)
	SettleCPUPct  float64            `json:",omitempty"` // W11-lat: broker CPU (% of a core, 3 nodes) between the closed-loop run and this one
	SettleNote    string             `json:",omitempty"` // W11-lat: the ISR did not return to RF before this run
	ClientCPUSec  float64
	// W13
	PreloadMiBPerSec float64 `json:",omitempty"` // the acks=all preload's throughput
	ConsumedGiB      float64 `json:",omitempty"`
	// W14
	Failover *failoverSample `json:",omitempty"`
	// W12
	EmptyRSSMiB float64   // RSS summed over the nodes right after start-up, before any topic
	IdleSec     float64   // the idle window
	IdleCPUPct  float64   // CPU summed over the nodes, % of one core, over the idle window
	IdleRSSMiB  float64   // RSS summed over the nodes at the end of the idle window
	NodeCPUPct  []float64 `json:",omitempty"`
	NodeRSSMiB  []float64 `json:",omitempty"`
	KafkaHeap   string    `json:",omitempty"` // Kafka targets: the JVMs' -Xmx (-cluster-kafka-heap)
}

// clusterTarget reports whether W11/W12 run against t.
func clusterTarget(t target) bool {
	return slices.Contains([]string{"moldau", "baseline", "kafka", "kafka-c2"}, t.Name)
}

// nodeIP is node i's (1-based) loopback address.
func nodeIP(i int) string { return fmt.Sprintf("127.0.0.%d", i) }

// votersList is "1@127.0.0.1:port,2@127.0.0.2:port,...": Kafka's
// controller.quorum.voters and Moldau's --peers.
func votersList(n, port int) string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%d@%s:%d", i, nodeIP(i), port))
	}
	return strings.Join(out, ",")
}

// clusterPorts finds k distinct ports free on every node's address.
func clusterPorts(nodes, k int) ([]int, error) {
	var hosts []string
	for i := 1; i <= nodes; i++ {
		hosts = append(hosts, nodeIP(i))
	}
	return testenv.FreePorts(k, hosts...)
}

// cluster is three running nodes.
type cluster struct {
	nodes []*proc    // node i+1
	logs  []string   // node i+1's stdout and stderr
	argv  [][]string // node i+1's command line, to restart it (W14)
	port  int        // the Kafka port, the same on every node's address
}

// startNode starts node i (0-based) from its command line, its output
// appended to its log.
func (c *cluster) startNode(i int) error {
	cmd := exec.Command(c.argv[i][0], c.argv[i][1:]...)
	logf, err := os.OpenFile(c.logs[i], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	logf.Close() // the child has its own descriptor
	if err != nil {
		return err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, addr: fmt.Sprintf("%s:%d", nodeIP(i+1), c.port), done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	if i < len(c.nodes) {
		c.nodes[i] = p
	} else {
		c.nodes = append(c.nodes, p)
	}
	return nil
}

// addrs is every node's Kafka address, comma-separated.
func (c *cluster) addrs() string {
	var out []string
	for _, p := range c.nodes {
		out = append(out, p.addr)
	}
	return strings.Join(out, ",")
}

func (c *cluster) seed() string { return c.nodes[0].addr }

func (c *cluster) pids() []int {
	var out []int
	for _, p := range c.nodes {
		out = append(out, p.pid)
	}
	return out
}

// kill ends every node (SIGKILL to each process group) and waits for them.
func (c *cluster) kill() {
	for _, p := range c.nodes {
		select {
		case <-p.done: // killed by W14 and not restarted
		default:
			p.kill()
		}
	}
}

// logTail is the end of node i's log, for an error message.
func (c *cluster) logTail(i int) string {
	b, _ := os.ReadFile(c.logs[i])
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return strings.TrimSpace(string(b))
}

// kafkaClusterProps is node id's server.properties in a three-node KRaft
// cluster on one machine.
func kafkaClusterProps(id, nodes, port, cport int, logDir string) string {
	ip := nodeIP(id)
	return fmt.Sprintf(`process.roles=broker,controller
node.id=%[1]d
controller.quorum.voters=%[2]s
listeners=PLAINTEXT://%[3]s:%[4]d,CONTROLLER://%[3]s:%[5]d
advertised.listeners=PLAINTEXT://%[3]s:%[4]d
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=%[6]s
num.partitions=1
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
`, id, votersList(nodes, cport), ip, port, cport, logDir)
}

// clusterID is a random Kafka cluster id (a base64url UUID, 22 characters).
func clusterID() string {
	for {
		var b [16]byte
		rand.Read(b[:])
		// kafka-storage's argument parser takes an id starting with '-'
		// for an option ("--cluster-id: expected one argument"); Kafka's
		// Uuid.randomUuid never makes one.
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id
		}
	}
}

// startCluster starts a three-node cluster of t under dir and waits until
// Metadata lists every node.
func startCluster(t target, dir string) (*cluster, time.Duration, error) {
	ports, err := clusterPorts(clusterNodes, 3)
	if err != nil {
		return nil, 0, err
	}
	port, peerPort, adminPort := ports[0], ports[1], ports[2]
	c := &cluster{port: port}
	switch t.Name {
	case "kafka", "kafka-c2":
		libs := filepath.Join(*root, "tests/compat/.cache/kafka-4.4.0/libs")
		jvm := []string{"-Xms256m", "-Xmx" + *clusterHeap, "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true", "-cp", libs + "/*"}
		if t.Name == "kafka-c2" {
			jvm = slices.DeleteFunc(jvm, func(f string) bool { return f == "-XX:TieredStopAtLevel=1" })
		}
		id := clusterID()
		errs := make([]error, clusterNodes)
		var wg sync.WaitGroup
		for i := range clusterNodes {
			nd := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
			if err := os.MkdirAll(nd, 0o755); err != nil {
				return nil, 0, err
			}
			props := filepath.Join(nd, "server.properties")
			if err := os.WriteFile(props, []byte(kafkaClusterProps(i+1, clusterNodes, port, peerPort, filepath.Join(nd, "data"))), 0o644); err != nil {
				return nil, 0, err
			}
			c.logs = append(c.logs, filepath.Join(nd, "kafka.log"))
			wg.Add(1)
			go func() { // the three formats at once: each is a JVM start
				defer wg.Done()
				out, err := exec.Command("java", append(slices.Clone(jvm), "kafka.tools.StorageTool", "format", "-t", id, "-c", props)...).CombinedOutput()
				if err != nil {
					errs[i] = fmt.Errorf("kafka format node %d: %w: %s", i+1, err, out)
				}
			}()
			c.argv = append(c.argv, append(append([]string{"java"}, jvm...), "kafka.Kafka", props))
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, 0, err
		}
	case "moldau", "baseline":
		bin := filepath.Join(*root, "bin", "moldau")
		if t.Name == "baseline" {
			bin = *baseline
		}
		for i := range clusterNodes {
			nd := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
			if err := os.MkdirAll(nd, 0o755); err != nil {
				return nil, 0, err
			}
			c.logs = append(c.logs, filepath.Join(nd, "moldau.log"))
			ip := nodeIP(i + 1)
			args := []string{"--node-id", strconv.Itoa(i + 1), "--addr", fmt.Sprintf("%s:%d", ip, port),
				"--peer-addr", fmt.Sprintf("%s:%d", ip, peerPort), "--peers", votersList(clusterNodes, peerPort),
				"--data-dir", filepath.Join(nd, "data"), "--admin-addr", fmt.Sprintf("%s:%d", ip, adminPort), "--schema-registry-addr", "", "--console-addr", "", "--http-proxy-addr", "", "--log-level", "warn"}
			args = append(args, strings.Fields(*moldauFl)...)
			c.argv = append(c.argv, append([]string{bin}, args...))
		}
	default:
		return nil, 0, fmt.Errorf("no cluster for target %s", t.Name)
	}
	began := time.Now()
	for i := range c.argv {
		if err := c.startNode(i); err != nil {
			c.kill()
			return nil, 0, err
		}
	}
	if err := waitBrokers(c, clusterNodes, began.Add(*clusterWait)); err != nil {
		c.kill()
		return nil, 0, fmt.Errorf("%s cluster: %w", t.Name, err)
	}
	return c, time.Since(began), nil
}

// waitBrokers polls Metadata on every node until each lists n brokers,
// failing early when a node exits.
func waitBrokers(c *cluster, n int, deadline time.Time) error {
	for i := range c.nodes {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[i].addr), kgo.RetryTimeout(0), kgo.DialTimeout(time.Second))
		if err != nil {
			return err
		}
		got := 0
		for got < n {
			for j, p := range c.nodes {
				select {
				case <-p.done:
					cl.Close()
					return fmt.Errorf("node %d exited: %s", j+1, c.logTail(j))
				default:
				}
			}
			if time.Now().After(deadline) {
				cl.Close()
				return fmt.Errorf("node %d: Metadata lists %d of %d brokers after the timeout (log: %s)", i+1, got, n, c.logs[i])
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			cancel()
			if err == nil {
				got = len(resp.Brokers)
			}
			if got < n {
				time.Sleep(20 * time.Millisecond)
			}
		}
		cl.Close()
	}
	return nil
}

// partitionsReady reports whether resp has every topic in topics, each with
// n partitions that all have a leader and at least minISR in-sync replicas.
func partitionsReady(resp *kmsg.MetadataResponse, topics []string, n, minISR int) bool {
	seen := map[string]bool{}
	for _, t := range resp.Topics {
		if t.Topic == nil || !slices.Contains(topics, *t.Topic) {
			continue
		}
		if t.ErrorCode != 0 || len(t.Partitions) != n {
			return false
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 || len(p.ISR) < minISR {
				return false
			}
		}
		seen[*t.Topic] = true
	}
	return len(seen) == len(topics)
}

// waitISR polls Metadata (seeds: comma-separated addresses) until every
// partition of topic has a leader and an ISR of rf replicas.
func waitISR(seeds, topic string, n, rf int, deadline time.Time) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...), kgo.RetryTimeout(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := mreq.RequestWith(ctx, cl)
		cancel()
		if err == nil && partitionsReady(resp, []string{topic}, n, rf) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("ISR of %s below %d (or a partition without a leader) until the deadline", topic, rf)
}

// createTopicsChunk bounds one CreateTopics of createClusterTopics. Kafka's
// controller refuses a CreateTopics that writes more than 10,000 metadata
// records (POLICY_VIOLATION; a partition is one record, a topic and each
// config one more), so 10,000 partitions go as several requests.
const (
	createChunkTopics     = 100
	createChunkPartitions = 1000
)

// createChunks splits topics (n partitions each) into consecutive runs of at
// most createChunkTopics topics and createChunkPartitions partitions (at
// least one topic per run, however many partitions it has).
func createChunks(topics []string, n int) [][]string {
	var out [][]string
	for len(topics) > 0 {
		k := 1
		for k < len(topics) && k < createChunkTopics && (k+1)*n <= createChunkPartitions {
			k++
		}
		out = append(out, topics[:k])
		topics = topics[k:]
	}
	return out
}

// createClusterTopics creates topics (n partitions each, RF 3, configs) in
// CreateTopics requests of createChunks, one after another (each answered
// before the next is sent), and waits until partitionsReady(minISR). The
// whole of it is bounded by -cluster-timeout.
func createClusterTopics(seed string, topics []string, n, minISR int, configs map[string]string) error {
	// franz-go refuses a request timeout overhead above 15 minutes; one
	// request gets at most 10, the whole create -cluster-timeout.
	perRequest := min(*clusterWait, 10*time.Minute)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.RequestTimeoutOverhead(perRequest), kgo.RetryTimeout(perRequest))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *clusterWait)
	defer cancel()
	for _, chunk := range createChunks(topics, n) {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = int32(perRequest.Milliseconds())
		for _, name := range chunk {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, int32(n), clusterRF
			for _, k := range slices.Sorted(maps.Keys(configs)) {
				rc := kmsg.NewCreateTopicsRequestTopicConfig()
				rc.Name, rc.Value = k, kmsg.StringPtr(configs[k])
				rt.Configs = append(rt.Configs, rc)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			if t.ErrorCode != 0 {
				return fmt.Errorf("create: %s", topicError(resp.Topics))
			}
		}
	}
	mreq := kmsg.NewPtrMetadataRequest()
	for _, name := range topics {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		mreq.Topics = append(mreq.Topics, mt)
	}
	// A Metadata response for 10,000 partitions × 3 replicas is ~0.5 MB; asked
	// every 20 ms it would load the brokers being timed, so large creates
	// poll less often (the create time is then up to 250 ms late).
	poll := 20 * time.Millisecond
	if len(topics)*n > createChunkPartitions {
		poll = 250 * time.Millisecond
	}
	for ctx.Err() == nil {
		mresp, err := mreq.RequestWith(ctx, cl)
		if err == nil && partitionsReady(mresp, topics, n, minISR) {
			return nil
		}
		time.Sleep(poll)
	}
	return fmt.Errorf("partitions without a leader (or ISR < %d) after %s", minISR, *clusterWait)
}

// runClusterProduce is W11 and W11-lat on one fresh cluster of t. W11-lat's
// rate is -w11-lat-frac of this W11 run's records/s (each target at the same
// fraction of its own saturation), or -w11-rate when that is set.
func runClusterProduce(bin string, t target, round int, args []string) []sample {
	s := sample{Workload: "W11", Target: t.Name, Round: round + 1, Load1Start: loadAvg(),
		Cluster: &clusterSample{Nodes: clusterNodes, Partitions: w11Partitions, RF: clusterRF}}
	lat := sample{Workload: "W11-lat", Target: t.Name, Round: round + 1,
		Cluster: &clusterSample{Nodes: clusterNodes, Partitions: w11Partitions, RF: clusterRF}}
	fail := func(err error) []sample {
		s.Err, s.Load1End = err.Error(), loadAvg()
		lat.Err, lat.Load1Start, lat.Load1End = s.Err, s.Load1Start, s.Load1End
		return []sample{s, lat}
	}
	dir, err := os.MkdirTemp("", "moldau-bench-w11-"+t.Name+"-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	c, startup, err := startCluster(t, dir)
	if err != nil {
		return fail(err)
	}
	defer c.kill()
	s.Cluster.StartupMs = startup.Seconds() * 1000
	lat.Cluster.StartupMs = s.Cluster.StartupMs
	topic := fmt.Sprintf("bench-w11-%d", time.Now().UnixNano())
	began := time.Now()
	if err := createClusterTopics(c.seed(), []string{topic}, w11Partitions, w11MinISR, map[string]string{"min.insync.replicas": strconv.Itoa(w11MinISR)}); err != nil {
		return fail(err)
	}
	s.Cluster.CreateMs = time.Since(began).Seconds() * 1000
	lat.Cluster.CreateMs = s.Cluster.CreateMs
	base := []string{"-brokers", c.seed(), "-topic", topic, "-create=false", "-partitions", strconv.Itoa(w11Partitions), "-target", t.Name}
	if err := clusterLoadRun(bin, c, base, args, &s, "-mib", fmtFloat(*w11MiB**scale), "-warmup-mib", fmtFloat(32**scale)); err != nil {
		return fail(err)
	}
	// Let followers finish catching up (an ISR of 2 was enough for the
	// acks), so the fixed-rate run starts on a quiet cluster; the broker CPU
	// of that pause is recorded.
	cpu0, t0 := sumCPU(c.pids()), time.Now()
	if err := waitISR(c.seed(), topic, w11Partitions, clusterRF, time.Now().Add(30*time.Second)); err != nil {
		lat.Cluster.SettleNote = err.Error()
	}
	time.Sleep(w11Settle)
	lat.Cluster.SettleCPUPct = (sumCPU(c.pids()) - cpu0) / time.Since(t0).Seconds() * 100
	s.Load1End = loadAvg()
	lat.Load1Start = s.Load1End
	lat.Cluster.Rate, lat.Cluster.RateBasis = latencyRate(s.Cluster.RecordsPerSec)
	if err := clusterLoadRun(bin, c, base, args, &lat, fixedRateArgs(lat.Cluster.Rate)...); err != nil {
		lat.Err = err.Error()
	}
	lat.Load1End = loadAvg()
	return []sample{s, lat}
}

// latencyRate is W11-lat's rate after a W11 run of saturation records/s:
// -w11-rate when set, else -w11-lat-frac of saturation.
func latencyRate(saturation float64) (float64, string) {
	if *w11Rate > 0 {
		return *w11Rate, "fixed"
	}
	return math.Round(*w11LatFrac * saturation), fmt.Sprintf("%s of its own W11", pct(*w11LatFrac))
}

// pct is f (0.5) as a percentage ("50%").
func pct(f float64) string { return fmtFloat(math.Round(f*1000)/10) + "%" }

// fixedRateArgs are bench/load's flags for an open-loop run at rate records/s
// of 1 KiB for -w11-lat-seconds (× -scale), after a short warm-up.
func fixedRateArgs(rate float64) []string {
	n := rate * *w11LatSeconds * *scale // records
	return []string{"-rate", fmtFloat(rate), "-mib", fmtFloat(n * 1024 / (1 << 20)), "-warmup-mib", fmtFloat(8 * *scale)}
}

// clusterLoadRun runs bench/load against c (base: brokers, topic, labels;
// args: the workload's flags; extra wins over both) and fills x from its
// output: throughput, latency, client and broker CPU.
func clusterLoadRun(bin string, c *cluster, base, args []string, x *sample, extra ...string) error {
	cpu0, t0 := sumCPU(c.pids()), time.Now()
	out, err := runLoad(bin, append(append(slices.Clone(base), "-workload", x.Workload), append(slices.Clone(args), extra...)...))
	if err != nil {
		return err
	}
	lr, err := parseLoad(out)
	if err != nil {
		return err
	}
	if lr.Failed > 0 {
		return fmt.Errorf("%d records failed: %s", lr.Failed, lr.FirstError)
	}
	x.MiBPerSec, x.Load = lr.MiBPerSec, out
	x.ProducedGiB = (float64(lr.Bytes) + lr.WarmupMiB*(1<<20)) / (1 << 30)
	x.Cluster.RecordsPerSec, x.Cluster.AckUs, x.Cluster.ClientCPUSec = lr.RecordsPerSec, lr.AckUs, lr.ClientCPUSec
	x.Cluster.SendLagUs = lr.SendLagUs
	x.Cluster.BrokerCPUSec, x.Cluster.LoadSec = sumCPU(c.pids())-cpu0, time.Since(t0).Seconds()
	return nil
}

// loadResult is what the runner reads of bench/load's JSON line.
type loadResult struct {
	MiBPerSec     float64            `json:"mib_per_s"`
	RecordsPerSec float64            `json:"records_per_s"`
	Bytes         int64              `json:"bytes"`
	Failed        int64              `json:"failed"`
	FirstError    string             `json:"first_error"`
	WarmupMiB     float64            `json:"warmup_mib"`
	AckUs         map[string]float64 `json:"ack_latency_us"`
	SendLagUs     map[string]float64 `json:"send_lag_us"`
	ClientCPUSec  float64            `json:"client_cpu_s"`
}

func parseLoad(out []byte) (loadResult, error) {
	var lr loadResult
	if err := json.Unmarshal(bytes.TrimSpace(out), &lr); err != nil {
		return lr, fmt.Errorf("load output: %w", err)
	}
	if lr.Failed == 0 && (lr.Bytes == 0 || len(lr.AckUs) == 0) {
		return lr, errors.New("load output: nothing produced or no latency recorded")
	}
	return lr, nil
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func sumCPU(pids []int) float64 {
	var sum float64
	for _, p := range pids {
		sum += procCPU(p)
	}
	return sum
}

// idleCost turns per-node CPU seconds before and after a window of secs
// seconds and per-node RSS (kB) into per-node and summed CPU (% of one core)
// and RSS (MiB).
func idleCost(cpu0, cpu1 []float64, rssKB []int64, secs float64) (sumPct, sumMiB float64, pct, mib []float64, err error) {
	if len(cpu0) != len(cpu1) || len(cpu0) != len(rssKB) || secs <= 0 {
		return 0, 0, nil, nil, fmt.Errorf("idle cost: %d/%d/%d nodes over %v s", len(cpu0), len(cpu1), len(rssKB), secs)
	}
	for i := range cpu0 {
		if cpu1[i] < cpu0[i] || rssKB[i] <= 0 {
			return 0, 0, nil, nil, fmt.Errorf("idle cost: node %d: cpu %v→%v s, RSS %d kB (process gone?)", i+1, cpu0[i], cpu1[i], rssKB[i])
		}
		p := (cpu1[i] - cpu0[i]) / secs * 100
		m := float64(rssKB[i]) / 1024
		pct, mib = append(pct, p), append(mib, m)
		sumPct += p
		sumMiB += m
	}
	return sumPct, sumMiB, pct, mib, nil
}

// runClusterIdle is W12 on one fresh cluster of t.
func runClusterIdle(t target, round int) (s sample) {
	n := *w12Topics * *w12PerTopic
	s = sample{Workload: "W12", Target: t.Name, Round: round + 1, Load1Start: loadAvg(),
		Cluster: &clusterSample{Nodes: clusterNodes, Partitions: n, RF: clusterRF, IdleSec: w12Idle.Seconds()}}
	defer func() { s.Load1End = loadAvg() }()
	dir, err := os.MkdirTemp("", "moldau-bench-w12-"+t.Name+"-")
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer os.RemoveAll(dir)
	c, startup, err := startCluster(t, dir)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer c.kill()
	cs := s.Cluster
	cs.StartupMs = startup.Seconds() * 1000
	if strings.HasPrefix(t.Name, "kafka") {
		cs.KafkaHeap = *clusterHeap
	}
	for _, pid := range c.pids() {
		cs.EmptyRSSMiB += float64(procStatus(pid, "VmRSS:")) / 1024
	}
	var topics []string
	for i := range *w12Topics {
		topics = append(topics, fmt.Sprintf("bench-w12-%03d", i))
	}
	began := time.Now()
	if err := createClusterTopics(c.seed(), topics, *w12PerTopic, 1, nil); err != nil {
		s.Err = "create: " + err.Error()
		return s
	}
	cs.CreateMs = time.Since(began).Seconds() * 1000
	time.Sleep(w12SettleAfter)
	pids := c.pids()
	cpu0 := make([]float64, len(pids))
	for i, pid := range pids {
		cpu0[i] = procCPU(pid)
	}
	t0 := time.Now()
	time.Sleep(*w12Idle)
	secs := time.Since(t0).Seconds()
	cpu1 := make([]float64, len(pids))
	rss := make([]int64, len(pids))
	for i, pid := range pids {
		cpu1[i], rss[i] = procCPU(pid), procStatus(pid, "VmRSS:")
	}
	cs.IdleSec = secs
	if cs.IdleCPUPct, cs.IdleRSSMiB, cs.NodeCPUPct, cs.NodeRSSMiB, err = idleCost(cpu0, cpu1, rss, secs); err != nil {
		s.Err = err.Error()
	}
	return s
}
