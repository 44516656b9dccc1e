package broker

// The share coordinator (KIP-932): durable share-partition state in the
// internal topic __share_group_state, in Kafka's record formats
// (broker/sharestate, FORMAT.md there), and the share.Persister the
// share-partition leaders use.
//
// A node is the share coordinator of the keys that hash to the
// __share_group_state partitions it leads (the only node on a single
// node). Each partition's state is a sharestate.Shard, loaded on first
// use at the partition's current leader epoch by replaying the partition's
// log (once the new leader has applied its whole log: its high watermark
// reached the log end), reloaded whenever the leader epoch moved since
// (another leader may have written in between), and dropped when a request
// finds that this node no longer leads the partition. So state moves with
// leadership without a hook into the Raft callbacks: a new leader replays
// what its predecessor committed.
//
// A write (initialize, write, delete, a read that records a newer leader
// epoch) prepares its record against the shard, appends it through the
// partition's append path (appendInternal: in a cluster, proposed and
// committed by the partition's Raft group before it returns), fsyncs it on
// a single node (unless the broker runs in memory), and only then replays
// it into the shard and answers: acks=all semantics. If the record landed
// at another offset than the shard expected (someone else appended in
// between) or its fate is unknown, the shard is reloaded from the log.
//
// Reads in a cluster first confirm the leadership (raftCluster.confirmLeads,
// a ReadIndex round), so that a deposed leader does not answer from stale
// state; writes need not, as a deposed leader's proposal cannot commit.
//
// Locking: shareCoordinator.mu guards the shards map (a leaf); each
// shareShard.mu serialises its partition's requests: prepare, append,
// wait and replay run under it, so that a write prepares against the state
// the previous one left. Nothing else is taken under shareShard.mu except
// the partition's own locks (appendInternal) and the log's.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/broker/sharestate"
	"github.com/moldau/moldau/coordinator"
)

// shareStateTopic is Kafka's internal topic of share-partition state.
const shareStateTopic = "__share_group_state"

// shareStatePartitions is Kafka's share.coordinator.state.topic.num.partitions
// default.
const shareStatePartitions = 50

// shareLoadTimeout bounds how long a new leader waits to have applied its
// whole log before it loads a state partition.
const shareLoadTimeout = 30 * time.Second

var errShareStateUnavailable = errors.New("broker: __share_group_state unavailable")

// shareCoordinator is this node's share coordinator (see the file comment).
type shareCoordinator struct {
	b                  *Broker
	partitions         int32 // for a topic not created yet
	updatesPerSnapshot int

	mu     sync.Mutex
	shards map[int32]*shareShard
}

// shareShard is one __share_group_state partition's state on this node.
type shareShard struct {
	mu sync.Mutex
	// shard is nil when not loaded; loadedEpoch is the leader epoch it
	// was loaded at; next is the log offset the next append should get.
	shard       *sharestate.Shard
	loadedEpoch int32
	next        int64
}

func newShareCoordinator(b *Broker) *shareCoordinator {
	return &shareCoordinator{b: b, partitions: shareStatePartitions,
		updatesPerSnapshot: sharestate.DefaultUpdatesPerSnapshot, shards: map[int32]*shareShard{}}
}

// numPartitions is the partition count of __share_group_state: the
// topic's if it exists.
func (c *shareCoordinator) numPartitions() int32 {
	if t := c.b.topics.get(shareStateTopic); t != nil {
		if n := int32(len(t.partitionList())); n > 0 {
			return n
		}
	}
	return c.partitions
}

// kafkaUUID is Kafka's Uuid.toString: URL-safe base64 without padding.
func kafkaUUID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// shareCoordinatorKey is Kafka's SharePartitionKey.asCoordinatorKey:
// "group:topicId:partition", the key FindCoordinator(SHARE) is asked for.
func shareCoordinatorKey(k share.Key) string {
	return k.Group + ":" + kafkaUUID(k.TopicID) + ":" + strconv.Itoa(int(k.Partition))
}

