package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/moldau/moldau/log/records"
)

// Compaction (cleanup.policy=compact), after Kafka's LogCleaner.
//
// The log is split at the cleaner checkpoint (first dirty offset) into a
// clean head and a dirty tail; the dirty section ends at the first
// uncleanable offset: the active segment's base, the base of the first
// segment holding a batch younger than MinCompactionLagMs. The cleaner
// fsyncs the log up to there first, so that a record is only ever dropped
// in favour of a durable later one. A round runs when
// dirty/(clean+dirty) bytes reaches MinCleanableDirtyRatio, or when the
// first dirty segment is older than MaxCompactionLagMs.
//
// A round (1) maps every key of the dirty section to its latest offset in a
// fixed-budget OffsetMap, stopping at a batch boundary when the map is full
// (mapEnd); (2) rewrites each non-active segment below mapEnd, keeping a
// record if it is at or beyond mapEnd, or it has a key whose latest offset
// is its own (or is unknown to the map) and it is not a tombstone in a
// segment past the delete horizon (see Compact). Keyless records are
// dropped, as Kafka drops them. Control batches are kept whole.
//
// Transactions (CompactTxn's TxnView, from the broker, which tracks them):
// nothing at or past the first unstable offset is mapped or removed (an
// open transaction's records may still be aborted, and must not supersede
// committed ones meanwhile), and the records of aborted transactions are
// neither mapped nor kept, as in Kafka's cleaner.
//
// Transaction markers (control batches) go as in Kafka's
// CleanedTransactionMetadata: a round walks the rewritten range in offset
// order and notes, per producer id, whether any batch of its current
// transaction (a transactional data batch since its previous marker) is
// written to the cleaned output, even as an empty batch. A marker below
// mapEnd whose transaction has no such batch left is dropped once its
// segment is past the delete horizon (the tombstones' rule: Kafka's
// delete.retention.ms for markers), unless it must stay for the reasons an
// emptied batch stays (last batch of its group or of its producer id in
// the group; then it is kept whole). A marker is thus never dropped while
// data of its transaction remains: that data would otherwise read as an
// open transaction when producer state is rebuilt from the log.
//
// Batches keep their base offset, lastOffsetDelta, base timestamp, producer
// fields and record bytes (offset and timestamp deltas are relative to the
// unchanged bases), so offsets are never renumbered or reordered; the CRC,
// length, record count and (CreateTime) max timestamp are recomputed, and
// compressed batches are decompressed (bounded) and recompressed with the
// same codec (xerial snappy stays xerial). A batch left with no records is
// dropped unless it is the last batch of its group (segments must stay
// contiguous: each ends where the next begins) or the last batch of its
// producer id in the group; those stay as empty batches (record count 0,
// no compression), which keep their last offset as Kafka's do.
//
// Consecutive segments are cleaned together into one (as Kafka groups them:
// their original sizes add up to at most SegmentBytes), so cleaned segments
// do not shrink without bound. Each group is swapped crash-safely: write
// <base>.log.cleaned (base: the group's first segment) and fsync it; rename
// it to <base>.log.swap and fsync the directory (the commit point); remove
// the other members' files and every member's index files; rename
// <base>.log.swap over <base>.log; write the new index files; fsync the
// directory. Open deletes *.cleaned files and finishes the swap of any
// *.swap file, deleting the segments inside its offset range first.
//
// Replicated logs (Config.Replicated: the log is a Raft log, one batch per
// Raft entry; replication/DESIGN.md §2) are cleaned with three
// differences, so that Raft index = batch ordinal survives a clean and
// every replica keeps the same offsets, epochs and index -> offset map:
//   - every batch stays: one left with no records is kept as an empty
//     batch (its header: base offset, lastOffsetDelta, leader epoch and
//     producer fields; 61 bytes), never dropped;
//   - control batches (transaction markers) are kept whole, never dropped
//     (an emptied marker would no longer say what it was);
//   - nothing at or past the high watermark is mapped or removed (the
//     dirty section ends at min(StableEnd, high watermark)): an
//     uncommitted batch may still be cut by Raft, and a record must not
//     be dropped in favour of one that may vanish.
// Each replica cleans on its own schedule, so replicas are not
// byte-identical after a clean (which superseded records they still hold
// differs); offsets, epochs, batch count and the latest value of every
// key are the same on all.

