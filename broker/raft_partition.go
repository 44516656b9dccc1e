package broker

// Partition replication in cluster mode (raft.go): one Raft group per
// partition, whose log is the partition's segment log (replication's
// LogStorage writes each batch once per replica, at the Ready's persist).
//
//   - The leader proposes an entry (partition.proposeLocked) with its base
//     offset 0 and leader epoch -1: every replica's storage append assigns
//     both (offset = the log end, epoch = the Raft term).
//   - Apply (partSM) runs the state steps of partition.applyLocked for each
//     committed entry, on every replica: producer state, transaction begin
//     and end, the LSO, and the high watermark (the end offset of the last
//     applied entry), then wakes fetches. The log append itself is not
//     there: it happened at persist.
//   - acks=1 is answered once the leader has persisted the entry
//     (Proposal.Appended), acks=all once it is committed and applied here
//     (Proposal.Done), acks=0 not waited for.
//   - The leader's idempotence check must cover entries proposed and not
//     yet applied: raftPart.pending holds, per producer, the last sequence
//     proposed and how many of its batches are in flight.
//   - Leadership: partSM.LeaderChanged publishes the group's leader and
//     term (Kafka's leader epoch) in the partition's leadership; the
//     leader publishes its leadership and ISR to the metadata group too
//     (isrLoop), from which the brokers that do not host the partition
//     learn it.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/metadata"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/replication"
	"go.etcd.io/raft/v3/raftpb"
)

// raftPart is a hosted replica's replication state.
type raftPart struct {
	c       *raftCluster
	gid     uint64
	storage *replication.LogStorage
	// replicas: the partition's replicas as the metadata last named them
	// (its Raft voters outside a reassignment); reported: the list
	// Metadata shows (during a reassignment the target and the replicas
	// being removed). Replaced by the reconciler (raft_reassign.go).
	replicas atomic.Pointer[[]int32]
	reported atomic.Pointer[[]int32]
	// pending: the leader's idempotent batches proposed and not yet
	// applied, per producer id (appendMu).
	pending map[int64]*pendingProducer
	// readyIndex: as leader, the index of the entry opening its term;
	// until applied reaches it the log may hold entries of earlier
	// terms not yet applied, which the idempotence check would not see,
	// so the leader takes no writes (MaxUint64 when not leading).
	readyIndex atomic.Uint64
	applied    atomic.Uint64 // the last index applied here
	// leaderSince: when this node last became the leader (Unix ns): a
	// follower not yet seen caught up counts as in sync for
	// replica.lag.time.max.ms after it, as Kafka keeps a new leader's
	// ISR until a replica has lagged that long.
	leaderSince atomic.Int64
	// leaderlessSince: when the group last lost its leader, or was
	// opened here without one (Unix ns): Metadata answers wait a little
	// for the successor or the first leader (electionHold).
	leaderlessSince atomic.Int64
}

// errLeaderNotReady: this node leads but has not applied the entries its
// predecessors left (NOT_LEADER_OR_FOLLOWER: the client retries).
var errLeaderNotReady = fmt.Errorf("%w: the new leader is applying its log", errNotLeader)

type pendingProducer struct {
	epoch   int16
	lastSeq int32
	n       int
}

var (
	// errInFlight: an idempotent batch that repeats one still being
	// replicated (the client retries it; NOT_ENOUGH_REPLICAS, retriable).
	errInFlight = errors.New("broker: batch already in flight")
	// errNotEnoughReplicas: fewer in-sync replicas than
	// min.insync.replicas (NOT_ENOUGH_REPLICAS).
	errNotEnoughReplicas = errors.New("broker: not enough in-sync replicas")
	// errNotEnoughReplicasAfterAppend: committed, but the ISR shrank
	// below min.insync.replicas while waiting
	// (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	errNotEnoughReplicasAfterAppend = errors.New("broker: not enough in-sync replicas after append")
	// errReplicationTimeout: not committed in time (REQUEST_TIMED_OUT).
	errReplicationTimeout = errors.New("broker: replication timed out")
)

