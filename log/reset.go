package log

// ResetTo: replace the whole log with an empty one starting at a given
// offset, crash-safely (installing a replica from a snapshot). See
// FORMAT.md, "Reset".

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moldau/moldau/log/vfs"
)

// The reset marker (17 bytes, big-endian), the reset's commit point:
//
//	[0:4]   magic "MDRS"
//	[4]     version (resetMarkerVersion)
//	[5:13]  the new log start offset, int64 (>= 0)
//	[13:17] CRC-32C of bytes [0:13]
const (
	resetMarkerName    = "reset-marker"
	resetMarkerTemp    = "reset-marker.tmp"
	resetMarkerMagic   = "MDRS"
	resetMarkerVersion = 1
	resetMarkerSize    = 17
)

// ErrCorruptResetMarker reports a reset marker that cannot be read: Open
// cannot tell which offset the interrupted reset was going to, so it
// refuses the log rather than guess (the marker is written through a
// rename, so only damage to the disk makes one).
var ErrCorruptResetMarker = errors.New("log: corrupt reset marker")

func encodeResetMarker(start int64) []byte {
	b := make([]byte, resetMarkerSize)
	copy(b, resetMarkerMagic)
	b[4] = resetMarkerVersion
	binary.BigEndian.PutUint64(b[5:], uint64(start))
	binary.BigEndian.PutUint32(b[13:], crc32.Checksum(b[:13], castagnoli))
	return b
}

func decodeResetMarker(b []byte) (int64, error) {
	if len(b) != resetMarkerSize || string(b[:4]) != resetMarkerMagic {
		return 0, fmt.Errorf("%w: bad magic or size (%d bytes)", ErrCorruptResetMarker, len(b))
	}
	if binary.BigEndian.Uint32(b[13:]) != crc32.Checksum(b[:13], castagnoli) {
		return 0, fmt.Errorf("%w: checksum mismatch", ErrCorruptResetMarker)
	}
	if b[4] != resetMarkerVersion {
		return 0, fmt.Errorf("%w: unsupported version %d (this build reads %d)", ErrCorruptResetMarker, b[4], resetMarkerVersion)
	}
	start := int64(binary.BigEndian.Uint64(b[5:]))
	if start < 0 {
		return 0, fmt.Errorf("%w: negative start offset", ErrCorruptResetMarker)
	}
	return start, nil
}

// ResetTo replaces the log with an empty one whose log start offset and end
// offset are startOffset (any offset >= 0, above or below the current
// end): every segment and index file, the producer-state snapshots, the
// leader-epoch cache and checkpoint, the cleaner checkpoint and the
// high-watermark checkpoint go; the high watermark becomes startOffset (on
// a log whose high watermark follows the end, it goes on following it).
// Files the log does not own, such as the Raft HardState, stay.
//
// It is durable on return and crash-safe: a crash at any point leaves
// either the old log or the new empty one, never a mix. The commit point is
// the reset marker: written (temporary file, fsync, rename, directory
// fsync) before anything is removed; once it is durable, Open finishes an
// interrupted reset from it; it is removed, and the directory fsynced,
// last.
//
// After an error the log refuses writes (like a failed fsync); reopening it
// yields the old log (the marker was not committed) or the new one.
// Reads in flight, or started before ResetTo returns, of the old log's
// offsets may fail.
func (l *Log) ResetTo(startOffset int64) error {
	if startOffset < 0 {
		return fmt.Errorf("%w: reset to negative offset %d", ErrOffsetOutOfRange, startOffset)
	}
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if err := l.failure(); err != nil {
		return err
	}
	oldStart, oldEnd := l.logStart.Load(), l.end.Load()

	if err := replaceFile(l.fs, l.dir, resetMarkerTemp, resetMarkerName, encodeResetMarker(startOffset)); err != nil {
		return l.fail(fmt.Errorf("log: write reset marker: %w", err))
	}
	f, err := l.completeReset(startOffset)
	if err != nil {
		return l.fail(err)
	}
	l.prefill(f)
	s := newSegment(l.dir, startOffset, f)
	s.fs = l.fs

	l.mu.Lock()
	old := l.segments
	l.segments = []*segment{s}
	l.active = s
	l.pending = nil
	l.dirDirty = false
	l.logStart.Store(startOffset)
	l.end.Store(startOffset)
	l.durable.Store(startOffset)
	l.cleanPoint.Store(startOffset)
	if l.hw.Load() >= 0 {
		l.hw.Store(startOffset)
	}
	l.epochs = nil
	l.repl.epochUnsaved = false
	l.snapsOpen = nil
	l.mu.Unlock()
	l.repl.hwMu.Lock()
	l.repl.hwFile, l.repl.hwSaved = false, 0 // removed; missing reads as the log start
	l.repl.hwMu.Unlock()
	l.marked.Store(true) // completeReset wrote meta unclean
	l.lastSync.Store(time.Now().UnixMilli())
	for _, seg := range old {
		seg.release() // closes now, or when the last in-flight reader is done
	}
	l.logger.Info("reset log", "dir", l.dir, "log_start_offset", startOffset,
		"old_log_start_offset", oldStart, "old_end_offset", oldEnd, "segments_removed", len(old))
	return nil
}