// Cleaned-segment suffixes.
const (
	cleanedSuffix = ".log.cleaned"
	swapSuffix    = ".log.swap"
)

// Cleaner holds the state one cleaning goroutine reuses across partitions:
// the offset map and the I/O budget.
type Cleaner struct {
	m *OffsetMap
	// MaxBytesPerSecond throttles the bytes the cleaner reads and writes
	// (Kafka's log.cleaner.io.max.bytes.per.second); 0 = unlimited.
	MaxBytesPerSecond int64
	// MaxDecompressed bounds the decompressed records of one batch; a
	// batch beyond it is kept as is.
	MaxDecompressed int

	ioStart time.Time
	ioBytes int64
}

// NewCleaner returns a cleaner whose offset map uses about mapBytes.
func NewCleaner(mapBytes int) *Cleaner {
	return &Cleaner{m: NewOffsetMap(mapBytes), MaxDecompressed: records.DefaultMaxDecompressed}
}

func (c *Cleaner) throttle(n int64) {
	if c.MaxBytesPerSecond <= 0 {
		return
	}
	if c.ioStart.IsZero() {
		c.ioStart = time.Now()
	}
	c.ioBytes += n
	want := time.Duration(float64(c.ioBytes) / float64(c.MaxBytesPerSecond) * float64(time.Second))
	if d := want - time.Since(c.ioStart); d > 0 {
		time.Sleep(d)
	}
}

// CompactStats describes one round.
type CompactStats struct {
	Cleaned         bool  // a round ran
	FirstDirty      int64 // checkpoint before the round
	MapEnd          int64 // checkpoint after the round
	SegmentsCleaned int   // segments rewritten
	BytesBefore     int64 // of the rewritten segments
	BytesAfter      int64
	RecordsRemoved  int64
}

var errCleanAborted = errors.New("log: cleaning aborted by Close")

// Compact runs one cleaning round if the log is compacted and due (see the
// comment at the top of cleaner.go). now is Unix ms. It never touches the
// active segment. It serializes with retention, DeleteRecordsBefore,
// TruncateTo and Close (cleanMu); appends, reads and syncs proceed, except
// during each segment's short swap (syncMu).
func (l *Log) Compact(now int64, c *Cleaner) (CompactStats, error) {
	return l.CompactTxn(now, c, TxnView{StableEnd: math.MaxInt64})
}

// TxnView is what the cleaner must know of a partition's transactions.
type TxnView struct {
	// StableEnd bounds the cleaning: no record at or past it is mapped or
	// removed. The broker passes the first offset of the oldest open
	// transaction or, with none open, the log end when it took the view
	// (the next transaction starts there or later).
	StableEnd int64
	// Aborted reports whether the transactional batch of producerID at
	// offset (below StableEnd) belongs to an aborted transaction; nil: none
	// does.
	Aborted func(producerID, offset int64) bool
}

// aborted reports whether the cleaner drops h's records as aborted.
func (tv TxnView) aborted(h BatchHeader) bool {
	return tv.Aborted != nil && h.IsTransactional() && !h.IsControl() && h.NextOffset() <= tv.StableEnd &&
		tv.Aborted(h.ProducerID, h.BaseOffset)
}

