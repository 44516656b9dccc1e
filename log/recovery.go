package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moldau/moldau/log/vfs"
)

// RecoveryReport describes what Open found and repaired.
type RecoveryReport struct {
	Segments        int   // segments after recovery
	Clean           bool  // the previous shutdown was clean
	TruncatedFrom   int64 // first offset dropped; -1 if nothing was dropped
	DroppedBytes    int64 // bytes removed from the tail (truncation and deleted segments)
	DroppedSegments int   // whole segment files deleted
	RebuiltIndexes  int   // segments whose index files were missing or inconsistent
	// ZeroTailBytes counts zeros filled ahead of the data (see
	// vfs.EnablePrefill) that a crash left at segment ends and recovery
	// cut; they held no data, so they are not DroppedBytes.
	ZeroTailBytes int64
	// Corruption is the first damage found (torn or corrupt batch), or nil.
	Corruption     *CorruptionError
	LogStartOffset int64
	EndOffset      int64
}

// Open opens (creating if needed) the log in dir and recovers it.
//
// After a clean shutdown the index files are trusted and only the tail of
// each segment past its last index entry is walked (headers only). After an
// unclean one, the last segment is fully verified (length bounds, magic,
// CRC-32C, offset order), as is any segment whose tail walk fails or whose
// end does not meet the next segment's base. At the first bad batch the
// segment is truncated, later segments are deleted, and what was dropped is
// logged and reported.
func Open(fsys vfs.FS, dir string, cfg Config, logger *slog.Logger) (*Log, RecoveryReport, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Log{fs: fsys, dir: dir, logger: logger}
	l.SetConfig(cfg)
	rep := RecoveryReport{TruncatedFrom: -1}

	_, statErr := fsys.Stat(dir)
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, rep, fmt.Errorf("log: create %s: %w", dir, err)
	}
	if statErr != nil {
		if err := fsys.SyncDir(filepath.Dir(dir)); err != nil {
			return nil, rep, fmt.Errorf("log: sync parent of %s: %w", dir, err)
		}
	}
	if err := l.finishReset(); err != nil { // reset.go
		return nil, rep, err
	}
	m, found, err := readMeta(fsys, dir)
	if err != nil {
		if !errors.Is(err, errBadMeta) {
			return nil, rep, fmt.Errorf("log: read meta in %s: %w", dir, err)
		}
		logger.Warn("ignoring damaged meta file; recovering as after a crash", "dir", dir, "err", err)
		m, found = meta{}, false
	}
	rep.Clean = found && m.clean

	bases, err := l.cleanDir()
	if err != nil {
		return nil, rep, err
	}
	if err := l.recoverSegments(bases, rep.Clean, &rep); err != nil {
		for _, s := range l.segments {
			_ = s.close()
		}
		return nil, rep, err
	}

	// changed: recovery altered the files, must create one, or rebuilt
	// indexes that the next clean close should write.
	changed := rep.TruncatedFrom >= 0 || rep.DroppedBytes > 0 || rep.DroppedSegments > 0 || rep.RebuiltIndexes > 0 || rep.ZeroTailBytes > 0
	logStart := m.logStart
	if len(l.segments) > 0 {
		logStart = max(logStart, l.segments[0].base)
	}
	if len(l.segments) > 0 && l.segments[len(l.segments)-1].next < logStart {
		// The recovered data ends before the persisted log start: nothing
		// readable is left.
		logger.Warn("recovered end offset is below the log start offset; discarding all segments",
			"dir", dir, "end_offset", l.segments[len(l.segments)-1].next, "log_start_offset", logStart)
		l.dropFrom(0, &rep, l.segments[len(l.segments)-1].next)
		changed = true
	}
	if len(l.segments) == 0 {
		changed = true
		f, err := fsys.OpenFile(filepath.Join(dir, segmentFileName(logStart, logSuffix)), os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
		if err != nil {
			return nil, rep, fmt.Errorf("log: create segment: %w", err)
		}
		l.segments = append(l.segments, newSegment(dir, logStart, f))
	}
	// Segments wholly below the log start are left over from a retention
	// run cut short by a crash.
	for len(l.segments) > 1 && l.segments[1].base <= logStart {
		changed = true
		if err := l.segments[0].remove(fsys); err != nil {
			logger.Warn("could not delete segment below the log start offset", "segment", l.segments[0].path(logSuffix), "err", err)
		}
		l.segments = l.segments[1:]
	}
	l.active = l.segments[len(l.segments)-1]
	l.prefill(l.active.file)
	l.loadEpochs(l.active.next) // replication.go
	if !rep.Clean {
		// Batches that reached the disk without a sync of ours may carry
		// an epoch the checkpoint lacks (the append path does not fsync
		// the checkpoint): rebuild from their headers while the segments'
		// files are open and their indexes in memory.
		if _, err := l.rebuildEpochs(); err != nil {
			l.closeAll()
			return nil, rep, fmt.Errorf("log: rebuild leader epochs in %s: %w", dir, err)
		}
	}
	for _, s := range l.segments {
		s.fs = fsys
	}
	for _, s := range l.segments[:len(l.segments)-1] {
		s.sealLocked(l.config().Files)
	}
	l.readRollBase()
	l.logStart.Store(logStart)
	l.end.Store(l.active.next)
	l.cleanPoint.Store(min(readCleanPoint(l), l.active.next))
	l.hw.Store(-1)
	if err := l.loadHighWatermark(); err != nil { // hwcheckpoint.go
		l.closeAll()
		return nil, rep, err
	}

	// Mark the log open (unclean) before accepting writes, so that a crash
	// from now on is detected. A missing meta file already means unclean,
	// so a new partition, or one recovered after a crash with an unchanged
	// log start, needs no write here. Directory changes made by recovery
	// (removals, a created segment) become durable with the first SyncTo,
	// before anything appended from now on is acknowledged as durable.
	// After a clean shutdown that recovery left as it was, the mark waits
	// for the first change (markOpen): idle partitions cost no writes.
	switch {
	case rep.Clean && m.logStart == logStart && !changed:
	case (found && m.clean) || (found && m.logStart != logStart):
		if err := writeMeta(fsys, dir, meta{clean: false, logStart: logStart}); err != nil {
			l.closeAll()
			return nil, rep, fmt.Errorf("log: write meta: %w", err)
		}
		l.marked.Store(true)
	default: // no meta, or an unclean one with this log start
		l.marked.Store(true)
	}
	l.dirDirty = l.marked.Load()
	l.durable.Store(l.active.next)
	l.lastSync.Store(time.Now().UnixMilli())

	rep.Segments = len(l.segments)
	rep.LogStartOffset = logStart
	rep.EndOffset = l.active.next
	logger.Debug("opened partition log", "dir", dir, "segments", rep.Segments, "clean", rep.Clean,
		"log_start_offset", logStart, "end_offset", rep.EndOffset)
	return l, rep, nil
}

