package coordinator

// KIP-1071 streams group records of __consumer_offsets (record types 17,
// 19–23, Kafka's StreamsGroup*Key/Value schemas; FORMAT.md), encoded with
// kbin as the consumer group records are (consumer_records.go), and
// persisted the same way: by difference against group.persisted, only the
// heartbeating member's records unless streamsState.allDirty.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
)

// Record types of streams groups.
const (
	recStreamsGroupMetadata          = 17 // group epoch, metadata hash, validated topology epoch
	recStreamsGroupPartitionMetadata = 18 // Kafka 4.0's; not written, skipped on load
	recStreamsGroupMemberMetadata    = 19 // a member's process, endpoint, client tags
	recStreamsGroupTargetMetadata    = 20 // target assignment epoch
	recStreamsGroupTargetMember      = 21 // a member's target tasks
	recStreamsGroupCurrentAssignment = 22 // a member's epochs, state and tasks
	recStreamsGroupTopology          = 23 // the topology
)

var errBadStreamsRecord = errors.New("coordinator: malformed streams group record")

func isStreamsRecordType(typ int16) bool {
	return typ >= recStreamsGroupMetadata && typ <= recStreamsGroupTopology
}

// parseStreamsKey reads a key of type 17–23.
func parseStreamsKey(key []byte) (typ int16, group, member string, err error) {
	r := kbin.Reader{Src: key}
	typ = r.Int16()
	group = r.String()
	switch typ {
	case recStreamsGroupMemberMetadata, recStreamsGroupTargetMember, recStreamsGroupCurrentAssignment:
		member = r.String()
	}
	if r.Complete() != nil || !isStreamsRecordType(typ) {
		return 0, "", "", errBadStreamsRecord
	}
	return typ, group, member, nil
}

func appendKeyValues(b []byte, kv map[string]string) []byte {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = kbin.AppendCompactArrayLen(b, len(keys))
	for _, k := range keys {
		b = kbin.AppendCompactString(b, k)
		b = kbin.AppendCompactString(b, kv[k])
		b = kbin.AppendUvarint(b, 0)
	}
	return b
}

func readKeyValues(r *kbin.Reader) map[string]string {
	out := map[string]string{}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		k := r.CompactString()
		out[k] = r.CompactString()
		readTags(r)
	}
	return out
}

func appendStrings(b []byte, s []string) []byte {
	b = kbin.AppendCompactArrayLen(b, len(s))
	for _, v := range s {
		b = kbin.AppendCompactString(b, v)
	}
	return b
}

func readStrings(r *kbin.Reader) []string {
	n := r.CompactArrayLen()
	var out []string
	for i := int32(0); i < n && r.Ok(); i++ {
		out = append(out, r.CompactString())
	}
	return out
}

func appendInt32s(b []byte, s []int32) []byte {
	b = kbin.AppendCompactArrayLen(b, len(s))
	for _, v := range s {
		b = kbin.AppendInt32(b, v)
	}
	return b
}

func readInt32s(r *kbin.Reader) []int32 {
	n := r.CompactArrayLen()
	var out []int32
	for i := int32(0); i < n && r.Ok(); i++ {
		out = append(out, r.Int32())
	}
	return out
}

func appendInt16s(b []byte, s []int16) []byte {
	b = kbin.AppendCompactArrayLen(b, len(s))
	for _, v := range s {
		b = kbin.AppendInt16(b, v)
	}
	return b
}

func readInt16s(r *kbin.Reader) []int16 {
	n := r.CompactArrayLen()
	var out []int16
	for i := int32(0); i < n && r.Ok(); i++ {
		out = append(out, r.Int16())
	}
	return out
}

// appendTasks writes []TaskIds sorted by subtopology id.
func appendTasks(b []byte, t Tasks) []byte {
	subs := make([]string, 0, len(t))
	for st, ps := range t {
		if len(ps) > 0 {
			subs = append(subs, st)
		}
	}
	sort.Strings(subs)
	b = kbin.AppendCompactArrayLen(b, len(subs))
	for _, st := range subs {
		ps := slices.Clone(t[st])
		slices.Sort(ps)
		b = kbin.AppendCompactString(b, st)
		b = appendInt32s(b, ps)
		b = kbin.AppendUvarint(b, 0)
	}
	return b
}

func readTasks(r *kbin.Reader) Tasks {
	out := Tasks{}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		st := r.CompactString()
		ps := readInt32s(r)
		readTags(r)
		if len(ps) > 0 {
			out[st] = append(out[st], ps...)
		}
	}
	return out
}

