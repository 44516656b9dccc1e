package coordinator

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record schemas of __consumer_offsets: Kafka's own (see FORMAT.md).
const (
	offsetKeyVersion      = 1 // OffsetCommitKey
	offsetValueVersion    = 3 // OffsetCommitValue (1 when an expire timestamp is set)
	groupKeyVersion       = 2 // GroupMetadataKey
	groupValueVersion     = 3 // GroupMetadataValue
	maxOffsetValueVersion = 4
	maxGroupValueVersion  = 4
)

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func offsetRecord(group, topic string, partition int32, e *offsetEntry) Record {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if e.expireTimestamp >= 0 {
		v.Version = 1
		v.ExpireTimestamp = e.expireTimestamp
	}
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = e.offset, e.leaderEpoch, e.metadata, e.commitTimestamp
	return Record{Key: offsetKey(group, topic, partition), Value: v.AppendTo(nil)}
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// metadataRecord is the group's current metadata with members' current
// assignments.
func (g *group) metadataRecord() Record {
	as := make(map[string][]byte, len(g.members))
	for id, m := range g.members {
		as[id] = m.assignment
	}
	return g.metadataRecordWith(as)
}

func (g *group) metadataRecordWith(assignments map[string][]byte) Record {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocolName != "" {
		p := g.protocolName
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateSince.UnixMilli()
	for _, m := range g.memberList() {
		mv := kmsg.NewGroupMetadataValueMember()
		mv.MemberID, mv.InstanceID, mv.ClientID, mv.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		mv.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		mv.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		mv.Subscription = m.metadataFor(g.protocolName)
		if mv.Subscription == nil {
			mv.Subscription = []byte{}
		}
		mv.Assignment = assignments[m.id]
		if mv.Assignment == nil {
			mv.Assignment = []byte{}
		}
		v.Members = append(v.Members, mv)
	}
	return Record{Key: groupKey(g.id), Value: v.AppendTo(nil)}
}

// tombstonesLocked returns tombstones for the offsets of tps (every offset
// when nil) followed by the group metadata tombstone.
func (g *group) tombstonesLocked(tps []TopicPartition) []Record {
	if tps == nil {
		for tp := range g.offsets {
			tps = append(tps, tp)
		}
	}
	recs := make([]Record, 0, len(tps)+1)
	for _, tp := range tps {
		recs = append(recs, Record{Key: offsetKey(g.id, tp.Topic, tp.Partition)})
	}
	return append(recs, Record{Key: groupKey(g.id)})
}

// deleteTombstonesLocked is every tombstone that deletes g: its offsets,
// its consumer group records, its classic metadata (last).
func (g *group) deleteTombstonesLocked() []Record {
	recs := g.tombstonesLocked(nil)
	last := recs[len(recs)-1]
	recs = append(recs[:len(recs)-1], g.consumerTombstonesLocked()...)
	return append(recs, last)
}

// subscribedTopicsLocked parses the consumer protocol subscriptions of the
// members (protocol type "consumer").
func (g *group) subscribedTopicsLocked() map[string]bool {
	out := map[string]bool{}
	for _, m := range g.members {
		var s kmsg.ConsumerMemberMetadata
		if err := s.ReadFrom(m.metadataFor(g.protocolName)); err != nil {
			continue
		}
		for _, t := range s.Topics {
			out[t] = true
		}
	}
	return out
}

// loadedGroup accumulates one group's records during replay.
type loadedGroup struct {
	meta     *kmsg.GroupMetadataValue
	offsets  map[TopicPartition]*offsetEntry
	consumer *loadedConsumer // KIP-848 records
	streams  *loadedConsumer // KIP-1071 records (streams_records.go)
	share    *loadedShare    // KIP-932 records
}

// Load replays partition p of __consumer_offsets and installs its groups;
// requests for those groups get ErrLoadInProgress until it returns.
func (c *Coordinator) Load(p int32) error {
	c.loaded[p].Store(false)
	start := time.Now()
	groups := map[string]*loadedGroup{}
	get := func(id string) *loadedGroup {
		lg := groups[id]
		if lg == nil {
			lg = &loadedGroup{offsets: map[TopicPartition]*offsetEntry{}}
			groups[id] = lg
		}
		return lg
	}
	lm := c.loadLock(p)
	lm.Lock()
	defer lm.Unlock()
	records, skipped := 0, 0
	// pending: the transactional offsets no marker has decided yet.
	pending := map[int64]pendingTxn{}
	err := c.log.Replay(p, func(lr LogRecord) error {
		records++
		off, r := lr.Offset, lr.Record
		switch lr.Marker {
		case CommitMarker, AbortMarker:
			applyTxnMarker(pending, get, lr.ProducerID, lr.Marker == CommitMarker)
			return nil
		}
		if len(r.Key) < 2 {
			skipped++
			return nil
		}
		switch version := int16(binary.BigEndian.Uint16(r.Key)); {
		case version == 0 || version == 1:
			var k kmsg.OffsetCommitKey
			if err := k.ReadFrom(r.Key); err != nil {
				skipped++
				return nil
			}
			tp := TopicPartition{k.Topic, k.Partition}
			if r.Value == nil {
				if lg := groups[k.Group]; lg != nil {
					delete(lg.offsets, tp)
				}
				return nil
			}
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(r.Value); err != nil {
				skipped++
				return nil
			}
			e := &offsetEntry{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata,
				commitTimestamp: v.CommitTimestamp, expireTimestamp: -1, logOffset: off}
			if v.Version >= 3 {
				e.leaderEpoch = v.LeaderEpoch
			}
			if v.Version == 1 {
				e.expireTimestamp = v.ExpireTimestamp
			}
			if lr.ProducerID >= 0 {
				// A TxnOffsetCommit's: pending until its marker.
				offs := pending[lr.ProducerID][k.Group]
				if offs == nil {
					if pending[lr.ProducerID] == nil {
						pending[lr.ProducerID] = pendingTxn{}
					}
					offs = map[TopicPartition]*offsetEntry{}
					pending[lr.ProducerID][k.Group] = offs
				}
				offs[tp] = e
				return nil
			}
			get(k.Group).offsets[tp] = e
		case version == groupKeyVersion:
			var k kmsg.GroupMetadataKey
			if err := k.ReadFrom(r.Key); err != nil {
				skipped++
				return nil
			}
			if r.Value == nil {
				if lg := groups[k.Group]; lg != nil {
					lg.meta = nil
				}
				return nil
			}
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(r.Value); err != nil {
				skipped++
				return nil
			}
			get(k.Group).meta = &v
		case version >= recConsumerGroupMetadata && version <= recConsumerGroupCurrentAssignment:
			typ, group, _, err := parseConsumerKey(r.Key)
			if err != nil {
				skipped++
				return nil
			}
			if typ == recConsumerGroupPartitionMetadata {
				return nil // Kafka 4.0's; replaced by the metadata hash
			}
			lg := get(group)
			if lg.consumer == nil {
				lg.consumer = &loadedConsumer{values: map[string][]byte{}}
			}
			lg.consumer.apply(r.Key, r.Value)
		case isStreamsRecordType(version):
			_, group, _, err := parseStreamsKey(r.Key)
			if err != nil || version == recStreamsGroupPartitionMetadata {
				skipped++
				return nil
			}
			lg := get(group)
			if lg.streams == nil {
				lg.streams = &loadedConsumer{values: map[string][]byte{}}
			}
			lg.streams.apply(r.Key, r.Value)
		case isShareRecordType(version):
			_, group, _, err := parseShareKey(r.Key)
			if err != nil {
				skipped++
				return nil
			}
			lg := get(group)
			if lg.share == nil {
				lg.share = &loadedShare{values: map[string][]byte{}}
			}
			lg.share.apply(r.Key, r.Value)
		default:
			skipped++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("coordinator: replay partition %d: %w", p, err)
	}
	c.txn.mu.Lock()
	if c.txn.pending == nil {
		c.txn.pending = make(map[int32]map[int64]pendingTxn)
	}
	c.txn.pending[p] = pending
	c.txn.mu.Unlock()
	for id, lg := range groups {
		if lg.meta == nil && len(lg.offsets) == 0 && (lg.consumer == nil || len(lg.consumer.values) == 0) &&
			(lg.streams == nil || len(lg.streams.values) == 0) &&
			(lg.share == nil || len(lg.share.values) == 0) {
			continue
		}
		c.installGroup(id, lg)
	}
	c.loaded[p].Store(true)
	if records > 0 {
		c.logger.Info("loaded groups from __consumer_offsets", "partition", p, "records", records,
			"skipped", skipped, "groups", len(groups), "pending_transactions", len(pending), "elapsed", time.Since(start).Round(time.Microsecond))
	}
	return nil
}

func (c *Coordinator) installGroup(id string, lg *loadedGroup) {
	// Lock order is group, then Coordinator.mu: swap the group in first,
	// then retire any old one.
	g := newGroup(c, id)
	c.mu.Lock()
	old := c.groups[id]
	c.groups[id] = g
	c.mu.Unlock()
	if old != nil {
		old.mu.Lock()
		old.killLocked()
		old.mu.Unlock()
	}
	c.metrics.groupsCreated()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.offsets = lg.offsets
	if lg.share != nil && g.installShareLocked(lg.share) {
		return
	}
	if lg.consumer != nil && g.installConsumerLocked(lg.consumer) {
		return
	}
	if lg.streams != nil && g.installStreamsLocked(lg.streams) {
		return
	}
	if lg.consumer != nil {
		// Consumer records without a group epoch: tombstone them on the
		// next write of the group.
		g.persisted = lg.consumer.values
	}
	if m := lg.meta; m != nil {
		g.protocolType = m.ProtocolType
		g.generation = m.Generation
		if m.Protocol != nil {
			g.protocolName = *m.Protocol
		}
		if m.Leader != nil {
			g.leader = *m.Leader
		}
		for _, mv := range m.Members {
			g.memberSeq++
			mem := &member{id: mv.MemberID, instanceID: mv.InstanceID, clientID: mv.ClientID, clientHost: mv.ClientHost,
				sessionTimeout: time.Duration(mv.SessionTimeoutMillis) * time.Millisecond,
				protocolType:   m.ProtocolType, protocols: []Protocol{{g.protocolName, mv.Subscription}},
				assignment: mv.Assignment, seq: g.memberSeq}
			mem.rebalanceTimeout = time.Duration(mv.RebalanceTimeoutMillis) * time.Millisecond
			if mv.RebalanceTimeoutMillis <= 0 {
				mem.rebalanceTimeout = mem.sessionTimeout
			}
			g.members[mem.id] = mem
			c.metrics.memberDelta(1)
			if mem.instanceID != nil {
				g.static[*mem.instanceID] = mem.id
			}
			g.heartbeatLocked(mem, mem.sessionTimeout)
		}
		if len(g.members) > 0 {
			g.transitionLocked(StateStable)
		}
	}
	if lg.meta != nil && lg.meta.CurrentStateTimestamp > 0 {
		g.stateSince = time.UnixMilli(lg.meta.CurrentStateTimestamp)
	}
}
