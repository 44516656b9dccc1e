package coordinator

// KIP-932 share group records of __consumer_offsets (record types 10–15,
// Kafka's ShareGroup*Key/Value schemas; FORMAT.md), encoded with kbin as
// the consumer group records are (consumer_records.go), and persisted the
// same way: by difference against the bytes last appended under each key
// (shareState.persisted), a heartbeat comparing only its own member's
// records unless the group is allDirty.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kbin"
)

// Record types (the int16 that starts every key).
const (
	recShareGroupMemberMetadata         = 10 // a member's subscription
	recShareGroupMetadata               = 11 // group epoch + metadata hash
	recShareGroupTargetMetadata         = 12 // target assignment epoch
	recShareGroupTargetMember           = 13 // a member's target assignment
	recShareGroupCurrentAssignment      = 14 // a member's epochs and partitions
	recShareGroupStatePartitionMetadata = 15 // initializing/initialized/deleting share-partitions
)

var errBadShareRecord = errors.New("coordinator: malformed share group record")

func isShareRecordType(t int16) bool {
	return t >= recShareGroupMemberMetadata && t <= recShareGroupStatePartitionMetadata
}

// parseShareKey reads a key of type 10–15.
func parseShareKey(key []byte) (typ int16, group, member string, err error) {
	r := kbin.Reader{Src: key}
	typ = r.Int16()
	group = r.String()
	switch typ {
	case recShareGroupMemberMetadata, recShareGroupTargetMember, recShareGroupCurrentAssignment:
		member = r.String()
	}
	if r.Complete() != nil || !isShareRecordType(typ) {
		return 0, "", "", errBadShareRecord
	}
	return typ, group, member, nil
}

// ShareGroupMemberMetadataValue v0.
func encodeShareMemberMetadata(m *shareMember) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendCompactNullableString(b, m.rackID)
	b = kbin.AppendCompactString(b, m.clientID)
	b = kbin.AppendCompactString(b, m.clientHost)
	b = kbin.AppendCompactArrayLen(b, len(m.topics))
	for _, t := range m.topics {
		b = kbin.AppendCompactString(b, t)
	}
	return appendTags(b, nil)
}

func decodeShareMemberMetadata(v []byte, m *shareMember) error {
	r := kbin.Reader{Src: v}
	r.Int16()
	m.rackID = r.CompactNullableString()
	m.clientID = r.CompactString()
	m.clientHost = r.CompactString()
	n := r.CompactArrayLen()
	m.topics = nil
	for i := int32(0); i < n && r.Ok(); i++ {
		m.topics = append(m.topics, r.CompactString())
	}
	m.topics = dedupSorted(m.topics)
	readTags(&r)
	if !r.Ok() {
		return errBadShareRecord
	}
	return nil
}

// ShareGroupMetadataValue v0: epoch, metadata hash.
func encodeShareGroupEpoch(epoch int32, hash int64) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, epoch)
	b = kbin.AppendInt64(b, hash)
	return appendTags(b, nil)
}

func decodeShareGroupEpoch(v []byte) (int32, int64, error) {
	r := kbin.Reader{Src: v}
	r.Int16()
	epoch := r.Int32()
	hash := r.Int64()
	readTags(&r)
	if !r.Ok() {
		return 0, 0, errBadShareRecord
	}
	return epoch, hash, nil
}

// ShareGroupTargetAssignmentMetadataValue v0 has the consumer group's
// layout (assignment epoch, tag 0 = assignment timestamp): encodeTargetEpoch.

// ShareGroupCurrentMemberAssignmentValue v0 (State is always 0, STABLE:
// share groups do not revoke).
func encodeShareCurrentAssignment(m *shareMember) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, m.epoch)
	b = kbin.AppendInt32(b, m.prevEpoch)
	b = kbin.AppendInt8(b, 0)
	b = appendAssignment(b, m.assigned)
	return appendTags(b, nil)
}

func decodeShareCurrentAssignment(v []byte, m *shareMember) error {
	r := kbin.Reader{Src: v}
	r.Int16()
	m.epoch = r.Int32()
	m.prevEpoch = r.Int32()
	r.Int8()
	m.assigned = readAssignment(&r)
	readTags(&r)
	if !r.Ok() {
		return errBadShareRecord
	}
	return nil
}

