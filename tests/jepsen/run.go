package jepsen

// Run: the campaign's driver, step by step.
//
//  1. Topics jepsen-{queue,txn,copy,groups}-<tag> (tag: a per-run hex
//     string, also in group names and transactional ids) with 4 partitions,
//     RF = min(3, brokers), min.insync.replicas=2 at RF 3, created through
//     Cluster.Seeds() and retried for a minute until every partition has a
//     leader.
//  2. The workloads start (queue.go, txn.go, groups.go). Every client dials
//     through Cluster.Dial (group members through a dialer that can be
//     "killed"), with 2 s dial timeout, 3 s request overhead, 8 s retry
//     timeout, 10 s record delivery timeout; every call has a deadline.
//  3. Faults, if Nemesis is set: each interval (IntervalMin..IntervalMax,
//     default 10-15 s) waits a third of it, injects the next kind (a seeded
//     shuffle of Config.Faults, reshuffled when used up), holds it 5 s
//     (pause: 8 s, beyond the 6 s session timeout), heals, and waits out the
//     interval. Inject gets the queue topic (FaultKillLeader's target) and
//     60 s; an error is recorded (fault fail) and the loop goes on. Heal gets
//     60 s and up to 3 attempts; a failure is recorded (heal fail). No fault
//     starts that could not be healed before Duration ends.
//  4. After Duration: a final Heal; the producers run until every partition
//     acknowledged a send after it (at most 30 s), then stop; the consumers
//     run until caught up (every committed value copied and the copier idle
//     2 s; every acknowledged value polled by both groups; at most 90 s).
//  5. Drain: every partition of every topic read from offset 0 to its high
//     watermark with a fresh client (read_committed for the transactional
//     topics, after their LSO reached the high watermark), retried for up
//     to 2 minutes per topic; an incomplete partition is recorded with what
//     was read and an error.
//  6. Check (check.go), then OutDir/history.jsonl, anomalies.txt (kind TAB
//     detail per line) and summary.md (report.go).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Run errors.
var (
	// ErrNoCluster: Config.Cluster is nil.
	ErrNoCluster = errors.New("jepsen: no cluster")
	// ErrSetup: the topics could not be created before the setup deadline.
	ErrSetup = errors.New("jepsen: setup failed")
)

const (
	partitions   = 4
	sessionTime  = 6 * time.Second // group workloads' session timeout
	pauseHold    = 8 * time.Second // a pause outlasts the session timeout
	faultHold    = 5 * time.Second // every other fault
	catchUpLimit = 90 * time.Second
)

// runner is one Run's state.
type runner struct {
	cfg Config
	h   *History
	tag string // makes topic, group and transactional ids unique per run

	rngMu sync.Mutex
	rng   *rand.Rand

	queueTopic, txnTopic, copyTopic, groupTopic string

	sendMu    sync.Mutex
	lastAcked map[topicPartition]time.Time // the latest invocation time of an acknowledged send
}

type topicPartition struct {
	topic string
	p     int32
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Logf != nil {
		r.cfg.Logf("jepsen: "+format, args...)
	}
}

// intn is a seeded random number in [0, n).
func (r *runner) intn(n int) int {
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return r.rng.IntN(n)
}

// between is a seeded random duration in [lo, hi].
func (r *runner) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.intn(int(hi-lo)+1))
}

