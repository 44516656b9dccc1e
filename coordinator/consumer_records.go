package coordinator

// KIP-848 consumer group records of __consumer_offsets (record types 3–8,
// Kafka's ConsumerGroup*Key/Value schemas; FORMAT.md). kmsg has no types
// for them, so they are encoded here with kbin.
//
// Persistence is by difference: each consumer group remembers the value
// bytes it last appended under each of its keys (group.persisted). After
// every change, persistConsumerLocked encodes the group's current records,
// appends those whose bytes differ and tombstones the keys that are gone.
// The map is updated only when the append succeeded, so a failed append is
// retried by the next change. A heartbeat changes only its own member's
// records and the group's, unless it recomputed the target or removed or
// replaced members (consumerState.allDirty): then every member's records
// are compared, so a keepalive costs O(1) records, not O(members).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
)

// Record types (the int16 that starts every key).
const (
	recConsumerGroupMetadata          = 3 // group epoch (+ metadata hash)
	recConsumerGroupPartitionMetadata = 4 // not written since Kafka 4.1 (KIP-1101); skipped
	recConsumerGroupMemberMetadata    = 5 // a member's subscription
	recConsumerGroupTargetMetadata    = 6 // target assignment epoch
	recConsumerGroupTargetMember      = 7 // a member's target assignment
	recConsumerGroupCurrentAssignment = 8 // a member's epochs, state and partitions
	recConsumerGroupRegex             = 16
)

var errBadConsumerRecord = errors.New("coordinator: malformed consumer group record")

func consumerGroupKey(typ int16, group string) []byte {
	b := kbin.AppendInt16(nil, typ)
	return kbin.AppendString(b, group)
}

func consumerMemberKey(typ int16, group, member string) []byte {
	b := consumerGroupKey(typ, group)
	return kbin.AppendString(b, member)
}

// parseConsumerKey reads a key of type 3–8: the group and, for member
// records, the member id.
func parseConsumerKey(key []byte) (typ int16, group, member string, err error) {
	r := kbin.Reader{Src: key}
	typ = r.Int16()
	group = r.String()
	switch typ {
	case recConsumerGroupMemberMetadata, recConsumerGroupTargetMember, recConsumerGroupCurrentAssignment:
		member = r.String()
	}
	if r.Complete() != nil {
		return 0, "", "", errBadConsumerRecord
	}
	return typ, group, member, nil
}

// appendTags writes tagged fields (tag → value bytes), in tag order.
func appendTags(b []byte, tags map[uint32][]byte) []byte {
	keys := make([]uint32, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	b = kbin.AppendUvarint(b, uint32(len(keys)))
	for _, k := range keys {
		b = kbin.AppendUvarint(b, k)
		b = kbin.AppendUvarint(b, uint32(len(tags[k])))
		b = append(b, tags[k]...)
	}
	return b
}

// readTags reads tagged fields, returning tag → value bytes.
func readTags(r *kbin.Reader) map[uint32][]byte {
	n := r.Uvarint()
	var out map[uint32][]byte
	for i := uint32(0); i < n && r.Ok(); i++ {
		tag := r.Uvarint()
		size := r.Uvarint()
		v := r.Span(int(size))
		if out == nil {
			out = map[uint32][]byte{}
		}
		out[tag] = v
	}
	return out
}

func appendAssignment(b []byte, a Assignment) []byte {
	ids := make([][16]byte, 0, len(a))
	for id, ps := range a {
		if len(ps) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	b = kbin.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		ps := append([]int32(nil), a[id]...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		b = kbin.AppendUuid(b, id)
		b = kbin.AppendCompactArrayLen(b, len(ps))
		for _, p := range ps {
			b = kbin.AppendInt32(b, p)
		}
		b = kbin.AppendUvarint(b, 0) // no tagged fields
	}
	return b
}

func readAssignment(r *kbin.Reader) Assignment {
	out := Assignment{}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		id := r.Uuid()
		np := r.CompactArrayLen()
		var ps []int32
		for j := int32(0); j < np && r.Ok(); j++ {
			ps = append(ps, r.Int32())
		}
		readTags(r)
		if len(ps) > 0 {
			out[id] = append(out[id], ps...)
		}
	}
	return out
}

// ConsumerGroupMetadataValue v0: epoch, tag 0 = metadata hash (int64).
func encodeGroupEpoch(epoch int32, hash int64) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, epoch)
	var tags map[uint32][]byte
	if hash != 0 {
		tags = map[uint32][]byte{0: kbin.AppendInt64(nil, hash)}
	}
	return appendTags(b, tags)
}

