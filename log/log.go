// Package log is the partition log: one directory per Kafka partition
// holding segments of raw RecordBatch v2 bytes, with Kafka-layout sparse
// offset and time indexes, size/time/index-size based rolling, retention,
// compaction (cleaner.go), crash recovery that reports what it dropped, and
// what replication needs (TruncateTo, leader epochs, a high watermark:
// replication.go). Sealed segments' files and indexes are held open only
// through a bounded FileCache. The on-disk format is described in FORMAT.md.
// All file I/O goes through a vfs.FS.
package log

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moldau/moldau/log/vfs"
)

// Config tunes one Log. Zero SegmentBytes and IndexIntervalBytes take their
// defaults; RetentionMs and RetentionBytes are taken literally (negative
// means infinite, 0 means keep nothing but the active segment). Use
// DefaultConfig for a starting point.
type Config struct {
	// SegmentBytes: roll when appending would make the active segment
	// exceed this (default 1 GiB, at most 2 GiB-1). A larger batch still
	// goes in, alone in a fresh segment.
	SegmentBytes int64
	// SegmentMs: roll when the active segment's first batch is older than
	// this (0 = never).
	SegmentMs int64
	// SegmentJitterMs (Kafka segment.jitter.ms): each segment rolls up to
	// this much earlier than SegmentMs (a random amount fixed per segment),
	// so that many partitions created together do not roll together.
	SegmentJitterMs int64
	// IndexIntervalBytes: add a sparse index entry after at least this many
	// bytes (default 4096).
	IndexIntervalBytes int
	// Files, if set, bounds the open files of sealed segments; share one
	// across all the logs of a broker. nil keeps every segment file open.
	Files *FileCache
	// SegmentIndexBytes (Kafka segment.index.bytes): roll when the offset
	// index holds SegmentIndexBytes/8 entries or the time index
	// SegmentIndexBytes/12 (0 = no limit).
	SegmentIndexBytes int64
	// RetentionMs: delete segments whose largest timestamp is older than
	// this (-1 = infinite).
	RetentionMs int64
	// RetentionBytes: delete the oldest segments while the log is larger
	// than this (-1 = infinite).
	RetentionBytes int64
	// FlushMessages (Kafka flush.messages): FlushDue reports true once
	// at least this many messages (offsets) are unsynced, and the caller
	// then syncs (Append itself never does). 0 or math.MaxInt64: never.
	FlushMessages int64
	// FlushMs (Kafka flush.ms): FlushIfDue fsyncs when the log has unsynced
	// data and the last sync is at least this old. Negative or
	// math.MaxInt64: never.
	FlushMs int64

	// Compact enables the cleaner (cleanup.policy contains compact); see
	// cleaner.go. Retention is independent: set RetentionMs/RetentionBytes
	// to -1 for compact-only.
	Compact bool
	// DeleteRetentionMs: tombstones whose batch is older are removed.
	DeleteRetentionMs int64
	// MinCompactionLagMs: batches younger than this are not cleaned.
	MinCompactionLagMs int64
	// MaxCompactionLagMs: clean regardless of the dirty ratio once the
	// first dirty batch is older than this (0 or >= 2^62: never).
	MaxCompactionLagMs int64
	// MinCleanableDirtyRatio: clean when dirty/(clean+dirty) bytes reach it.
	MinCleanableDirtyRatio float64

	// Replicated (read by Open): the high watermark is replication's
	// commit point, recovered from its checkpoint at Open instead of
	// following the end offset (hwcheckpoint.go).
	Replicated bool
}

// Defaults.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultIndexIntervalBytes = 4096
)

// DefaultConfig returns Kafka's defaults, except that retention is infinite.
func DefaultConfig() Config {
	return Config{SegmentBytes: DefaultSegmentBytes, IndexIntervalBytes: DefaultIndexIntervalBytes, RetentionMs: -1, RetentionBytes: -1}
}

func (c Config) withDefaults() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	return c
}