func (l *Log) closeAll() {
	for _, s := range l.segments {
		_ = s.close()
	}
}

// cleanDir lists the segment base offsets and removes leftovers: a
// temporary meta file and index files without a segment.
func (l *Log) cleanDir() ([]int64, error) {
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	if names, err = l.finishCleanerSwaps(names); err != nil {
		return nil, err
	}
	var bases []int64
	have := map[string]bool{}
	for _, name := range names {
		l.noteSnapshotFile(name) // snapshot.go
		if base, ok := parseSegmentName(name); ok {
			bases = append(bases, base)
			have[strings.TrimSuffix(name, logSuffix)] = true
		}
	}
	for _, name := range names {
		stem, isIndex := strings.CutSuffix(name, indexSuffix)
		if !isIndex {
			stem, isIndex = strings.CutSuffix(name, timeIndexSuffix)
		}
		if (isIndex && !have[stem]) || name == metaTempName || name == cleanPointTemp || name == epochFileTemp || name == hwFileTemp || name == resetMarkerTemp {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !isNotExist(err) {
				return nil, fmt.Errorf("log: remove leftover %s: %w", name, err)
			}
		}
	}
	slices.Sort(bases)
	return bases, nil
}

// finishCleanerSwaps completes what a crash interrupted in the cleaner (see
// cleaner.go): a *.log.cleaned file was never committed and is deleted; a
// *.log.swap file was, so the old segment's index files are removed and the
// swap file renamed over the segment. It returns the directory listing
// afterwards.
func (l *Log) finishCleanerSwaps(names []string) ([]string, error) {
	changed := false
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			l.logger.Warn("deleting uncommitted cleaned segment", "file", name)
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !isNotExist(err) {
				return nil, fmt.Errorf("log: remove %s: %w", name, err)
			}
			changed = true
		case strings.HasSuffix(name, swapSuffix):
			stem := strings.TrimSuffix(name, swapSuffix)
			base, ok := parseSegmentName(stem + logSuffix)
			if !ok {
				continue
			}
			end, err := l.swapEnd(filepath.Join(l.dir, name), base)
			if err != nil {
				return nil, err
			}
			l.logger.Warn("finishing interrupted cleaner swap", "file", name, "end_offset", end)
			// The group's other members: segments inside the swap's range.
			for _, other := range names {
				if b, ok := parseSegmentName(other); ok && b > base && b < end {
					for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
						if err := l.fs.Remove(filepath.Join(l.dir, segmentFileName(b, suffix))); err != nil && !isNotExist(err) {
							return nil, err
						}
					}
				}
			}
			for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
				if err := l.fs.Remove(filepath.Join(l.dir, stem+suffix)); err != nil && !isNotExist(err) {
					return nil, err
				}
			}
			if err := l.fs.Rename(filepath.Join(l.dir, name), filepath.Join(l.dir, stem+logSuffix)); err != nil {
				return nil, fmt.Errorf("log: finish swap of %s: %w", name, err)
			}
			changed = true
		}
	}
	if !changed {
		return names, nil
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return nil, err
	}
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	return names, nil
}

