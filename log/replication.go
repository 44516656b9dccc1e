package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moldau/moldau/log/vfs"
)

// What the replication work needs from the log: suffix truncation, leader
// epochs (Kafka's partitionLeaderEpoch, the Raft term) with a leader-epoch
// checkpoint, and a high watermark distinct from the log end.

// EpochEntry records that leader epoch Epoch began at StartOffset.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// The leader-epoch checkpoint, in Kafka's text format
// (LeaderEpochCheckpointFile): a version line "0", a count line, then one
// "epoch startOffset" line per entry, ascending. See FORMAT.md.
const (
	epochFileName = "leader-epoch-checkpoint"
	epochFileTemp = "leader-epoch-checkpoint.tmp"
)

func encodeEpochs(entries []EpochEntry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b.Bytes()
}

func decodeEpochs(b []byte) ([]EpochEntry, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) < 2 || lines[0] != "0" {
		return nil, fmt.Errorf("log: bad leader-epoch-checkpoint header")
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n < 0 || n != len(lines)-2 {
		return nil, fmt.Errorf("log: bad leader-epoch-checkpoint count")
	}
	out := make([]EpochEntry, 0, n)
	for _, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("log: bad leader-epoch-checkpoint line %q", line)
		}
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || o < 0 {
			return nil, fmt.Errorf("log: bad leader-epoch-checkpoint line %q", line)
		}
		if k := len(out); k > 0 && (int32(e) <= out[k-1].Epoch || o < out[k-1].StartOffset) {
			return nil, fmt.Errorf("log: leader-epoch-checkpoint not ascending")
		}
		out = append(out, EpochEntry{int32(e), o})
	}
	return out, nil
}

// loadEpochs reads the checkpoint at Open, dropping entries at or beyond
// the recovered end offset end (their batches were lost in a crash, or
// truncated).
func (l *Log) loadEpochs(end int64) {
	b, err := readWholeFile(l.fs, filepath.Join(l.dir, epochFileName))
	if err != nil {
		return
	}
	entries, err := decodeEpochs(b)
	if err != nil {
		l.logger.Warn("ignoring damaged leader-epoch-checkpoint", "dir", l.dir, "err", err)
		return
	}
	for len(entries) > 0 && entries[len(entries)-1].StartOffset >= end {
		entries = entries[:len(entries)-1]
	}
	l.epochs = entries
}

// withEpoch returns entries with epoch beginning at base, as Kafka's
// LeaderEpochFileCache.assign leaves them: a later entry at base (an epoch
// assigned with nothing appended in it) gives way. It never modifies
// entries.
func withEpoch(entries []EpochEntry, epoch int32, base int64) []EpochEntry {
	kept := entries
	for len(kept) > 0 && kept[len(kept)-1].StartOffset >= base {
		kept = kept[:len(kept)-1]
	}
	return append(slices.Clone(kept), EpochEntry{epoch, base})
}

// maybeNewEpochLocked is called by the appender before writing a batch at
// base with leader epoch epoch: an epoch above the latest cached one starts
// a new entry (epoch, base). It requires appendMu.
//
// It changes only the in-memory cache and marks it unsaved: the append path
// never fsyncs (issue #13: no fsync on a connection's reader goroutine;
// before, the first append of each epoch, so the first append to every new
// partition, paid the checkpoint's two fsyncs under appendMu). The cache
// reaches the checkpoint durably before any batch of its epoch is counted
// durable: syncLocked (so SyncTo, FlushIfDue, the cleaner's sync and
// Close) writes it first (saveDirtyEpochsLocked); TruncateTo writes it
// itself and ResetTo removes it. Batches
// that reach the disk without a sync of ours (the page cache survives a
// kill -9; the kernel writes dirty pages back before a power loss) may
// carry an epoch the checkpoint lacks: Open rebuilds those entries from the
// batch headers after an unclean shutdown (rebuildEpochs), as Kafka's
// LogSegment.recover does.
func (l *Log) maybeNewEpochLocked(epoch int32, base int64) {
	n := len(l.epochs)
	if epoch < 0 || (n > 0 && epoch <= l.epochs[n-1].Epoch) {
		return
	}
	entries := withEpoch(l.epochs, epoch, base)
	l.mu.Lock()
	l.epochs = entries
	l.repl.epochUnsaved = true
	l.mu.Unlock()
}

