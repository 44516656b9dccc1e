package txn

// Producer-state snapshots: a partition's ProducerStates and PartitionTxns
// serialized, so that opening the partition replays only the batches after
// the snapshot's offset (Kafka's <offset>.snapshot). The byte format is in
// txn/FORMAT.md; the log package stores the bytes (log/snapshot.go).

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"sort"
)

// SnapshotVersion is the format version EncodeSnapshot writes (2: with
// each producer's coordinator epoch; version 1 is read too).
const SnapshotVersion = 2

// ErrBadSnapshot: a snapshot is truncated, corrupt or of an unknown
// version.
var ErrBadSnapshot = errors.New("txn: bad producer state snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeSnapshot appends ps and pt to b (see FORMAT.md).
func EncodeSnapshot(b []byte, ps *ProducerStates, pt *PartitionTxns) []byte {
	start := len(b)
	b = append(b, SnapshotVersion)
	ids := make([]int64, 0, len(ps.producers))
	for id := range ps.producers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := ps.producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastTimestamp))
		b = append(b, byte(e.n))
		for i := range e.n {
			x := e.batches[(e.head+i)%MaxRetainedBatches]
			b = binary.BigEndian.AppendUint32(b, uint32(x.FirstSequence))
			b = binary.BigEndian.AppendUint32(b, uint32(x.LastSequence))
			b = binary.BigEndian.AppendUint64(b, uint64(x.FirstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(x.LastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(x.MaxTimestamp))
		}
	}
	ongoing := make([]int64, 0, len(pt.ongoing))
	for id := range pt.ongoing {
		ongoing = append(ongoing, id)
	}
	sort.Slice(ongoing, func(i, j int) bool { return ongoing[i] < ongoing[j] })
	b = binary.BigEndian.AppendUint32(b, uint32(len(ongoing)))
	for _, id := range ongoing {
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint64(b, uint64(pt.ongoing[id]))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(pt.aborted)))
	for _, a := range pt.aborted {
		b = binary.BigEndian.AppendUint64(b, uint64(a.ProducerID))
		b = binary.BigEndian.AppendUint64(b, uint64(a.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(a.LastOffset))
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// snapReader reads big-endian fields, remembering the first overrun.
type snapReader struct {
	b   []byte
	bad bool
}

func (r *snapReader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *snapReader) u8() uint8   { return r.take(1)[0] }
func (r *snapReader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *snapReader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *snapReader) i64() int64  { return int64(binary.BigEndian.Uint64(r.take(8))) }

// count reads a count of items of at least size bytes each, refusing one
// the rest of the snapshot cannot hold (a corrupt count must not allocate).
func (r *snapReader) count(size int) int {
	n := int(r.u32())
	if n < 0 || n > len(r.b)/size {
		r.bad = true
		return 0
	}
	return n
}

// DecodeSnapshot parses what EncodeSnapshot wrote. It returns an error
// wrapping ErrBadSnapshot for anything else.
func DecodeSnapshot(b []byte) (*ProducerStates, *PartitionTxns, error) {
	if len(b) < 5 || crc32.Checksum(b[:len(b)-4], castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, nil, ErrBadSnapshot
	}
	r := &snapReader{b: b[:len(b)-4]}
	version := r.u8()
	if version != 1 && version != SnapshotVersion {
		return nil, nil, ErrBadSnapshot
	}
	size := 8 + 2 + 8 + 1
	if version >= 2 {
		size += 4
	}
	ps, pt := NewProducerStates(), NewPartitionTxns()
	for range r.count(size) {
		id := r.i64()
		e := &producerEntry{epoch: int16(r.u16()), coordinatorEpoch: NoCoordinatorEpoch}
		if version >= 2 {
			e.coordinatorEpoch = int32(r.u32())
		}
		e.lastTimestamp = r.i64()
		n := int(r.u8())
		if n > MaxRetainedBatches {
			return nil, nil, ErrBadSnapshot
		}
		for range n {
			e.add(BatchInfo{ProducerID: id, ProducerEpoch: e.epoch, FirstSequence: int32(r.u32()), LastSequence: int32(r.u32()),
				FirstOffset: r.i64(), LastOffset: r.i64(), MaxTimestamp: r.i64()})
		}
		ps.producers[id] = e
	}
	for range r.count(16) {
		id := r.i64()
		pt.ongoing[id] = r.i64()
	}
	if n := r.count(24); n > 0 {
		pt.aborted = make([]AbortedTxn, n)
		for i := range pt.aborted {
			pt.aborted[i] = AbortedTxn{ProducerID: r.i64(), FirstOffset: r.i64(), LastOffset: r.i64()}
		}
	}
	if r.bad || len(r.b) != 0 {
		return nil, nil, ErrBadSnapshot
	}
	return ps, pt, nil
}
