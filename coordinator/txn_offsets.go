package coordinator

// Transactional offset commits (TxnOffsetCommit), as Kafka's group
// coordinator keeps them: the offsets are validated as an OffsetCommit's
// and written at once to __consumer_offsets as ordinary offset records in
// a transactional batch of the producer (OffsetLog.AppendTxn), then held
// pending, per __consumer_offsets partition and producer id, until the
// transaction's marker reaches that partition. The broker writes the
// marker (a COMMIT or ABORT control batch) to the partition and then calls
// CompleteTxnOffsets: a commit makes the pending offsets the groups'
// committed offsets (each unless a commit later in the log got there
// first), an abort drops them. Load rebuilds the pending offsets from the
// transactional records that no marker follows yet, and applies those a
// marker does, so a restart or a failover of the group coordinator between
// TxnOffsetCommit and the marker loses nothing.
//
// Locking: txnOffsets.mu guards pending; it is taken after a group lock,
// never around I/O. txnOffsets.load[p] orders, on partition p, Load
// (write) against TxnCommitOffsets and CompleteTxnOffsets (read): a record
// or marker appended after Load read the log's end reaches the pending
// offsets only once Load has installed them. Lock order: load[p], group,
// mu.

import (
	"errors"
	"sync"
)

type txnOffsets struct {
	load []sync.RWMutex // per __consumer_offsets partition

	mu      sync.Mutex
	pending map[int32]map[int64]pendingTxn // partition -> producer id -> offsets
}

// pendingTxn is one producer's pending offsets on a partition, by group.
type pendingTxn map[string]map[TopicPartition]*offsetEntry

func (c *Coordinator) loadLock(p int32) *sync.RWMutex {
	return &c.txn.load[p]
}

// TxnCommitOffsets validates a TxnOffsetCommit of producerID at
// producerEpoch, writes its offsets durably as a transactional batch of
// that producer and holds them pending until CompleteTxnOffsets. A
// generation < 0 with no member id (clients before KIP-447) skips the
// member checks. verify is the caller's check that the transaction is
// still ongoing, run by the append (OffsetLog.AppendTxn); a refusal is
// returned wrapping ErrTxnRefused. It returns one error (or nil) per
// offset.
func (c *Coordinator) TxnCommitOffsets(req CommitRequest, producerID int64, producerEpoch int16, verify func() error) []error {
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
	part := c.PartitionFor(req.Group)
	lm := c.loadLock(part)
	lm.RLock()
	defer lm.RUnlock()
	if !c.loaded[part].Load() {
		return all(ErrLoadInProgress)
	}
	g := c.lockedGroup(req.Group, true)
	if g == nil {
		return all(ErrCoordinatorNotAvailable)
	}
	if g.share != nil {
		g.mu.Unlock()
		return all(ErrGroupIDNotFound) // Kafka: not a consumer group
	}
	var check func(topic string, part int32) error
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		var err error
		if check, err = g.validateCommitLocked(req); err != nil {
			g.mu.Unlock()
			return all(err)
		}
	}
	now := c.clock.Now().UnixMilli()
	recs := make([]Record, 0, len(req.Offsets))
	entries := make([]*offsetEntry, len(req.Offsets))
	for i, o := range req.Offsets {
		if c.cfg.OffsetMetadataMaxBytes > 0 && len(o.Metadata) > c.cfg.OffsetMetadataMaxBytes {
			errs[i] = ErrOffsetMetadataTooLarge
			continue
		}
		if check != nil {
			if errs[i] = check(o.Topic, o.Partition); errs[i] != nil {
				continue
			}
		}
		e := &offsetEntry{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata,
			commitTimestamp: now, expireTimestamp: -1}
		entries[i] = e
		recs = append(recs, offsetRecord(g.id, o.Topic, o.Partition, e))
	}
	if len(recs) == 0 {
		g.mu.Unlock()
		return errs
	}
	last, err := c.log.AppendTxn(part, producerID, producerEpoch, recs, verify)
	if err != nil {
		g.mu.Unlock()
		if errors.Is(err, ErrTxnRefused) {
			return all(err)
		}
		c.logger.Error("transactional offset commit failed", "group", req.Group, "err", err)
		return c.storageErrors(errs)
	}
	// The records are in the log: pending now, whatever the sync says, so
	// that memory agrees with what a replay would find.
	pos := last - int64(len(recs)) + 1
	c.txn.mu.Lock()
	offs := c.pendingGroupLocked(part, producerID, g.id)
	for i, o := range req.Offsets {
		if e := entries[i]; e != nil {
			e.logOffset = pos
			pos++
			offs[TopicPartition{o.Topic, o.Partition}] = e
		}
	}
	c.txn.mu.Unlock()
	g.mu.Unlock()
	if err := c.log.Sync(part, last); err != nil {
		c.logger.Error("syncing a transactional offset commit failed", "group", req.Group, "err", err)
		return c.storageErrors(errs)
	}
	return errs
}