// Log is one partition's log.
//
// High watermark: readers (Fetch) stop at HighWatermark. On a single-node
// log it is the end offset. On a replicated log (Config.Replicated) it is
// replication's commit point, checkpointed, and after a reopen (clean or
// not) a reader sees only records below the recovered high watermark: at
// most the one last checkpointed, never above the recovered end offset
// (hwcheckpoint.go).
//
// Concurrency: every method is safe for concurrent use. Appends are
// serialized internally; reads run concurrently with each other and with an
// append and only ever see whole batches (the end offset and segment size are
// published after the bytes are written).
//
// Locking, outermost first:
//
//	cleanMu  serializes Compact with DeleteRecordsBefore, EnforceRetention,
//	         TruncateTo, ResetTo and Close (everything that removes or replaces
//	         non-active segments).
//	groupMu  guards groupDone: which SyncTo call leads the running sync.
//	syncMu   serializes SyncTo, DeleteRecordsBefore, EnforceRetention, Close:
//	         everything that fsyncs or closes/removes segment files.
//	appendMu serializes Append (the only writer of the active segment).
//	repl.hwMu serializes high-watermark checkpoint writes (hwcheckpoint.go);
//	         taken after appendMu or alone, never with mu or below.
//	mu       guards segments, active, pending, dirDirty, closed, epochs and
//	         the mutable fields of every segment (see segment). Readers hold
//	         it for reading only to copy a segmentView (which pins the
//	         segment through segment.refs); they do file I/O without it.
//	segment.fileMu  a sealed segment's file, pins and indexes (see segment);
//	         taken under mu or alone, never the other way round.
//	FileCache.mu    the cache's LRU list; innermost.
type Log struct {
	fs     vfs.FS
	dir    string
	logger *slog.Logger
	cfg    atomic.Pointer[Config]

	cleanMu  sync.Mutex
	syncMu   sync.Mutex
	appendMu sync.Mutex
	mu       sync.RWMutex

	segments []*segment // ascending base offsets; the last is active
	active   *segment
	pending  []*segment // rolled segments whose data and index files are not yet synced
	dirDirty bool       // a segment file was created since the last SyncDir
	closed   bool

	logStart   atomic.Int64 // written under mu
	end        atomic.Int64 // written under mu
	durable    atomic.Int64 // written under syncMu: every offset below is synced
	cleanPoint atomic.Int64 // cleaner checkpoint: first dirty offset
	hw         atomic.Int64 // high watermark; -1: follow the end offset
	epochs     []EpochEntry // leader-epoch cache; written under appendMu and mu (replication.go)
	closing    atomic.Bool  // Close has begun: a running Compact aborts
	snapsOpen  *[]int64     // snapshot offsets Open listed, until LoadSnapshot takes them (snapshot.go)
	repl       replicationState

	// lastSync is the Unix ms time of the last successful sync (or Open).
	lastSync atomic.Int64

	// Group commit (SyncTo): appends counts batches appended, waiters the
	// SyncTo calls waiting; a sync leader waits (briefly) for as many
	// appends as the previous sync covered and had waiters, so writers
	// released by one sync share the next.
	groupMu     sync.Mutex
	groupDone   chan struct{} // closed when the running group sync ends; nil if none
	appends     atomic.Int64
	waiters     atomic.Int64
	syncedAt    int64 // appends at the last sync's snapshot; under syncMu
	lastGroup   int64 // batches the last sync covered, at most its waiters; under syncMu
	lastSyncDur time.Duration

	// marked: the meta file says "unclean" (open for writing). A log
	// opened after a clean shutdown keeps its clean meta until its first
	// change (markOpen), so opening and closing thousands of idle
	// partitions writes nothing.
	marked atomic.Bool
	markMu sync.Mutex

	// failed is set after an error that leaves on-disk state unknown (a
	// failed fsync, or a failed write that could not be undone). Appends
	// and syncs then fail until the log is reopened (which recovers).
	failed atomic.Pointer[error]
}

func (l *Log) config() *Config { return l.cfg.Load() }

// SetConfig changes the configuration; it applies to the next append and
// retention run.
func (l *Log) SetConfig(cfg Config) {
	c := cfg.withDefaults()
	l.cfg.Store(&c)
}

// markOpen records, before the log's first change since a clean open, that
// the log is open for writing (meta: unclean), so that a crash from then on
// is recovered by a scan. Every path that changes a file calls it first.
func (l *Log) markOpen() error {
	if l.marked.Load() {
		return nil
	}
	l.markMu.Lock()
	defer l.markMu.Unlock()
	if l.marked.Load() {
		return nil
	}
	if err := writeMeta(l.fs, l.dir, meta{clean: false, logStart: l.logStart.Load()}); err != nil {
		return fmt.Errorf("log: mark open: %w", err)
	}
	l.marked.Store(true)
	return nil
}

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.dir }

// LogStartOffset returns the first offset that may be read.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// EndOffset returns the log end offset: the next offset to be assigned.
func (l *Log) EndOffset() int64 { return l.end.Load() }

