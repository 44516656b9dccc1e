package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"
)

// OffsetCommit is one partition's offset in a commit.
type OffsetCommit struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1: unknown
	Metadata    string
	// ExpireTimestamp is OffsetCommit v1's per-partition expiry (ms), or -1.
	ExpireTimestamp int64
}

// CommitRequest is an OffsetCommit, normalised across versions.
type CommitRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32 // -1: a simple (non-member) commit
	Offsets    []OffsetCommit
}

// CommitOffsets validates and commits offsets, returning once they are
// durable, with one error (or nil) per offset in request order. A commit
// to a group that does not exist with a generation >= 0 fails with
// ErrGroupIDNotFound (the broker maps it per request version).
func (c *Coordinator) CommitOffsets(req CommitRequest) []error {
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
	g := c.lockedGroup(req.Group, false)
	if g == nil {
		if req.Generation >= 0 {
			return all(ErrGroupIDNotFound)
		}
		g = c.lockedGroup(req.Group, true)
	}
	check, err := g.validateCommitLocked(req)
	if err != nil {
		g.mu.Unlock()
		return all(err)
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
			commitTimestamp: now, expireTimestamp: o.ExpireTimestamp}
		entries[i] = e
		recs = append(recs, offsetRecord(g.id, o.Topic, o.Partition, e))
	}
	if len(recs) == 0 {
		g.mu.Unlock()
		return errs
	}
	last, err := c.log.Append(g.partition, recs)
	// The group must not expire while its commit is in flight.
	g.commitsInFlight++
	g.mu.Unlock()
	if err == nil {
		err = c.log.Sync(g.partition, last)
	}
	if err != nil {
		g.mu.Lock()
		g.commitsInFlight--
		g.mu.Unlock()
		c.logger.Error("offset commit failed", "group", req.Group, "err", err)
		for i := range errs {
			if errs[i] == nil {
				errs[i] = ErrStorage
			}
		}
		return errs
	}
	// Records were appended in order: the first of recs is at
	// last-len(recs)+1. Apply each unless a later commit got there first.
	g.mu.Lock()
	g.commitsInFlight--
	pos := last - int64(len(recs)) + 1
	for i, o := range req.Offsets {
		e := entries[i]
		if e == nil {
			continue
		}
		e.logOffset = pos
		pos++
		tp := TopicPartition{o.Topic, o.Partition}
		if cur := g.offsets[tp]; cur == nil || cur.logOffset < e.logOffset {
			g.offsets[tp] = e
		}
	}
	g.mu.Unlock()
	c.metrics.commits(len(recs))
	if c.logger.Enabled(context.Background(), slog.LevelDebug) {
		c.logger.Debug("offsets committed", "group", req.Group, "member", req.MemberID, "generation", req.Generation, "offsets", req.Offsets)
	}
	return errs
}

// validateCommitLocked is Kafka's ClassicGroup.validateOffsetCommit (and
// ConsumerGroup's for a KIP-848 group, whose check, when not nil, gives
// each partition's error: see consumerCommitCheckLocked).
func (g *group) validateCommitLocked(req CommitRequest) (check func(topic string, part int32) error, err error) {
	if g.share != nil {
		return nil, ErrGroupIDNotFound // Kafka: not a consumer group
	}
	if g.consumer != nil {
		return g.consumerCommitCheckLocked(req.MemberID, req.Generation)
	}
	if g.streams != nil {
		return nil, g.validateStreamsCommitLocked(req.MemberID, req.Generation)
	}
	return nil, g.validateClassicCommitLocked(req)
}

func (g *group) validateClassicCommitLocked(req CommitRequest) error {
	if req.Generation < 0 && g.state == StateEmpty {
		return nil
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if err := g.validateMemberLocked(req.MemberID, req.InstanceID); err != nil {
			return err
		}
		if req.Generation != g.generation {
			return ErrIllegalGeneration
		}
	} else if g.state != StateEmpty {
		return ErrUnknownMemberID
	}
	if g.state == StateCompletingRebalance {
		return ErrRebalanceInProgress
	}
	return nil
}

// CommittedOffset is a fetched offset; Offset -1 means none.
type CommittedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
}

// FetchOffsets returns the group's committed offsets for parts, or every
// committed offset when parts is nil.
func (c *Coordinator) FetchOffsets(groupID string, parts []TopicPartition) ([]CommittedOffset, error) {
	return c.FetchOffsetsAsMember(groupID, nil, -1, parts)
}

// FetchOffsetsAsMember is FetchOffsets by a member of a KIP-848 group
// (OffsetFetch v9+), whose id and epoch are checked.
func (c *Coordinator) FetchOffsetsAsMember(groupID string, memberID *string, epoch int32, parts []TopicPartition) ([]CommittedOffset, error) {
	if err := c.checkGroupID(groupID); err != nil && !errors.Is(err, ErrInvalidGroupID) {
		return nil, err
	}
	g := c.lockedGroup(groupID, false)
	var out []CommittedOffset
	if g == nil {
		for _, tp := range parts {
			out = append(out, CommittedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, LeaderEpoch: -1})
		}
		return out, nil
	}
	defer g.mu.Unlock()
	if memberID != nil && g.consumer != nil {
		if err := g.validateConsumerCommitLocked(*memberID, epoch); err != nil {
			return nil, err
		}
	}
	if memberID != nil && g.streams != nil {
		if err := g.validateStreamsCommitLocked(*memberID, epoch); err != nil {
			return nil, err
		}
	}
	if c.logger.Enabled(context.Background(), slog.LevelDebug) {
		defer func() { c.logger.Debug("offsets fetched", "group", groupID, "offsets", out) }()
	}
	if parts == nil {
		for tp, e := range g.offsets {
			out = append(out, CommittedOffset{tp.Topic, tp.Partition, e.offset, e.leaderEpoch, e.metadata})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Topic != out[j].Topic {
				return out[i].Topic < out[j].Topic
			}
			return out[i].Partition < out[j].Partition
		})
		return out, nil
	}
	for _, tp := range parts {
		co := CommittedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, LeaderEpoch: -1}
		if e := g.offsets[tp]; e != nil {
			co.Offset, co.LeaderEpoch, co.Metadata = e.offset, e.leaderEpoch, e.metadata
		}
		out = append(out, co)
	}
	return out, nil
}

