// Package sharestate is Moldau's share coordinator logic (KIP-932): the
// records of the internal topic __share_group_state in Kafka's formats
// (ShareSnapshot and ShareUpdate, FORMAT.md), the merge of state batches
// (Kafka's PersisterStateBatchCombiner), and Shard, the in-memory state of
// one __share_group_state partition rebuilt by replaying its records.
//
// The package does no I/O: the broker appends the records Shard prepares
// to the partition, waits until they are durable (and, in a cluster,
// committed), then replays them into the Shard (broker/share_state.go).
package sharestate

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"

	"github.com/moldau/moldau/broker/share"
)

// Record types: the int16 that starts every key (Kafka's coordinator-key
// apiKey of ShareSnapshotKey and ShareUpdateKey).
const (
	RecordSnapshot int16 = 0
	RecordUpdate   int16 = 1
)

// ValueVersion is the version (the int16 that starts every value) of
// ShareSnapshotValue and ShareUpdateValue written and read.
const ValueVersion int16 = 0

// tagDeliveryCompleteCount is the tag of DeliveryCompleteCount in both
// values (KIP-1226, Kafka 4.2); omitted when -1, its default.
const tagDeliveryCompleteCount = 0

// ErrCorrupt: a record of __share_group_state could not be decoded.
var ErrCorrupt = errors.New("sharestate: malformed share state record")

// Snapshot is a ShareSnapshotValue: the whole state of a share-partition.
type Snapshot struct {
	SnapshotEpoch         int32
	StateEpoch            int32
	LeaderEpoch           int32
	StartOffset           int64
	DeliveryCompleteCount int32 // -1: unknown
	CreateTimestamp       int64
	WriteTimestamp        int64
	Batches               []share.StateBatch
}

// Update is a ShareUpdateValue: batches to merge into the latest snapshot.
type Update struct {
	SnapshotEpoch         int32
	LeaderEpoch           int32
	StartOffset           int64 // -1: unchanged
	DeliveryCompleteCount int32 // -1: unknown
	Batches               []share.StateBatch
}

// EncodeKey encodes a ShareSnapshotKey (typ RecordSnapshot) or
// ShareUpdateKey (RecordUpdate): type, group, topic id, partition.
func EncodeKey(typ int16, k share.Key) []byte {
	b := make([]byte, 0, 2+2+len(k.Group)+16+4)
	b = kbin.AppendInt16(b, typ)
	b = kbin.AppendString(b, k.Group)
	b = kbin.AppendUuid(b, k.TopicID)
	return kbin.AppendInt32(b, k.Partition)
}

// DecodeKey decodes a key of either type. Keys of other types (none are
// written to __share_group_state) fail with ErrCorrupt.
func DecodeKey(b []byte) (typ int16, k share.Key, err error) {
	r := kbin.Reader{Src: b}
	typ = r.Int16()
	k.Group = r.String()
	k.TopicID = r.Uuid()
	k.Partition = r.Int32()
	if !complete(&r) {
		return 0, share.Key{}, fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(b))
	}
	if typ != RecordSnapshot && typ != RecordUpdate {
		return 0, share.Key{}, fmt.Errorf("%w: record type %d", ErrCorrupt, typ)
	}
	return typ, k, nil
}

func appendBatches(b []byte, batches []share.StateBatch) []byte {
	b = kbin.AppendCompactArrayLen(b, len(batches))
	for _, sb := range batches {
		b = kbin.AppendInt64(b, sb.FirstOffset)
		b = kbin.AppendInt64(b, sb.LastOffset)
		b = kbin.AppendInt8(b, sb.DeliveryState)
		b = kbin.AppendInt16(b, sb.DeliveryCount)
		b = kbin.AppendUvarint(b, 0) // no tagged fields
	}
	return b
}

func appendDeliveryCompleteTag(b []byte, dcc int32) []byte {
	if dcc == -1 {
		return kbin.AppendUvarint(b, 0)
	}
	b = kbin.AppendUvarint(b, 1)
	b = kbin.AppendUvarint(b, tagDeliveryCompleteCount)
	b = kbin.AppendUvarint(b, 4)
	return kbin.AppendInt32(b, dcc)
}