// remoteLeadership is the leadership of a partition this node does not
// host, as the metadata view records it.
func remoteLeadership(mp *metadata.Partition) *leadership {
	isr := slices.Clone(mp.ISR)
	if isr == nil {
		isr = []int32{}
	}
	return &leadership{leader: mp.Leader, epoch: max(mp.LeaderEpoch, 0), replicas: slices.Clone(mp.ReportedReplicas()), isr: isr, offline: []int32{}}
}

// openReplica builds partition mp of t: a hosted replica (log, storage,
// Raft group) if this node is among its replicas (or a reassignment's:
// metadata.Partition.Hosts), else a remote one (no log). A new log's Raft
// configuration starts as the current replicas (a replica added by a
// reassignment then joins from the leader's log, raft_reassign.go). The
// reconciler calls it with topics.adminMu held.
func (c *raftCluster) openReplica(t *topic, mp *metadata.Partition) (*partition, error) {
	if !mp.Hosts(c.self) {
		return newPartition(t, mp.Partition, nil, remoteLeadership(mp)), nil
	}
	b := c.b
	name := partitionDirName(t.name, mp.Partition)
	dir := filepath.Join(b.dataDir, name)
	lc := t.logConfig()
	lc.Replicated = true
	l, rep, err := plog.Open(b.fs, dir, lc, b.logger.With("partition", name))
	if err != nil {
		return nil, fmt.Errorf("broker: open %s: %w", dir, err)
	}
	if rep.TruncatedFrom >= 0 {
		b.logger.Warn("recovery dropped a torn tail", "partition", name, "from_offset", rep.TruncatedFrom)
	}
	st, err := replication.OpenLogStorage(replication.LogStorageConfig{Log: l, FS: b.fs, Voters: raftIDs(mp.Replicas), Logger: b.logger.With("partition", name)})
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("broker: replication storage of %s: %w", name, err)
	}
	last, err := st.LastIndex()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("broker: replication storage of %s: %w", name, err)
	}
	fresh := last == 0
	lead := &leadership{leader: -1, epoch: 0, replicas: slices.Clone(mp.ReportedReplicas()), isr: slices.Clone(mp.Replicas), offline: []int32{}}
	p := newPartition(t, mp.Partition, l, lead)
	p.repl = &raftPart{c: c, gid: mp.GroupID, storage: st, pending: map[int64]*pendingProducer{}}
	p.repl.setReplicas(mp)
	p.repl.readyIndex.Store(math.MaxUint64)
	// A group opens without a leader: a Metadata answer just after the
	// topic is created (or the node restarted) waits briefly for the first
	// election, as Kafka's controller names a new partition's leader in
	// the records that create it.
	p.repl.leaderlessSince.Store(time.Now().UnixNano())
	p.repl.applied.Store(st.AppliedIndex())
	// The state up to the high watermark is what was applied; Raft
	// applies the committed entries above it again.
	if err := p.rebuildProducersTo(l.HighWatermark()); err != nil {
		l.Close()
		return nil, fmt.Errorf("broker: rebuild producer state of %s: %w", name, err)
	}
	if err := c.node.AddGroup(replication.GroupConfig{ID: mp.GroupID, Storage: st, StateMachine: partSM{p}, Applied: st.AppliedIndex()}); err != nil {
		l.Close()
		return nil, fmt.Errorf("broker: raft group of %s: %w", name, err)
	}
	c.hostedMu.Lock()
	c.hosted[mp.GroupID] = p
	c.hostedMu.Unlock()
	if fresh && mp.Replicas[0] == c.self {
		// The preferred leader of a new partition starts its election at
		// once instead of waiting out an election timeout.
		_ = c.node.Campaign(mp.GroupID)
		go c.campaignUntilLed(mp.GroupID)
	}
	return p, nil
}

// campaignUntilLed repeats a new partition's first election while its
// group has no leader: the other replicas open the group when their
// reconciler applies the same metadata, a moment after this node, and
// a vote request reaching a node before its group exists is lost, which
// left the partition leaderless for a whole election timeout (1–2 s per
// created topic). Campaign is only called while no leader is known, so
// an elected leader is never disrupted by it.
func (c *raftCluster) campaignUntilLed(gid uint64) {
	for _, d := range []time.Duration{50, 100, 200, 400} {
		select {
		case <-c.stop:
			return
		case <-time.After(d * time.Millisecond):
		}
		leader, _, _, err := c.node.Leader(gid)
		if err != nil || leader != 0 {
			return
		}
		_ = c.node.Campaign(gid)
	}
}