// CompactTxn is Compact for a partition with transactions (see TxnView and
// the top of cleaner.go).
func (l *Log) CompactTxn(now int64, c *Cleaner, tv TxnView) (CompactStats, error) {
	cfg := l.config()
	var st CompactStats
	if !cfg.Compact {
		return st, nil
	}
	keepBatches := cfg.Replicated
	if keepBatches {
		tv.StableEnd = min(tv.StableEnd, l.HighWatermark())
	}
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	if l.closing.Load() {
		return st, ErrClosed
	}
	if err := l.failure(); err != nil {
		return st, err
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return st, ErrClosed
	}
	views := make([]segmentView, 0, len(l.segments)-1)
	for _, s := range l.segments[:len(l.segments)-1] {
		views = append(views, s.viewLocked())
	}
	maxTS := make([]int64, len(views))
	for i, v := range views {
		maxTS[i] = v.seg.maxTS
	}
	firstDirty := max(l.cleanPoint.Load(), l.logStart.Load())
	l.mu.RUnlock()
	pinned := 0
	defer func() {
		for i, v := range views {
			if i < pinned {
				v.done()
			} else {
				v.seg.release()
			}
		}
	}()
	for i := range views {
		v, err := views[i].pin()
		if err != nil {
			// pin released this view's reference; release the rest.
			for _, rest := range views[i+1:] {
				rest.seg.release()
			}
			views = views[:i]
			return st, err
		}
		views[i] = v
		pinned++
	}
	st.FirstDirty, st.MapEnd = firstDirty, firstDirty

	// The dirty section: [firstDirty, uncleanable).
	uncleanable := len(views) // index of the first segment not to map
	for i := range views {
		if cfg.MinCompactionLagMs > 0 && maxTS[i] > now-cfg.MinCompactionLagMs {
			uncleanable = i
			break
		}
	}
	var cleanBytes, dirtyBytes int64
	firstDirtySeg := -1
	for i, v := range views[:uncleanable] {
		if v.next <= firstDirty {
			cleanBytes += v.size
			continue
		}
		if firstDirtySeg < 0 {
			firstDirtySeg = i
		}
		dirtyBytes += v.size
	}
	if firstDirtySeg < 0 || dirtyBytes == 0 {
		return st, nil
	}
	ratio := float64(dirtyBytes) / float64(cleanBytes+dirtyBytes)
	overdue := cfg.MaxCompactionLagMs > 0 && cfg.MaxCompactionLagMs < 1<<62 &&
		firstBatchTime(views[firstDirtySeg]) < now-cfg.MaxCompactionLagMs
	if ratio < cfg.MinCleanableDirtyRatio && !overdue {
		return st, nil
	}
	// Only durable data is cleaned: a record may be dropped only because a
	// later one survives any crash. The cleaner fsyncs the cleanable range
	// itself (acks=1 and flush.* topics may not have).
	if err := l.SyncTo(views[uncleanable-1].next); err != nil {
		return st, err
	}
	durable := l.durable.Load()
	for i, v := range views[:uncleanable] {
		if v.next > durable {
			uncleanable = i
			break
		}
	}
	if firstDirtySeg >= uncleanable {
		return st, nil
	}

	// 1. Map the dirty section.
	c.m.reset()
	mapEnd := firstDirty
	full := false
	for _, v := range views[firstDirtySeg:uncleanable] {
		if full {
			break
		}
		sc := newBatchScanner(v.seg, v.file, v.floorPos(firstDirty), v.size, true)
		for !full {
			h, _, body, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return st, err
			}
			c.throttle(int64(h.Length))
			if h.NextOffset() <= mapEnd {
				continue
			}
			if h.NextOffset() > tv.StableEnd {
				full = true // the rest may still be aborted: stop before it
				break
			}
			if h.IsControl() || tv.aborted(h) {
				mapEnd = h.NextOffset()
				continue
			}
			if c.m.Len()+int(h.RecordCount) > c.m.Capacity() {
				full = true // the batch might not fit: stop before it
				break
			}
			err = records.ForEach(body, c.MaxDecompressed, func(r records.Record) error {
				if r.Key != nil {
					c.m.put(r.Key, h.BaseOffset+int64(r.OffsetDelta))
				}
				return nil
			})
			if err != nil {
				// Undecodable (or too large) batches are kept as they are
				// and mapped as nothing.
				l.logger.Warn("cleaner: skipping undecodable batch", "dir", l.dir, "offset", h.BaseOffset, "err", err)
			}
			mapEnd = h.NextOffset()
		}
	}
	if mapEnd <= firstDirty {
		return st, nil
	}
	st.Cleaned, st.MapEnd = true, mapEnd

	// 2. Rewrite every segment that holds offsets below mapEnd.
	// Tombstones go, as in Kafka, only from segments whose largest
	// timestamp is at or below the delete horizon: the largest timestamp of
	// the last segment of the clean section minus DeleteRetentionMs. A
	// tombstone therefore survives at least one round and stays readable
	// for delete.retention.ms after later data was cleaned past it; with no
	// clean section yet none goes.
	horizon := int64(math.MinInt64)
	for i, v := range views {
		if v.next <= firstDirty {
			horizon = maxTS[i] - cfg.DeleteRetentionMs
		}
	}
	// Group consecutive segments (Kafka's groupSegmentsBySize) so that
	// cleaned segments do not shrink without bound: a group's original
	// sizes add up to at most SegmentBytes and its offsets fit an int32
	// relative to its base.
	var groups [][]int
	for i, v := range views {
		if v.seg.base >= mapEnd {
			break
		}
		if n := len(groups); n > 0 {
			g := groups[n-1]
			var size int64
			for _, j := range g {
				size += views[j].size
			}
			if size+v.size <= cfg.SegmentBytes && v.next-1-views[g[0]].seg.base <= math.MaxInt32 {
				groups[n-1] = append(g, i)
				continue
			}
		}
		groups = append(groups, []int{i})
	}
	txnData := map[int64]bool{} // see markerGone
	for _, g := range groups {
		if l.closing.Load() {
			return st, errCleanAborted
		}
		members := make([]segmentView, len(g))
		drop := make([]bool, len(g))
		for k, i := range g {
			members[k] = views[i]
			drop[k] = horizon != math.MinInt64 && maxTS[i] <= horizon
		}
		before, after, removed, err := l.cleanGroup(members, mapEnd, drop, c, tv, txnData, keepBatches)
		if err != nil {
			return st, err
		}
		if after >= 0 {
			st.SegmentsCleaned += len(g)
			st.BytesBefore += before
			st.BytesAfter += after
			st.RecordsRemoved += removed
		}
	}
	l.cleanPoint.Store(mapEnd)
	if err := writeCleanPoint(l, mapEnd); err != nil {
		l.logger.Warn("cleaner: could not write checkpoint", "dir", l.dir, "err", err)
	}
	return st, nil
}

