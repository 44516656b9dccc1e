package main

// W14: recovery after a leader is killed, on a three-node cluster (issue 15).
//
// A fresh cluster, one topic of -w14-partitions partitions, RF 3,
// min.insync.replicas=2. An idempotent acks=all franz-go producer inside the
// runner sends 1 KiB records round-robin over the partitions at a fixed
// -w14-rate records/s for the whole run (seeded with all three nodes; retry
// backoff 100 ms doubling to 1 s and metadata refreshed at most every 100 ms
// after an error, the Java producer's retry.backoff.ms / retry.backoff.max.ms
// defaults, instead of franz-go's 250 ms–5 s and 5 s). Then -w14-kills times:
//
//  1. wait until every partition's ISR is 3 again and the producer has run a
//     moment on the healed cluster;
//  2. pick the node leading the most partitions (Metadata; ties: lowest id)
//     and SIGKILL it (its process group), at T0;
//  3. (a) "leader": poll Metadata every 10 ms from a surviving node until
//     every partition has a leader that is neither -1 nor the dead node;
//     (b) "produce": the time until each partition the dead node led has an
//     acknowledgement for a record handed to the producer after the dead
//     process was reaped (so it cannot be the old leader's), the latest of
//     those partitions; both from T0, each bounded by -w14-timeout;
//  4. restart the node on its data dir ("rejoin": until it answers Metadata
//     listing three brokers and a leader for every partition, and every ISR
//     is 3; then step 1's settle lets it catch up on the few seconds it
//     missed).
//
// Kafka's broker/controller processes run at Kafka's defaults
// (broker.session.timeout.ms 9 s: the controller fences a silent broker
// after it), Moldau's at its own.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	w14Kills      = flag.Int("w14-kills", 3, "W14: leader kills per round (each node restarted before the next)")
	w14Rate       = flag.Float64("w14-rate", 1000, "W14: the producer's fixed rate, records/s of 1 KiB over all partitions")
	w14Partitions = flag.Int("w14-partitions", 6, "W14: partitions of the topic (RF 3, min.insync.replicas=2)")
	w14Timeout    = flag.Duration("w14-timeout", 60*time.Second, "W14: give up on a leader, a first ack or a rejoin after this long")
)

const (
	w14Poll   = 10 * time.Millisecond
	w14Settle = 3 * time.Second // producing on the healed cluster before a kill
)

// failoverSample is one (target, round) of W14.
type failoverSample struct {
	Partitions int
	Rate       float64 // records/s asked for
	Kills      []failoverKill
	Acked      int64  // records acknowledged over the whole run
	Failed     int64  // records the producer gave up on
	FirstError string `json:",omitempty"`
}

// failoverKill is one kill of W14.
type failoverKill struct {
	Victim int32   // node id killed
	Led    []int32 // partitions it led at the kill
	// Controller: the victim led the metadata quorum (DescribeQuorum of
	// __cluster_metadata) at the kill, so a new controller was elected too.
	Controller bool    `json:",omitempty"`
	LeaderMs   float64 // (a) kill until every partition has a live leader in Metadata
	ProduceMs  float64 // (b) kill until every partition in Led acknowledged a record sent after the kill
	RejoinMs   float64 `json:",omitempty"` // restart until every ISR is full again
	Err        string  `json:",omitempty"`
}

// leadersOf maps each leader id to the partitions of topic it leads (-1:
// partitions without a leader).
func leadersOf(resp *kmsg.MetadataResponse, topic string) map[int32][]int32 {
	out := map[int32][]int32{}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		for _, p := range t.Partitions {
			out[p.Leader] = append(out[p.Leader], p.Partition)
		}
	}
	for _, ps := range out {
		slices.Sort(ps)
	}
	return out
}

// pickVictim is the node leading the most partitions (ties: the lowest id),
// or -1 when no partition has a leader.
func pickVictim(leaders map[int32][]int32) int32 {
	victim := int32(-1)
	for id, ps := range leaders {
		if id < 0 {
			continue
		}
		if victim < 0 || len(ps) > len(leaders[victim]) || len(ps) == len(leaders[victim]) && id < victim {
			victim = id
		}
	}
	return victim
}

// ledWithout reports whether all n partitions of topic have a leader and
// none of them is dead.
func ledWithout(resp *kmsg.MetadataResponse, topic string, n int, dead int32) bool {
	leaders := leadersOf(resp, topic)
	total := 0
	for id, ps := range leaders {
		if id < 0 || id == dead {
			return false
		}
		total += len(ps)
	}
	return total == n
}

