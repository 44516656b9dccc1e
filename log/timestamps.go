package log

import (
	"encoding/binary"

	"github.com/moldau/moldau/log/vfs"
)

// OffsetForTimestamp implements ListOffsets by timestamp: it finds the
// earliest batch (at or after the log start) whose MaxTimestamp is >= ts.
// For an uncompressed CreateTime batch it returns the first record in it
// with a timestamp >= ts and that record's timestamp; otherwise the batch's
// base offset (clamped to the log start) and its MaxTimestamp. found is
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
		var times []timeEntry
		for _, s := range l.segments {
			if s.base <= after || s.maxTS < ts || s.next <= start {
				continue
			}
			v, times = s.viewLocked(), s.timeIndex
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
		if i := floorTimeEntryBelow(times, ts); i >= 0 {
			pos = v.floorPos(s.base + int64(times[i].rel))
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
			if h.Compression() == 0 && !h.LogAppendTime() {
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

// firstRecordAtOrAfter reads an uncompressed batch and returns the first
// record with timestamp >= ts and offset >= minOffset.
func firstRecordAtOrAfter(file vfs.File, pos int64, h BatchHeader, ts, minOffset int64) (int64, int64, bool) {
	body := make([]byte, h.Length)
	if err := readFull(file, body, pos); err != nil {
		return 0, 0, false
	}
	b := body[BatchHeaderSize:]
	for range h.RecordCount {
		length, n := binary.Varint(b)
		if n <= 0 || length < 0 || int64(len(b)-n) < length {
			return 0, 0, false
		}
		rec := b[n : n+int(length)]
		b = b[n+int(length):]
		if len(rec) < 1 {
			return 0, 0, false
		}
		tsDelta, n1 := binary.Varint(rec[1:]) // after attributes
		if n1 <= 0 {
			return 0, 0, false
		}
		offDelta, n2 := binary.Varint(rec[1+n1:])
		if n2 <= 0 {
			return 0, 0, false
		}
		off, rts := h.BaseOffset+offDelta, h.BaseTimestamp+tsDelta
		if rts >= ts && off >= minOffset {
			return off, rts, true
		}
	}
	return 0, 0, false
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
