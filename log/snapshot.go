package log

// Producer-state snapshot files (Kafka's <offset>.snapshot): opaque bytes
// that the broker writes (the txn package's encoding) so that opening a
// partition replays only the batches after the snapshot's offset. The log
// stores them crash-safely, hands back the newest usable one, and drops
// those a truncation or recovery left past the log end. See FORMAT.md.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	snapshotSuffix     = ".snapshot"
	snapshotTempSuffix = ".snapshot.tmp"
	// snapshotsKept is how many snapshot files WriteSnapshot leaves (the
	// newest and one to fall back on).
	snapshotsKept = 2
)

// snapshotOffsets lists the snapshot files' offsets, ascending, removing
// temporary leftovers of interrupted writes.
func (l *Log) snapshotOffsets() ([]int64, error) {
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	var offs []int64
	for _, name := range names {
		if off, ok := l.snapshotFile(name); ok {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	return offs, nil
}

// snapshotFile reports the offset of a snapshot file name; it removes a
// temporary leftover of an interrupted write.
func (l *Log) snapshotFile(name string) (int64, bool) {
	if strings.HasSuffix(name, snapshotTempSuffix) {
		_ = l.fs.Remove(filepath.Join(l.dir, name))
		return 0, false
	}
	stem, ok := strings.CutSuffix(name, snapshotSuffix)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(stem, 10, 64)
	return off, err == nil && off >= 0
}

// noteSnapshotFile is called by Open for each name in the directory, so
// that LoadSnapshot at open needs no second listing (10,000 partitions
// would pay one ReadDir each).
func (l *Log) noteSnapshotFile(name string) {
	if l.snapsOpen == nil {
		l.snapsOpen = new([]int64)
	}
	if off, ok := l.snapshotFile(name); ok {
		*l.snapsOpen = append(*l.snapsOpen, off)
	}
}

// WriteSnapshot stores data as the snapshot at offset (state as of every
// batch below offset): written to a temporary file, fsynced, renamed and
// the directory fsynced, so a crash leaves the old set or the new one.
// Older snapshots beyond the newest two are removed.
func (l *Log) WriteSnapshot(offset int64, data []byte) error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	name := segmentFileName(offset, snapshotSuffix)
	if err := replaceFile(l.fs, l.dir, segmentFileName(offset, snapshotTempSuffix), name, data); err != nil {
		return fmt.Errorf("log: write snapshot %s: %w", name, err)
	}
	offs, err := l.snapshotOffsets()
	if err != nil {
		return err
	}
	for len(offs) > snapshotsKept {
		if err := l.fs.Remove(filepath.Join(l.dir, segmentFileName(offs[0], snapshotSuffix))); err != nil && !isNotExist(err) {
			return fmt.Errorf("log: remove old snapshot: %w", err)
		}
		offs = offs[1:]
	}
	return nil
}

// LoadSnapshot offers the snapshots between the log start and the log end
// to use, newest first, until use accepts one (returns nil); it returns
// that snapshot's offset. Snapshots past the log end (left by a truncation
// or a recovery that dropped a torn tail) are removed first. ok is false
// when none was accepted: the caller rebuilds from the whole log.
func (l *Log) LoadSnapshot(use func(offset int64, data []byte) error) (offset int64, ok bool, err error) {
	var offs []int64
	l.mu.Lock()
	listed := l.snapsOpen
	l.snapsOpen = nil
	l.mu.Unlock()
	if listed != nil { // the listing Open made (the first call after Open)
		offs = *listed
		slices.Sort(offs)
	} else if offs, err = l.snapshotOffsets(); err != nil {
		return 0, false, err
	}
	start, end := l.LogStartOffset(), l.EndOffset()
	if len(offs) > 0 && offs[len(offs)-1] > end {
		if err := l.deleteSnapshotsAbove(end); err != nil {
			return 0, false, err
		}
	}
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		if off > end || off < start {
			continue
		}
		name := filepath.Join(l.dir, segmentFileName(off, snapshotSuffix))
		data, err := readWholeFile(l.fs, name)
		if err == nil {
			err = use(off, data)
		}
		if err == nil {
			return off, true, nil
		}
		l.logger.Warn("ignoring unusable producer state snapshot", "file", name, "err", err)
	}
	return 0, false, nil
}

// deleteSnapshotsAbove removes the snapshots past offset: they describe
// batches the log no longer has (TruncateTo, recovery).
func (l *Log) deleteSnapshotsAbove(offset int64) error {
	offs, err := l.snapshotOffsets()
	if err != nil {
		return err
	}
	removed := false
	for _, off := range offs {
		if off > offset {
			if err := l.fs.Remove(filepath.Join(l.dir, segmentFileName(off, snapshotSuffix))); err != nil && !isNotExist(err) {
				return fmt.Errorf("log: remove snapshot past %d: %w", offset, err)
			}
			removed = true
		}
	}
	if removed {
		return l.fs.SyncDir(l.dir)
	}
	return nil
}

// ActiveBase is the base offset of the active segment (where the next
// appended batch goes unless it rolls a new one).
func (l *Log) ActiveBase() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.segments[len(l.segments)-1].base
}