// dropReplica stops hosting p (its topic was deleted): the group goes, then
// the log.
func (c *raftCluster) dropReplica(p *partition) {
	if p.repl == nil {
		return
	}
	c.hostedMu.Lock()
	delete(c.hosted, p.repl.gid)
	c.hostedMu.Unlock()
	if err := c.node.RemoveGroup(p.repl.gid); err != nil && !errors.Is(err, replication.ErrUnknownGroup) {
		c.logger.Warn("remove raft group", "partition", p.dirName(), "err", err)
	}
	if err := p.deleteLog(); err != nil {
		c.logger.Warn("delete partition log", "partition", p.dirName(), "err", err)
	}
	p.notify()
}

// closeReplica stops hosting p without removing its log (an open that
// is not published: the next reconcile opens it again).
func (c *raftCluster) closeReplica(p *partition) {
	if p.repl == nil {
		return
	}
	c.hostedMu.Lock()
	delete(c.hosted, p.repl.gid)
	c.hostedMu.Unlock()
	_ = c.node.RemoveGroup(p.repl.gid)
	_ = p.closeLog()
}

// proposeReplicatedLocked proposes e to p's group (appendMu held) and
// returns the proposal to wait on. The batch is copied (the request's
// buffer is not the proposal's) with base offset 0 and leader epoch -1.
func (p *partition) proposeReplicatedLocked(e *entry) (*replication.Proposal, error) {
	if p.repl.applied.Load() < p.repl.readyIndex.Load() {
		return nil, errLeaderNotReady
	}
	batch := slices.Clone(e.batch)
	binary.BigEndian.PutUint64(batch[records.OffBaseOffset:], 0)
	binary.BigEndian.PutUint32(batch[records.OffLeaderEpoch:], 0xffffffff)
	prop, err := p.repl.c.node.ProposeAsync(p.repl.gid, batch)
	if err != nil {
		return nil, replicationError(err)
	}
	if pid := e.producer.ProducerID; pid >= 0 && e.kind == entryData {
		pp := p.repl.pending[pid]
		if pp == nil || pp.epoch != e.producer.ProducerEpoch {
			pp = &pendingProducer{epoch: e.producer.ProducerEpoch}
			p.repl.pending[pid] = pp
		}
		pp.lastSeq = e.producer.LastSequence
		pp.n++
	}
	return prop, nil
}

// checkPendingLocked is the leader's idempotence check against the batches
// of e's producer still in flight: ok if e follows the last one proposed
// (the applied state cannot tell), errInFlight if it repeats one of them,
// and !handled when none is in flight (the applied state decides).
func (p *partition) checkPendingLocked(e *entry) (handled bool, err error) {
	pp := p.repl.pending[e.producer.ProducerID]
	if pp == nil || pp.epoch != e.producer.ProducerEpoch {
		return false, nil
	}
	next := pp.lastSeq + 1
	if pp.lastSeq == 1<<31-1 {
		next = 0
	}
	if e.producer.FirstSequence == next {
		return true, nil
	}
	if seqBefore(e.producer.FirstSequence, next) {
		return true, errInFlight
	}
	return false, nil
}

// seqBefore reports whether sequence a comes before b (within 2^30 of
// each other, modulo the int32 wrap Kafka uses).
func seqBefore(a, b int32) bool {
	d := int64(b) - int64(a)
	if d < 0 {
		d += 1 << 31
	}
	return d > 0 && d < 1<<30
}

// forgetPending drops pid's in-flight record (its proposal failed: later
// batches are checked against the applied state again).
func (p *partition) forgetPending(pid int64) {
	if p.repl == nil || pid < 0 {
		return
	}
	p.appendMu.Lock()
	delete(p.repl.pending, pid)
	p.appendMu.Unlock()
}

// replicationError maps replication's errors to the broker's.
func replicationError(err error) error {
	switch {
	case errors.Is(err, replication.ErrNotLeader), errors.Is(err, replication.ErrDropped),
		errors.Is(err, replication.ErrStopped), errors.Is(err, replication.ErrUnknownGroup):
		return fmt.Errorf("%w: %v", errNotLeader, err)
	}
	return err
}