// clientOpts are the options every client of the campaign starts from.
func (r *runner) clientOpts(dial func(ctx context.Context, network, addr string) (net.Conn, error), extra ...kgo.Opt) []kgo.Opt {
	if dial == nil {
		dial = r.cfg.Cluster.Dial
	}
	return append([]kgo.Opt{
		kgo.SeedBrokers(r.cfg.Cluster.Seeds()...),
		kgo.Dialer(dial),
		kgo.DialTimeout(2 * time.Second),
		kgo.RequestTimeoutOverhead(3 * time.Second),
		kgo.RetryTimeout(8 * time.Second),
		kgo.MetadataMinAge(200 * time.Millisecond),
		kgo.MetadataMaxAge(5 * time.Second),
		kgo.RetryBackoffFn(func(n int) time.Duration { return min(50*time.Millisecond<<min(n, 5), time.Second) }),
	}, extra...)
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Run runs one campaign (see the file comment) and returns what the
// checker found. An error means the campaign could not run (no cluster,
// topics not created, OutDir not writable); anomalies are in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Cluster == nil {
		return nil, ErrNoCluster
	}
	if cfg.IntervalMin <= 0 {
		cfg.IntervalMin = 10 * time.Second
	}
	if cfg.IntervalMax < cfg.IntervalMin {
		cfg.IntervalMax = max(cfg.IntervalMin, 15*time.Second)
	}
	if len(cfg.Workloads) == 0 {
		cfg.Workloads = []string{WorkloadQueue, WorkloadTransactions, WorkloadGroups}
	}
	if cfg.Nemesis != nil && len(cfg.Faults) == 0 {
		cfg.Faults = cfg.Nemesis.Kinds()
	}
	if cfg.OutDir == "" {
		d, err := os.MkdirTemp("", "jepsen-")
		if err != nil {
			return nil, err
		}
		cfg.OutDir = d
	} else if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, h: &History{}, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6a65707365)),
		tag: fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff), lastAcked: map[topicPartition]time.Time{}}
	r.queueTopic = "jepsen-queue-" + r.tag
	r.txnTopic = "jepsen-txn-" + r.tag
	r.copyTopic = "jepsen-copy-" + r.tag
	r.groupTopic = "jepsen-groups-" + r.tag
	began := time.Now()
	r.logf("run %s on %s for %v, workloads %v, faults %v, out %s", r.tag, cfg.Cluster.Name(), cfg.Duration, cfg.Workloads, cfg.Faults, cfg.OutDir)

	var topics []string
	txnTopics := map[string]bool{}
	if slices.Contains(cfg.Workloads, WorkloadQueue) {
		topics = append(topics, r.queueTopic)
	}
	if slices.Contains(cfg.Workloads, WorkloadTransactions) {
		topics = append(topics, r.txnTopic, r.copyTopic)
		txnTopics[r.txnTopic], txnTopics[r.copyTopic] = true, true
	}
	if slices.Contains(cfg.Workloads, WorkloadGroups) {
		topics = append(topics, r.groupTopic)
	}
	if err := r.createTopics(ctx, topics); err != nil {
		return nil, err
	}

	prodCtx, stopProducers := context.WithCancel(ctx)
	consCtx, stopConsumers := context.WithCancel(ctx)
	defer stopProducers()
	defer stopConsumers()
	var prodWG, consWG sync.WaitGroup
	var caughtUp []func() bool
	if slices.Contains(cfg.Workloads, WorkloadQueue) {
		q := &queueWorkload{r: r}
		q.start(prodCtx, consCtx, &prodWG, &consWG)
	}
	if slices.Contains(cfg.Workloads, WorkloadTransactions) {
		t := &txnWorkload{r: r}
		t.start(prodCtx, consCtx, &prodWG, &consWG)
		caughtUp = append(caughtUp, t.caughtUp)
	}
	if slices.Contains(cfg.Workloads, WorkloadGroups) {
		g := &groupsWorkload{r: r}
		g.start(prodCtx, consCtx, &prodWG, &consWG)
		caughtUp = append(caughtUp, g.caughtUp)
	}

	// The fault phase.
	end := time.Now().Add(cfg.Duration)
	if cfg.Nemesis != nil && len(cfg.Faults) > 0 {
		r.faultLoop(ctx, end)
	}
	if !sleep(ctx, time.Until(end)) {
		return nil, ctx.Err()
	}
	if cfg.Nemesis != nil {
		r.heal(ctx)
	}
	// Let the producers see the healed cluster (a recovery time for the
	// last fault), then stop them.
	healed := time.Now()
	r.waitFor(ctx, 30*time.Second, func() bool { return r.sentSince(healed) })
	stopProducers()
	prodWG.Wait()
	r.logf("producers stopped; waiting for the consumers to catch up")
	if !r.waitFor(ctx, catchUpLimit, func() bool {
		for _, f := range caughtUp {
			if !f() {
				return false
			}
		}
		return true
	}) {
		r.logf("consumers did not catch up within %v", catchUpLimit)
	}
	stopConsumers()
	consWG.Wait()

	for _, t := range topics {
		r.drain(ctx, t, txnTopics[t])
	}
	ops := r.h.Ops()
	anomalies := Check(ops)
	summary := Summarize(cfg.Cluster.Name(), cfg.Duration, time.Since(began), ops, anomalies)
	var werr []error
	werr = append(werr, WriteJSONL(filepath.Join(cfg.OutDir, "history.jsonl"), ops))
	var ab strings.Builder
	for _, a := range anomalies {
		fmt.Fprintf(&ab, "%s\t%s\n", a.Kind, a.Detail)
	}
	werr = append(werr, os.WriteFile(filepath.Join(cfg.OutDir, "anomalies.txt"), []byte(ab.String()), 0o644))
	werr = append(werr, os.WriteFile(filepath.Join(cfg.OutDir, "summary.md"), []byte(summary), 0o644))
	r.logf("done: %d ops, %d anomalies, out %s", len(ops), len(anomalies), cfg.OutDir)
	return &Result{Anomalies: anomalies, Summary: summary}, errors.Join(werr...)
}