// saveEpochsLocked durably replaces the checkpoint with entries and makes
// them the cache. It requires syncMu and appendMu.
func (l *Log) saveEpochsLocked(entries []EpochEntry) error {
	if err := writeEpochCheckpoint(l.fs, l.dir, entries); err != nil {
		return err
	}
	l.mu.Lock()
	l.epochs = entries
	l.repl.epochUnsaved = false
	l.mu.Unlock()
	return nil
}

// saveDirtyEpochsLocked writes the cache to the checkpoint if it has
// unsaved changes; syncLocked calls it before it fsyncs any segment, with
// the cache as it was when it took its snapshot of the end offset. The new
// file's contents are fsynced and it is renamed into place; the rename is
// made durable by the directory sync that syncLocked then does before it
// advances the durable offset (one fsync fewer than replaceFile on the
// first sync of a new partition, which syncs the directory anyway). So no
// batch is counted durable before the checkpoint holds its epoch; a crash
// between the segment fsyncs and the directory sync can leave durable
// batches of an epoch the file lacks, which Open rebuilds (rebuildEpochs).
//
// It requires syncMu (which serializes every writer of the file); appends
// may run meanwhile, and a change they make stays unsaved for the next
// sync.
func (l *Log) saveDirtyEpochsLocked(entries []EpochEntry) error {
	tmp := filepath.Join(l.dir, epochFileTemp)
	if _, err := writeFile(l.fs, tmp, encodeEpochs(entries), true, false); err != nil {
		return fmt.Errorf("log: write leader-epoch-checkpoint: %w", err)
	}
	if err := l.fs.Rename(tmp, filepath.Join(l.dir, epochFileName)); err != nil {
		return fmt.Errorf("log: write leader-epoch-checkpoint: %w", err)
	}
	l.mu.Lock()
	if slices.Equal(l.epochs, entries) {
		l.repl.epochUnsaved = false
	}
	l.mu.Unlock()
	return nil
}

func writeEpochCheckpoint(fsys vfs.FS, dir string, entries []EpochEntry) error {
	if err := replaceFile(fsys, dir, epochFileTemp, epochFileName, encodeEpochs(entries)); err != nil {
		return fmt.Errorf("log: write leader-epoch-checkpoint: %w", err)
	}
	return nil
}

// rebuildEpochs runs at Open after an unclean shutdown, with the segments
// recovered and still unsealed (files open, indexes in memory) and the
// cache loaded from the checkpoint. It adds an entry for every batch whose
// epoch is above the latest cached one, as Kafka's LogSegment.recover does,
// and reports how many it added (the cache is then unsaved and reaches the
// checkpoint with the next sync or Close; a crash before that rebuilds the
// same entries from the same batches).
//
// Where to look. Let C be the checkpoint on disk, written whole (replaceFile)
// from a snapshot of the cache taken when the end offset was e. Every batch
// below e had its epoch in that snapshot (the appender updates the cache
// before it publishes a batch), and C's last entry starts at or below e. So
// a batch whose epoch C lacks lies at or beyond C's last entry's start
// offset (anywhere, if C is empty): the scan starts at the segment holding
// it. Nothing else narrows it: a rolled segment is synced at the next
// SyncTo, not at the roll, so any segment rolled since the last sync may
// hold surviving unsynced batches of a new epoch, not only the last one
// (and a sealed segment's indexes are trusted by recovery, which walks only
// its tail).
//
// Cost. Batches' epochs never decrease along the log (every writer stamps
// the partition's current epoch, which only grows; TruncateTo removes a
// suffix before a new leader's batches follow; the cleaner keeps headers),
// so a sealed segment whose last batch's epoch is not above the latest
// cached one holds no new epoch and is skipped after reading its last
// batches (from its last index entry on, which recovery has just read
// anyway). The segments where an epoch rises, and the last segment (fully
// verified by recovery, so in the page cache), are walked header by header.
// Should a caller append batches whose epochs fall (the cache ignores a
// lower epoch, and so does this), only a higher epoch followed by lower ones
// inside one sealed segment, all of them unsynced, could be missed.
//
// It runs before the Log is shared: no locks.
func (l *Log) rebuildEpochs() (int, error) {
	latest, from := int32(-1), int64(-1)
	if n := len(l.epochs); n > 0 {
		latest, from = l.epochs[n-1].Epoch, l.epochs[n-1].StartOffset
	}
	start := 0
	if from >= 0 {
		start = l.segmentIndexLocked(from)
	}
	added := 0
	for i := start; i < len(l.segments); i++ {
		s := l.segments[i]
		if i < len(l.segments)-1 {
			pos := int64(0)
			if n := len(s.index); n > 0 {
				pos = int64(s.index[n-1].pos)
			}
			last := int32(-1)
			err := l.walkHeaders(s, pos, func(h BatchHeader) { last = h.LeaderEpoch })
			if err != nil {
				return added, err
			}
			if last <= latest {
				continue
			}
		}
		err := l.walkHeaders(s, 0, func(h BatchHeader) {
			if h.LeaderEpoch > latest && h.BaseOffset >= from {
				l.epochs = withEpoch(l.epochs, h.LeaderEpoch, h.BaseOffset)
				latest = h.LeaderEpoch
				added++
			}
		})
		if err != nil {
			return added, err
		}
	}
	if added > 0 {
		l.repl.epochUnsaved = true
		l.logger.Info("rebuilt leader epochs from batch headers after an unclean shutdown",
			"dir", l.dir, "added", added, "epochs", fmt.Sprint(l.epochs))
	}
	return added, nil
}