func appendShareTopicInits(b []byte, m map[[16]byte]*shareTopicInit) []byte {
	ids := make([][16]byte, 0, len(m))
	for id, ti := range m {
		if len(ti.partitions) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	b = kbin.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		ti := m[id]
		b = kbin.AppendUuid(b, id)
		b = kbin.AppendCompactString(b, ti.name)
		ps := make([]int32, 0, len(ti.partitions))
		for p := range ti.partitions {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		b = kbin.AppendCompactArrayLen(b, len(ps))
		for _, p := range ps {
			b = kbin.AppendInt32(b, p)
		}
		b = kbin.AppendUvarint(b, 0)
	}
	return b
}

// readShareTopicInits reads topic partitions; since is the replay time,
// as Kafka's (the record has no timestamp).
func readShareTopicInits(r *kbin.Reader, since int64) map[[16]byte]*shareTopicInit {
	out := map[[16]byte]*shareTopicInit{}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		id := r.Uuid()
		ti := &shareTopicInit{name: r.CompactString(), partitions: map[int32]bool{}}
		np := r.CompactArrayLen()
		for j := int32(0); j < np && r.Ok(); j++ {
			ti.partitions[r.Int32()] = true
		}
		ti.since = since
		readTags(r)
		if len(ti.partitions) > 0 {
			out[id] = ti
		}
	}
	return out
}

// ShareGroupStatePartitionMetadataValue v0.
func encodeShareStateMetadata(ss *shareState) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = appendShareTopicInits(b, ss.initializing)
	b = appendShareTopicInits(b, ss.initialized)
	ids := make([][16]byte, 0, len(ss.deleting))
	for id := range ss.deleting {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	b = kbin.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		b = kbin.AppendUuid(b, id)
		b = kbin.AppendCompactString(b, ss.deleting[id])
		b = kbin.AppendUvarint(b, 0)
	}
	return appendTags(b, nil)
}

func decodeShareStateMetadata(v []byte, ss *shareState, now int64) error {
	r := kbin.Reader{Src: v}
	r.Int16()
	ss.initializing = readShareTopicInits(&r, now)
	ss.initialized = readShareTopicInits(&r, now)
	ss.deleting = map[[16]byte]string{}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		id := r.Uuid()
		ss.deleting[id] = r.CompactString()
		readTags(&r)
	}
	readTags(&r)
	if !r.Ok() {
		return errBadShareRecord
	}
	return nil
}

// shareRecordRank orders a batch: upserts as Kafka writes them, tombstones
// as ShareGroup.createGroupTombstoneRecords does.
func shareRecordRank(key []byte, tombstone bool) int {
	typ := int16(binary.BigEndian.Uint16(key))
	up := map[int16]int{10: 0, 11: 1, 13: 2, 12: 3, 14: 4, 15: 5}
	down := map[int16]int{14: 6, 13: 7, 12: 8, 10: 9, 15: 10, 11: 11}
	if tombstone {
		return down[typ]
	}
	return up[typ]
}

func sortShareRecords(recs []Record) {
	sort.SliceStable(recs, func(i, j int) bool {
		ri, rj := shareRecordRank(recs[i].Key, recs[i].Value == nil), shareRecordRank(recs[j].Key, recs[j].Value == nil)
		if ri != rj {
			return ri < rj
		}
		return bytes.Compare(recs[i].Key, recs[j].Key) < 0
	})
}

// shareRecordsLocked is every record of g's share state by key (with only
// non-empty: the group's records and only that member's).
func (g *group) shareRecordsLocked(only string) map[string][]byte {
	out := map[string][]byte{}
	ss := g.share
	out[string(consumerGroupKey(recShareGroupMetadata, g.id))] = encodeShareGroupEpoch(ss.epoch, ss.metaHash)
	out[string(consumerGroupKey(recShareGroupTargetMetadata, g.id))] = encodeTargetEpoch(ss.targetEpoch, ss.targetTime)
	// Written once there is something to record, and from then on even
	// when empty (Kafka tombstones it only with the group).
	stateKey := string(consumerGroupKey(recShareGroupStatePartitionMetadata, g.id))
	if _, ok := ss.persisted[stateKey]; ok || len(ss.initializing)+len(ss.initialized)+len(ss.deleting) > 0 {
		out[stateKey] = encodeShareStateMetadata(ss)
	}
	for id, m := range ss.members {
		if only != "" && id != only {
			continue
		}
		out[string(consumerMemberKey(recShareGroupMemberMetadata, g.id, id))] = encodeShareMemberMetadata(m)
		out[string(consumerMemberKey(recShareGroupTargetMember, g.id, id))] = encodeTargetMember(ss.target[id])
		out[string(consumerMemberKey(recShareGroupCurrentAssignment, g.id, id))] = encodeShareCurrentAssignment(m)
	}
	return out
}

// shareDiffLocked returns the records that bring the log from what was
// persisted to g's current share state.
func (g *group) shareDiffLocked(only string) (recs []Record, want map[string][]byte) {
	ss := g.share
	want = g.shareRecordsLocked(only)
	for k, v := range want {
		if old, ok := ss.persisted[k]; !ok || !bytes.Equal(old, v) {
			recs = append(recs, Record{Key: []byte(k), Value: v})
		}
	}
	if only == "" {
		for k := range ss.persisted {
			if _, ok := want[k]; !ok {
				recs = append(recs, Record{Key: []byte(k)})
			}
		}
	}
	sortShareRecords(recs)
	return recs, want
}

