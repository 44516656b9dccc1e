package coordinator

// Transactional offset commits (TxnOffsetCommit): offsets are validated as
// an OffsetCommit's and held pending, per __consumer_offsets partition and
// producer id, until the transaction's marker reaches that partition
// (CompleteTxnOffsets): a commit writes them durably as ordinary offset
// records and applies them, an abort drops them.
//
// Pending offsets live in memory, where a Kafka broker writes them to
// __consumer_offsets as transactional records up front. They survive a
// restart where it matters: the transaction coordinator copies them
// (PendingTxnOffsets) into the transaction's PrepareCommit record and puts
// them back (RestoreTxnOffsets) before it writes the commit marker, and the
// broker aborts, fencing the producer, every transaction that was still
// ongoing with offsets at the restart.
//
// Locking: txnOffsets.mu guards pending; it is never held while a group
// lock is taken or across I/O.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type txnOffsets struct {
	mu      sync.Mutex
	pending map[int32]map[int64]map[string]map[TopicPartition]OffsetCommit // partition -> pid -> group -> offsets
}

// TxnCommitOffsets validates a TxnOffsetCommit of producerID and holds its
// offsets pending until CompleteTxnOffsets. A generation < 0 with no member
// id (clients before KIP-447) skips the member checks. It returns one error
// (or nil) per offset.
func (c *Coordinator) TxnCommitOffsets(req CommitRequest, producerID int64) []error {
	errs := make([]error, len(req.Offsets))
	all := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if err := c.checkGroupID(req.Group); err != nil {
		return all(err)
	}
	g := c.lockedGroup(req.Group, true)
	if g == nil {
		return all(ErrCoordinatorNotAvailable)
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if err := g.validateCommitLocked(req); err != nil {
			g.mu.Unlock()
			return all(err)
		}
	}
	part := g.partition
	g.mu.Unlock()
	c.txn.mu.Lock()
	defer c.txn.mu.Unlock()
	if c.txn.pending == nil {
		c.txn.pending = make(map[int32]map[int64]map[string]map[TopicPartition]OffsetCommit)
	}
	byPid := c.txn.pending[part]
	if byPid == nil {
		byPid = make(map[int64]map[string]map[TopicPartition]OffsetCommit)
		c.txn.pending[part] = byPid
	}
	byGroup := byPid[producerID]
	if byGroup == nil {
		byGroup = make(map[string]map[TopicPartition]OffsetCommit)
		byPid[producerID] = byGroup
	}
	offs := byGroup[req.Group]
	if offs == nil {
		offs = make(map[TopicPartition]OffsetCommit)
		byGroup[req.Group] = offs
	}
	for i, o := range req.Offsets {
		if c.cfg.OffsetMetadataMaxBytes > 0 && len(o.Metadata) > c.cfg.OffsetMetadataMaxBytes {
			errs[i] = ErrOffsetMetadataTooLarge
			continue
		}
		o.ExpireTimestamp = -1
		offs[TopicPartition{o.Topic, o.Partition}] = o
	}
	return errs
}

// HasPendingTxnOffsets reports whether an offset of group for tp awaits a
// transaction's outcome (OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT then).
func (c *Coordinator) HasPendingTxnOffsets(group string, tp TopicPartition) bool {
	c.txn.mu.Lock()
	defer c.txn.mu.Unlock()
	for _, byPid := range c.txn.pending {
		for _, byGroup := range byPid {
			if _, ok := byGroup[group][tp]; ok {
				return true
			}
		}
	}
	return false
}

// CompleteTxnOffsets applies a transaction marker of producerID to
// __consumer_offsets partition p: on commit its pending offsets are written
// durably and become the groups' committed offsets; on abort they are
// dropped. It returns once a commit is durable.
func (c *Coordinator) CompleteTxnOffsets(p int32, producerID int64, commit bool) error {
	c.txn.mu.Lock()
	byGroup := c.txn.pending[p][producerID]
	c.txn.mu.Unlock()
	if commit {
		for group, offs := range byGroup {
			if err := c.writeTxnOffsets(group, offs); err != nil {
				return err
			}
		}
	}
	c.txn.mu.Lock()
	if m := c.txn.pending[p]; m != nil {
		delete(m, producerID)
	}
	c.txn.mu.Unlock()
	return nil
}