// DeleteOffsets deletes committed offsets of a group (OffsetDelete),
// durably. Partitions of topics a non-empty consumer group subscribes to
// get ErrGroupSubscribedToTopic.
func (c *Coordinator) DeleteOffsets(groupID string, parts []TopicPartition) ([]error, error) {
	if err := c.checkGroupID(groupID); err != nil {
		return nil, err
	}
	g := c.lockedGroup(groupID, false)
	if g == nil {
		return nil, ErrGroupIDNotFound
	}
	if g.share != nil {
		g.mu.Unlock()
		return nil, ErrGroupIDNotFound // Kafka: not a consumer group
	}
	errs := make([]error, len(parts))
	var subscribed map[string]bool
	if g.state != StateEmpty {
		if g.protocolType != "consumer" {
			g.mu.Unlock()
			return nil, ErrNonEmptyGroup
		}
		subscribed = g.subscribedTopicsLocked()
	}
	if g.streams != nil && len(g.streams.members) > 0 {
		subscribed = g.streamsSourceTopicsLocked()
	}
	var del []TopicPartition
	for i, tp := range parts {
		if subscribed[tp.Topic] {
			errs[i] = ErrGroupSubscribedToTopic
			continue
		}
		if g.offsets[tp] != nil {
			del = append(del, tp)
		}
	}
	if len(del) == 0 {
		g.mu.Unlock()
		return errs, nil
	}
	recs := make([]Record, 0, len(del))
	for _, tp := range del {
		recs = append(recs, Record{Key: offsetKey(g.id, tp.Topic, tp.Partition)})
		delete(g.offsets, tp)
	}
	off, err := c.log.Append(g.partition, recs)
	g.mu.Unlock()
	if err == nil {
		err = c.log.Sync(g.partition, off)
	}
	if err != nil {
		return nil, ErrStorage
	}
	return errs, nil
}

// ExpireOffsets drops offsets past offsets.retention.minutes, as Kafka's
// cleanupGroupMetadata: for an Empty group, counted from when it became
// empty; for a simple group (no protocol type), from each commit; for a
// Stable consumer group, only offsets of topics no member subscribes to,
// from each commit. An Empty group left with no offsets is deleted. It
// returns how many offsets went.
func (c *Coordinator) ExpireOffsets() int {
	now := c.clock.Now()
	retention := c.cfg.OffsetsRetention
	n := 0
	for _, g := range c.allGroups() {
		g.mu.Lock()
		// Empty groups lose offsets; a Stable consumer group loses only
		// those of topics none of its members subscribes to.
		stableConsumer := g.state == StateStable && g.protocolType == "consumer"
		if g.share != nil { // share groups have no offsets and never expire (Kafka's ShareGroup.shouldExpire)
			g.mu.Unlock()
			continue
		}
		if (g.state != StateEmpty && !stableConsumer) || g.commitsInFlight > 0 || !c.loaded[g.partition].Load() ||
			(g.consumer != nil && len(g.consumer.members) > 0) || (g.streams != nil && len(g.streams.members) > 0) {
			g.mu.Unlock()
			continue
		}
		var subscribed map[string]bool
		if stableConsumer {
			subscribed = g.subscribedTopicsLocked()
		}
		var expired []TopicPartition
		for tp, e := range g.offsets {
			var due bool
			switch {
			case subscribed[tp.Topic]:
			case e.expireTimestamp >= 0:
				due = now.UnixMilli() >= e.expireTimestamp
			case stableConsumer:
				due = now.Sub(time.UnixMilli(e.commitTimestamp)) >= retention
			case g.protocolType != "":
				base := time.UnixMilli(e.commitTimestamp)
				if g.stateSince.After(base) {
					base = g.stateSince
				}
				due = now.Sub(base) >= retention
			default:
				due = now.Sub(time.UnixMilli(e.commitTimestamp)) >= retention
			}
			if due {
				expired = append(expired, tp)
			}
		}
		if len(expired) == 0 && (len(g.offsets) > 0 || stableConsumer) {
			g.mu.Unlock()
			continue
		}
		for _, tp := range expired {
			delete(g.offsets, tp)
		}
		recs := g.tombstonesLocked(expired)
		dead := len(g.offsets) == 0 && g.state == StateEmpty
		if !dead {
			recs = recs[:len(recs)-1] // keep the group metadata
		} else if crecs := g.consumerTombstonesLocked(); len(crecs) > 0 {
			last := recs[len(recs)-1]
			recs = append(append(recs[:len(recs)-1], crecs...), last)
			g.persisted = nil
		}
		if _, err := c.log.Append(g.partition, recs); err != nil {
			c.logger.Warn("writing offset expiry tombstones failed", "group", g.id, "err", err)
		}
		n += len(expired)
		if dead {
			g.killLocked()
		}
		g.mu.Unlock()
	}
	if n > 0 {
		c.logger.Info("expired committed offsets", "offsets", n)
	}
	return n
}