// awaitProposal waits for prop: appended (acks=1) or committed and
// applied (acks=all); then returns its base offset.
func (p *partition) awaitProposal(ctx context.Context, prop *replication.Proposal, all bool) (int64, error) {
	if all {
		// As Kafka's leader does when it loses the leadership, a
		// produce still waiting is answered NOT_LEADER_OR_FOLLOWER at
		// once (the entry may still commit under the next leader; an
		// idempotent producer's retry is then found a duplicate). It
		// wakes on its own commit or a leadership change only.
		l, moved := p.leadWatch()
		epoch := l.epoch
		for done := false; !done; {
			if !l.local || l.epoch != epoch { // checked once at the start too: it may have moved already
				select {
				case <-prop.Done():
					done = true
					continue
				default:
				}
				return -1, fmt.Errorf("%w: leadership moved while replicating", errNotLeader)
			}
			select {
			case <-prop.Done():
				done = true
			case <-moved:
				l, moved = p.leadWatch()
			case <-ctx.Done():
				return -1, fmt.Errorf("%w: %v", errReplicationTimeout, ctx.Err())
			}
		}
		if err := prop.Err(); err != nil {
			return -1, replicationError(err)
		}
	} else {
		select {
		case <-prop.Appended():
		case <-prop.Done():
			if err := prop.Err(); err != nil {
				return -1, replicationError(err)
			}
		case <-ctx.Done():
			return -1, fmt.Errorf("%w: %v", errReplicationTimeout, ctx.Err())
		}
	}
	return p.repl.storage.BaseOffset(prop.Index())
}

// waitReplicatedLocked is proposeLocked's wait for the entries that are
// answered only once applied (internal topics, markers): appendMu is
// released while waiting (Apply takes it) and held again on return.
func (p *partition) waitReplicatedLocked(prop *replication.Proposal) (applied, error) {
	p.appendMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	base, err := p.awaitProposal(ctx, prop, true)
	cancel()
	p.appendMu.Lock()
	return applied{base: base}, err
}

// partSM applies a partition group's committed entries (see the file
// comment); replication.StateMachine and LeadershipObserver.
type partSM struct{ p *partition }

func (s partSM) Apply(entries []*raftpb.Entry) error {
	p := s.p
	now := p.repl.c.b.now().UnixMilli()
	internal := isInternalTopic(p.topic.name)
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	var last uint64
	for _, e := range entries {
		last = e.GetIndex()
		data := e.GetData()
		if e.GetType() != raftpb.EntryNormal || len(data) == 0 {
			continue
		}
		if done, err := p.applyLogStartLocked(data); done || err != nil { // raft_compact.go
			if err != nil {
				return err
			}
			continue
		}
		h, err := plog.ParseBatchHeader(data)
		if err != nil {
			return fmt.Errorf("broker: %s entry %d: %w", p.dirName(), e.GetIndex(), err)
		}
		kind := entryData
		switch {
		case h.IsControl():
			typ, err := controlType(data)
			if err != nil || (typ != records.ControlAbort && typ != records.ControlCommit) {
				continue // Raft's own control batches
			}
			kind = entryMarker
		case internal:
			kind = entryInternal
		}
		en, err := entryFromBatch(kind, data, now)
		if err != nil {
			return fmt.Errorf("broker: %s entry %d: %w", p.dirName(), e.GetIndex(), err)
		}
		base, err := p.repl.storage.BaseOffset(e.GetIndex())
		if err != nil {
			return err
		}
		end, err := p.repl.storage.EndOffset(e.GetIndex())
		if err != nil {
			return err
		}
		p.applyStateLocked(&en, base, end)
		if pid := en.producer.ProducerID; kind == entryData && pid >= 0 {
			if pp := p.repl.pending[pid]; pp != nil {
				if pp.n--; pp.n <= 0 {
					delete(p.repl.pending, pid)
				}
			}
		}
	}
	if last > 0 {
		p.repl.applied.Store(last)
		if end, err := p.repl.storage.EndOffset(last); err == nil && end > p.log.HighWatermark() {
			p.log.SetHighWatermark(end)
		}
	}
	p.notify()
	return nil
}

