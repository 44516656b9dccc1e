package log

import (
	"errors"

	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
)

// OffsetForTimestamp implements ListOffsets by timestamp: it finds the
// earliest batch (at or after the log start) whose MaxTimestamp is >= ts.
// For a CreateTime batch it returns the first record in it with a
// timestamp >= ts and that record's timestamp (decompressing if needed);
// for LogAppendTime, the batch's base offset (clamped to the log start) and
// its MaxTimestamp. found is
// false if no batch qualifies.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool) {
	after := int64(-1)
	for {
		l.mu.RLock()
		if l.closed {
			l.mu.RUnlock()
			return -1, -1, false
		}
		start := l.logStart.Load()
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
			if !h.LogAppendTime() {
				if off, rts, ok := firstRecordAtOrAfter(v.file, p, h, ts, start); ok {
					v.done()
					return off, rts, true
				}
			}
			v.done()
			return max(h.BaseOffset, start), h.MaxTimestamp, true
		}
		v.done()
	}
}

// maxTimestampScanBytes bounds the decompressed size of one batch that
// OffsetForTimestamp looks inside.
const maxTimestampScanBytes = 64 << 20

// firstRecordAtOrAfter reads a CreateTime batch (decompressing it, bounded,
// if needed) and returns the first record with timestamp >= ts and offset
// >= minOffset, as Kafka's ListOffsets does.
func firstRecordAtOrAfter(file vfs.File, pos int64, h BatchHeader, ts, minOffset int64) (int64, int64, bool) {
	body := make([]byte, h.Length)
	if err := readFull(file, body, pos); err != nil {
		return 0, 0, false
	}
	var off, rts int64
	found := errors.New("found")
	err := records.ForEach(body, maxTimestampScanBytes, func(r records.Record) error {
		o, t := h.BaseOffset+int64(r.OffsetDelta), h.BaseTimestamp+r.TimestampDelta
		if t >= ts && o >= minOffset {
			off, rts = o, t
			return found
		}
		return nil
	})
	return off, rts, err == found
}

// MaxTimestamp returns the largest batch MaxTimestamp in the log and the
// last offset of the first batch that has it (Kafka's shallow offset of the
// max timestamp), or (-1, -1) if the log holds no timestamps.
func (l *Log) MaxTimestamp() (timestamp int64, offset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	timestamp, offset = -1, -1
	for _, s := range l.segments {
		if s.maxTSOff >= 0 && s.maxTS > timestamp {
			timestamp, offset = s.maxTS, s.maxTSOff
		}
	}
	return timestamp, offset
}