// swapEnd returns the offset after the last whole batch of a swap file
// (base if it holds none).
func (l *Log) swapEnd(path string, base int64) (int64, error) {
	f, err := l.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("log: open %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, err
	}
	end := base
	var hb [BatchHeaderSize]byte
	for pos := int64(0); pos+BatchHeaderSize <= size; {
		if err := readFull(f, hb[:], pos); err != nil {
			return 0, err
		}
		h, err := ParseBatchHeader(hb[:])
		if err != nil || pos+int64(h.Length) > size {
			break
		}
		end = h.NextOffset()
		pos += int64(h.Length)
	}
	return end, nil
}

// recoverSegments opens the segments in order, verifying as described on
// Open, and leaves them in l.segments.
func (l *Log) recoverSegments(bases []int64, clean bool, rep *RecoveryReport) error {
	interval := l.config().IndexIntervalBytes
	for i, base := range bases {
		f, err := l.fs.OpenFile(filepath.Join(l.dir, segmentFileName(base, logSuffix)), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("log: open segment: %w", err)
		}
		s := newSegment(l.dir, base, f)
		l.segments = append(l.segments, s)
		if i > 0 {
			if prev := l.segments[i-1]; prev.next != base {
				// A hole (or overlap) between segments: keep the prefix.
				l.logger.Warn("segment does not continue its predecessor; dropping it and later segments",
					"segment", s.path(logSuffix), "expected_base", prev.next)
				l.dropFrom(i, rep, prev.next)
				return nil
			}
		}
		fileSize, err := f.Size()
		if err != nil {
			return err
		}
		last := i == len(bases)-1
		loaded, usable := false, true
		if !last || clean {
			if loaded, usable, err = s.loadIndexes(l.fs, fileSize, interval); err != nil {
				return err
			}
		}
		if !clean {
			// After a crash, bytes we read may still be only in the page
			// cache; make them durable before building on them.
			if err := f.Sync(); err != nil {
				return err
			}
		}
		if !loaded {
			if !usable {
				rep.RebuiltIndexes++
			}
			s.reset()
			corr, err := s.scan(0, fileSize, true, interval)
			if err != nil {
				return err
			}
			if corr != nil {
				rep.Corruption = corr
				l.truncateAt(i, corr, fileSize, rep)
				return nil
			}
			if !last {
				if err := s.writeIndexFiles(l.fs, true); err != nil {
					l.logger.Warn("could not write rebuilt index files", "segment", s.path(logSuffix), "err", err)
				}
			}
		}
		if s.size < fileSize {
			// The scans stop short of the file's end without a
			// corruption only at a zero tail: zeros filled ahead of the
			// data (vfs.EnablePrefill), not data. Cut them.
			l.logger.Debug("trimming zeros filled ahead of the data", "segment", s.path(logSuffix), "position", s.size, "bytes", fileSize-s.size)
			if err := f.Truncate(s.size); err != nil {
				return fmt.Errorf("log: trim %s: %w", s.path(logSuffix), err)
			}
			if err := f.Sync(); err != nil {
				return err
			}
			rep.ZeroTailBytes += fileSize - s.size
		}
	}
	return nil
}

