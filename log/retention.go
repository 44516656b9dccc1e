package log

import (
	"fmt"
)

// DeleteRecordsBefore moves the log start offset forward to offset (Kafka
// DeleteRecords), persisting it before returning, and deletes every
// non-active segment that lies entirely below it. An offset at or below the
// current log start is a no-op; one beyond EndOffset is ErrOffsetOutOfRange.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if end := l.end.Load(); offset > end {
		return fmt.Errorf("%w: %d beyond end offset %d", ErrOffsetOutOfRange, offset, end)
	}
	if offset <= l.logStart.Load() {
		return nil
	}
	_, err := l.advanceStartLocked(offset, func(s, next *segment) bool { return next.base <= offset })
	return err
}

// EnforceRetention deletes the oldest segments that are past RetentionMs
// (their largest timestamp is older than nowMs-RetentionMs) or that keep the
// log above RetentionBytes. It only deletes a prefix of the log and never the
// active segment, and moves the log start offset to the first kept segment.
func (l *Log) EnforceRetention(nowMs int64) (int, error) {
	cfg := l.config()
	if cfg.RetentionMs < 0 && cfg.RetentionBytes < 0 {
		return 0, nil
	}
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	excess := int64(-1)
	if cfg.RetentionBytes >= 0 {
		var total int64
		for _, s := range l.segments {
			total += s.size
		}
		excess = total - cfg.RetentionBytes
	}
	l.mu.RUnlock()
	cutoff := nowMs - cfg.RetentionMs
	return l.advanceStartLocked(-1, func(s, _ *segment) bool {
		if cfg.RetentionMs >= 0 && s.maxTS < cutoff {
			excess -= s.size
			return true
		}
		if excess >= 0 && excess-s.size >= 0 {
			excess -= s.size
			return true
		}
		return false
	})
}

// RetentionPoint is the log start offset EnforceRetention would move the
// log to at nowMs (the base of the first segment it would keep), without
// deleting anything; the current log start when nothing is due. A
// replicated log's start moves only through Raft (replication's
// LogStorage.CompactBelow), which asks this.
func (l *Log) RetentionPoint(nowMs int64) int64 {
	cfg := l.config()
	start := l.logStart.Load()
	if cfg.RetentionMs < 0 && cfg.RetentionBytes < 0 {
		return start
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return start
	}
	excess := int64(-1)
	if cfg.RetentionBytes >= 0 {
		var total int64
		for _, s := range l.segments {
			total += s.size
		}
		excess = total - cfg.RetentionBytes
	}
	cutoff := nowMs - cfg.RetentionMs
	n := 0
	for n < len(l.segments)-1 {
		s := l.segments[n]
		switch {
		case cfg.RetentionMs >= 0 && s.maxTS < cutoff:
			excess -= s.size
		case excess >= 0 && excess-s.size >= 0:
			excess -= s.size
		default:
			return max(start, l.segments[n].base)
		}
		n++
	}
	return max(start, l.segments[n].base)
}

// advanceStartLocked deletes the longest prefix of non-active segments for
// which deletable(segment, following segment) holds, and moves the log start
// offset to max(start, first kept base, minStart). The new start is made
// durable before any file is removed. It requires syncMu; deletable is called
// with mu held for reading.
func (l *Log) advanceStartLocked(minStart int64, deletable func(s, next *segment) bool) (int, error) {
	l.mu.RLock()
	n := 0
	for n < len(l.segments)-1 && deletable(l.segments[n], l.segments[n+1]) {
		n++
	}
	newStart := max(l.logStart.Load(), l.segments[n].base, minStart)
	l.mu.RUnlock()
	if newStart == l.logStart.Load() && n == 0 {
		return 0, nil
	}
	if err := l.markOpen(); err != nil {
		return 0, err
	}
	if newStart != l.logStart.Load() {
		if err := writeMeta(l.fs, l.dir, meta{clean: false, logStart: newStart}); err != nil {
			return 0, fmt.Errorf("log: persist log start offset: %w", err)
		}
	}

	l.mu.Lock()
	doomed := l.segments[:n:n]
	l.segments = l.segments[n:]
	kept := l.pending[:0]
	for _, p := range l.pending {
		if p.base >= l.segments[0].base {
			kept = append(kept, p)
		}
	}
	clear(l.pending[len(kept):])
	l.pending = kept
	l.logStart.Store(newStart)
	l.mu.Unlock()

	var firstErr error
	for _, s := range doomed {
		if err := s.remove(l.fs); err != nil && firstErr == nil {
			firstErr = err
		}
		l.logger.Info("deleted segment", "segment", s.path(logSuffix), "bytes", s.size, "next_offset", s.next)
	}
	if n > 0 {
		if err := l.fs.SyncDir(l.dir); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return n, firstErr
}