// Restore: the log was reset to the leader's log start (snapshot install):
// the state starts over from the (empty) log.
func (s partSM) Restore(*raftpb.Snapshot) error {
	p := s.p
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.resetStateLocked()
	p.log.SetHighWatermark(p.log.EndOffset())
	return p.rebuildProducersTo(p.log.EndOffset())
}

func (s partSM) LeaderChanged(leader, term uint64) {
	p := s.p
	c := p.repl.c
	kl := int32(-1)
	if leader != 0 {
		kl = kafkaID(leader)
	}
	cur := p.lead.Load()
	isr := cur.isr
	if kl == c.self && !slices.Contains(isr, kl) {
		isr = append(slices.Clone(isr), kl)
	}
	if err := c.b.cluster.setLeadership(p, kl, int32(min(term, 1<<31-1)), *p.repl.reported.Load(), isr, cur.offline); err != nil {
		c.logger.Warn("leadership change", "partition", p.dirName(), "err", err)
	}
	if kl < 0 {
		p.repl.leaderlessSince.Store(time.Now().UnixNano())
	}
	if kl == c.self {
		if idx, err := p.repl.storage.LastIndex(); err == nil {
			p.repl.readyIndex.Store(idx)
		}
		p.repl.leaderSince.Store(time.Now().UnixNano())
		select {
		case c.leaderKick <- struct{}{}:
		default:
		}
	} else {
		p.repl.readyIndex.Store(math.MaxUint64)
		p.appendMu.Lock()
		clear(p.repl.pending)
		p.appendMu.Unlock()
	}
	c.b.leadershipMoved(p, kl == c.self)
}

// isrLoop runs on every node: for each partition it leads, it computes the
// ISR (voters caught up within replica.lag.time.max.ms) and publishes the
// leadership to the metadata group when the view differs.
func (c *raftCluster) isrLoop() {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		case <-c.leaderKick:
		}
		if !c.ready.Load() || !c.strayChecked.Load() {
			c.kickReconcile() // the readiness and stray checks run there
		}
		c.refreshLeadership()
	}
}

func (c *raftCluster) refreshLeadership() {
	lag := time.Duration(c.b.cfg.ReplicaLagTimeMaxMs) * time.Millisecond
	now := time.Now()
	c.hostedMu.Lock()
	parts := make([]*partition, 0, len(c.hosted))
	for _, p := range c.hosted {
		parts = append(parts, p)
	}
	c.hostedMu.Unlock()
	v := c.view()
	var maxLag uint64
	defer func() { c.b.topics.metrics.followerLag.Set(float64(maxLag)) }()
	byTopic := map[[16]byte][]metadata.LeadershipChange{}
	for _, p := range parts {
		l := p.lead.Load()
		if !l.local {
			continue
		}
		reps, err := c.node.Replicas(p.repl.gid)
		if err != nil {
			continue
		}
		isr := []int32{}
		var last uint64
		for _, r := range reps {
			last = max(last, r.Match)
		}
		for _, r := range reps {
			maxLag = max(maxLag, last-r.Match)
			if r.Learner {
				continue
			}
			seen := r.CaughtUp
			if seen.IsZero() {
				seen = time.Unix(0, p.repl.leaderSince.Load())
			}
			if kafkaID(r.ID) == c.self || now.Sub(seen) <= lag {
				isr = append(isr, kafkaID(r.ID))
			}
		}
		slices.Sort(isr)
		if !slices.Equal(isr, l.isr) {
			if err := c.b.cluster.setLeadership(p, l.leader, l.epoch, l.replicas, isr, l.offline); err != nil {
				continue
			}
		}
		mt, ok := v.TopicByID(metadata.UUID(p.topic.id))
		if !ok || int(p.index) >= len(mt.Partitions) {
			continue
		}
		mp := &mt.Partitions[p.index]
		if mp.Leader != c.self || mp.LeaderEpoch != l.epoch || !slices.Equal(mp.ISR, isr) {
			if mp.LeaderEpoch > l.epoch {
				continue
			}
			byTopic[p.topic.id] = append(byTopic[p.topic.id], metadata.LeadershipChange{Partition: p.index, Leader: c.self, LeaderEpoch: l.epoch, ISR: isr})
		}
	}
	for id, changes := range byTopic {
		data, err := metadata.Encode(metadata.ChangePartitionLeadership{TopicID: metadata.UUID(id), Partitions: changes})
		if err != nil {
			continue
		}
		_ = c.node.ProposeForward(metadataGroup, metadataBatch(data))
	}
}