// walkHeaders calls fn with the header of every batch of segment s from
// file position pos to its recovered size. Damage in the part of a sealed
// segment that recovery trusts from its index (recovery verifies only the
// tail) ends the walk of that segment with a warning rather than failing
// Open; an I/O error is returned.
func (l *Log) walkHeaders(s *segment, pos int64, fn func(BatchHeader)) error {
	sc := newBatchScanner(s, s.file, pos, s.size, false)
	for {
		h, _, _, err := sc.next()
		if err == io.EOF {
			return nil
		}
		var corr *CorruptionError
		if errors.As(err, &corr) {
			l.logger.Warn("leader-epoch rebuild skips the rest of a segment at a damaged batch header", "segment", s.path(logSuffix), "err", err)
			return nil
		}
		if err != nil {
			return err
		}
		fn(h)
	}
}

// AssignEpoch records that leader epoch epoch begins at the current end
// offset, as Kafka's leader does when it is elected
// (UnifiedLog.maybeAssignEpochStartOffset), so that OffsetForLeaderEpoch
// answers for the leader's epoch before anything is appended in it (an
// empty partition answers (epoch, end) as Kafka's does). An epoch at or
// below the latest cached one is ignored (epochs only grow; truncation
// removes entries); a negative one is an error.
//
// Durability: the entry is held in memory (unsaved) and reaches the
// checkpoint with the next sync (see maybeNewEpochLocked), so assigning
// costs no fsync (opening 10,000 partitions assigns 10,000 epochs). A crash
// before that loses only an entry that no batch belongs to, or one that
// Open rebuilds from its batches; the leader assigns it again when it
// takes over.
func (l *Log) AssignEpoch(epoch int32) error {
	if epoch < 0 {
		return fmt.Errorf("log: assign negative leader epoch %d", epoch)
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.epochs); n > 0 && epoch <= l.epochs[n-1].Epoch {
		return nil
	}
	// An earlier assigned epoch that nothing was appended in gives way.
	end := l.end.Load()
	kept := l.epochs
	for len(kept) > 0 && kept[len(kept)-1].StartOffset >= end {
		kept = kept[:len(kept)-1]
	}
	l.epochs = append(slices.Clone(kept), EpochEntry{epoch, end})
	l.repl.epochUnsaved = true
	return nil
}

// Epochs returns a copy of the leader-epoch cache, as Kafka's cache holds
// it: entries wholly below the log start offset are left out and the first
// one starts at the log start at the earliest (Kafka's truncateFromStart,
// which it applies when the log start moves).
func (l *Log) Epochs() []EpochEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return slices.Clone(epochsFrom(l.epochs, l.logStart.Load()))
}

// epochsFrom is entries as Kafka's LeaderEpochFileCache.truncateFromStart
// leaves them for log start offset start: every entry starting at or
// below start is removed except the last of them, which is kept with start
// as its start offset. The result may alias entries (it is copied only
// when the first entry changes).
func epochsFrom(entries []EpochEntry, start int64) []EpochEntry {
	i := 0
	for i < len(entries) && entries[i].StartOffset <= start {
		i++
	}
	if i == 0 || (i == 1 && entries[0].StartOffset == start) {
		return entries
	}
	out := slices.Clone(entries[i-1:])
	out[0].StartOffset = start
	return out
}