func (c *Coordinator) writeTxnOffsets(groupID string, offs map[TopicPartition]OffsetCommit) error {
	if len(offs) == 0 {
		return nil
	}
	g := c.lockedGroup(groupID, true)
	if g == nil {
		return ErrCoordinatorNotAvailable
	}
	now := c.clock.Now().UnixMilli()
	tps := make([]TopicPartition, 0, len(offs))
	recs := make([]Record, 0, len(offs))
	entries := make([]*offsetEntry, 0, len(offs))
	for tp, o := range offs {
		e := &offsetEntry{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata,
			commitTimestamp: now, expireTimestamp: -1}
		tps = append(tps, tp)
		entries = append(entries, e)
		recs = append(recs, offsetRecord(g.id, tp.Topic, tp.Partition, e))
	}
	last, err := c.log.Append(g.partition, recs)
	g.mu.Unlock()
	if err == nil {
		err = c.log.Sync(g.partition, last)
	}
	if err != nil {
		c.logger.Error("transactional offset commit failed", "group", groupID, "err", err)
		return ErrStorage
	}
	g.mu.Lock()
	pos := last - int64(len(recs)) + 1
	for i, tp := range tps {
		e := entries[i]
		e.logOffset = pos
		pos++
		if cur := g.offsets[tp]; cur == nil || cur.logOffset < e.logOffset {
			g.offsets[tp] = e
		}
	}
	g.mu.Unlock()
	c.metrics.commits(len(recs))
	return nil
}

// PendingTxnOffsets encodes producerID's pending offsets on partition p (nil:
// none): per group, a TxnOffsetCommitRequest v3 (int32 length first), so
// the transaction coordinator can keep them in its PrepareCommit record.
func (c *Coordinator) PendingTxnOffsets(p int32, producerID int64) []byte {
	c.txn.mu.Lock()
	defer c.txn.mu.Unlock()
	byGroup := c.txn.pending[p][producerID]
	if len(byGroup) == 0 {
		return nil
	}
	var out []byte
	for group, offs := range byGroup {
		req := kmsg.NewTxnOffsetCommitRequest()
		req.Version = 3
		req.Group, req.ProducerID = group, producerID
		byTopic := map[string]int{}
		for tp, o := range offs {
			i, ok := byTopic[tp.Topic]
			if !ok {
				i = len(req.Topics)
				byTopic[tp.Topic] = i
				rt := kmsg.NewTxnOffsetCommitRequestTopic()
				rt.Topic = tp.Topic
				req.Topics = append(req.Topics, rt)
			}
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			md := o.Metadata
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = tp.Partition, o.Offset, o.LeaderEpoch, &md
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
		enc := req.AppendTo(nil)
		out = binary.BigEndian.AppendUint32(out, uint32(len(enc)))
		out = append(out, enc...)
	}
	return out
}

// RestoreTxnOffsets makes the offsets PendingTxnOffsets encoded pending
// again for producerID on partition p (after a restart, before the commit
// marker), replacing what is pending.
func (c *Coordinator) RestoreTxnOffsets(p int32, producerID int64, data []byte) error {
	restored := map[string]map[TopicPartition]OffsetCommit{}
	for len(data) > 0 {
		if len(data) < 4 || int(binary.BigEndian.Uint32(data)) > len(data)-4 {
			return errBadPendingOffsets
		}
		n := int(binary.BigEndian.Uint32(data))
		req := kmsg.NewTxnOffsetCommitRequest()
		req.Version = 3
		if err := req.ReadFrom(data[4 : 4+n]); err != nil {
			return fmt.Errorf("%w: %w", errBadPendingOffsets, err)
		}
		data = data[4+n:]
		offs := map[TopicPartition]OffsetCommit{}
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				md := ""
				if rp.Metadata != nil {
					md = *rp.Metadata
				}
				offs[TopicPartition{rt.Topic, rp.Partition}] = OffsetCommit{Topic: rt.Topic, Partition: rp.Partition,
					Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, Metadata: md, ExpireTimestamp: -1}
			}
		}
		restored[req.Group] = offs
	}
	c.txn.mu.Lock()
	defer c.txn.mu.Unlock()
	if c.txn.pending == nil {
		c.txn.pending = make(map[int32]map[int64]map[string]map[TopicPartition]OffsetCommit)
	}
	if c.txn.pending[p] == nil {
		c.txn.pending[p] = make(map[int64]map[string]map[TopicPartition]OffsetCommit)
	}
	c.txn.pending[p][producerID] = restored
	return nil
}

var errBadPendingOffsets = errors.New("coordinator: malformed pending transactional offsets")
