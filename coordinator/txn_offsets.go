package coordinator

// Transactional offset commits (TxnOffsetCommit): offsets are validated as
// an OffsetCommit's and held pending, per __consumer_offsets partition and
// producer id, until the transaction's marker reaches that partition
// (CompleteTxnOffsets): a commit writes them durably as ordinary offset
// records and applies them, an abort drops them.
//
// Pending offsets live in memory only, where a Kafka broker writes them to
// __consumer_offsets as transactional records up front. After a restart the
// broker therefore aborts (fencing the producer) every ongoing transaction
// that holds group offsets; but a crash between the transaction's
// PrepareCommit record and its marker here (a few milliseconds) commits the
// data without the offsets, so the consumer reprocesses and the output gets
// duplicates. Closing that gap needs transactional records in OffsetLog
// (and their replay, applying them at the commit marker).
//
// Locking: txnOffsets.mu guards pending; it is never held while a group
// lock is taken or across I/O.

import "sync"

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