// ackTracker follows the producer's acknowledgements per partition.
type ackTracker struct {
	mu       sync.Mutex
	since    time.Time // armed: acks of records handed over at or after since count
	first    map[int32]time.Time
	acked    int64
	failed   int64
	firstErr string
}

// arm starts a new kill: only records handed to the producer at or after
// since count as "after the kill".
func (a *ackTracker) arm(since time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.since, a.first = since, map[int32]time.Time{}
}

// done records one produce result: a record of partition p handed over at
// sent, answered at now.
func (a *ackTracker) done(p int32, sent, now time.Time, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failed++
		if a.firstErr == "" {
			a.firstErr = err.Error()
		}
		return
	}
	a.acked++
	if a.first != nil && !sent.Before(a.since) {
		if _, ok := a.first[p]; !ok {
			a.first[p] = now
		}
	}
}

// lastFirstAck is the latest of the first acknowledgements after the kill
// over ps, and whether every partition in ps has one.
func (a *ackTracker) lastFirstAck(ps []int32) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var last time.Time
	for _, p := range ps {
		t, ok := a.first[p]
		if !ok {
			return time.Time{}, false
		}
		if t.After(last) {
			last = t
		}
	}
	return last, true
}

// javaBackoff is the Java producer's retry backoff: 100 ms doubling per
// failure up to 1 s (retry.backoff.ms, retry.backoff.max.ms).
func javaBackoff(fails int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < fails && d < time.Second; i++ {
		d *= 2
	}
	return min(d, time.Second)
}

// runFailover is W14 on one fresh cluster of t.
func runFailover(t target, round int) (s sample) {
	fs := &failoverSample{Partitions: *w14Partitions, Rate: *w14Rate}
	s = sample{Workload: "W14", Target: t.Name, Round: round + 1, Load1Start: loadAvg(),
		Cluster: &clusterSample{Nodes: clusterNodes, Partitions: *w14Partitions, RF: clusterRF, Rate: *w14Rate, Failover: fs}}
	defer func() { s.Load1End = loadAvg() }()
	dir, err := os.MkdirTemp("", "moldau-bench-w14-"+t.Name+"-")
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
	s.Cluster.StartupMs = startup.Seconds() * 1000
	topic := fmt.Sprintf("bench-w14-%d", time.Now().UnixNano())
	began := time.Now()
	if err := createClusterTopics(c.seed(), []string{topic}, *w14Partitions, w11MinISR, map[string]string{"min.insync.replicas": strconv.Itoa(w11MinISR)}); err != nil {
		s.Err = err.Error()
		return s
	}
	s.Cluster.CreateMs = time.Since(began).Seconds() * 1000

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.addrs(), ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RetryBackoffFn(javaBackoff), kgo.MetadataMinAge(100*time.Millisecond), kgo.ProduceRequestTimeout(30*time.Second))
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer cl.Close()
	var acks ackTracker
	ctx, stop := context.WithCancel(context.Background())
	produced := make(chan struct{})
	go func() { // open loop: record i is due at start + i/rate
		defer close(produced)
		value := generateValue(1024)
		start := time.Now()
		for i := int64(0); ctx.Err() == nil; i++ {
			if wait := time.Until(start.Add(time.Duration(float64(i) / *w14Rate * 1e9))); wait > 0 {
				time.Sleep(wait)
			}
			p := int32(i % int64(*w14Partitions))
			sent := time.Now()
			cl.Produce(ctx, &kgo.Record{Partition: p, Value: value}, func(_ *kgo.Record, err error) {
				if !errors.Is(err, context.Canceled) {
					acks.done(p, sent, time.Now(), err)
				}
			})
		}
	}()
	defer func() {
		stop()
		<-produced
		acks.mu.Lock()
		fs.Acked, fs.Failed, fs.FirstError = acks.acked, acks.failed, acks.firstErr
		acks.mu.Unlock()
	}()
	for range *w14Kills {
		k, err := killLeader(c, topic, &acks)
		if k != nil {
			fs.Kills = append(fs.Kills, *k)
		}
		if err != nil {
			s.Err = err.Error()
			return s
		}
	}
	return s
}

// generateValue is one record value of size bytes (W14 measures time, not
// bytes: one value is enough).
func generateValue(size int) []byte {
	return []byte(strings.Repeat("moldau-w14-", size/11+1)[:size])
}