// waitFor polls cond every 100 ms until it holds (true) or d passes.
func (r *runner) waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || !sleep(ctx, 100*time.Millisecond) {
			return false
		}
	}
	return true
}

// sentSince reports whether every partition the producers write has
// acknowledged a send invoked at or after t (or no workload sends).
func (r *runner) sentSince(t time.Time) bool {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	for _, last := range r.lastAcked {
		if last.Before(t) {
			return false
		}
	}
	return true
}

// acked notes an acknowledged send to topic/p invoked at start.
func (r *runner) acked(topic string, p int32, start time.Time) {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	k := topicPartition{topic, p}
	if start.After(r.lastAcked[k]) {
		r.lastAcked[k] = start
	}
}

// closeWithin runs close (a client's Close) and waits for it at most d;
// a Close that cannot reach the cluster is left to finish on its own.
func (r *runner) closeWithin(name string, d time.Duration, closeClient func()) {
	done := make(chan struct{})
	go func() { closeClient(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		r.logf("%s: Close did not return within %v", name, d)
	}
}

// admin is a short-lived admin client.
func (r *runner) admin() (*kadm.Client, *kgo.Client, error) {
	cl, err := kgo.NewClient(r.clientOpts(nil)...)
	if err != nil {
		return nil, nil, err
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(10000)
	return adm, cl, nil
}

// createTopics creates topics with RF = min(3, brokers) and
// min.insync.replicas 2 at RF 3, retrying for up to a minute, and waits
// until every partition has a leader.
func (r *runner) createTopics(ctx context.Context, topics []string) error {
	adm, cl, err := r.admin()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	defer cl.Close()
	deadline := time.Now().Add(time.Minute)
	var last error
	for {
		last = r.tryCreate(ctx, adm, topics)
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) || !sleep(ctx, 500*time.Millisecond) {
			return fmt.Errorf("%w: %w", ErrSetup, last)
		}
	}
}

func (r *runner) tryCreate(ctx context.Context, adm *kadm.Client, topics []string) error {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	brokers, err := adm.ListBrokers(cctx)
	if err != nil {
		return err
	}
	rf := int16(min(3, len(brokers)))
	configs := map[string]*string{}
	if rf == 3 {
		two := "2"
		configs["min.insync.replicas"] = &two
	}
	resp, err := adm.CreateTopics(cctx, partitions, rf, configs, topics...)
	if err != nil {
		return err
	}
	for _, t := range resp.Sorted() {
		if t.Err != nil && !strings.Contains(t.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return fmt.Errorf("create %s: %w", t.Topic, t.Err)
		}
	}
	md, err := adm.Metadata(cctx, topics...)
	if err != nil {
		return err
	}
	for _, t := range topics {
		td, ok := md.Topics[t]
		if !ok || td.Err != nil || len(td.Partitions) != partitions {
			return fmt.Errorf("topic %s not ready", t)
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return fmt.Errorf("%s/%d has no leader", t, p.Partition)
			}
		}
	}
	r.logf("created %v (RF %d, %d partitions)", topics, rf, partitions)
	return nil
}