// DurableOffset returns the offset below which everything is known to be
// synced.
func (l *Log) DurableOffset() int64 { return l.durable.Load() }

// Size returns the total bytes of all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segments {
		n += s.size
	}
	return n
}

// Segments returns the number of segments.
func (l *Log) Segments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segments)
}

func (l *Log) failure() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (l *Log) fail(err error) error {
	err = fmt.Errorf("log: %s needs reopening after a failed write or sync: %w", l.dir, err)
	l.failed.CompareAndSwap(nil, &err)
	l.logger.Error("partition log failed", "dir", l.dir, "err", err)
	return err
}

// Append assigns the next offsets to batch, writes it and returns its base
// offset. batch must be exactly one RecordBatch v2 already validated by the
// caller (CRC, magic, lengths); Append rewrites bytes [0:8] (baseOffset) of
// the caller's slice in place, which the CRC does not cover. now (Unix ms)
// drives time-based rolling. Append never fsyncs; see SyncTo.
//
// Config.FlushMessages (Kafka's flush.messages) is the caller's to apply,
// off its append path: after Append, FlushDue reports whether that many
// messages are unsynced, and the caller then calls SyncTo(EndOffset())
// before it acknowledges the append (Kafka fsyncs inside its append; a
// broker here does it in the produce reply's wait, so that the
// connection's reader goroutine never waits for an fsync).
func (l *Log) Append(batch []byte, now int64) (int64, error) {
	return l.append(batch, now)
}

// FlushDue reports whether Config.FlushMessages asks for a sync: at least
// that many messages (offsets) are unsynced. See Append.
func (l *Log) FlushDue() bool {
	n := l.config().FlushMessages
	return n > 0 && n != math.MaxInt64 && l.end.Load()-l.durable.Load() >= n
}

// FlushIfDue implements Kafka's flush.ms: it fsyncs if the log has unsynced
// data and its last sync is at least Config.FlushMs old. It reports whether
// it synced.
func (l *Log) FlushIfDue(nowMs int64) (bool, error) {
	ms := l.config().FlushMs
	if ms < 0 || ms == math.MaxInt64 {
		return false, nil
	}
	end := l.end.Load()
	if end <= l.durable.Load() || nowMs-l.lastSync.Load() < ms {
		return false, nil
	}
	return true, l.SyncTo(end)
}

func (l *Log) append(batch []byte, now int64) (int64, error) {
	if len(batch) < BatchHeaderSize ||
		int64(int32(binary.BigEndian.Uint32(batch[offBatchLength:])))+batchLengthOverhead != int64(len(batch)) {
		return 0, fmt.Errorf("%w: length field does not match %d bytes", ErrInvalidBatch, len(batch))
	}
	delta := int64(int32(binary.BigEndian.Uint32(batch[offLastOffsetDelta:])))
	if delta < 0 {
		return 0, fmt.Errorf("%w: %w", ErrInvalidBatch, errBadDelta)
	}
	maxTS := int64(binary.BigEndian.Uint64(batch[offMaxTimestamp:]))
	length := int64(len(batch))

	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if err := l.failure(); err != nil {
		return 0, err
	}
	if err := l.markOpen(); err != nil {
		return 0, err
	}
	cfg := l.config()
	s := l.active
	base := s.next
	if s.size > 0 && (s.size+length > cfg.SegmentBytes ||
		(cfg.SegmentMs > 0 && s.rollBase >= 0 && now-s.rollBase >= cfg.SegmentMs-s.jitter(cfg.SegmentJitterMs, cfg.SegmentMs)) ||
		(cfg.SegmentIndexBytes > 0 && (int64(len(s.index)) >= cfg.SegmentIndexBytes/offsetEntrySize ||
			int64(len(s.timeIndex)) >= cfg.SegmentIndexBytes/timeEntrySize)) ||
		base+delta-s.base > math.MaxInt32) {
		var err error
		if s, err = l.rollLocked(); err != nil {
			return 0, err
		}
	}
	l.maybeNewEpochLocked(int32(binary.BigEndian.Uint32(batch[offLeaderEpoch:])), base) // in memory only: replication.go
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(base))
	pos := s.size
	if _, err := s.file.Write(batch); err != nil {
		// Undo a partial write so the file ends on a batch boundary.
		if terr := s.file.Truncate(pos); terr != nil {
			return 0, l.fail(err)
		}
		return 0, fmt.Errorf("log: append to %s: %w", s.path(logSuffix), err)
	}
	l.mu.Lock()
	if s.rollBase < 0 {
		s.rollBase = now
	}
	s.trackLocked(pos, length, base+delta, maxTS, cfg.IndexIntervalBytes)
	l.end.Store(base + delta + 1)
	l.mu.Unlock()
	l.appends.Add(1)
	return base, nil
}