// Kafka's OffsetsForLeaderEpochResponse.UNDEFINED_EPOCH and
// UNDEFINED_EPOCH_OFFSET.
const (
	UndefinedEpoch       int32 = -1
	UndefinedEpochOffset int64 = -1
)

// EndOffsetForEpoch answers OffsetForLeaderEpoch for the requested epoch
// exactly as Kafka's LeaderEpochFileCache.endOffsetFor does over the cache
// Epochs returns, with the log end offset as Kafka's logEndOffset:
//
//   - requested is UndefinedEpoch (-1): (-1, -1);
//   - requested is the latest cached epoch: (requested, log end offset);
//   - no cached epoch is above requested (requested is above the latest,
//     or the cache is empty): (-1, -1);
//   - requested is below the earliest cached epoch: (requested, start
//     offset of the earliest entry) — the data before it is gone;
//   - otherwise: (largest cached epoch <= requested, start offset of the
//     first cached epoch above requested), which skips gaps in epochs.
//
// A leader's cache holds its own epoch from its election (AssignEpoch), so
// on a leader the latest epoch is the leader epoch.
func (l *Log) EndOffsetForEpoch(requested int32) (epoch int32, endOffset int64) {
	return l.EndOffsetForEpochFrom(requested, 0)
}

// EndOffsetForEpochFrom is EndOffsetForEpoch over the cache as Kafka's
// truncateFromStart leaves it for the log start max(log start, from): a
// replicated log's Kafka log start (DeleteRecords) may lie above the
// log's own start.
func (l *Log) EndOffsetForEpochFrom(requested int32, from int64) (epoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return endOffsetFor(epochsFrom(l.epochs, max(l.logStart.Load(), from)), requested, l.end.Load())
}

// endOffsetFor is LeaderEpochFileCache.endOffsetFor over entries
// (ascending epochs) and the log end offset logEnd.
func endOffsetFor(entries []EpochEntry, requested int32, logEnd int64) (int32, int64) {
	n := len(entries)
	switch {
	case requested == UndefinedEpoch:
		return UndefinedEpoch, UndefinedEpochOffset
	case n > 0 && entries[n-1].Epoch == requested:
		return requested, logEnd
	}
	// higher: the first entry whose epoch is above requested.
	higher := sort.Search(n, func(i int) bool { return entries[i].Epoch > requested })
	switch {
	case higher == n:
		return UndefinedEpoch, UndefinedEpochOffset
	case higher == 0:
		return requested, entries[0].StartOffset
	default:
		return entries[higher-1].Epoch, entries[higher].StartOffset
	}
}

// AppendWithEpoch is Append that first stamps the batch's
// partitionLeaderEpoch (bytes [12:16], outside the CRC) with epoch, as a
// Kafka leader does on append.
func (l *Log) AppendWithEpoch(batch []byte, now int64, epoch int32) (int64, error) {
	if len(batch) >= BatchHeaderSize {
		binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(epoch))
	}
	return l.Append(batch, now)
}