// pendingProp is a produced batch's proposal and its producer id.
type pendingProp struct {
	*replication.Proposal
	pid int64
}

// replWait is one partition of a produce answered once replicated.
type replWait struct {
	p    *partition
	prop *pendingProp
	pos  [2]int // in the response: topic, partition
}

// enoughISR reports whether p's ISR meets min.insync.replicas (acks=all).
func (b *Broker) enoughISR(p *partition) bool {
	return len(p.lead.Load().isr) >= int(p.topic.settings().MinInsyncReplicas)
}

// replicatedReply answers a produce whose partitions wait for replication:
// in the reply's Wait (off the connection's reader), acks=1 once the
// leader appended each batch, acks=all once committed and, with
// min.insync.replicas above the Raft majority, held by that many replicas;
// acks=0 is not waited for.
func (b *Broker) replicatedReply(resp *kmsg.ProduceResponse, r *kmsg.ProduceRequest, waits []replWait, listener string) protocol.Reply {
	if r.Acks == 0 {
		return protocol.Reply{NoResponse: true, Close: produceFailed(resp)}
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > 5*time.Minute {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout) // from the request's arrival, not from its turn to be answered
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		for _, w := range waits {
			sp := &resp.Topics[w.pos[0]].Partitions[w.pos[1]]
			base, err := w.p.awaitProposal(ctx, w.prop.Proposal, r.Acks == -1)
			if err == nil && r.Acks == -1 {
				err = w.p.awaitMinISR(ctx, w.prop.Proposal)
			}
			if err != nil {
				if !errors.Is(err, errNotEnoughReplicasAfterAppend) {
					w.p.forgetPending(w.prop.pid)
				}
				sp.ErrorCode = errorCode(err)
				sp.BaseOffset = -1
				if sp.ErrorCode == kerr.NotLeaderForPartition.Code && r.Version >= 10 {
					b.fillProduceLeader(resp, w.p, sp, listener)
				}
				continue
			}
			sp.BaseOffset = base
		}
		return resp
	}}
}

// awaitMinISR waits, after the commit, until min.insync.replicas replicas
// hold the entry when that is more than the Raft majority (DESIGN.md §3).
func (p *partition) awaitMinISR(ctx context.Context, prop *replication.Proposal) error {
	want := int(p.topic.settings().MinInsyncReplicas)
	if want <= len(*p.repl.replicas.Load())/2+1 {
		return nil
	}
	if err := p.repl.c.node.WaitReplicated(ctx, p.repl.gid, prop.Index(), want); err != nil {
		return fmt.Errorf("%w: %v", errNotEnoughReplicasAfterAppend, err)
	}
	return nil
}

// electionHoldMax bounds how long after a partition lost its leader (its
// leader's node became unreachable, or the group has no leader) a Metadata
// answer waits for the successor: two election timeouts (replication
// elects within one of a crashed leader's connection dropping).
const electionHoldMax = 20 * raftTick