// prefillChunk is the zero-fill-ahead step of active segment files
// (vfs.EnablePrefill): once a segment holds 1 MiB, appends of 4 KiB or
// more fill zeros up to the next multiple of it, so a busy partition keeps
// less than this beyond its data; small or idle partitions fill nothing.
const prefillChunk = 256 << 10

// prefill turns zero-fill ahead on for an active segment's file (OS files;
// a no-op for others).
func (l *Log) prefill(f vfs.File) { vfs.EnablePrefill(f, prefillChunk) }

// rollLocked seals the active segment (writing its index files, unsynced)
// and starts a new one at the end offset. It requires appendMu.
func (l *Log) rollLocked() (*segment, error) {
	cfg := l.config()
	old := l.active
	base := old.next
	f, err := l.fs.OpenFile(filepath.Join(l.dir, segmentFileName(base, logSuffix)), os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log: roll: %w", err)
	}
	l.prefill(f)
	s := newSegment(l.dir, base, f)
	l.mu.Lock()
	old.maybeAddTimeEntryLocked()
	l.mu.Unlock()
	// The old segment's file ends at its data from now on (synced with it
	// by the next SyncTo, before anything in the new one counts as
	// durable); should this fail, recovery cuts the zeros.
	if err := vfs.TrimPrefill(old.file); err != nil {
		l.logger.Warn("could not trim zeros filled ahead; recovery will", "segment", old.path(logSuffix), "err", err)
	}
	// old is still active, so retention cannot remove it underneath us.
	if err := old.writeIndexFiles(l.fs, false); err != nil {
		l.logger.Warn("could not write index files; they will be rebuilt", "segment", old.path(logSuffix), "err", err)
	}
	s.fs = l.fs
	l.mu.Lock()
	l.segments = append(l.segments, s)
	l.active = s
	l.pending = append(l.pending, old)
	l.dirDirty = true
	old.sealLocked(cfg.Files)
	l.mu.Unlock()
	l.logger.Debug("rolled segment", "base_offset", base)
	return s, nil
}

// SyncTo makes every offset below offset durable: it fsyncs rolled segments
// and their index files, the active segment, and the directory if segments
// were created. Offsets beyond the end offset are clamped to it.
//
// Concurrent callers share fsyncs (group commit). One caller at a time leads
// a sync of everything appended so far; the others wait on the running
// sync's channel, which is closed when it ends, so every caller it covered
// returns at once and only those it did not cover race to lead the next one
// (waiting in line on a mutex instead made covered callers wait behind the
// next sync: 16 writers on one log got 3.5 batches per fsync, now 12). The
// leader first waits briefly for writers released by the previous sync to
// append again (gatherLocked). 16 logs x 4 writers with an fsync per
// 16 KiB batch: 43% → 63–68% of the disk's sequential bandwidth.
//
// A failed fsync leaves the log failed (see Append): the kernel may have
// dropped the dirty pages, so retrying the fsync would lie.
func (l *Log) SyncTo(offset int64) error {
	if offset <= l.durable.Load() {
		return nil
	}
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	for {
		// Clamp to the end each time round: a TruncateTo meanwhile may
		// have lowered it (and the durable offset) below offset.
		offset = min(offset, l.end.Load())
		l.groupMu.Lock()
		if offset <= l.durable.Load() {
			l.groupMu.Unlock()
			return nil
		}
		if err := l.failure(); err != nil {
			l.groupMu.Unlock()
			return err
		}
		if done := l.groupDone; done != nil {
			// A sync is running: wait for it with every other waiter
			// (a broadcast, so none queues behind the next sync).
			l.groupMu.Unlock()
			<-done
			continue
		}
		done := make(chan struct{})
		l.groupDone = done
		l.groupMu.Unlock()

		l.syncMu.Lock()
		var err error
		if offset > l.durable.Load() {
			l.gatherLocked()
			err = l.syncLocked()
			// Appends nobody waits for (acks=1 producers) must not
			// make the next leader wait for them.
			l.lastGroup = min(l.lastGroup, l.waiters.Load())
		}
		l.syncMu.Unlock()
		l.groupMu.Lock()
		l.groupDone = nil
		close(done)
		l.groupMu.Unlock()
		if err != nil {
			return err
		}
	}
}

