package replication

// The log start entry: Kafka's DeleteRecords on a replicated partition
// (DESIGN.md §2, "Log start (DeleteRecords)").
//
// The leader proposes the new log start offset as a normal Raft entry whose
// Data is this record, not a RecordBatch. The storage keeps it as a phantom
// (a Raft index, no Kafka offset: raft-phantoms, version 2), so Raft index =
// entry ordinal holds and no Kafka offset moves. When it is applied, the
// state machine calls LogStorage.ApplyLogStart on every replica, which
// persists the new start in the anchor (raft-anchor version 3); the start
// can be anywhere, mid-segment and mid-batch. Batches below it stay in the
// log (Raft may still send them to a follower) until retention's CompactTo
// moves the Raft log start past them.
//
// Data (17 bytes, big-endian): magic "MDLS", version uint8 1, log start
// offset int64, CRC-32C of the 13 bytes before it (uint32). It is shorter
// than any RecordBatch (61 bytes at least), so it can never be taken for
// one.

import (
	"encoding/binary"
	"hash/crc32"
)

const (
	logStartMagic   = "MDLS"
	logStartVersion = 1
	logStartSize    = 17
)

// EncodeLogStart returns the Data of a log start entry moving the log start
// offset to offset (>= 0).
func EncodeLogStart(offset int64) []byte {
	b := append([]byte(logStartMagic), logStartVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// DecodeLogStart reports whether data is a log start entry's, and its
// offset.
func DecodeLogStart(data []byte) (int64, bool) {
	if len(data) != logStartSize || string(data[:4]) != logStartMagic || data[4] != logStartVersion ||
		binary.BigEndian.Uint32(data[13:]) != crc32.Checksum(data[:13], castagnoli) {
		return 0, false
	}
	off := int64(binary.BigEndian.Uint64(data[5:]))
	if off < 0 {
		return 0, false
	}
	return off, true
}

// LogStartOffset is the partition's Kafka log start offset: the one the
// last applied log start entry set (DeleteRecords), or the log's own start
// (retention, a snapshot install) if that is higher. Consumers see nothing
// below it (ListOffsets earliest, Fetch OFFSET_OUT_OF_RANGE); Raft still
// reads the batches between the log's start and it.
//
// It takes no lock (it is on the fetch path).
func (s *LogStorage) LogStartOffset() int64 {
	return max(s.recordStart.Load(), s.log.LogStartOffset())
}

func (s *LogStorage) recordStartLocked() int64 {
	return max(s.base.recordStart, s.log.LogStartOffset())
}

// ApplyLogStart applies a committed log start entry (DecodeLogStart): the
// log start offset becomes max(current, offset), clamped to the log end,
// durably (the anchor file is rewritten) before it returns. Applying it
// again (a redelivery after a restart) changes nothing. It returns the log
// start after.
func (s *LogStorage) ApplyLogStart(offset int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	offset = min(offset, s.log.EndOffset())
	if offset <= s.recordStartLocked() {
		return s.recordStartLocked(), nil
	}
	next := *s.base
	next.recordStart = offset
	if err := saveAnchors(s.fs, s.dir, []anchor{next}, s.confs); err != nil {
		return s.recordStartLocked(), err
	}
	s.anchorSet = []anchor{next}
	s.base = &s.anchorSet[0]
	s.recordStart.Store(offset)
	return offset, nil
}