// EncodeSnapshot encodes a ShareSnapshotValue v0.
func EncodeSnapshot(s Snapshot) []byte {
	b := make([]byte, 0, 2+44+1+len(s.Batches)*20+8)
	b = kbin.AppendInt16(b, ValueVersion)
	b = kbin.AppendInt32(b, s.SnapshotEpoch)
	b = kbin.AppendInt32(b, s.StateEpoch)
	b = kbin.AppendInt32(b, s.LeaderEpoch)
	b = kbin.AppendInt64(b, s.StartOffset)
	b = kbin.AppendInt64(b, s.CreateTimestamp)
	b = kbin.AppendInt64(b, s.WriteTimestamp)
	b = appendBatches(b, s.Batches)
	return appendDeliveryCompleteTag(b, s.DeliveryCompleteCount)
}

// EncodeUpdate encodes a ShareUpdateValue v0.
func EncodeUpdate(u Update) []byte {
	b := make([]byte, 0, 2+16+1+len(u.Batches)*20+8)
	b = kbin.AppendInt16(b, ValueVersion)
	b = kbin.AppendInt32(b, u.SnapshotEpoch)
	b = kbin.AppendInt32(b, u.LeaderEpoch)
	b = kbin.AppendInt64(b, u.StartOffset)
	b = appendBatches(b, u.Batches)
	return appendDeliveryCompleteTag(b, u.DeliveryCompleteCount)
}

func readBatches(r *kbin.Reader) []share.StateBatch {
	n := r.CompactArrayLen()
	if n < 0 || int(n) > len(r.Src)/20 {
		r.Span(len(r.Src) + 1) // not enough bytes for n batches: fail the reader
		return nil
	}
	out := make([]share.StateBatch, 0, n)
	for range n {
		var sb share.StateBatch
		sb.FirstOffset = r.Int64()
		sb.LastOffset = r.Int64()
		sb.DeliveryState = r.Int8()
		sb.DeliveryCount = r.Int16()
		skipTags(r, nil)
		out = append(out, sb)
	}
	return out
}

// skipTags reads a tagged-field section, passing each field to fn (if not
// nil); unknown tags are skipped, as Kafka's readers do.
func skipTags(r *kbin.Reader, fn func(tag uint32, data []byte)) {
	n := r.Uvarint()
	for range n {
		tag := r.Uvarint()
		size := r.Uvarint()
		data := r.Span(int(size))
		if fn != nil && r.Ok() {
			fn(tag, data)
		}
		if !r.Ok() {
			return
		}
	}
}

// complete reports whether r read its whole source without running out.
func complete(r *kbin.Reader) bool { return r.Complete() == nil && len(r.Src) == 0 }

func readDeliveryCompleteTag(r *kbin.Reader) int32 {
	dcc := int32(-1)
	skipTags(r, func(tag uint32, data []byte) {
		if tag == tagDeliveryCompleteCount {
			tr := kbin.Reader{Src: data}
			if v := tr.Int32(); tr.Complete() == nil {
				dcc = v
			}
		}
	})
	return dcc
}

// DecodeSnapshot decodes a ShareSnapshotValue v0.
func DecodeSnapshot(b []byte) (Snapshot, error) {
	r := kbin.Reader{Src: b}
	var s Snapshot
	if v := r.Int16(); v != ValueVersion {
		return Snapshot{}, fmt.Errorf("%w: snapshot value version %d", ErrCorrupt, v)
	}
	s.SnapshotEpoch = r.Int32()
	s.StateEpoch = r.Int32()
	s.LeaderEpoch = r.Int32()
	s.StartOffset = r.Int64()
	s.CreateTimestamp = r.Int64()
	s.WriteTimestamp = r.Int64()
	s.Batches = readBatches(&r)
	s.DeliveryCompleteCount = readDeliveryCompleteTag(&r)
	if !complete(&r) {
		return Snapshot{}, fmt.Errorf("%w: snapshot value of %d bytes", ErrCorrupt, len(b))
	}
	return s, nil
}

// DecodeUpdate decodes a ShareUpdateValue v0.
func DecodeUpdate(b []byte) (Update, error) {
	r := kbin.Reader{Src: b}
	var u Update
	if v := r.Int16(); v != ValueVersion {
		return Update{}, fmt.Errorf("%w: update value version %d", ErrCorrupt, v)
	}
	u.SnapshotEpoch = r.Int32()
	u.LeaderEpoch = r.Int32()
	u.StartOffset = r.Int64()
	u.Batches = readBatches(&r)
	u.DeliveryCompleteCount = readDeliveryCompleteTag(&r)
	if !complete(&r) {
		return Update{}, fmt.Errorf("%w: update value of %d bytes", ErrCorrupt, len(b))
	}
	return u, nil
}