// gatherLocked is the group-commit wait: when the previous sync covered
// several batches and callers (so several writers are likely to be
// appending again), it gives them up to half the previous sync's duration
// (at most 500 µs) to append as many batches again before the sync starts,
// yielding the CPU meanwhile. A lone writer never waits. It requires
// syncMu.
func (l *Log) gatherLocked() {
	want := l.lastGroup
	if want <= 1 {
		return
	}
	deadline := time.Now().Add(min(l.lastSyncDur/2, 500*time.Microsecond))
	for l.appends.Load()-l.syncedAt < want && time.Now().Before(deadline) {
		runtime.Gosched()
	}
}

// syncLocked syncs everything published so far. It requires syncMu.
func (l *Log) syncLocked() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if err := l.failure(); err != nil {
		l.mu.Unlock()
		return err
	}
	end := l.end.Load()
	n := l.appends.Load()
	l.lastGroup, l.syncedAt = n-l.syncedAt, n
	active := l.active
	pending := l.pending
	l.pending = nil
	dirDirty := l.dirDirty
	l.dirDirty = false
	// The leader-epoch cache as of end: every batch below end has its
	// epoch in it (the appender updates it before publishing a batch).
	var epochs []EpochEntry
	epochsUnsaved := l.repl.epochUnsaved
	if epochsUnsaved {
		epochs = slices.Clone(l.epochs)
	}
	l.mu.Unlock()

	t0 := time.Now()
	// The checkpoint is written before any segment is synced and made
	// durable (with the directory) before anything is counted durable
	// (replication.go, saveDirtyEpochsLocked); it changes only with
	// epochs, so this costs once per new epoch, here in the sync, never
	// in Append.
	if epochsUnsaved {
		if err := l.saveDirtyEpochsLocked(epochs); err != nil {
			return l.fail(err)
		}
		dirDirty = true
	}
	// Retention, which could remove pending segments, needs syncMu.
	for _, s := range pending {
		if err := s.syncFiles(); err != nil {
			return l.fail(err)
		}
	}
	// active may have been rolled (and its file handed to the cache)
	// since the snapshot: pin it.
	f, err := active.pin()
	if err == nil {
		err = f.Sync()
		active.unpin()
	}
	if err != nil {
		return l.fail(err)
	}
	if dirDirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return l.fail(err)
		}
	}
	if end > l.durable.Load() {
		l.durable.Store(end)
	}
	l.lastSyncDur = time.Since(t0)
	l.lastSync.Store(time.Now().UnixMilli())
	return nil
}

// Read appends to buf the raw bytes of consecutive whole batches, starting
// with the batch that contains offset, stopping before any batch whose base
// offset is >= maxOffset and before the bytes added would exceed maxBytes;
// with minOneBatch the first batch is returned whole even if larger. Reading
// at EndOffset returns no bytes; offsets outside [LogStartOffset, EndOffset]
// return ErrOffsetOutOfRange. The first batch may start before offset (and
// before LogStartOffset); consumers skip such records.
//
// The returned slice aliases buf's array when it had room; the caller owns
// it.
//
// Locking: Read holds Log.mu (for reading) only to pick a segment and copy
// its published size and index into a view that pins the file (see
// segment.refs); the file I/O runs without any lock, so a slow read never
// delays Append (which needs Log.mu for writing to publish) and, through
// RWMutex writer preference, other readers.
//
// Interleaving with retention, walked through: Read takes a view of segment
// S (refs 2) and drops Log.mu; EnforceRetention removes S from the list,
// unlinks its files and drops the Log's reference (refs 1); Read's ReadAt
// still works on the open file; Read releases (refs 0) and the file closes.
func (l *Log) Read(offset, maxOffset int64, maxBytes int, minOneBatch bool, buf []byte) ([]byte, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return buf, ErrClosed
	}
	if offset < l.logStart.Load() || offset > l.end.Load() {
		l.mu.RUnlock()
		return buf, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, l.logStart.Load(), l.end.Load())
	}
	v := l.segments[l.segmentIndexLocked(offset)].viewLocked()
	l.mu.RUnlock()
	interval := l.config().IndexIntervalBytes
	total := 0
	for {
		var n int
		var stopped bool
		var err error
		if v, err = v.pin(); err != nil {
			return buf, err
		}
		buf, n, stopped, err = v.read(offset, maxOffset, maxBytes-total, minOneBatch && total == 0, interval, buf)
		offset = max(offset, v.next)
		v.done()
		if err != nil {
			return buf, err
		}
		total += n
		if stopped || total >= maxBytes || offset >= maxOffset {
			return buf, nil
		}
		// Continue where the view ended: in a later segment, or in the
		// same one if it grew since the view was taken.
		var ok bool
		if v, ok = l.viewAt(offset); !ok {
			return buf, nil
		}
	}
}