func decodeGroupEpoch(v []byte) (epoch int32, hash int64, err error) {
	r := kbin.Reader{Src: v}
	r.Int16()
	epoch = r.Int32()
	if h := readTags(&r)[0]; len(h) == 8 {
		hash = int64(binary.BigEndian.Uint64(h))
	}
	if !r.Ok() {
		return 0, 0, errBadConsumerRecord
	}
	return epoch, hash, nil
}

// ConsumerGroupTargetAssignmentMetadataValue v0: assignment epoch, tag 0 =
// assignment timestamp (ms).
func encodeTargetEpoch(epoch int32, ts int64) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, epoch)
	var tags map[uint32][]byte
	if ts != 0 {
		tags = map[uint32][]byte{0: kbin.AppendInt64(nil, ts)}
	}
	return appendTags(b, tags)
}

func decodeTargetEpoch(v []byte) (epoch int32, ts int64, err error) {
	return decodeGroupEpoch(v) // same layout
}

// ConsumerGroupMemberMetadataValue v0.
func encodeMemberMetadata(m *consumerMember) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendCompactNullableString(b, m.instanceID)
	b = kbin.AppendCompactNullableString(b, m.rackID)
	b = kbin.AppendCompactString(b, m.clientID)
	b = kbin.AppendCompactString(b, m.clientHost)
	b = kbin.AppendCompactArrayLen(b, len(m.topics))
	for _, t := range m.topics {
		b = kbin.AppendCompactString(b, t)
	}
	var re *string
	if m.regex != "" {
		re = &m.regex
	}
	b = kbin.AppendCompactNullableString(b, re)
	b = kbin.AppendInt32(b, int32(m.rebalanceTimeout.Milliseconds()))
	var assignor *string
	if m.assignor != "" {
		assignor = &m.assignor
	}
	b = kbin.AppendCompactNullableString(b, assignor)
	var tags map[uint32][]byte
	if m.classic != nil {
		tags = map[uint32][]byte{0: encodeClassicMeta(m.classic)}
	}
	return appendTags(b, tags)
}

func decodeMemberMetadata(v []byte, m *consumerMember) error {
	r := kbin.Reader{Src: v}
	r.Int16()
	m.instanceID = r.CompactNullableString()
	m.rackID = r.CompactNullableString()
	m.clientID = r.CompactString()
	m.clientHost = r.CompactString()
	n := r.CompactArrayLen()
	m.topics = nil
	for i := int32(0); i < n && r.Ok(); i++ {
		m.topics = append(m.topics, r.CompactString())
	}
	sort.Strings(m.topics)
	m.regex = ""
	if re := r.CompactNullableString(); re != nil {
		m.regex = *re
	}
	if ms := r.Int32(); ms > 0 {
		m.rebalanceTimeout = time.Duration(ms) * time.Millisecond
	}
	m.assignor = "uniform"
	if a := r.CompactNullableString(); a != nil {
		m.assignor = *a
	}
	m.classic = nil
	if cm := readTags(&r)[0]; cm != nil {
		m.classic = decodeClassicMeta(cm)
	}
	if !r.Ok() {
		return errBadConsumerRecord
	}
	return nil
}

// ConsumerGroupTargetAssignmentMemberValue v0.
func encodeTargetMember(a Assignment) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = appendAssignment(b, a)
	return appendTags(b, nil)
}

func decodeTargetMember(v []byte) (Assignment, error) {
	r := kbin.Reader{Src: v}
	r.Int16()
	a := readAssignment(&r)
	readTags(&r)
	if !r.Ok() {
		return nil, errBadConsumerRecord
	}
	return a, nil
}

// Kafka's MemberState values.
var memberStateValues = map[memberState]int8{cmStable: 0, cmUnrevoked: 1, cmUnreleased: 2}

// ConsumerGroupCurrentMemberAssignmentValue v0.
func encodeCurrentAssignment(m *consumerMember) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, m.epoch)
	b = kbin.AppendInt32(b, m.prevEpoch)
	b = kbin.AppendInt8(b, memberStateValues[m.state])
	b = appendAssignment(b, m.assigned)
	b = appendAssignment(b, m.revoking)
	return appendTags(b, nil)
}

