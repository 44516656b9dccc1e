package coordinator

// Share group offsets (KIP-932's admin APIs): DescribeShareGroupOffsets,
// AlterShareGroupOffsets and DeleteShareGroupOffsets, as Kafka's
// GroupCoordinatorService serves them: the share-partition state lives in
// the share coordinator (ShareStates); the group coordinator checks the
// group and keeps ShareGroupStatePartitionMetadata in step.

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// ErrUnknownTopicOrPartition: a share offsets request names a topic or
// partition that does not exist, or has no share state to delete.
var ErrUnknownTopicOrPartition = errors.New("coordinator: unknown topic or partition")

// ShareOffsetsTopic names partitions of a topic (nil Partitions: every
// partition).
type ShareOffsetsTopic struct {
	Topic      string
	Partitions []int32
}

// ShareOffset is one partition's share-partition state summary.
type ShareOffset struct {
	Topic       string
	TopicID     [16]byte // zero if the topic does not exist
	Partition   int32
	StartOffset int64 // -1: not initialized
	LeaderEpoch int32
	// DeliveryCompleteCount is the number of acknowledged records at or
	// after StartOffset (-1: unknown), for the lag (KIP-1226).
	DeliveryCompleteCount int32
	Err                   error
}

// ShareOffsetsResult is the outcome for one partition (Partition -1: the
// whole topic).
type ShareOffsetsResult struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
	Err       error
}