// truncateAt cuts segment i at the corrupt batch and drops every later
// segment, recording it all in rep.
func (l *Log) truncateAt(i int, corr *CorruptionError, fileSize int64, rep *RecoveryReport) {
	s := l.segments[i]
	dropped := fileSize - corr.Offset
	l.logger.Warn("truncating torn or corrupt segment tail",
		"segment", s.path(logSuffix), "position", corr.Offset, "bytes", dropped,
		"from_offset", s.next, "reason", corr.Err)
	if err := s.file.Truncate(corr.Offset); err == nil {
		err = s.file.Sync()
		if err != nil {
			l.logger.Warn("sync after truncation failed", "segment", s.path(logSuffix), "err", err)
		}
	} else {
		l.logger.Warn("truncation failed", "segment", s.path(logSuffix), "err", err)
	}
	rep.DroppedBytes += dropped
	if dropped > 0 && rep.TruncatedFrom < 0 {
		rep.TruncatedFrom = s.next
	}
	// Stale index files of the truncated segment must not be trusted later.
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		_ = l.fs.Remove(s.path(suffix))
	}
	l.dropFrom(i+1, rep, s.next)
}

// dropFrom deletes segments[i:] and every segment file after
// segments[i-1] (opened or not), recording them in rep. from is the first
// offset lost.
func (l *Log) dropFrom(i int, rep *RecoveryReport, from int64) {
	var minBase int64
	switch {
	case i < len(l.segments):
		minBase = l.segments[i].base
	case i > 0:
		minBase = l.segments[i-1].base + 1
	}
	for _, s := range l.segments[i:] {
		_ = s.close()
	}
	l.segments = l.segments[:i]
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		l.logger.Warn("could not list segments to delete", "dir", l.dir, "err", err)
	}
	for _, name := range names {
		base, ok := parseSegmentName(name)
		if !ok || base < minBase {
			continue
		}
		s := newSegment(l.dir, base, nil)
		var size int64
		if fi, err := l.fs.Stat(s.path(logSuffix)); err == nil {
			size = fi.Size()
		}
		rep.DroppedBytes += size
		if size > 0 && rep.TruncatedFrom < 0 {
			rep.TruncatedFrom = from
		}
		rep.DroppedSegments++
		l.logger.Warn("deleting segment after the recovery point", "segment", s.path(logSuffix), "bytes", size, "from_offset", from)
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if err := l.fs.Remove(s.path(suffix)); err != nil && !isNotExist(err) {
				l.logger.Warn("could not delete segment file", "file", s.path(suffix), "err", err)
			}
		}
	}
}

func (s *segment) reset() {
	s.size, s.next = 0, s.base
	s.index, s.timeIndex = nil, nil
	s.maxTS, s.maxTSOff = -1, -1
	s.bytesSinceIndex = 0
}