// viewAt returns a view of the segment that holds offset, or false if the
// log is closed or offset is at or beyond the end.
func (l *Log) viewAt(offset int64) (segmentView, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed || offset >= l.end.Load() {
		return segmentView{}, false
	}
	return l.segments[l.segmentIndexLocked(offset)].viewLocked(), true
}

// segmentIndexLocked returns the index of the segment that holds offset:
// the last one whose base is <= offset (or 0).
func (l *Log) segmentIndexLocked(offset int64) int {
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset })
	return max(i-1, 0)
}

// ScanHeaders calls fn with the header of every batch from the one
// containing from to the current end. It holds no lock while fn runs, so fn
// may call other methods of the Log; batches appended during the scan may or
// may not be visited. An error from fn stops the scan and is returned.
func (l *Log) ScanHeaders(from int64, fn func(h BatchHeader) error) error {
	const chunk = 512
	headers := make([]BatchHeader, 0, chunk)
	next := from
	for {
		headers = headers[:0]
		var err error
		next, err = l.collectHeaders(next, chunk, &headers)
		if err != nil {
			return err
		}
		for _, h := range headers {
			if err := fn(h); err != nil {
				return err
			}
		}
		if len(headers) < chunk {
			return nil
		}
	}
}

// collectHeaders gathers up to n headers of batches whose last offset is
// >= from, returning the offset to continue from.
func (l *Log) collectHeaders(from int64, n int, out *[]BatchHeader) (int64, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return from, ErrClosed
	}
	from = max(from, l.segments[0].base)
	v := l.segments[l.segmentIndexLocked(from)].viewLocked()
	l.mu.RUnlock()
	for {
		var err error
		if v, err = v.pin(); err != nil {
			return from, err
		}
		sc := newBatchScanner(v.seg, v.file, v.floorPos(from), v.size, false)
		for len(*out) < n {
			h, _, _, err := sc.next()
			if err != nil {
				if err == io.EOF {
					break
				}
				v.done()
				return from, err
			}
			if h.LastOffset() < from {
				continue
			}
			*out = append(*out, h)
			from = h.NextOffset()
		}
		v.done()
		if len(*out) >= n {
			return from, nil
		}
		from = max(from, v.next)
		var ok bool
		if v, ok = l.viewAt(from); !ok {
			return from, nil
		}
	}
}

// Close writes the index files, fsyncs everything, records a clean shutdown
// and closes the files. After a failure (see Append) it closes the files
// without recording a clean shutdown, so the next Open recovers.
func (l *Log) Close() error {
	l.closing.Store(true)
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
	err := l.failure()
	if err == nil {
		err = l.flushForCloseLocked()
	}
	if err == nil {
		err = l.checkpointHighWatermark() // hwcheckpoint.go
	}
	l.mu.Lock()
	l.closed = true
	for _, s := range l.segments {
		s.release() // closes now, or when the last in-flight reader is done
	}
	l.mu.Unlock()
	return err
}

// flushForCloseLocked requires syncMu and appendMu. A log not changed since
// a clean open is still clean on disk: nothing to write.
func (l *Log) flushForCloseLocked() error {
	if !l.marked.Load() {
		return nil
	}
	l.mu.Lock()
	l.active.maybeAddTimeEntryLocked()
	l.mu.Unlock()
	if err := vfs.TrimPrefill(l.active.file); err != nil {
		return fmt.Errorf("log: trim %s: %w", l.active.path(logSuffix), err)
	}
	if err := l.active.writeIndexFiles(l.fs, true); err != nil {
		return err
	}
	if err := l.syncLocked(); err != nil {
		return err
	}
	if err := writeMeta(l.fs, l.dir, meta{clean: true, logStart: l.logStart.Load()}); err != nil {
		return fmt.Errorf("log: mark clean shutdown: %w", err)
	}
	return nil
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	if err := l.Close(); err != nil && err != ErrClosed {
		l.logger.Warn("close before delete failed", "dir", l.dir, "err", err)
	}
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return err
	}
	return l.fs.SyncDir(filepath.Dir(l.dir))
}