// firstBatchTime is the max timestamp of a segment's first batch.
func firstBatchTime(v segmentView) int64 {
	var hb [BatchHeaderSize]byte
	if v.size < BatchHeaderSize || readFull(v.file, hb[:], 0) != nil {
		return -1
	}
	h, err := ParseBatchHeader(hb[:])
	if err != nil {
		return -1
	}
	return h.MaxTimestamp
}

// cleanGroup rewrites consecutive segments into one segment named by the
// first's base; after is -1 if nothing changed (a single segment with
// nothing to remove: no file is written then).
//
// txnData carries, across the round's groups (cleaned in offset order), the
// producer ids with a transactional data batch written since their last
// marker (see markerGone). keepBatches (a replicated log): no batch is
// dropped (emptied ones stay as empty batches) and no marker either.
func (l *Log) cleanGroup(group []segmentView, mapEnd int64, dropTombstones []bool, c *Cleaner, tv TxnView, txnData map[int64]bool, keepBatches bool) (before, after, removed int64, err error) {
	if err := l.markOpen(); err != nil {
		return 0, 0, 0, err
	}
	// Pass 1 (headers): each producer's last batch in the group, and the
	// group's last batch.
	lastOfProducer := map[int64]int64{}
	var lastBase int64 = -1
	for _, v := range group {
		before += v.size
		sc := newBatchScanner(v.seg, v.file, 0, v.size, false)
		for {
			h, _, _, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, -1, 0, err
			}
			if h.ProducerID >= 0 {
				lastOfProducer[h.ProducerID] = h.BaseOffset
			}
			lastBase = h.BaseOffset
		}
	}

	// Pass 2: filter into <base>.log.cleaned.
	first := group[0].seg
	cleanedPath := filepath.Join(l.dir, segmentFileName(first.base, cleanedSuffix))
	f, err := l.fs.OpenFile(cleanedPath, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return 0, -1, 0, fmt.Errorf("log: cleaner: %w", err)
	}
	fresh := newSegment(l.dir, first.base, f)
	abandon := func() {
		_ = f.Close()
		_ = l.fs.Remove(cleanedPath)
	}
	interval := l.config().IndexIntervalBytes
	changed := len(group) > 1
	var scratch []byte
	for k, v := range group {
		sc := newBatchScanner(v.seg, v.file, 0, v.size, true)
		for {
			h, _, body, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				abandon()
				return 0, -1, 0, err
			}
			c.throttle(int64(h.Length))
			var newBatch []byte
			var n int
			mustStay := keepBatches || h.BaseOffset == lastBase || h.ProducerID >= 0 && lastOfProducer[h.ProducerID] == h.BaseOffset
			if h.IsControl() && !keepBatches && markerGone(h, mapEnd, dropTombstones[k], txnData) && !mustStay {
				changed = true
				removed += int64(h.RecordCount)
				continue
			}
			if h.BaseOffset < mapEnd && !h.IsControl() && h.RecordCount > 0 && tv.aborted(h) {
				newBatch, n = scratch[:0], int(h.RecordCount) // aborted: none stays
			} else if newBatch, n, err = c.filterBatch(h, body, mapEnd, dropTombstones[k], scratch[:0]); err != nil {
				l.logger.Warn("cleaner: keeping undecodable batch", "dir", l.dir, "offset", h.BaseOffset, "err", err)
				newBatch, n = body, 0
			}
			removed += int64(n)
			if len(newBatch) == 0 {
				changed = true
				if !mustStay {
					continue
				}
				newBatch = emptyBatch(body, scratch[:0])
			} else if n > 0 {
				changed = true
			}
			if h.IsTransactional() && !h.IsControl() && h.ProducerID >= 0 {
				txnData[h.ProducerID] = true // written, if only as an empty batch
			}
			if n > 0 {
				scratch = newBatch[:0] // reuse the array (never body's)
			}
			pos := fresh.size
			if _, err := f.Write(newBatch); err != nil {
				abandon()
				return 0, -1, 0, fmt.Errorf("log: cleaner: %w", err)
			}
			c.throttle(int64(len(newBatch)))
			nh, _ := ParseBatchHeader(newBatch)
			fresh.trackLocked(pos, int64(len(newBatch)), nh.LastOffset(), nh.MaxTimestamp, interval)
		}
	}
	if !changed {
		abandon()
		return before, -1, 0, nil
	}
	fresh.maybeAddTimeEntryLocked()
	if err := f.Sync(); err != nil {
		abandon()
		return 0, -1, 0, fmt.Errorf("log: cleaner: %w", err)
	}
	olds := make([]*segment, len(group))
	for k, v := range group {
		olds[k] = v.seg
	}
	if err := l.swapCleaned(olds, fresh); err != nil {
		return 0, -1, 0, err
	}
	return before, fresh.size, removed, nil
}