// TruncateTo discards the suffix of the log from the batch that contains
// offset: afterwards EndOffset is the base offset of that batch (offset
// itself when it is a batch boundary, as Raft truncation always is). It is
// durable on return and crash-safe: later segments are removed last to
// first and the directory synced before the cut segment is truncated and
// synced, so a crash in between leaves a contiguous prefix (recovery drops
// anything after a hole). Truncating at or beyond EndOffset is a no-op;
// below LogStartOffset is ErrOffsetOutOfRange.
//
// Reads in flight past the new end may fail (short read); the high
// watermark, which readers stop at, is clamped to the new end, and so is
// its checkpoint (durably, before TruncateTo returns). Callers should not
// truncate below the high watermark.
func (l *Log) TruncateTo(offset int64) (int64, error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if err := l.failure(); err != nil {
		return 0, err
	}
	end := l.end.Load()
	if offset >= end {
		return end, nil
	}
	if err := l.markOpen(); err != nil {
		return 0, err
	}
	if offset < l.logStart.Load() {
		return end, fmt.Errorf("%w: truncate to %d below log start %d", ErrOffsetOutOfRange, offset, l.logStart.Load())
	}
	if err := l.deleteSnapshotsAbove(offset); err != nil { // snapshot.go
		return end, err
	}
	l.mu.RLock()
	i := l.segmentIndexLocked(offset)
	s := l.segments[i]
	later := slices.Clone(l.segments[i+1:])
	l.mu.RUnlock()

	// The cut segment becomes the active one: its file stays open.
	file, err := s.unseal()
	if err != nil {
		return end, err
	}
	// Find the cut: the first batch whose last offset is >= offset.
	sc := newBatchScanner(s, file, 0, s.size, false)
	cut, newEnd := s.size, s.next
	for {
		h, p, _, err := sc.next()
		if err != nil {
			break
		}
		if h.LastOffset() >= offset {
			cut, newEnd = p, h.BaseOffset
			break
		}
	}
	if cut == s.size && len(later) > 0 {
		newEnd = later[0].base
	}

	// Remove later segments, newest first, then make that durable.
	for j := len(later) - 1; j >= 0; j-- {
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if err := l.fs.Remove(later[j].path(suffix)); err != nil && !isNotExist(err) {
				return end, l.fail(err)
			}
		}
	}
	if len(later) > 0 {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return end, l.fail(err)
		}
	}
	// Stale index files of the cut segment must not be trusted after a
	// crash; the segment becomes the active one, whose index lives in
	// memory until it is rolled or the log closed.
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if err := l.fs.Remove(s.path(suffix)); err != nil && !isNotExist(err) {
			return end, l.fail(err)
		}
	}
	if err := file.Truncate(cut); err != nil {
		return end, l.fail(err)
	}
	l.prefill(file)
	if err := file.Sync(); err != nil {
		return end, l.fail(err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return end, l.fail(err)
	}
	// Rebuild the cut segment's in-memory state from its remaining bytes.
	fresh := newSegment(l.dir, s.base, file)
	if corr, err := fresh.scan(0, cut, false, l.config().IndexIntervalBytes); err != nil || corr != nil {
		if err == nil {
			err = corr
		}
		return end, l.fail(err)
	}
	if len(later) == 0 && s.rollBase >= 0 && fresh.size > 0 {
		fresh.rollBase = s.rollBase
	}

	l.mu.Lock()
	s.closeIndexFiles()
	s.size, s.next = fresh.size, fresh.next
	s.index, s.timeIndex = fresh.index, fresh.timeIndex
	s.maxTS, s.maxTSOff = fresh.maxTS, fresh.maxTSOff
	s.bytesSinceIndex = fresh.bytesSinceIndex
	if s.size == 0 {
		s.rollBase = -1
	}
	l.segments = l.segments[:i+1]
	l.active = s
	kept := l.pending[:0]
	for _, p := range l.pending {
		if p.base < s.base {
			kept = append(kept, p)
		}
	}
	clear(l.pending[len(kept):])
	l.pending = kept
	l.end.Store(newEnd)
	if l.durable.Load() > newEnd {
		l.durable.Store(newEnd)
	}
	if l.hw.Load() > newEnd {
		l.hw.Store(newEnd)
	}
	if l.cleanPoint.Load() > newEnd {
		l.cleanPoint.Store(newEnd)
	}
	epochs := l.epochs
	for len(epochs) > 0 && epochs[len(epochs)-1].StartOffset >= newEnd {
		epochs = epochs[:len(epochs)-1]
	}
	// Unsaved entries below the new end (appended since the last sync)
	// are written too: the cut segment was just synced.
	epochsChanged := len(epochs) != len(l.epochs) || l.repl.epochUnsaved
	l.epochs = slices.Clone(epochs)
	l.mu.Unlock()
	for _, seg := range later {
		seg.release()
	}
	if epochsChanged {
		if err := l.saveEpochsLocked(slices.Clone(epochs)); err != nil {
			return newEnd, l.fail(err)
		}
	}
	// A checkpointed high watermark above the new end would, after a
	// crash, expose what is appended here next before it is committed.
	if err := l.lowerCheckpointedHighWatermark(newEnd); err != nil { // hwcheckpoint.go
		return newEnd, l.fail(err)
	}
	l.logger.Info("truncated log", "dir", l.dir, "from_offset", newEnd, "old_end", end, "segments_removed", len(later))
	return newEnd, nil
}