// faultLoop injects one fault per interval, in a seeded order that cycles
// through every kind before repeating, until end.
func (r *runner) faultLoop(ctx context.Context, end time.Time) {
	var order []FaultKind
	for {
		interval := r.between(r.cfg.IntervalMin, r.cfg.IntervalMax)
		// A quiet stretch before each fault, the rest of the interval
		// after the heal.
		quiet := interval / 3
		if !sleep(ctx, quiet) {
			return
		}
		if len(order) == 0 {
			order = slices.Clone(r.cfg.Faults)
			r.rngMu.Lock()
			r.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			r.rngMu.Unlock()
		}
		kind := order[0]
		hold := faultHold
		if kind == FaultPause {
			hold = pauseHold
		}
		if time.Now().Add(hold).After(end) {
			return
		}
		order = order[1:]
		start := time.Now()
		r.h.Add(Op{Process: "nemesis", Type: OpInvoke, F: FnFault, Detail: string(kind), Partition: -1, Offset: -1})
		ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
		f, err := r.cfg.Nemesis.Inject(ictx, kind, r.faultTopic())
		cancel()
		if err != nil {
			r.logf("inject %s: %v", kind, err)
			r.h.Add(Op{Process: "nemesis", Type: OpFail, F: FnFault, Start: start, Detail: string(kind), Error: err.Error(), Partition: -1, Offset: -1})
		} else {
			r.logf("injected %s: %s", kind, f.Detail)
			r.h.SetFault(string(kind))
			// The fault's own instant (Fault.At) when the nemesis gives
			// one: recovery from a kill counts from it.
			at := time.Now()
			if !f.At.IsZero() && !f.At.Before(start) && f.At.Before(at) {
				at = f.At
			}
			r.h.Add(Op{Time: at, Process: "nemesis", Type: OpOK, F: FnFault, Start: start, Detail: string(kind) + ": " + f.Detail, Value: string(kind), Partition: -1, Offset: -1})
			if !sleep(ctx, hold) {
				return
			}
			r.heal(ctx)
		}
		if !sleep(ctx, min(interval-quiet-hold, time.Until(end))) {
			return
		}
		if !time.Now().Before(end) {
			return
		}
	}
}

// faultTopic is the topic whose partition leader a FaultKillLeader hits.
func (r *runner) faultTopic() string {
	switch {
	case slices.Contains(r.cfg.Workloads, WorkloadQueue):
		return r.queueTopic
	case slices.Contains(r.cfg.Workloads, WorkloadTransactions):
		return r.txnTopic
	default:
		return r.groupTopic
	}
}

// heal asks the nemesis to heal, retrying for up to two minutes.
func (r *runner) heal(ctx context.Context) {
	start := time.Now()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		hctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err = r.cfg.Nemesis.Heal(hctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		r.logf("heal: %v", err)
	}
	if err != nil {
		r.h.Add(Op{Process: "nemesis", Type: OpFail, F: FnHeal, Start: start, Error: err.Error(), Partition: -1, Offset: -1})
		return
	}
	r.h.SetFault("")
	r.h.Add(Op{Process: "nemesis", Type: OpOK, F: FnHeal, Start: start, Partition: -1, Offset: -1})
}