// persistShareLocked appends what changed in g's share state and returns
// the offset to Sync (ok false: nothing written).
func (g *group) persistShareLocked(only string) (off int64, ok bool, err error) {
	ss := g.share
	if ss == nil {
		return 0, false, nil
	}
	if ss.allDirty {
		only = ""
	}
	recs, want := g.shareDiffLocked(only)
	if len(recs) == 0 {
		if only == "" {
			ss.allDirty = false
		}
		return 0, false, nil
	}
	if g.c.closed.Load() {
		return 0, false, ErrCoordinatorNotAvailable
	}
	off, err = g.c.log.Append(g.partition, recs)
	if err != nil {
		g.c.logger.Error("appending to __consumer_offsets failed", "group", g.id, "err", err)
		return 0, false, errors.Join(ErrStorage, err)
	}
	for _, r := range recs {
		if r.Value == nil {
			delete(ss.persisted, string(r.Key))
		}
	}
	for k, v := range want {
		ss.persisted[k] = v
	}
	if only == "" {
		ss.allDirty = false
	}
	return off, true, nil
}

// persistShareAsyncLocked appends what changed and syncs in the background.
func (g *group) persistShareAsyncLocked() {
	off, ok, err := g.persistShareLocked("")
	if err != nil || !ok {
		return
	}
	g.c.inflight.Add(1)
	go func() {
		defer g.c.inflight.Done()
		if err := g.c.log.Sync(g.partition, off); err != nil {
			g.c.logger.Error("syncing __consumer_offsets failed", "group", g.id, "err", err)
		}
	}()
}

// shareTombstonesLocked tombstones every share record g has written.
func (g *group) shareTombstonesLocked() []Record {
	var recs []Record
	for k := range g.share.persisted {
		recs = append(recs, Record{Key: []byte(k)})
	}
	sortShareRecords(recs)
	return recs
}

// loadedShare accumulates a share group's records during replay.
type loadedShare struct {
	values map[string][]byte
}

func (ls *loadedShare) apply(key, value []byte) {
	if value == nil {
		delete(ls.values, string(key))
		return
	}
	ls.values[string(key)] = append([]byte(nil), value...)
}

// installShareLocked rebuilds g's share state from replayed records (g.mu
// held). It reports whether the group is a share group.
func (g *group) installShareLocked(ls *loadedShare) bool {
	epochVal, ok := ls.values[string(consumerGroupKey(recShareGroupMetadata, g.id))]
	if !ok {
		return false
	}
	ss := newShareState()
	var err error
	if ss.epoch, ss.metaHash, err = decodeShareGroupEpoch(epochVal); err != nil {
		g.c.logger.Warn("skipping malformed share group epoch record", "group", g.id)
		return false
	}
	if v, ok := ls.values[string(consumerGroupKey(recShareGroupTargetMetadata, g.id))]; ok {
		if ss.targetEpoch, ss.targetTime, err = decodeTargetEpoch(v); err != nil {
			ss.targetEpoch = 0
		}
	}
	if v, ok := ls.values[string(consumerGroupKey(recShareGroupStatePartitionMetadata, g.id))]; ok {
		if decodeShareStateMetadata(v, ss, g.c.clock.Now().UnixMilli()) != nil {
			g.c.logger.Warn("skipping malformed share group state metadata record", "group", g.id)
		}
	}
	for k, v := range ls.values {
		ss.persisted[k] = v
		typ, _, mid, err := parseShareKey([]byte(k))
		if err != nil {
			continue
		}
		switch typ {
		case recShareGroupMemberMetadata:
			m := ss.members[mid]
			if m == nil {
				m = &shareMember{id: mid, assigned: Assignment{}, prevEpoch: -1}
				ss.members[mid] = m
			}
			if decodeShareMemberMetadata(v, m) != nil {
				delete(ss.members, mid)
			}
		case recShareGroupTargetMember:
			if a, err := decodeTargetMember(v); err == nil {
				ss.target[mid] = a
			}
		}
	}
	for k, v := range ls.values {
		typ, _, mid, err := parseShareKey([]byte(k))
		if err != nil || typ != recShareGroupCurrentAssignment {
			continue
		}
		if m := ss.members[mid]; m != nil {
			if decodeShareCurrentAssignment(v, m) != nil {
				m.epoch, m.prevEpoch, m.assigned = 0, -1, Assignment{}
			}
		}
	}
	for id := range ss.target {
		if ss.members[id] == nil {
			delete(ss.target, id)
		}
	}
	g.share = ss
	g.protocolType = "share"
	settings := g.c.settings(g.id)
	for _, m := range ss.members {
		g.c.metrics.memberDelta(1)
		// Every member must heartbeat within its session timeout, as
		// after Kafka's coordinator failover.
		g.shareSessionLocked(m, settings.ShareSessionTimeout)
	}
	return true
}
