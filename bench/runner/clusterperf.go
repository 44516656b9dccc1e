package main

// W11-lat-eq and W13 on three-node clusters (issue 15).
//
// W11-lat (runClusterProduce) measures each target at -w11-lat-frac (50%) of
// its own W11 throughput of the same round: each at the same load relative
// to its own saturation. W11-lat-eq is the like-for-like comparison: after
// every target of a round has run W11, each runs again on a fresh cluster at
// one absolute rate, -w11-lat-frac of the slowest target's W11 records/s in
// that round (eqRate), so both answer the same offered load.
//
// W13 (consume throughput): a fresh cluster, W11's topic (6 partitions, RF 3,
// min.insync.replicas=2), preloaded with -w13-mib of 1 KiB records by an
// idempotent acks=all producer, then, once every ISR is full again (the
// followers are no longer fetching), one franz-go consumer (bench/load
// -mode consume, assigned to every partition, no group) reads it all back from
// the start, each partition from its leader (no rack, so no follower fetching).

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"time"
)

var w13MiB = flag.Float64("w13-mib", 2048, "W13: MiB of 1 KiB records preloaded, then consumed (× -scale)")

// eqRate is W11-lat-eq's rate: frac of the lowest records/s in sat (target
// → its W11 records/s this round; targets whose W11 failed are absent), and
// that target's name. ok is false with fewer than two targets: one target
// alone has no like-for-like partner, and W11-lat already ran it at frac of
// its own.
func eqRate(sat map[string]float64, frac float64) (rate float64, slowest string, ok bool) {
	if len(sat) < 2 {
		return 0, "", false
	}
	for _, t := range slices.Sorted(maps.Keys(sat)) {
		if slowest == "" || sat[t] < sat[slowest] {
			slowest = t
		}
	}
	if sat[slowest] <= 0 {
		return 0, "", false
	}
	return float64(int64(frac*sat[slowest] + 0.5)), slowest, true
}

// newClusterTopic starts a fresh cluster of t under a new temporary
// directory and creates a W11-style topic (6 partitions, RF 3,
// min.insync.replicas=2) on it; x's Cluster gets the start-up and create
// times. The caller kills the cluster and removes dir.
func newClusterTopic(t target, prefix string, x *sample) (c *cluster, dir, topic string, err error) {
	dir, err = os.MkdirTemp("", prefix+t.Name+"-")
	if err != nil {
		return nil, "", "", err
	}
	c, startup, err := startCluster(t, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", "", err
	}
	x.Cluster.StartupMs = startup.Seconds() * 1000
	topic = fmt.Sprintf("bench-%s-%d", x.Workload, time.Now().UnixNano())
	began := time.Now()
	if err := createClusterTopics(c.seed(), []string{topic}, w11Partitions, w11MinISR, map[string]string{"min.insync.replicas": strconv.Itoa(w11MinISR)}); err != nil {
		c.kill()
		os.RemoveAll(dir)
		return nil, "", "", err
	}
	x.Cluster.CreateMs = time.Since(began).Seconds() * 1000
	return c, dir, topic, nil
}

// runClusterLatencyEq is W11-lat-eq on one fresh cluster of t: W11's topic
// and producer, open loop at rate (basis says how it was chosen).
func runClusterLatencyEq(bin string, t target, round int, args []string, rate float64, basis string) (s sample) {
	s = sample{Workload: "W11-lat-eq", Target: t.Name, Round: round + 1, Load1Start: loadAvg(),
		Cluster: &clusterSample{Nodes: clusterNodes, Partitions: w11Partitions, RF: clusterRF, Rate: rate, RateBasis: basis}}
	defer func() { s.Load1End = loadAvg() }()
	c, dir, topic, err := newClusterTopic(t, "moldau-bench-w11eq-", &s)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer os.RemoveAll(dir)
	defer c.kill()
	base := []string{"-brokers", c.seed(), "-topic", topic, "-create=false", "-partitions", strconv.Itoa(w11Partitions), "-target", t.Name}
	if err := clusterLoadRun(bin, c, base, args, &s, fixedRateArgs(rate)...); err != nil {
		s.Err = err.Error()
	}
	return s
}

// consumeResult checks bench/load's output of a consume run.
func consumeResult(out []byte) (loadResult, error) {
	var lr loadResult
	if err := json.Unmarshal(out, &lr); err != nil {
		return lr, fmt.Errorf("load output: %w", err)
	}
	if lr.Bytes <= 0 || lr.MiBPerSec <= 0 {
		return lr, errors.New("load output: nothing consumed")
	}
	return lr, nil
}

// runClusterConsume is W13 on one fresh cluster of t.
func runClusterConsume(bin string, t target, round int, args []string) (s sample) {
	s = sample{Workload: "W13", Target: t.Name, Round: round + 1, Load1Start: loadAvg(),
		Cluster: &clusterSample{Nodes: clusterNodes, Partitions: w11Partitions, RF: clusterRF}}
	defer func() { s.Load1End = loadAvg() }()
	c, dir, topic, err := newClusterTopic(t, "moldau-bench-w13-", &s)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer os.RemoveAll(dir)
	defer c.kill()
	mib := fmtFloat(*w13MiB * *scale)
	base := []string{"-brokers", c.seed(), "-topic", topic, "-create=false", "-partitions", strconv.Itoa(w11Partitions), "-target", t.Name}
	pre := sample{Workload: "W13", Cluster: &clusterSample{}}
	if err := clusterLoadRun(bin, c, base, args, &pre, "-mib", mib, "-warmup-mib", "0"); err != nil {
		s.Err = "preload: " + err.Error()
		return s
	}
	s.Cluster.PreloadMiBPerSec = pre.MiBPerSec
	s.ProducedGiB = pre.ProducedGiB
	if err := waitISR(c.seed(), topic, w11Partitions, clusterRF, time.Now().Add(60*time.Second)); err != nil {
		s.Cluster.SettleNote = err.Error()
	}
	cpu0, t0 := sumCPU(c.pids()), time.Now()
	out, err := runLoad(bin, append(append(slices.Clone(base), "-workload", "W13", "-mode", "consume"), append(slices.Clone(args), "-mib", mib)...))
	if err != nil {
		s.Err = err.Error()
		return s
	}
	lr, err := consumeResult(out)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	s.MiBPerSec, s.Load = lr.MiBPerSec, out
	s.Cluster.RecordsPerSec, s.Cluster.ClientCPUSec = lr.RecordsPerSec, lr.ClientCPUSec
	s.Cluster.BrokerCPUSec, s.Cluster.LoadSec = sumCPU(c.pids())-cpu0, time.Since(t0).Seconds()
	s.Cluster.ConsumedGiB = float64(lr.Bytes) / (1 << 30)
	return s
}