// StreamsGroupMetadataValue v0: Epoch, MetadataHash; tag 0 =
// ValidatedTopologyEpoch (default -1), tag 1 = LastAssignmentConfigs
// (KeyValue array); tags 2 and 3 (the stored and failed topology
// description epochs of KIP-1331) are not written.
func encodeStreamsMetadata(ss *streamsState) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, ss.epoch)
	b = kbin.AppendInt64(b, ss.metaHash)
	tags := map[uint32][]byte{1: appendKeyValues(nil, map[string]string{"num.standby.replicas": itoa(ss.numStandby)})}
	if ss.validatedTopologyEpoch != -1 {
		tags[0] = kbin.AppendInt32(nil, ss.validatedTopologyEpoch)
	}
	return appendTags(b, tags)
}

func decodeStreamsMetadata(v []byte, ss *streamsState) error {
	r := kbin.Reader{Src: v}
	r.Int16()
	ss.epoch = r.Int32()
	ss.metaHash = r.Int64()
	tags := readTags(&r)
	ss.numStandby = 0
	if raw := tags[1]; raw != nil {
		cr := kbin.Reader{Src: raw}
		if n, ok := readKeyValues(&cr)["num.standby.replicas"]; ok {
			ss.numStandby = int32(atoiOr(n, 0))
		}
	}
	ss.validatedTopologyEpoch = -1
	if t := tags[0]; len(t) == 4 {
		ss.validatedTopologyEpoch = int32(binary.BigEndian.Uint32(t))
	}
	if !r.Ok() {
		return errBadStreamsRecord
	}
	return nil
}

func atoiOr(s string, def int) int {
	n := 0
	if s == "" {
		return def
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func appendTopicInfos(b []byte, ts []StreamsTopicInfo) []byte {
	b = kbin.AppendCompactArrayLen(b, len(ts))
	for _, t := range ts {
		b = kbin.AppendCompactString(b, t.Name)
		b = kbin.AppendInt32(b, t.Partitions)
		b = kbin.AppendInt16(b, t.ReplicationFactor)
		b = appendKeyValues(b, t.Configs)
		b = kbin.AppendUvarint(b, 0)
	}
	return b
}

func readTopicInfos(r *kbin.Reader) []StreamsTopicInfo {
	n := r.CompactArrayLen()
	var out []StreamsTopicInfo
	for i := int32(0); i < n && r.Ok(); i++ {
		t := StreamsTopicInfo{Name: r.CompactString(), Partitions: r.Int32(), ReplicationFactor: r.Int16()}
		t.Configs = readKeyValues(r)
		readTags(r)
		out = append(out, t)
	}
	return out
}

// StreamsGroupTopologyValue v0.
func encodeStreamsTopology(t *StreamsTopology) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, t.Epoch)
	b = kbin.AppendCompactArrayLen(b, len(t.Subtopologies))
	for _, st := range t.Subtopologies {
		b = kbin.AppendCompactString(b, st.ID)
		b = appendStrings(b, st.SourceTopics)
		b = appendStrings(b, st.SourceTopicRegex)
		b = appendTopicInfos(b, st.StateChangelogTopics)
		b = appendStrings(b, st.RepartitionSinkTopics)
		b = appendTopicInfos(b, st.RepartitionSourceTopics)
		b = kbin.AppendCompactArrayLen(b, len(st.CopartitionGroups))
		for _, cg := range st.CopartitionGroups {
			b = appendInt16s(b, cg.SourceTopics)
			b = appendInt16s(b, cg.SourceTopicRegex)
			b = appendInt16s(b, cg.RepartitionSourceTopics)
			b = kbin.AppendUvarint(b, 0)
		}
		b = kbin.AppendUvarint(b, 0)
	}
	return appendTags(b, nil)
}

func decodeStreamsTopology(v []byte) (*StreamsTopology, error) {
	r := kbin.Reader{Src: v}
	r.Int16()
	t := &StreamsTopology{Epoch: r.Int32()}
	n := r.CompactArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		st := StreamsSubtopology{ID: r.CompactString()}
		st.SourceTopics = readStrings(&r)
		st.SourceTopicRegex = readStrings(&r)
		st.StateChangelogTopics = readTopicInfos(&r)
		st.RepartitionSinkTopics = readStrings(&r)
		st.RepartitionSourceTopics = readTopicInfos(&r)
		ng := r.CompactArrayLen()
		for j := int32(0); j < ng && r.Ok(); j++ {
			cg := StreamsCopartitionGroup{SourceTopics: readInt16s(&r), SourceTopicRegex: readInt16s(&r), RepartitionSourceTopics: readInt16s(&r)}
			readTags(&r)
			st.CopartitionGroups = append(st.CopartitionGroups, cg)
		}
		readTags(&r)
		t.Subtopologies = append(t.Subtopologies, st)
	}
	readTags(&r)
	if !r.Ok() {
		return nil, errBadStreamsRecord
	}
	return t, nil
}

