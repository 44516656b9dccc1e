package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
// the recovered end (their batches were lost in a crash, or truncated).
func (l *Log) loadEpochs() {
	b, err := readWholeFile(l.fs, filepath.Join(l.dir, epochFileName))
	if err != nil {
		return
	}
	entries, err := decodeEpochs(b)
	if err != nil {
		l.logger.Warn("ignoring damaged leader-epoch-checkpoint", "dir", l.dir, "err", err)
		return
	}
	end := l.end.Load()
	for len(entries) > 0 && entries[len(entries)-1].StartOffset >= end {
		entries = entries[:len(entries)-1]
	}
	l.epochs = entries
}

// maybeNewEpochLocked is called by the appender before writing a batch at
// base with leader epoch epoch: a new (higher) epoch is recorded in the
// checkpoint, durably, before its first batch is written, so the file never
// misses an epoch whose batches survived. It requires appendMu.
func (l *Log) maybeNewEpochLocked(epoch int32, base int64) error {
	if epoch < 0 {
		return nil
	}
	if n := len(l.epochs); n > 0 && epoch <= l.epochs[n-1].Epoch {
		return nil
	}
	entries := append(slices.Clone(l.epochs), EpochEntry{epoch, base})
	if err := replaceFile(l.fs, l.dir, epochFileTemp, epochFileName, encodeEpochs(entries)); err != nil {
		return fmt.Errorf("log: write leader-epoch-checkpoint: %w", err)
	}
	l.mu.Lock()
	l.epochs = entries
	l.mu.Unlock()
	return nil
}

// Epochs returns a copy of the leader-epoch cache.
func (l *Log) Epochs() []EpochEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return slices.Clone(l.epochs)
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch as Kafka's
// LeaderEpochFileCache.endOffsetFor does: the largest cached epoch <=
// epoch, and the start offset of the epoch after it (the log end if it is
// the latest). It returns (-1, -1) if epoch precedes every cached epoch or
// the cache is empty.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := -1
	for j, e := range l.epochs {
		if e.Epoch <= epoch {
			i = j
		}
	}
	switch {
	case i < 0:
		return -1, -1
	case i == len(l.epochs)-1:
		return l.epochs[i].Epoch, l.end.Load()
	default:
		return l.epochs[i].Epoch, l.epochs[i+1].StartOffset
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

// HighWatermark returns the offset below which records are committed. Until
// SetHighWatermark is first called it is the end offset (single node: every
// appended batch is committed); after that it is what was set, clamped to
// the end offset.
func (l *Log) HighWatermark() int64 {
	end := l.end.Load()
	if hw := l.hw.Load(); hw >= 0 {
		return min(hw, end)
	}
	return end
}

// SetHighWatermark sets the high watermark (replication's commit index).
// It never moves backwards except through TruncateTo.
func (l *Log) SetHighWatermark(offset int64) {
	for {
		cur := l.hw.Load()
		if offset <= cur || l.hw.CompareAndSwap(cur, offset) {
			return
		}
	}
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
// watermark, which readers stop at, is clamped to the new end. Callers
// should not truncate below the high watermark.
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
	epochsChanged := len(epochs) != len(l.epochs)
	l.epochs = slices.Clone(epochs)
	l.mu.Unlock()
	for _, seg := range later {
		seg.release()
	}
	if epochsChanged {
		if err := replaceFile(l.fs, l.dir, epochFileTemp, epochFileName, encodeEpochs(epochs)); err != nil {
			return newEnd, l.fail(err)
		}
	}
	l.logger.Info("truncated log", "dir", l.dir, "from_offset", newEnd, "old_end", end, "segments_removed", len(later))
	return newEnd, nil
}