// swapCleaned installs fresh (a synced <base>.log.cleaned, base = olds[0]'s)
// in place of the consecutive segments olds.
func (l *Log) swapCleaned(olds []*segment, fresh *segment) error {
	cleanedPath := fresh.path(cleanedSuffix)
	swapPath := fresh.path(swapSuffix)
	if err := l.fs.Rename(cleanedPath, swapPath); err != nil {
		_ = fresh.file.Close()
		_ = l.fs.Remove(cleanedPath)
		return fmt.Errorf("log: cleaner: %w", err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		_ = fresh.file.Close()
		return l.fail(fmt.Errorf("log: cleaner: %w", err))
	}
	// Committed: from here on recovery finishes the swap (see
	// finishCleanerSwaps): the other members' files and every member's
	// index files go, then the swap file replaces the first member.
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	for k, old := range olds {
		suffixes := []string{indexSuffix, timeIndexSuffix}
		if k > 0 {
			suffixes = append(suffixes, logSuffix)
		}
		for _, suffix := range suffixes {
			if err := l.fs.Remove(old.path(suffix)); err != nil && !isNotExist(err) {
				_ = fresh.file.Close()
				return l.fail(err)
			}
		}
	}
	if err := l.fs.Rename(swapPath, fresh.path(logSuffix)); err != nil {
		_ = fresh.file.Close()
		return l.fail(err)
	}
	if err := fresh.writeIndexFiles(l.fs, true); err != nil {
		l.logger.Warn("cleaner: could not write index files; they will be rebuilt", "segment", fresh.path(logSuffix), "err", err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		_ = fresh.file.Close()
		return l.fail(err)
	}
	fresh.fs = l.fs
	doomed := map[*segment]bool{}
	for _, old := range olds {
		doomed[old] = true
	}
	l.mu.Lock()
	fresh.sealLocked(l.config().Files)
	segs := l.segments[:0:0]
	for _, s := range l.segments {
		switch {
		case s == olds[0]:
			segs = append(segs, fresh)
		case !doomed[s]:
			segs = append(segs, s)
		}
	}
	l.segments = segs
	kept := l.pending[:0]
	for _, p := range l.pending {
		if !doomed[p] {
			kept = append(kept, p)
		}
	}
	clear(l.pending[len(kept):])
	l.pending = kept
	l.mu.Unlock()
	for _, old := range olds {
		old.release()
	}
	return nil
}

// markerGone reports whether the control batch h may be dropped: it lies
// below mapEnd in a segment past the delete horizon, and no data batch of
// its transaction was written to the cleaned output this round. It also
// ends h's transaction in txnData (the producer's next transactional batch
// starts a new one).
func markerGone(h BatchHeader, mapEnd int64, pastHorizon bool, txnData map[int64]bool) bool {
	if !h.IsTransactional() || h.ProducerID < 0 {
		return false
	}
	hadData := txnData[h.ProducerID]
	delete(txnData, h.ProducerID)
	return !hadData && pastHorizon && h.NextOffset() <= mapEnd
}

// filterBatch returns the batch with the records the cleaner keeps (see
// the top of this file), out's array reused when it has room; body itself
// when every record stays; an empty slice when none does. n is the number
// of records removed.
func (c *Cleaner) filterBatch(h BatchHeader, body []byte, mapEnd int64, dropTombstones bool, out []byte) ([]byte, int, error) {
	if h.IsControl() || h.BaseOffset >= mapEnd {
		return body, 0, nil
	}
	var keep [][]byte
	removed := 0
	var maxTS int64 = -1
	err := records.ForEach(body, c.MaxDecompressed, func(r records.Record) error {
		off := h.BaseOffset + int64(r.OffsetDelta)
		retain := off >= mapEnd
		if !retain && r.Key != nil {
			latest, ok := c.m.get(r.Key)
			retain = (!ok || off >= latest) && !(r.Value == nil && dropTombstones)
		}
		if !retain {
			removed++
			return nil
		}
		keep = append(keep, r.Raw)
		maxTS = max(maxTS, h.BaseTimestamp+r.TimestampDelta)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if removed == 0 {
		return body, 0, nil
	}
	if len(keep) == 0 {
		return out[:0], removed, nil
	}
	var recs []byte
	for _, r := range keep {
		recs = append(recs, r...)
	}
	codec := h.Compression()
	out = append(out[:0], body[:BatchHeaderSize]...)
	out, err = records.Compress(codec, out, recs, codec == records.CodecSnappy && records.IsXerial(body[BatchHeaderSize:]))
	if err != nil {
		return nil, 0, err
	}
	binary.BigEndian.PutUint32(out[offBatchLength:], uint32(len(out)-batchLengthOverhead))
	binary.BigEndian.PutUint32(out[offRecordCount:], uint32(len(keep)))
	if !h.LogAppendTime() {
		binary.BigEndian.PutUint64(out[offMaxTimestamp:], uint64(maxTS))
	}
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
	return out, removed, nil
}

// emptyBatch is body's header with no records and no compression: it keeps
// the batch's offsets (base and lastOffsetDelta) and producer fields.
func emptyBatch(body, out []byte) []byte {
	out = append(out[:0], body[:BatchHeaderSize]...)
	binary.BigEndian.PutUint32(out[offBatchLength:], uint32(BatchHeaderSize-batchLengthOverhead))
	binary.BigEndian.PutUint32(out[offRecordCount:], 0)
	attrs := binary.BigEndian.Uint16(out[offAttributes:]) &^ AttrCompressionMask
	binary.BigEndian.PutUint16(out[offAttributes:], attrs)
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
	return out
}

// The cleaner checkpoint: 8-byte first dirty offset + CRC-32C, replaced
// atomically like meta. See FORMAT.md.
const (
	cleanPointName = "cleaner-checkpoint"
	cleanPointTemp = "cleaner-checkpoint.tmp"
)

func writeCleanPoint(l *Log, offset int64) error {
	if err := l.markOpen(); err != nil {
		return err
	}
	b := binary.BigEndian.AppendUint64(nil, uint64(offset))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return replaceFile(l.fs, l.dir, cleanPointTemp, cleanPointName, b)
}

func readCleanPoint(l *Log) int64 {
	b, err := readWholeFile(l.fs, filepath.Join(l.dir, cleanPointName))
	if err != nil || len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.BigEndian.Uint32(b[8:]) {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}