// finishReset is called by Open before it reads anything else: if a reset
// marker is present, the reset it commits is finished (completeReset) so
// that recovery then opens the new, empty log.
func (l *Log) finishReset() error {
	b, err := readWholeFile(l.fs, filepath.Join(l.dir, resetMarkerName))
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("log: read reset marker in %s: %w", l.dir, err)
	}
	start, err := decodeResetMarker(b)
	if err != nil {
		return fmt.Errorf("log: %s: %w", l.dir, err)
	}
	l.logger.Warn("finishing an interrupted reset", "dir", l.dir, "log_start_offset", start)
	f, err := l.completeReset(start)
	if err != nil {
		return err
	}
	return f.Close()
}

// completeReset does a committed reset's work, idempotently (Open redoes it
// after a crash): remove every file the log owns except meta and the
// marker, create the empty segment at start, write meta (log start start,
// unclean; its directory fsync makes the removals and the new segment
// durable), then remove the marker and fsync the directory. It returns the
// new segment's open file.
func (l *Log) completeReset(start int64) (f vfs.File, err error) {
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	for _, name := range names {
		if !ownedByLog(name) {
			continue
		}
		if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !isNotExist(err) {
			return nil, fmt.Errorf("log: reset: remove %s: %w", name, err)
		}
	}
	f, err = l.fs.OpenFile(filepath.Join(l.dir, segmentFileName(start, logSuffix)), os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log: reset: create segment: %w", err)
	}
	if err := writeMeta(l.fs, l.dir, meta{clean: false, logStart: start}); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log: reset: write meta: %w", err)
	}
	if err := l.fs.Remove(filepath.Join(l.dir, resetMarkerName)); err != nil && !isNotExist(err) {
		_ = f.Close()
		return nil, fmt.Errorf("log: reset: remove marker: %w", err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log: reset: sync %s: %w", l.dir, err)
	}
	return f, nil
}

// ownedByLog reports whether a reset removes the file name: the segments
// and their index files, compaction leftovers, producer-state snapshots,
// and the epoch, cleaner and high-watermark checkpoints with their
// temporary files. meta is rewritten instead; the reset marker goes last;
// anything else (the Raft HardState) stays.
func ownedByLog(name string) bool {
	switch name {
	case metaTempName, epochFileName, epochFileTemp, cleanPointName, cleanPointTemp, hwFileName, hwFileTemp, resetMarkerTemp:
		return true
	}
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix, cleanedSuffix, swapSuffix, snapshotSuffix, snapshotTempSuffix} {
		if stem, ok := strings.CutSuffix(name, suffix); ok && len(stem) == 20 && strings.Trim(stem, "0123456789") == "" {
			return true
		}
	}
	return false
}