// loadIndexes loads and checks the index files, then walks (and CRC-checks)
// the batches after the last indexed one. It reports loaded=false if the
// caller must rescan the segment, and usable=false if that is because the
// index files are missing or inconsistent (rather than merely empty, or the
// tail damaged).
func (s *segment) loadIndexes(fsys vfs.FS, fileSize int64, interval int) (loaded, usable bool, err error) {
	ob, err := readWholeFile(fsys, s.path(indexSuffix))
	if err != nil {
		return false, false, nil
	}
	tb, err := readWholeFile(fsys, s.path(timeIndexSuffix))
	if err != nil {
		return false, false, nil
	}
	entries, err := decodeOffsetIndex(ob, fileSize)
	if err != nil {
		return false, false, nil
	}
	times, err := decodeTimeIndex(tb)
	if err != nil {
		return false, false, nil
	}
	if len(entries) == 0 {
		// Small segment (or one big batch): nothing to trust, cheap to scan.
		return false, true, nil
	}
	// Spot-check the last entry against the data.
	lastEntry := entries[len(entries)-1]
	sc := newBatchScanner(s, s.file, int64(lastEntry.pos), fileSize, false)
	h, pos, _, err := sc.next()
	if err != nil {
		var corr *CorruptionError
		if errors.As(err, &corr) {
			return false, false, nil
		}
		return false, false, err
	}
	if h.LastOffset() != s.base+int64(lastEntry.rel) {
		return false, false, nil
	}
	s.index, s.timeIndex = entries, times
	if n := len(times); n > 0 {
		s.maxTS, s.maxTSOff = times[n-1].ts, s.base+int64(times[n-1].rel)
	}
	// The indexed batch itself: Kafka resets the byte counter then counts it.
	s.bytesSinceIndex = int64(h.Length)
	s.size = pos + int64(h.Length)
	s.next = h.NextOffset()
	if h.MaxTimestamp > s.maxTS {
		s.maxTS, s.maxTSOff = h.MaxTimestamp, h.LastOffset()
	}
	corr, err := s.scan(s.size, fileSize, true, interval)
	if err != nil {
		return false, false, err
	}
	if corr != nil {
		return false, true, nil
	}
	if n := len(times); n > 0 && s.base+int64(times[n-1].rel) >= s.next {
		return false, false, nil
	}
	return true, true, nil
}

// scan walks batches from pos to fileSize, tracking each as appended (the
// segment's state must describe everything before pos). With verify it also
// checks CRCs. It returns the first damage found as a *CorruptionError, with
// the segment's state describing the valid prefix.
func (s *segment) scan(pos, fileSize int64, verify bool, interval int) (*CorruptionError, error) {
	sc := newBatchScanner(s, s.file, pos, fileSize, verify)
	for {
		h, p, body, err := sc.next()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			var corr *CorruptionError
			if errors.As(err, &corr) {
				if zeroTail(s.file, p, fileSize) {
					// Zeros filled ahead (vfs.EnablePrefill) that a
					// crash left: the data ends here.
					return nil, nil
				}
				return corr, nil
			}
			return nil, err
		}
		if verify && !verifyCRC(body) {
			return s.corruption(p, errBadCRC), nil
		}
		if h.BaseOffset < s.next || h.LastOffset()-s.base > 1<<31-1 {
			return s.corruption(p, errBadOffset), nil
		}
		s.trackLocked(p, int64(h.Length), h.LastOffset(), h.MaxTimestamp, interval)
	}
}

// zeroTail reports whether f holds nothing but zero bytes in [from, to).
func zeroTail(f vfs.File, from, to int64) bool {
	if from >= to {
		return false
	}
	buf := make([]byte, min(to-from, 64<<10))
	for from < to {
		n := min(to-from, int64(len(buf)))
		if readFull(f, buf[:n], from) != nil {
			return false
		}
		for _, b := range buf[:n] {
			if b != 0 {
				return false
			}
		}
		from += n
	}
	return true
}

// readRollBase sets the active segment's age from its first batch.
func (l *Log) readRollBase() {
	s := l.active
	if s.size < BatchHeaderSize {
		return
	}
	var hb [BatchHeaderSize]byte
	if readFull(s.file, hb[:], 0) != nil {
		return
	}
	if h, err := ParseBatchHeader(hb[:]); err == nil && h.MaxTimestamp >= 0 {
		s.rollBase = h.MaxTimestamp
	}
}