// metadataOf asks node's address (and only it) for topic's metadata.
func metadataOf(cl *kgo.Client, topic string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, errors.New("no seed broker")
	}
	resp, err := seeds[0].Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// killLeader is one kill of W14 (steps 1-4 of the file comment). A kill
// that could not be measured is returned with its Err; err stops the round
// (the cluster is not whole again).
func killLeader(c *cluster, topic string, acks *ackTracker) (*failoverKill, error) {
	n := *w14Partitions
	if err := waitISR(c.addrs(), topic, n, clusterRF, time.Now().Add(*w14Timeout)); err != nil {
		return nil, err
	}
	time.Sleep(w14Settle)
	probe, err := kgo.NewClient(kgo.SeedBrokers(c.seed()), kgo.RetryTimeout(0))
	if err != nil {
		return nil, err
	}
	resp, err := metadataOf(probe, topic)
	controller := quorumLeader(probe)
	probe.Close()
	if err != nil {
		return nil, err
	}
	leaders := leadersOf(resp, topic)
	victim := pickVictim(leaders)
	if victim < 1 || int(victim) > len(c.nodes) {
		return nil, fmt.Errorf("no leader to kill (leaders %v)", leaders)
	}
	k := &failoverKill{Victim: victim, Led: leaders[victim], Controller: controller == victim}
	survivor := 1
	if victim == 1 {
		survivor = 2
	}
	poll, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[survivor-1].addr), kgo.RetryTimeout(0), kgo.DialTimeout(time.Second))
	if err != nil {
		return nil, err
	}
	defer poll.Close()

	t0 := time.Now()
	c.nodes[victim-1].kill() // SIGKILL, then reaped
	acks.arm(time.Now())
	deadline := t0.Add(*w14Timeout)
	var errs []string
	for (k.LeaderMs == 0 || k.ProduceMs == 0) && time.Now().Before(deadline) {
		if k.LeaderMs == 0 {
			if resp, err := metadataOf(poll, topic); err == nil && ledWithout(resp, topic, n, victim) {
				k.LeaderMs = msSince(t0)
			}
		}
		if k.ProduceMs == 0 {
			if last, ok := acks.lastFirstAck(k.Led); ok {
				k.ProduceMs = float64(last.Sub(t0).Microseconds()) / 1000
			}
		}
		time.Sleep(w14Poll)
	}
	if k.LeaderMs == 0 {
		errs = append(errs, fmt.Sprintf("a partition without a live leader after %s", *w14Timeout))
	}
	if k.ProduceMs == 0 {
		errs = append(errs, fmt.Sprintf("no acknowledgement on every partition node %d led after %s", victim, *w14Timeout))
	}
	k.Err = strings.Join(errs, "; ")

	restarted := time.Now()
	if err := c.startNode(int(victim - 1)); err != nil {
		return k, fmt.Errorf("restart node %d: %w", victim, err)
	}
	deadline = time.Now().Add(*w14Timeout)
	if err := waitServes(c.nodes[victim-1].addr, topic, n, deadline); err != nil {
		return k, fmt.Errorf("node %d after its restart: %w (log %s)", victim, err, c.logs[victim-1])
	}
	if err := waitISR(c.addrs(), topic, n, clusterRF, deadline); err != nil {
		return k, fmt.Errorf("node %d after its restart: %w (log %s)", victim, err, c.logs[victim-1])
	}
	k.RejoinMs = msSince(restarted)
	return k, nil
}

// waitServes polls Metadata on addr (only) until it lists every node and
// gives each of topic's n partitions a leader. Moldau keeps a dead replica in
// the ISR until it has lagged replica.lag.time.max.ms, so a full ISR alone
// does not show that a restarted node is back.
func waitServes(addr, topic string, n int, deadline time.Time) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(0), kgo.DialTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	for time.Now().Before(deadline) {
		if resp, err := metadataOf(cl, topic); err == nil && len(resp.Brokers) == clusterNodes && ledWithout(resp, topic, n, -1) {
			return nil
		}
		time.Sleep(w14Poll)
	}
	return errors.New("it does not serve Metadata with every node and every leader")
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// quorumLeader is the leader of the metadata quorum (DescribeQuorum of
// __cluster_metadata partition 0), or -1 when it cannot be told.
func quorumLeader(cl *kgo.Client) int32 {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		return -1
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				return p.LeaderID
			}
		}
	}
	return -1
}
