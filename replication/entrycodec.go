package replication

// Raft entries as Kafka RecordBatches (DESIGN.md §2): one data entry is
// one batch in the partition's log. A normal entry's data is a RecordBatch
// v2 stored as is (the log stamps its offset and, as the term, its
// partitionLeaderEpoch). Entries that carry no batch (raft's empty entry,
// conf changes) are phantoms, stored outside the log (phantoms.go).
//
// Logs written before phantoms existed hold those entries as control
// batches, which are still read back:
//
//   - Raft's empty entry: a control batch of Kafka's type LEADER_CHANGE
//     (2), no producer, timestamps -1, one record whose value is [version
//     uint8 0, term uint64].
//   - A conf change (EntryConfChange, EntryConfChangeV2): a control batch
//     of Kafka's type KRAFT_VOTERS (6) whose value is [magic "MDCC",
//     version uint8 1, entry type uint8, raftpb protobuf bytes].

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/moldau/moldau/log/records"
	"go.etcd.io/raft/v3/raftpb"
)

// Kafka's ControlRecordType values of the control batches older logs hold
// for entries that are phantoms now.
const (
	controlLeaderChange int16 = 2
	controlKRaftVoters  int16 = 6
)

const (
	confChangeMagic   = "MDCC"
	confChangeVersion = 1
)

// ErrBadEntry: an entry cannot be stored as a batch, or a stored batch
// does not decode to an entry.
var ErrBadEntry = errors.New("replication: bad entry")

// entryBatch returns the batch that stores the data entry e (not a
// phantom: isPhantom): e.Data itself, checked, not a copy. The log writes
// the batch's base offset and partition leader epoch into it, in place:
// header fields outside the batch's CRC that raft never reads (Storage's
// ownership contract allows it; a copy here was 9 % of a three-node
// produce benchmark's CPU).
func entryBatch(e *raftpb.Entry) ([]byte, error) {
	if e.GetType() != raftpb.EntryNormal || len(e.Data) == 0 {
		return nil, fmt.Errorf("%w: index %d: a %v entry with %d bytes is not a batch", ErrBadEntry, e.GetIndex(), e.GetType(), len(e.Data))
	}
	if err := checkBatch(e.Data); err != nil {
		return nil, fmt.Errorf("%w: index %d: %w", ErrBadEntry, e.GetIndex(), err)
	}
	return e.Data, nil
}

// checkBatch checks that b is one whole RecordBatch v2.
func checkBatch(b []byte) error {
	if len(b) < records.HeaderSize {
		return fmt.Errorf("short batch (%d bytes)", len(b))
	}
	if b[records.OffMagic] != records.Magic {
		return fmt.Errorf("magic %d", b[records.OffMagic])
	}
	if n := int(int32(binary.BigEndian.Uint32(b[records.OffBatchLength:]))) + records.LengthOverhead; n != len(b) {
		return fmt.Errorf("batch length %d, have %d bytes", n, len(b))
	}
	return nil
}

// batchEntry decodes the batch stored at index. The entry's Data aliases
// batch.
func batchEntry(batch []byte, index uint64) (*raftpb.Entry, error) {
	if err := checkBatch(batch); err != nil {
		return nil, fmt.Errorf("%w: index %d: %w", ErrBadEntry, index, err)
	}
	epoch := int32(binary.BigEndian.Uint32(batch[records.OffLeaderEpoch:]))
	if epoch < 0 {
		return nil, fmt.Errorf("%w: index %d: batch has no leader epoch", ErrBadEntry, index)
	}
	e := &raftpb.Entry{Term: new(uint64(epoch)), Index: new(index), Type: raftpb.EntryNormal.Enum()}
	attrs := binary.BigEndian.Uint16(batch[records.OffAttributes:])
	if attrs&records.AttrControl == 0 {
		e.Data = batch
		return e, nil
	}
	it, err := records.BatchRecords(batch)
	if err != nil {
		return nil, fmt.Errorf("%w: index %d: %w", ErrBadEntry, index, err)
	}
	rec, ok := it.Next()
	if !ok {
		return nil, fmt.Errorf("%w: index %d: control batch without a record", ErrBadEntry, index)
	}
	typ, err := records.ControlType(rec.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: index %d: %w", ErrBadEntry, index, err)
	}
	switch typ {
	case controlLeaderChange:
		return e, nil // Data nil: raft's empty entry
	case controlKRaftVoters:
		v := rec.Value
		if len(v) < 6 || string(v[:4]) != confChangeMagic || v[4] != confChangeVersion {
			return nil, fmt.Errorf("%w: index %d: conf change value not Moldau's", ErrBadEntry, index)
		}
		t := raftpb.EntryType(v[5])
		if t != raftpb.EntryConfChange && t != raftpb.EntryConfChangeV2 {
			return nil, fmt.Errorf("%w: index %d: conf change entry type %d", ErrBadEntry, index, v[5])
		}
		e.Type = t.Enum()
		e.Data = bytes.Clone(v[6:])
		return e, nil
	default:
		e.Data = batch // a transaction marker: data for the state machine
		return e, nil
	}
}