// StreamsGroupMemberMetadataValue v0.
func encodeStreamsMember(m *streamsMember) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendCompactNullableString(b, m.instanceID)
	b = kbin.AppendCompactNullableString(b, m.rackID)
	b = kbin.AppendCompactString(b, m.clientID)
	b = kbin.AppendCompactString(b, m.clientHost)
	b = kbin.AppendInt32(b, int32(m.rebalanceTimeout.Milliseconds()))
	b = kbin.AppendInt32(b, m.topologyEpoch)
	b = kbin.AppendCompactString(b, m.processID)
	if m.endpoint == nil {
		b = kbin.AppendInt8(b, -1)
	} else {
		b = kbin.AppendInt8(b, 1)
		b = kbin.AppendCompactString(b, m.endpoint.Host)
		b = kbin.AppendUint16(b, m.endpoint.Port)
		b = kbin.AppendUvarint(b, 0)
	}
	b = appendKeyValues(b, m.clientTags)
	return appendTags(b, nil)
}

func decodeStreamsMember(v []byte, m *streamsMember) error {
	r := kbin.Reader{Src: v}
	r.Int16()
	m.instanceID = r.CompactNullableString()
	m.rackID = r.CompactNullableString()
	m.clientID = r.CompactString()
	m.clientHost = r.CompactString()
	if ms := r.Int32(); ms > 0 {
		m.rebalanceTimeout = time.Duration(ms) * time.Millisecond
	}
	m.topologyEpoch = r.Int32()
	m.processID = r.CompactString()
	m.endpoint = nil
	if r.Int8() >= 0 {
		m.endpoint = &StreamsEndpoint{Host: r.CompactString(), Port: r.Uint16()}
		readTags(&r)
	}
	m.clientTags = readKeyValues(&r)
	readTags(&r)
	if !r.Ok() {
		return errBadStreamsRecord
	}
	return nil
}

// StreamsGroupTargetAssignmentMemberValue v0.
func encodeStreamsTarget(t streamsTasks) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = appendTasks(b, t.active)
	b = appendTasks(b, t.standby)
	b = appendTasks(b, t.warmup)
	return appendTags(b, nil)
}

func decodeStreamsTarget(v []byte) (streamsTasks, error) {
	r := kbin.Reader{Src: v}
	r.Int16()
	t := streamsTasks{active: readTasks(&r), standby: readTasks(&r), warmup: readTasks(&r)}
	readTags(&r)
	if !r.Ok() {
		return newStreamsTasks(), errBadStreamsRecord
	}
	return t, nil
}

// StreamsGroupCurrentMemberAssignmentValue v0.
func encodeStreamsCurrent(m *streamsMember) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, m.epoch)
	b = kbin.AppendInt32(b, m.prevEpoch)
	b = kbin.AppendInt8(b, memberStateValues[m.state])
	b = appendTasks(b, m.assigned.active)
	b = appendTasks(b, m.assigned.standby)
	b = appendTasks(b, m.assigned.warmup)
	b = appendTasks(b, m.revoking.active)
	b = appendTasks(b, m.revoking.standby)
	b = appendTasks(b, m.revoking.warmup)
	return appendTags(b, nil)
}

func decodeStreamsCurrent(v []byte, m *streamsMember) error {
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
	m.assigned = streamsTasks{active: readTasks(&r), standby: readTasks(&r), warmup: readTasks(&r)}
	m.revoking = streamsTasks{active: readTasks(&r), standby: readTasks(&r), warmup: readTasks(&r)}
	readTags(&r)
	if !r.Ok() {
		return errBadStreamsRecord
	}
	return nil
}

// streamsRecordRank orders a batch as Kafka writes it: member metadata,
// topology, group epoch, target members, target epoch, current
// assignments; tombstones: current assignments, target members, member
// metadata, then the group's records.
func streamsRecordRank(key []byte, tombstone bool) int {
	typ := int16(binary.BigEndian.Uint16(key))
	if tombstone {
		return map[int16]int{22: 6, 21: 7, 19: 8, 20: 9, 23: 10, 17: 11}[typ]
	}
	return map[int16]int{19: 0, 23: 1, 17: 2, 21: 3, 20: 4, 22: 5}[typ]
}