// parseShareCoordinatorKey parses a FindCoordinator(SHARE) key,
// "group:topicId:partition" (Kafka's SharePartitionKey.getInstance(String)).
func parseShareCoordinatorKey(s string) (share.Key, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] == "" {
		return share.Key{}, false
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(id) != 16 {
		return share.Key{}, false
	}
	p, err := strconv.ParseInt(parts[2], 10, 32)
	if err != nil || p < 0 {
		return share.Key{}, false
	}
	return share.Key{Group: parts[0], TopicID: [16]byte(id), Partition: int32(p)}, true
}

// partitionFor is the __share_group_state partition of k (Kafka's
// ShareCoordinatorService.partitionFor: abs(Java hash of the coordinator
// key) % partitions).
func (c *shareCoordinator) partitionFor(k share.Key) int32 {
	return kafkaPartitionFor(shareCoordinatorKey(k), c.numPartitions())
}

// kafkaPartitionFor is Kafka's Utils.abs(key.hashCode()) % partitions:
// Java's String.hashCode over the UTF-16 code units, and Utils.abs, which
// is Math.abs except that MIN_VALUE gives 0. (Not n & 0x7fffffff: that
// differs for every negative hash.)
func kafkaPartitionFor(key string, partitions int32) int32 {
	var h int32
	for _, r := range key {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	switch {
	case h == math.MinInt32:
		return 0
	case h < 0:
		h = -h
	}
	return h % partitions
}

// ensureShareStateTopic creates __share_group_state on first use, with
// Kafka's topic configs for it (delete policy, infinite retention:
// compaction would drop all but a key's newest ShareUpdate).
func (b *Broker) ensureShareStateTopic() error {
	return b.ensureInternalTopicConfigs(shareStateTopic, b.shareState.numPartitions(),
		map[string]string{"cleanup.policy": "delete", "retention.ms": "-1", "segment.bytes": "104857600", "compression.type": "producer"},
		errShareStateUnavailable)
}

func (c *shareCoordinator) shardOf(p int32) *shareShard {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.shards[p]
	if s == nil {
		s = &shareShard{}
		c.shards[p] = s
	}
	return s
}

// coordinatorOf is the node that serves k's state partition: its leader
// (this node on a single node), creating the topic on first use.
func (c *shareCoordinator) coordinatorOf(k share.Key) (p int32, node int32, local bool, err error) {
	if err := c.b.ensureShareStateTopic(); err != nil {
		return 0, -1, false, fmt.Errorf("%w: %v", share.ErrCoordinatorNotAvailable, err)
	}
	p = c.partitionFor(k)
	if c.b.raft == nil {
		return p, c.b.cfg.NodeID, true, nil
	}
	node, local, err = c.b.leaderOf(shareStateTopic, p)
	if err != nil {
		return p, -1, false, fmt.Errorf("%w: %v", share.ErrCoordinatorNotAvailable, err)
	}
	return p, node, local, nil
}

// with runs fn with k's loaded shard, its partition and the shard's lock
// held, after checking that this node serves k (share.ErrNotCoordinator
// if not). confirm asks for a proven leadership (reads in a cluster).
func (c *shareCoordinator) with(ctx context.Context, k share.Key, confirm bool, fn func(ss *shareShard, part *partition) error) error {
	p, _, local, err := c.coordinatorOf(k)
	if err != nil {
		return err
	}
	ss := c.shardOf(p)
	if !local {
		ss.mu.Lock()
		ss.shard = nil // unload: another node leads it now
		ss.mu.Unlock()
		return share.ErrNotCoordinator
	}
	part, err := c.b.internalPartition(shareStateTopic, c.b.ensureShareStateTopic, errShareStateUnavailable, p)
	if err != nil {
		return fmt.Errorf("%w: %v", share.ErrCoordinatorNotAvailable, err)
	}
	if confirm && c.b.raft != nil && !c.b.raft.confirmLeads(part) {
		return share.ErrNotCoordinator
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	lead := part.lead.Load()
	if !lead.local {
		ss.shard = nil
		return share.ErrNotCoordinator
	}
	if ss.shard == nil || ss.loadedEpoch != lead.epoch {
		if err := c.loadLocked(ctx, ss, part, lead.epoch); err != nil {
			return err
		}
	}
	return fn(ss, part)
}

// loadLocked replays partition part into a new shard, once this node has
// applied the partition's whole log. ss.mu is held.
func (c *shareCoordinator) loadLocked(ctx context.Context, ss *shareShard, part *partition, epoch int32) error {
	ss.shard = nil
	if c.b.raft != nil {
		deadline := time.Now().Add(shareLoadTimeout)
		for part.highWatermark() < part.endOffset() {
			if !part.lead.Load().local {
				return share.ErrNotCoordinator
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%w: %s not caught up", share.ErrCoordinatorNotAvailable, part.dirName())
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: %v", share.ErrCoordinatorNotAvailable, ctx.Err())
			case <-c.b.stop:
				return fmt.Errorf("%w: %v", share.ErrCoordinatorNotAvailable, errClosing)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	start := time.Now()
	shard := sharestate.NewShard(c.updatesPerSnapshot)
	skipped := 0
	err := replayRecords(part.log, nil, func(off int64, key, value []byte) error {
		if err := shard.Replay(off, key, value); err != nil {
			skipped++ // Kafka skips records it cannot read
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: replay %s: %v", share.ErrCoordinatorNotAvailable, part.dirName(), err)
	}
	if skipped > 0 {
		c.b.logger.Warn("skipped unreadable share state records", "partition", part.dirName(), "records", skipped)
	}
	ss.shard, ss.loadedEpoch, ss.next = shard, epoch, part.endOffset()
	c.b.logger.Debug("share state loaded", "partition", part.dirName(), "keys", shard.Len(),
		"epoch", epoch, "elapsed", time.Since(start).Round(time.Microsecond))
	return nil
}

// appendLocked makes rec durable in part and replays it into ss.shard.
// ss.mu is held.
func (c *shareCoordinator) appendLocked(ctx context.Context, ss *shareShard, part *partition, rec sharestate.Record) error {
	base, err := c.b.appendInternal(part, []coordinator.Record{{Key: rec.Key, Value: rec.Value}})
	if err != nil {
		ss.shard = nil // its fate is unknown: reload from the log
		if errors.Is(err, errNotLeader) {
			return share.ErrNotCoordinator
		}
		return fmt.Errorf("%w: %s: %v", share.ErrStorage, part.dirName(), err)
	}
	if !c.b.cfg.Memory && part.repl == nil {
		if err := part.syncTo(base + 1); err != nil {
			ss.shard = nil
			return fmt.Errorf("%w: %s: %v", share.ErrStorage, part.dirName(), err)
		}
	}
	if base != ss.next {
		// Someone else appended in between (a leadership that came and
		// went): the state is the log's, not ours.
		if err := c.loadLocked(ctx, ss, part, part.lead.Load().epoch); err != nil {
			return err
		}
		return nil
	}
	ss.next = base + 1
	if err := ss.shard.Replay(base, rec.Key, rec.Value); err != nil {
		ss.shard = nil
		return fmt.Errorf("%w: %v", share.ErrStorage, err)
	}
	return nil
}

func (c *shareCoordinator) nowMs() int64 { return c.b.now().UnixMilli() }

// initialize implements the coordinator side of Persister.Initialize.
func (c *shareCoordinator) initialize(ctx context.Context, k share.Key, stateEpoch int32, startOffset int64) error {
	return c.with(ctx, k, false, func(ss *shareShard, part *partition) error {
		rec, err := ss.shard.PrepareInitialize(k, stateEpoch, startOffset, c.nowMs())
		if err != nil {
			return err
		}
		return c.appendLocked(ctx, ss, part, rec)
	})
}

// write implements the coordinator side of Persister.Write;
// deliveryComplete -1 is computed from the merged state.
func (c *shareCoordinator) write(ctx context.Context, k share.Key, stateEpoch, leaderEpoch int32, startOffset int64, deliveryComplete int32, batches []share.StateBatch) error {
	return c.with(ctx, k, false, func(ss *shareShard, part *partition) error {
		rec, err := ss.shard.PrepareWrite(k, stateEpoch, leaderEpoch, startOffset, deliveryComplete, batches, c.nowMs())
		if err != nil {
			return err
		}
		return c.appendLocked(ctx, ss, part, rec)
	})
}

// read implements the coordinator side of Persister.Read.
func (c *shareCoordinator) read(ctx context.Context, k share.Key, leaderEpoch int32) (share.State, error) {
	var st share.State
	err := c.with(ctx, k, true, func(ss *shareShard, part *partition) error {
		rec, err := ss.shard.PrepareRead(k, leaderEpoch, c.nowMs())
		if err != nil {
			return err
		}
		if rec != nil {
			if err := c.appendLocked(ctx, ss, part, *rec); err != nil {
				return err
			}
		}
		var ok bool
		if st, ok = ss.shard.State(k); !ok {
			return share.ErrUninitialized
		}
		return nil
	})
	return st, err
}

// readSummary implements the coordinator side of Persister.ReadSummary.
func (c *shareCoordinator) readSummary(ctx context.Context, k share.Key) (share.State, error) {
	var st share.State
	err := c.with(ctx, k, true, func(ss *shareShard, _ *partition) error {
		var ok bool
		if st, ok = ss.shard.State(k); !ok {
			return share.ErrUninitialized
		}
		st.Batches = nil
		return nil
	})
	return st, err
}

// remove implements the coordinator side of Persister.Delete.
func (c *shareCoordinator) remove(ctx context.Context, k share.Key) error {
	return c.with(ctx, k, false, func(ss *shareShard, part *partition) error {
		rec := ss.shard.PrepareDelete(k)
		if rec == nil {
			return nil
		}
		return c.appendLocked(ctx, ss, part, *rec)
	})
}

// Messages of Kafka's share coordinator for the INVALID_REQUEST answers
// (ShareCoordinatorShard); the persister reads the uninitialized ones back
// as share.ErrUninitialized.
const (
	shareNullTopicMessage         = "The topic id cannot be null."
	shareNegativePartitionMessage = "The partition id cannot be a negative number."
	shareUninitializedMessage     = "Read operation on uninitialized share partition not allowed."
	shareWriteUninitMessage       = "Write operation on uninitialized share partition not allowed."
)

// shareErrorCode maps a share coordinator error to its Kafka code and
// message (nil: the code's default) at the wire edge.
func shareErrorCode(err error, write bool) (int16, *string) {
	msg := func(s string) *string { return &s }
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, share.ErrNotCoordinator):
		return kerr.NotCoordinator.Code, nil
	case errors.Is(err, share.ErrCoordinatorNotAvailable):
		return kerr.CoordinatorNotAvailable.Code, nil
	case errors.Is(err, share.ErrFencedStateEpoch):
		return kerr.FencedStateEpoch.Code, nil
	case errors.Is(err, share.ErrFencedLeaderEpoch):
		return kerr.FencedLeaderEpoch.Code, nil
	case errors.Is(err, share.ErrUninitialized):
		if write {
			return kerr.InvalidRequest.Code, msg(shareWriteUninitMessage)
		}
		return kerr.InvalidRequest.Code, msg(shareUninitializedMessage)
	case errors.Is(err, share.ErrStorage):
		// As Kafka's runtime answers a failed or timed-out append:
		// retriable, the writer asks again.
		return kerr.CoordinatorNotAvailable.Code, nil
	}
	return kerr.UnknownServerError.Code, msg(err.Error())
}

// shareKeyCheck checks a request's key as Kafka's share coordinator does:
// INVALID_REQUEST for a null topic id or a negative partition,
// UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist
// (skipped for deletes: the state of a deleted topic must be deletable).
func (b *Broker) shareKeyCheck(k share.Key, mustExist bool) (int16, *string) {
	msg := func(s string) *string { return &s }
	switch {
	case k.TopicID == [16]byte{}:
		return kerr.InvalidRequest.Code, msg(shareNullTopicMessage)
	case k.Partition < 0:
		return kerr.InvalidRequest.Code, msg(shareNegativePartitionMessage)
	}
	if mustExist {
		t := b.topics.getID(k.TopicID)
		if t == nil || t.partition(k.Partition) == nil {
			return kerr.UnknownTopicOrPartition.Code, nil
		}
	}
	return 0, nil
}

// shareStatePruneInterval is Kafka's
// share.coordinator.state.topic.prune.interval.ms default.
const shareStatePruneInterval = 5 * time.Minute

// shareStatePruner deletes the redundant records of the state partitions
// this node leads every shareStatePruneInterval, until the broker stops.
func (b *Broker) shareStatePruner() {
	t := time.NewTicker(shareStatePruneInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			b.shareState.prune(ctx)
			cancel()
		}
	}
}

// prune snapshots the idle keys again (coldSnapshot) and moves the log
// start of every loaded state partition this node leads up to the oldest
// offset still needed (Kafka's
// ShareCoordinatorService pruning with DeleteRecords): below the oldest
// latest snapshot of the partition's keys, every record has been
// superseded. With __share_group_state's infinite retention, this is what
// bounds it. Partitions this node no longer leads are unloaded. It returns
// how many partitions moved.
func (c *shareCoordinator) prune(ctx context.Context) int {
	c.mu.Lock()
	shards := make(map[int32]*shareShard, len(c.shards))
	for p, ss := range c.shards {
		shards[p] = ss
	}
	c.mu.Unlock()
	t := c.b.topics.get(shareStateTopic)
	if t == nil {
		return 0
	}
	moved := 0
	for p, ss := range shards {
		part := t.partition(p)
		if part == nil || !part.lead.Load().local {
			ss.mu.Lock()
			ss.shard = nil // unload: another node leads it now
			ss.mu.Unlock()
			continue
		}
		off := c.coldSnapshot(ctx, ss, part)
		if off <= part.log.LogStartOffset() {
			continue
		}
		start, prop, err := part.deleteRecordsBefore(off)
		if err == nil && prop != nil {
			start, err = part.awaitLogStart(ctx, prop)
		}
		if err != nil {
			c.b.logger.Warn("pruning share state failed", "partition", part.dirName(), "offset", off, "err", err)
			continue
		}
		c.b.logger.Debug("share state pruned", "partition", part.dirName(), "log_start", start)
		moved++
	}
	return moved
}

// shareColdSnapshotInterval is Kafka's
// share.coordinator.cold.partition.snapshot.interval.ms default.
const shareColdSnapshotInterval = 5 * time.Minute

// coldSnapshot writes the cold snapshots of a loaded state partition
// (Shard.PrepareColdSnapshots) and returns the offset below which its
// records are redundant (-1: not loaded here, or a write failed).
func (c *shareCoordinator) coldSnapshot(ctx context.Context, ss *shareShard, part *partition) int64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.shard == nil || ss.loadedEpoch != part.lead.Load().epoch {
		return -1
	}
	for _, rec := range ss.shard.PrepareColdSnapshots(c.nowMs(), shareColdSnapshotInterval.Milliseconds()) {
		if err := c.appendLocked(ctx, ss, part, rec); err != nil {
			c.b.logger.Warn("writing a cold share state snapshot failed", "partition", part.dirName(), "err", err)
			return -1
		}
	}
	if ss.shard == nil {
		return -1
	}
	return min(ss.shard.RedundantBefore(ss.next), part.highWatermark())
}