func decodeCurrentAssignment(v []byte, m *consumerMember) error {
	r := kbin.Reader{Src: v}
	r.Int16()
	m.epoch = r.Int32()
	m.prevEpoch = r.Int32()
	st := r.Int8()
	m.state = cmStable
	for s, b := range memberStateValues {
		if b == st {
			m.state = s
		}
	}
	m.assigned = readAssignment(&r)
	m.revoking = readAssignment(&r)
	readTags(&r)
	if !r.Ok() {
		return errBadConsumerRecord
	}
	return nil
}

// hashMetadata turns the subscription metadata fingerprint into the int64
// stored as ConsumerGroupMetadataValue.MetadataHash (0: no topics).
func hashMetadata(s string) int64 {
	if s == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}

// consumerRecordRank orders a batch: upserts as Kafka writes them
// (subscription, group epoch, target, target epoch, current assignment),
// tombstones in reverse (member records, then the group's).
func consumerRecordRank(key []byte, tombstone bool) int {
	typ := int16(binary.BigEndian.Uint16(key))
	up := map[int16]int{5: 0, 3: 1, 7: 2, 6: 3, 8: 4}
	down := map[int16]int{8: 5, 7: 6, 5: 7, 6: 8, 3: 9}
	if tombstone {
		return down[typ]
	}
	return up[typ]
}

// consumerRecordsLocked is every record of g's consumer state, by key
// (with only non-empty: the group's records and only that member's).
func (g *group) consumerRecordsLocked(only string) map[string][]byte {
	out := map[string][]byte{}
	cs := g.consumer
	if cs == nil {
		return out
	}
	out[string(consumerGroupKey(recConsumerGroupMetadata, g.id))] = encodeGroupEpoch(cs.epoch, cs.metaHash)
	out[string(consumerGroupKey(recConsumerGroupTargetMetadata, g.id))] = encodeTargetEpoch(cs.targetEpoch, cs.targetTime)
	for id, m := range cs.members {
		if only != "" && id != only {
			continue
		}
		out[string(consumerMemberKey(recConsumerGroupMemberMetadata, g.id, id))] = encodeMemberMetadata(m)
		out[string(consumerMemberKey(recConsumerGroupTargetMember, g.id, id))] = encodeTargetMember(cs.target[id])
		out[string(consumerMemberKey(recConsumerGroupCurrentAssignment, g.id, id))] = encodeCurrentAssignment(m)
	}
	return out
}

// consumerDiffLocked returns the records that bring the log from
// g.persisted to the group's current consumer state (only non-empty: for
// the group's records and that member's; no tombstones).
func (g *group) consumerDiffLocked(only string) (recs []Record, want map[string][]byte) {
	want = g.consumerRecordsLocked(only)
	for k, v := range want {
		if old, ok := g.persisted[k]; !ok || !bytes.Equal(old, v) {
			recs = append(recs, Record{Key: []byte(k), Value: v})
		}
	}
	if only == "" {
		for k := range g.persisted {
			if _, ok := want[k]; !ok {
				recs = append(recs, Record{Key: []byte(k)})
			}
		}
	}
	sort.Slice(recs, func(i, j int) bool {
		ri, rj := consumerRecordRank(recs[i].Key, recs[i].Value == nil), consumerRecordRank(recs[j].Key, recs[j].Value == nil)
		if ri != rj {
			return ri < rj
		}
		return bytes.Compare(recs[i].Key, recs[j].Key) < 0
	})
	return recs, want
}