// drain reads every partition of topic from its start to its high
// watermark (read_committed for transactional topics, after waiting for
// their open transactions to end) and records one drain op per partition.
// It retries with new clients until two minutes have passed; a partition
// read incompletely is recorded with what was read and an error.
func (r *runner) drain(ctx context.Context, topic string, committed bool) {
	deadline := time.Now().Add(2 * time.Minute)
	got := map[int32][]Rec{}
	done := map[int32]bool{}
	var lastErr error
	for attempt := 0; len(done) < partitions && time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
		lastErr = r.drainOnce(ctx, topic, committed, deadline, got, done)
		if lastErr != nil {
			r.logf("drain %s (attempt %d): %v", topic, attempt+1, lastErr)
			sleep(ctx, time.Second)
		}
	}
	for p := range int32(partitions) {
		op := Op{Process: "drain", Type: OpOK, F: FnDrain, Topic: topic, Partition: p, Offset: -1, Records: got[p]}
		if !done[p] {
			op.Error = fmt.Sprintf("incomplete: %v", lastErr)
		}
		r.h.Add(op)
	}
}

// drainOnce reads the partitions not yet done; got and done carry over.
func (r *runner) drainOnce(ctx context.Context, topic string, committed bool, deadline time.Time, got map[int32][]Rec, done map[int32]bool) error {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	adm, acl, err := r.admin()
	if err != nil {
		return err
	}
	defer acl.Close()
	var ends kadm.ListedOffsets
	for {
		lctx, lcancel := context.WithTimeout(dctx, 10*time.Second)
		ends, err = adm.ListEndOffsets(lctx, topic)
		if err == nil {
			err = ends.Error()
		}
		var lso kadm.ListedOffsets
		if err == nil && committed {
			lso, err = adm.ListCommittedOffsets(lctx, topic)
			if err == nil {
				err = lso.Error()
			}
		}
		lcancel()
		if err != nil {
			return fmt.Errorf("list offsets: %w", err)
		}
		open := false
		if committed {
			ends.Each(func(o kadm.ListedOffset) {
				if l, ok := lso.Lookup(topic, o.Partition); ok && l.Offset < o.Offset {
					open = true
				}
			})
		}
		if !open {
			break
		}
		if !sleep(dctx, 500*time.Millisecond) {
			return errors.New("transactions still open")
		}
	}
	want := map[int32]int64{}
	start := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if done[o.Partition] {
			return
		}
		want[o.Partition] = o.Offset
		next := int64(0)
		if rs := got[o.Partition]; len(rs) > 0 {
			next = rs[len(rs)-1].Offset + 1
		}
		if next >= o.Offset {
			done[o.Partition] = true
			delete(want, o.Partition)
			return
		}
		start[o.Partition] = kgo.NewOffset().At(next)
	})
	if len(want) == 0 {
		return nil
	}
	// The last offset read per partition, control records included.
	pos := map[int32]int64{}
	for p := range want {
		pos[p] = -1
		if rs := got[p]; len(rs) > 0 {
			pos[p] = rs[len(rs)-1].Offset
		}
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}), kgo.KeepControlRecords()}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(r.clientOpts(nil, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for len(want) > 0 {
		pctx, pcancel := context.WithTimeout(dctx, 5*time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if dctx.Err() != nil {
			return dctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("partition %d: %w", p, err)
			}
		})
		fs.EachRecord(func(rec *kgo.Record) {
			if _, ok := want[rec.Partition]; !ok || rec.Offset <= pos[rec.Partition] {
				return
			}
			pos[rec.Partition] = rec.Offset
			if !rec.Attrs.IsControl() {
				got[rec.Partition] = append(got[rec.Partition], Rec{rec.Partition, rec.Offset, string(rec.Value)})
			}
		})
		for p, end := range want {
			if pos[p]+1 >= end {
				done[p] = true
				delete(want, p)
			}
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}