// electionHold returns, when a partition the request asks about is hosted
// here and has lost its leader less than electionHoldMax ago, a function
// that waits until every such partition names a live leader again, the
// hold ends or ctx is done; nil when nothing is to be waited for.
//
// Why: a client whose leader crashed asks for metadata right away (its
// reconnect is refused); an answer naming the dead leader, or none, makes
// it retry the dead address or back off, and franz-go then waits out its
// MetadataMinAge (5 s) before asking again. Raft elects the successor a
// fraction of a second later, so the answer waits for it. The answer
// itself is what Kafka's would be at the moment it is sent.
func (b *Broker) electionHold(r *kmsg.MetadataRequest) func(context.Context) {
	c := b.raft
	if c == nil {
		return nil
	}
	var topics []*topic
	if r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0) {
		topics = b.topics.all()
	} else {
		for _, rt := range r.Topics {
			var t *topic
			if rt.Topic != nil {
				t = b.topics.get(*rt.Topic)
			} else {
				t = b.topics.getID(rt.TopicID)
			}
			if t != nil {
				topics = append(topics, t)
			}
		}
	}
	now := time.Now()
	var held []*partition
	var until time.Time
	down := c.peerDownCache()
	for _, t := range topics {
		for _, p := range t.partitionList() {
			if end, ok := c.leaderLost(p, now, down); ok {
				held = append(held, p)
				until = later(until, end)
			}
		}
	}
	if len(held) == 0 {
		return nil
	}
	return func(ctx context.Context) {
		ctx, cancel := context.WithDeadline(ctx, until)
		defer cancel()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for len(held) > 0 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			now, down := time.Now(), c.peerDownCache()
			held = slices.DeleteFunc(held, func(p *partition) bool {
				_, lost := c.leaderLost(p, now, down)
				return !lost
			})
		}
	}
}

// leaderLost reports whether hosted partition p has lost its leader less
// than electionHoldMax ago (its leader's node is down, or it has no
// leader), and until when a Metadata answer may wait for the successor.
func (c *raftCluster) leaderLost(p *partition, now time.Time, peerDown func(int32) (time.Time, bool)) (time.Time, bool) {
	if p.repl == nil {
		return time.Time{}, false
	}
	l := p.lead.Load()
	var since time.Time
	switch {
	case l.leader == c.self:
		return time.Time{}, false
	case l.leader < 0:
		since = time.Unix(0, p.repl.leaderlessSince.Load()) // set when the group opened
	default:
		t, down := peerDown(l.leader)
		if !down {
			return time.Time{}, false
		}
		since = t
	}
	end := since.Add(electionHoldMax)
	return end, now.Before(end)
}

// peerDownCache returns node.PeerDownSince for Kafka node ids, asked once
// per node: a connection that looks up but was closed by the peer counts
// as down (TCPTransport.PeerHungUp, one peek per node).
func (c *raftCluster) peerDownCache() func(int32) (time.Time, bool) {
	type state struct {
		since time.Time
		down  bool
	}
	seen := map[int32]state{}
	return func(node int32) (time.Time, bool) {
		if s, ok := seen[node]; ok {
			return s.since, s.down
		}
		id := raftID(node)
		since, down := c.node.PeerDownSince(id)
		if !down && c.tcp != nil && c.tcp.PeerHungUp(id) {
			since, down = c.node.PeerDownSince(id)
		}
		seen[node] = state{since, down}
		return since, down
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// clientLeadership is p's leadership as Metadata and DescribeTopicPartitions
// report it to clients: this node's own Raft view, except that when the
// partition's group has no leader here, the leader the metadata log last
// recorded stands in, if that broker is registered, unfenced and not this
// node, and its epoch is not older than the last one seen here.
//
// Why: a follower cut off from a leader that still holds a majority (a bridge
// partition: 2 and 3 cannot talk, 1 reaches both) becomes a pre-candidate
// and forgets the leader, while the leader goes on committing with the
// bridge. Answering LEADER_NOT_AVAILABLE from that follower stalled
// producers for as long as the partition lasted (the fault campaign saw
// 46 s); the metadata log, like Kafka's controller-fed metadata, still names
// the live leader.
func (b *Broker) clientLeadership(p *partition) *leadership {
	l := b.cluster.leadershipOf(p)
	c := b.raft
	if l.leader >= 0 || c == nil || p.repl == nil {
		return l
	}
	v := c.view()
	mt, ok := v.TopicByID(metadata.UUID(p.topic.id))
	if !ok || int(p.index) >= len(mt.Partitions) {
		return l
	}
	mp := &mt.Partitions[p.index]
	if mp.Leader < 0 || mp.Leader == c.self || mp.LeaderEpoch < l.epoch {
		return l
	}
	if br, ok := v.Broker(mp.Leader); !ok || br.Fenced {
		return l
	}
	stand := *l
	stand.leader, stand.epoch = mp.Leader, mp.LeaderEpoch
	return &stand
}