// streamsRecordsLocked is every record of g's streams state, by key (with
// only non-empty: the group's records and that member's).
func (g *group) streamsRecordsLocked(only string) map[string][]byte {
	out := map[string][]byte{}
	ss := g.streams
	if ss == nil {
		return out
	}
	out[string(consumerGroupKey(recStreamsGroupMetadata, g.id))] = encodeStreamsMetadata(ss)
	out[string(consumerGroupKey(recStreamsGroupTargetMetadata, g.id))] = encodeTargetEpoch(ss.targetEpoch, ss.targetTime)
	if ss.topology != nil {
		out[string(consumerGroupKey(recStreamsGroupTopology, g.id))] = encodeStreamsTopology(ss.topology)
	}
	for id, m := range ss.members {
		if only != "" && id != only {
			continue
		}
		t, ok := ss.target[id]
		if !ok {
			t = newStreamsTasks()
		}
		out[string(consumerMemberKey(recStreamsGroupMemberMetadata, g.id, id))] = encodeStreamsMember(m)
		out[string(consumerMemberKey(recStreamsGroupTargetMember, g.id, id))] = encodeStreamsTarget(t)
		out[string(consumerMemberKey(recStreamsGroupCurrentAssignment, g.id, id))] = encodeStreamsCurrent(m)
	}
	return out
}

// persistStreamsLocked appends what changed in g's streams state (see
// persistConsumerLocked); it returns the offset to Sync.
func (g *group) persistStreamsLocked(only string) (off int64, ok bool, err error) {
	if g.streams == nil || g.streams.allDirty {
		only = ""
	}
	recs, want := g.streamsDiffLocked(only)
	if len(g.unwritten) > 0 {
		recs = append(slices.Clone(g.unwritten), recs...)
	}
	if len(recs) == 0 {
		if only == "" && g.streams != nil {
			g.streams.allDirty = false
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
		if g.streams != nil {
			g.streams.allDirty = false
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

// streamsDiffLocked returns the records that bring the log from
// g.persisted to the group's streams state (only non-empty: the group's
// records and that member's; no tombstones), in Kafka's order.
func (g *group) streamsDiffLocked(only string) (recs []Record, want map[string][]byte) {
	want = g.streamsRecordsLocked(only)
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
		ri, rj := streamsRecordRank(recs[i].Key, recs[i].Value == nil), streamsRecordRank(recs[j].Key, recs[j].Value == nil)
		if ri != rj {
			return ri < rj
		}
		return bytes.Compare(recs[i].Key, recs[j].Key) < 0
	})
	return recs, want
}

// persistStreamsAsyncLocked appends what changed and syncs in the
// background (timer-driven changes).
func (g *group) persistStreamsAsyncLocked() {
	off, ok, err := g.persistStreamsLocked("")
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

// installStreamsLocked rebuilds g's streams state from replayed records
// (g.mu held). It reports whether the group is a streams group.
func (g *group) installStreamsLocked(lc *loadedConsumer) bool {
	v, ok := lc.values[string(consumerGroupKey(recStreamsGroupMetadata, g.id))]
	if !ok {
		return false
	}
	ss := newStreamsState()
	if decodeStreamsMetadata(v, ss) != nil {
		g.c.logger.Warn("skipping malformed streams group metadata record", "group", g.id)
		return false
	}
	if v, ok := lc.values[string(consumerGroupKey(recStreamsGroupTargetMetadata, g.id))]; ok {
		ss.targetEpoch, ss.targetTime, _ = decodeTargetEpoch(v)
	}
	if v, ok := lc.values[string(consumerGroupKey(recStreamsGroupTopology, g.id))]; ok {
		if t, err := decodeStreamsTopology(v); err == nil {
			ss.topology = t
		}
	}
	persisted := map[string][]byte{}
	for k, v := range lc.values {
		persisted[k] = v
		typ, _, mid, err := parseStreamsKey([]byte(k))
		if err != nil {
			continue
		}
		switch typ {
		case recStreamsGroupMemberMetadata:
			m := &streamsMember{id: mid, assigned: newStreamsTasks(), revoking: newStreamsTasks(), rebalanceTimeout: 5 * time.Minute}
			if decodeStreamsMember(v, m) == nil {
				ss.members[mid] = m
			}
		case recStreamsGroupTargetMember:
			if t, err := decodeStreamsTarget(v); err == nil {
				ss.target[mid] = t
			}
		}
	}
	for k, v := range lc.values {
		typ, _, mid, err := parseStreamsKey([]byte(k))
		if err != nil || typ != recStreamsGroupCurrentAssignment {
			continue
		}
		if m := ss.members[mid]; m != nil && decodeStreamsCurrent(v, m) != nil {
			m.epoch, m.prevEpoch, m.state, m.assigned, m.revoking = 0, 0, cmStable, newStreamsTasks(), newStreamsTasks()
		}
	}
	for id := range ss.target {
		if ss.members[id] == nil {
			delete(ss.target, id)
		}
	}
	g.streams = ss
	g.protocolType = "streams"
	g.persisted = persisted
	for _, m := range ss.members {
		g.c.metrics.memberDelta(1)
		// Members carry on with their epochs; each must heartbeat within
		// its session timeout.
		g.streamsSessionLocked(m)
		if m.state == cmUnrevoked {
			g.armStreamsRevokeTimerLocked(m)
		}
	}
	return true
}