func (c *Coordinator) storageErrors(errs []error) []error {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = ErrStorage
		}
	}
	return errs
}

// pendingGroupLocked returns (creating) the pending offsets of pid for
// group on partition p. txn.mu is held.
func (c *Coordinator) pendingGroupLocked(p int32, pid int64, group string) map[TopicPartition]*offsetEntry {
	if c.txn.pending == nil {
		c.txn.pending = make(map[int32]map[int64]pendingTxn)
	}
	byPid := c.txn.pending[p]
	if byPid == nil {
		byPid = make(map[int64]pendingTxn)
		c.txn.pending[p] = byPid
	}
	byGroup := byPid[pid]
	if byGroup == nil {
		byGroup = make(pendingTxn)
		byPid[pid] = byGroup
	}
	offs := byGroup[group]
	if offs == nil {
		offs = make(map[TopicPartition]*offsetEntry)
		byGroup[group] = offs
	}
	return offs
}

// HasPendingTxnOffsets reports whether an offset of group for tp awaits a
// transaction's outcome (OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT then).
func (c *Coordinator) HasPendingTxnOffsets(group string, tp TopicPartition) bool {
	p := c.PartitionFor(group)
	c.txn.mu.Lock()
	defer c.txn.mu.Unlock()
	for _, byGroup := range c.txn.pending[p] {
		if _, ok := byGroup[group][tp]; ok {
			return true
		}
	}
	return false
}

// CompleteTxnOffsets applies a transaction marker of producerID that the
// broker has written to __consumer_offsets partition p: on commit the
// producer's pending offsets there become the groups' committed offsets
// (each unless the group holds one written later in the log), on abort
// they are dropped. It writes nothing: the marker in the log is what makes
// the outcome durable, and Load replays it the same way. A partition not
// loaded is left alone: the Load to come finds the marker in the log, and
// one under way is waited for (the load lock).
func (c *Coordinator) CompleteTxnOffsets(p int32, producerID int64, commit bool) {
	if p < 0 || int(p) >= len(c.txn.load) {
		return
	}
	lm := c.loadLock(p)
	lm.RLock()
	defer lm.RUnlock()
	if !c.loaded[p].Load() {
		return
	}
	c.txn.mu.Lock()
	byGroup := c.txn.pending[p][producerID]
	delete(c.txn.pending[p], producerID)
	c.txn.mu.Unlock()
	if !commit {
		return
	}
	n := 0
	for group, offs := range byGroup {
		g := c.lockedGroup(group, true)
		if g == nil {
			continue
		}
		for tp, e := range offs {
			if cur := g.offsets[tp]; cur == nil || cur.logOffset < e.logOffset {
				g.offsets[tp] = e
			}
			n++
		}
		g.mu.Unlock()
	}
	c.metrics.commits(n)
}

// applyTxnMarker applies a replayed marker to the groups being loaded:
// pending holds the producers' pending offsets of the partition.
func applyTxnMarker(pending map[int64]pendingTxn, get func(string) *loadedGroup, pid int64, commit bool) {
	byGroup := pending[pid]
	delete(pending, pid)
	if !commit {
		return
	}
	for group, offs := range byGroup {
		lg := get(group)
		for tp, e := range offs {
			if cur := lg.offsets[tp]; cur == nil || cur.logOffset < e.logOffset {
				lg.offsets[tp] = e
			}
		}
	}
}
