package log

import (
	"errors"
	"io"

	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
)

// OffsetForTimestamp implements ListOffsets by timestamp as Kafka does
// (UnifiedLog.searchOffsetInLocalLog, FileRecords.searchForTimestamp): it
// walks the batches (at or after the log start) whose MaxTimestamp is >= ts
// and returns the first record in them with a timestamp >= ts and an offset
// at or after the log start, and that record's timestamp. Records are read
// inside the batch, streamed through its decompressor (bounded, see
// firstRecordWhere); every record of a LogAppendTime batch carries the
// batch's MaxTimestamp. A batch with no such record (the one that had it
// lies below the log start, or the cleaner removed it) is passed over. found is false if no record qualifies.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool) {
	return l.OffsetForTimestampFrom(ts, 0)
}

// OffsetForTimestampFrom is OffsetForTimestamp with the search starting at
// max(log start, from): a replicated log's Kafka log start (DeleteRecords)
// may lie above the log's own start (replication's record start).
func (l *Log) OffsetForTimestampFrom(ts, from int64) (offset int64, timestamp int64, found bool) {
	after := int64(-1)
	for {
		l.mu.RLock()
		if l.closed {
			l.mu.RUnlock()
			return -1, -1, false
		}
		start := max(l.logStart.Load(), from)
		var v segmentView
		for _, s := range l.segments {
			if s.base <= after || s.maxTS < ts || s.next <= start {
				continue
			}
			v = s.viewLocked()
			break
		}
		l.mu.RUnlock()
		if v.seg == nil {
			return -1, -1, false
		}
		s := v.seg
		after = s.base
		var err error
		if v, err = v.pin(); err != nil {
			return -1, -1, false
		}
		pos := int64(0)
		if i := floorTimeEntryBelow(v.times, ts); i >= 0 {
			pos = v.floorPos(s.base + int64(v.times[i].rel))
		}
		sc := newBatchScanner(s, v.file, pos, v.size, false)
		for {
			h, p, _, err := sc.next()
			if err != nil {
				break
			}
			if h.LastOffset() < start || h.MaxTimestamp < ts {
				continue
			}
			off, rts, ok, err := firstRecordWhere(v.file, p, h, func(o, t int64) bool { return t >= ts && o >= start })
			if err != nil {
				// Unreadable records (over the decompression bound, or
				// malformed): answer at batch granularity rather than
				// not at all.
				v.done()
				return max(h.BaseOffset, start), h.MaxTimestamp, true
			}
			if ok {
				v.done()
				return off, rts, true
			}
		}
		v.done()
	}
}

// maxTimestampScanBytes bounds the decompressed size of one batch that
// OffsetForTimestamp and MaxTimestamp look inside.
const maxTimestampScanBytes = records.DefaultMaxDecompressed

// firstRecordWhere reads the batch h at pos and returns the offset and
// timestamp of its first record for which match(offset, timestamp) holds.
// A record's timestamp is the batch's MaxTimestamp in a LogAppendTime batch
// (as Kafka's DefaultRecordBatch iterator gives it), its base timestamp plus
// delta otherwise. err is set if the records cannot be read (malformed, over
// maxTimestampScanBytes, or a zstd window over records.ZstdMaxWindow).
//
// The records are streamed from the file through the decompressor
// (records.RecordReader) and the walk stops at the match: a small batch
// that decompresses to tens of MiB costs one decompression window, not its
// decoded size, however often it is searched, and the windows of all
// concurrent lookups together are bounded by records.StreamMemoryBudget
// (a lookup waits for its share).
func firstRecordWhere(file vfs.File, pos int64, h BatchHeader, match func(offset, timestamp int64) bool) (offset, timestamp int64, ok bool, err error) {
	if h.Length < BatchHeaderSize {
		return 0, 0, false, errors.New("log: batch shorter than its header")
	}
	src := io.NewSectionReader(file, pos+BatchHeaderSize, int64(h.Length-BatchHeaderSize))
	rr, err := records.NewRecordReader(h.Compression(), src, h.RecordCount, maxTimestampScanBytes)
	if err != nil {
		return 0, 0, false, err
	}
	defer rr.Close()
	var m records.RecordMeta
	for rr.NextMeta(&m) {
		o, t := h.BaseOffset+int64(m.OffsetDelta), h.BaseTimestamp+m.TimestampDelta
		if h.LogAppendTime() {
			t = h.MaxTimestamp
		}
		if match(o, t) {
			return o, t, true, nil
		}
	}
	return 0, 0, false, rr.Err()
}

// MaxTimestamp implements ListOffsets' MAX_TIMESTAMP spec (-3, KIP-734) as
// Kafka 3.8+ does (UnifiedLog.fetchOffsetByTimestamp and
// RecordBatch.offsetOfMaxTimestamp, after KAFKA-16310): the first segment
// with the largest MaxTimestamp; in it, the first batch with that
// MaxTimestamp (found from the offset index entry at or below the offset the
// segment tracked for it); in that batch, the first record whose timestamp
// equals it. So several records sharing the maximum give the earliest of
// them, and a LogAppendTime batch gives its first record. The segment's
// maximum is recomputed when the cleaner rewrites it, so after compaction
// the answer is a record that remains. It returns (-1, -1) if the log holds
// no timestamps, or if that batch holds no record with the timestamp (an
// empty batch the cleaner kept for its producer state: Kafka answers no
// offset then too). Unreadable records give the batch's last offset.
// Like Kafka, it does not look at the log start offset.
func (l *Log) MaxTimestamp() (timestamp int64, offset int64) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return -1, -1
	}
	var best *segment
	for _, s := range l.segments {
		if s.maxTSOff >= 0 && (best == nil || s.maxTS > best.maxTS) {
			best = s
		}
	}
	if best == nil {
		l.mu.RUnlock()
		return -1, -1
	}
	maxTS, maxOff := best.maxTS, best.maxTSOff
	v := best.viewLocked()
	l.mu.RUnlock()
	v, err := v.pin()
	if err != nil {
		return -1, -1
	}
	defer v.done()
	sc := newBatchScanner(v.seg, v.file, v.floorPos(maxOff), v.size, false)
	for {
		h, p, _, err := sc.next()
		if err != nil {
			return -1, -1
		}
		if h.MaxTimestamp != maxTS {
			continue
		}
		off, _, ok, err := firstRecordWhere(v.file, p, h, func(_, t int64) bool { return t == maxTS })
		switch {
		case err != nil:
			return maxTS, h.LastOffset()
		case !ok:
			return -1, -1
		}
		return maxTS, off
	}
}