// DescribeShareGroupOffsets reads the state summary of the given
// partitions; with topics nil, of every partition the group initialized. A
// partition with no state, or of a topic that does not exist, is answered
// with start offset -1 and leader epoch 0, as Kafka does.
func (c *Coordinator) DescribeShareGroupOffsets(group string, topics []ShareOffsetsTopic) ([]ShareOffset, error) {
	if err := c.checkGroupID(group); err != nil {
		return nil, err
	}
	byName := map[string]TopicMeta{}
	byID := map[[16]byte]TopicMeta{}
	for _, t := range c.listTopics() {
		byName[t.Name], byID[t.ID] = t, t
	}
	if topics == nil {
		// Every initialized partition; none for a group that does not
		// exist or is of another type (no error, as Kafka answers).
		g := c.lockedGroup(group, false)
		if g == nil {
			return nil, nil
		}
		if g.share == nil {
			g.mu.Unlock()
			return nil, nil
		}
		parts := map[[16]byte][]int32{}
		for tid, ti := range g.share.initialized {
			for p := range ti.partitions {
				parts[tid] = append(parts[tid], p)
			}
		}
		g.mu.Unlock()
		for tid, ps := range parts {
			t, ok := byID[tid]
			if !ok {
				continue
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			topics = append(topics, ShareOffsetsTopic{Topic: t.Name, Partitions: ps})
		}
		sort.Slice(topics, func(i, j int) bool { return topics[i].Topic < topics[j].Topic })
	}
	var out []ShareOffset
	states := c.shareStates()
	for _, rt := range topics {
		t, ok := byName[rt.Topic]
		ps := rt.Partitions
		if ps == nil && ok {
			for p := int32(0); p < t.Partitions; p++ {
				ps = append(ps, p)
			}
		}
		for _, p := range ps {
			o := ShareOffset{Topic: rt.Topic, Partition: p, StartOffset: -1, DeliveryCompleteCount: -1}
			if !ok {
				out = append(out, o)
				continue
			}
			o.TopicID = t.ID
			if states == nil {
				o.Err = ErrCoordinatorNotAvailable
				out = append(out, o)
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), shareCallTimeout)
			s, err := states.ReadSummary(ctx, group, t.ID, p)
			cancel()
			switch {
			case errors.Is(err, ErrShareStateNotFound):
			case err != nil:
				o.Err = err
			default:
				o.StartOffset, o.LeaderEpoch, o.DeliveryCompleteCount = s.StartOffset, s.LeaderEpoch, s.DeliveryCompleteCount
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// emptyShareGroupLocked returns the share group locked, or an error: it
// must be a share group and be empty. With create, a group that does not
// exist is created (created true; the caller drops it again if it writes
// nothing).
func (c *Coordinator) emptyShareGroupLocked(group string, create bool) (g *group, created bool, err error) {
	if err := c.checkGroupID(group); err != nil {
		return nil, false, err
	}
	g = c.lockedGroup(group, create)
	if g == nil {
		return nil, false, fmt.Errorf("%w: Group %s not found.", ErrGroupIDNotFound, group)
	}
	if g.share == nil {
		if !create || !g.pristineLocked() {
			g.mu.Unlock()
			return nil, false, fmt.Errorf("%w: Group %s is not a share group.", ErrGroupIDNotFound, group)
		}
		g.share = newShareState()
		g.protocolType = "share"
		created = true
	}
	if len(g.share.members) > 0 {
		g.mu.Unlock()
		return nil, false, ErrNonEmptyGroup
	}
	return g, created, nil
}

// AlterShareGroupOffsets sets the start offsets of an empty share group's
// share-partitions (offsets by topic name and partition): the partitions are
// recorded as initializing, initialized through ShareStates at the group
// epoch, then recorded as initialized. A group that does not exist is
// created (Kafka 4.4 does, so that offsets can be set before the first
// consumer starts), unless no partition is valid. It returns one result per
// partition.
func (c *Coordinator) AlterShareGroupOffsets(group string, offsets map[string]map[int32]int64) ([]ShareOffsetsResult, error) {
	g, created, err := c.emptyShareGroupLocked(group, true)
	if err != nil {
		return nil, err
	}
	byName := map[string]TopicMeta{}
	for _, t := range c.listTopics() {
		byName[t.Name] = t
	}
	names := make([]string, 0, len(offsets))
	for n := range offsets {
		names = append(names, n)
	}
	sort.Strings(names)
	ss := g.share
	in := &shareInit{epoch: ss.epoch, partitions: map[[16]byte][]int32{}, offsets: map[[16]byte]map[int32]int64{}}
	var out []ShareOffsetsResult
	now := c.clock.Now().UnixMilli()
	for _, n := range names {
		t, ok := byName[n]
		ps := make([]int32, 0, len(offsets[n]))
		for p := range offsets[n] {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		for _, p := range ps {
			r := ShareOffsetsResult{Topic: n, TopicID: t.ID, Partition: p}
			if !ok || p < 0 || p >= t.Partitions {
				r.Err = ErrUnknownTopicOrPartition
				out = append(out, r)
				continue
			}
			out = append(out, r)
			in.partitions[t.ID] = append(in.partitions[t.ID], p)
			if in.offsets[t.ID] == nil {
				in.offsets[t.ID] = map[int32]int64{}
			}
			in.offsets[t.ID][p] = offsets[n][p]
			ti := ss.initializing[t.ID]
			if ti == nil {
				ti = &shareTopicInit{name: n, partitions: map[int32]bool{}}
				ss.initializing[t.ID] = ti
			}
			ti.since = now
			ti.partitions[p] = true
			delete(ss.deleting, t.ID)
		}
	}
	if len(in.partitions) == 0 {
		if created {
			g.share = nil
			g.protocolType = ""
			g.killLocked()
		}
		g.mu.Unlock()
		return out, nil
	}
	ss.allDirty = true
	off, wrote, err := g.persistShareLocked("")
	g.mu.Unlock()
	if err == nil && wrote {
		err = c.log.Sync(g.partition, off)
	}
	if err != nil {
		return nil, errors.Join(ErrStorage, err)
	}
	states := c.shareStates()
	if states == nil {
		return nil, ErrCoordinatorNotAvailable
	}
	errs := c.runShareInit(g, states, in)
	for i := range out {
		if e := errs[out[i].TopicID][out[i].Partition]; e != nil && out[i].Err == nil {
			out[i].Err = e
		}
	}
	return out, nil
}

// DeleteShareGroupOffsets deletes the share-partition state of topics of an
// empty share group. It returns one result per topic (Partition -1).
func (c *Coordinator) DeleteShareGroupOffsets(group string, topics []string) ([]ShareOffsetsResult, error) {
	g, _, err := c.emptyShareGroupLocked(group, false)
	if err != nil {
		return nil, err
	}
	byName := map[string]TopicMeta{}
	for _, t := range c.listTopics() {
		byName[t.Name] = t
	}
	ss := g.share
	var out []ShareOffsetsResult
	del := map[[16]byte][]int32{}
	for _, n := range topics {
		t, ok := byName[n]
		r := ShareOffsetsResult{Topic: n, Partition: -1}
		switch {
		case !ok:
			r.Err = ErrUnknownTopicOrPartition
		case ss.initialized[t.ID] != nil:
			r.TopicID = t.ID
			for p := range ss.initialized[t.ID].partitions {
				del[t.ID] = append(del[t.ID], p)
			}
			delete(ss.initialized, t.ID)
			ss.deleting[t.ID] = n
		case ss.deleting[t.ID] != "":
			r.TopicID = t.ID
			for p := int32(0); p < t.Partitions; p++ {
				del[t.ID] = append(del[t.ID], p)
			}
		default:
			r.Err = fmt.Errorf("%w: There is no offset information to delete.", ErrUnknownTopicOrPartition)
		}
		out = append(out, r)
	}
	ss.allDirty = true
	off, wrote, err := g.persistShareLocked("")
	g.mu.Unlock()
	if err == nil && wrote {
		err = c.log.Sync(g.partition, off)
	}
	if err != nil {
		return nil, errors.Join(ErrStorage, err)
	}
	if len(del) == 0 {
		return out, nil
	}
	states := c.shareStates()
	if states == nil {
		return nil, ErrCoordinatorNotAvailable
	}
	failed := map[[16]byte]error{}
	for tid, ps := range del {
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		for _, p := range ps {
			ctx, cancel := context.WithTimeout(context.Background(), shareCallTimeout)
			err := states.Delete(ctx, group, tid, p)
			cancel()
			if err != nil {
				failed[tid] = err
				break
			}
		}
	}
	g.mu.Lock()
	if g.share != nil && g.state != StateDead && c.getGroup(g.id) == g {
		for tid := range del {
			if failed[tid] == nil {
				delete(g.share.deleting, tid)
			}
		}
		g.share.allDirty = true
		off, wrote, err = g.persistShareLocked("")
	}
	g.mu.Unlock()
	if err == nil && wrote {
		err = c.log.Sync(g.partition, off)
	}
	if err != nil {
		return nil, errors.Join(ErrStorage, err)
	}
	for i := range out {
		if e := failed[out[i].TopicID]; e != nil && out[i].Err == nil {
			out[i].Err = e
		}
	}
	return out, nil
}