// persistConsumerLocked appends what changed in g's consumer state; only
// names the one member whose records may have changed, unless the group is
// allDirty ("": compare every member). It returns the offset to Sync for
// durability (ok false: nothing written).
func (g *group) persistConsumerLocked(only string) (off int64, ok bool, err error) {
	if g.consumer == nil || g.consumer.allDirty {
		only = ""
	}
	recs, want := g.consumerDiffLocked(only)
	if len(g.unwritten) > 0 {
		recs = append(slices.Clone(g.unwritten), recs...)
	}
	if len(recs) == 0 {
		if only == "" && g.consumer != nil {
			g.consumer.allDirty = false
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
	g.unwritten = nil
	if only == "" {
		g.persisted = want
		if g.consumer != nil {
			g.consumer.allDirty = false
		}
	} else {
		if g.persisted == nil {
			g.persisted = map[string][]byte{}
		}
		for k, v := range want {
			g.persisted[k] = v
		}
	}
	return off, true, nil
}

// persistConsumerAsyncLocked appends what changed and syncs in the
// background (timer-driven changes: nobody waits for them).
func (g *group) persistConsumerAsyncLocked() {
	off, ok, err := g.persistConsumerLocked("")
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

// consumerTombstonesLocked tombstones every consumer record g has written
// (the group is deleted or becomes classic).
func (g *group) consumerTombstonesLocked() []Record {
	var recs []Record
	for k := range g.persisted {
		recs = append(recs, Record{Key: []byte(k)})
	}
	sort.Slice(recs, func(i, j int) bool {
		ri, rj := consumerRecordRank(recs[i].Key, true), consumerRecordRank(recs[j].Key, true)
		if ri != rj {
			return ri < rj
		}
		return bytes.Compare(recs[i].Key, recs[j].Key) < 0
	})
	return recs
}

// loadedConsumer accumulates a consumer group's records during replay:
// the last value of each key (tombstones delete).
type loadedConsumer struct {
	values map[string][]byte
}

func (lc *loadedConsumer) apply(key, value []byte) {
	if value == nil {
		delete(lc.values, string(key))
		return
	}
	lc.values[string(key)] = append([]byte(nil), value...)
}

// installConsumerLocked rebuilds g's consumer state from replayed records
// (g.mu held). It reports whether the group is a consumer group.
func (g *group) installConsumerLocked(lc *loadedConsumer) bool {
	epochVal, ok := lc.values[string(consumerGroupKey(recConsumerGroupMetadata, g.id))]
	if !ok {
		return false
	}
	cs := &consumerState{members: map[string]*consumerMember{}, target: map[string]Assignment{}, allDirty: true}
	var err error
	if cs.epoch, cs.metaHash, err = decodeGroupEpoch(epochVal); err != nil {
		g.c.logger.Warn("skipping malformed consumer group epoch record", "group", g.id)
		return false
	}
	if v, ok := lc.values[string(consumerGroupKey(recConsumerGroupTargetMetadata, g.id))]; ok {
		if cs.targetEpoch, cs.targetTime, err = decodeTargetEpoch(v); err != nil {
			cs.targetEpoch = 0
		}
	}
	persisted := map[string][]byte{}
	for k, v := range lc.values {
		persisted[k] = v
		typ, _, mid, err := parseConsumerKey([]byte(k))
		if err != nil {
			continue
		}
		switch typ {
		case recConsumerGroupMemberMetadata:
			m := cs.members[mid]
			if m == nil {
				m = newLoadedMember(mid)
				cs.members[mid] = m
			}
			if decodeMemberMetadata(v, m) != nil {
				delete(cs.members, mid)
			}
		case recConsumerGroupTargetMember:
			if a, err := decodeTargetMember(v); err == nil {
				cs.target[mid] = a
			}
		}
	}
	for k, v := range lc.values {
		typ, _, mid, err := parseConsumerKey([]byte(k))
		if err != nil || typ != recConsumerGroupCurrentAssignment {
			continue
		}
		if m := cs.members[mid]; m != nil {
			if decodeCurrentAssignment(v, m) != nil {
				m.epoch, m.prevEpoch, m.state, m.assigned, m.revoking = 0, 0, cmStable, Assignment{}, Assignment{}
			}
		}
	}
	for id := range cs.target {
		if cs.members[id] == nil {
			delete(cs.target, id)
		}
	}
	g.consumer = cs
	g.protocolType = "consumer"
	g.persisted = persisted
	if len(cs.members) == 0 {
		g.stateSince = time.UnixMilli(cs.targetTime)
	}
	for _, m := range cs.members {
		g.c.metrics.memberDelta(1)
		// Every member must heartbeat within its session timeout, as after
		// Kafka's coordinator failover; one that was revoking gets its
		// rebalance timeout again.
		g.consumerSessionLocked(m)
		if m.state == cmUnrevoked {
			g.armRevokeTimerLocked(m)
		}
	}
	return true
}

func newLoadedMember(id string) *consumerMember {
	return &consumerMember{id: id, assigned: Assignment{}, revoking: Assignment{}, assignor: "uniform",
		rebalanceTimeout: 5 * time.Minute}
}
