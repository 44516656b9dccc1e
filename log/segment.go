package log

import (
	"container/list"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moldau/moldau/log/vfs"
)

// File name suffixes. See FORMAT.md.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

func segmentFileName(base int64, suffix string) string {
	return fmt.Sprintf("%020d%s", base, suffix)
}

// parseSegmentName returns the base offset of a "<20 digits>.log" name.
func parseSegmentName(name string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || base < 0 {
		return 0, false
	}
	return base, true
}

// segment is one data file of raw batches plus its in-memory indexes.
//
// Locking: file is immutable after creation. The remaining fields are
// written only by the goroutine holding Log.appendMu (or during Open/Close)
// and only while holding Log.mu for writing. Readers copy what they need
// (size, index) into a segmentView while holding Log.mu for reading and then
// read the file without any lock (see Log.Read). The appender may read the
// fields without Log.mu because it is their only writer.
//
// Lifetime: refs counts the Log's own reference (1 while the segment is in
// Log.segments) plus one per in-flight reader. Retention, compaction, and
// Close drop the Log's reference; the files are closed when the last
// reference goes, so a reader never sees its file closed underneath it. File
// names may be removed or replaced while readers still hold the open file
// (POSIX unlink semantics; vfs.Mem keeps the node).
//
// Files: the active segment's file is always open (only the appender
// writes it; file never changes while the segment is active). A sealed
// segment's file is managed by a FileCache when the Log has one: readers
// pin it (opening it again if the cache closed it) and unpin it when done;
// fileMu guards file, fileRefs and sealed for sealed segments.
type segment struct {
	base int64
	dir  string
	refs atomic.Int32

	fileMu   sync.Mutex
	file     vfs.File
	fileRefs int        // pins
	sealed   bool       // file is managed by cache
	fs       vfs.FS     // for reopening
	cache    *FileCache // nil: files stay open
	elem     *list.Element
	// A sealed segment's indexes move here (out of index/timeIndex, which
	// are nil once sealed): loaded while its file is open, dropped with the
	// file when the cache evicts it, reloaded from the index files (or by a
	// scan) when pinned again. Guarded by fileMu.
	sealedIndex []offsetEntry
	sealedTimes []timeEntry
	indexLoaded bool

	size      int64 // published bytes: every byte below is a whole batch
	next      int64 // offset after the last batch; base if empty
	index     []offsetEntry
	timeIndex []timeEntry
	maxTS     int64 // largest batch MaxTimestamp; -1 if none
	maxTSOff  int64 // last offset of the first batch that has maxTS; -1 if none

	bytesSinceIndex int64
	rollBase        int64 // time the segment counts its age from; -1 unknown

	// indexFiles holds index files written but not yet synced (see SyncTo).
	indexFiles []vfs.File
}

func newSegment(dir string, base int64, f vfs.File) *segment {
	s := &segment{base: base, dir: dir, file: f, next: base, maxTS: -1, maxTSOff: -1, rollBase: -1}
	s.refs.Store(1)
	return s
}

// jitter returns the segment's roll jitter in [0, min(max, segmentMs)),
// drawn once from its base offset (deterministic, so a restart keeps it).
// Only the appender calls it.
func (s *segment) jitter(max, segmentMs int64) int64 {
	max = min(max, segmentMs)
	if max <= 0 {
		return 0
	}
	h := uint64(s.base)*0x9e3779b97f4a7c15 ^ uint64(len(s.dir))*0xbf58476d1ce4e5b9
	for _, c := range s.dir {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	return int64(h % uint64(max))
}

// acquire takes a reader's reference. It requires Log.mu (either mode) and
// the segment to be in Log.segments, so the count is above zero.
func (s *segment) acquire() { s.refs.Add(1) }

// release drops a reference; the last one closes the files.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.close()
	}
}

// segmentView is what a reader copies out of a segment under Log.mu: the
// published size and offset index at that moment. Bytes below size never
// change while the view's reference is held (only TruncateTo cuts a
// segment, and it only cuts beyond the high watermark readers stop at).
type segmentView struct {
	seg   *segment
	file  vfs.File    // set by pin
	times []timeEntry // time index (set by viewLocked or pin)
	size  int64
	next  int64 // offset after the last batch below size
	index []offsetEntry
}

// viewLocked acquires a reference and returns a view. It requires Log.mu.
func (s *segment) viewLocked() segmentView {
	s.acquire()
	return segmentView{seg: s, size: s.size, next: s.next, index: s.index, times: s.timeIndex}
}

// pin opens (if needed) and pins the view's file. On error the view's
// segment reference is released.
func (v segmentView) pin() (segmentView, error) {
	f, err := v.seg.pin()
	if err != nil {
		v.seg.release()
		return v, err
	}
	v.file = f
	if index, times, sealed := v.seg.loadSealedIndex(v.size); sealed {
		v.index, v.times = index, times
	}
	return v, nil
}

// loadSealedIndex returns a sealed segment's indexes, loading them if the
// cache dropped them: from the index files, or by scanning the segment if
// those are missing or inconsistent. The file must be pinned. sealed is
// false for the active segment (whose indexes the view copied under
// Log.mu).
func (s *segment) loadSealedIndex(size int64) ([]offsetEntry, []timeEntry, bool) {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if !s.sealed {
		return nil, nil, false
	}
	if !s.indexLoaded {
		s.sealedIndex, s.sealedTimes = s.readIndexFiles(size)
		s.indexLoaded = true
	}
	return s.sealedIndex, s.sealedTimes, true
}

// readIndexFiles loads a sealed segment's index files, or rebuilds the
// indexes by scanning if they are unusable. It requires fileMu and an open
// file.
func (s *segment) readIndexFiles(size int64) ([]offsetEntry, []timeEntry) {
	if ob, err := readWholeFile(s.fs, s.path(indexSuffix)); err == nil {
		if tb, err := readWholeFile(s.fs, s.path(timeIndexSuffix)); err == nil {
			entries, err1 := decodeOffsetIndex(ob, size)
			times, err2 := decodeTimeIndex(tb)
			if err1 == nil && err2 == nil {
				return entries, times
			}
		}
	}
	tmp := newSegment(s.dir, s.base, s.file)
	_, _ = tmp.scan(0, size, false, DefaultIndexIntervalBytes)
	tmp.maybeAddTimeEntryLocked()
	return tmp.index, tmp.timeIndex
}

// done unpins the file and releases the segment reference.
func (v segmentView) done() {
	if v.file != nil {
		v.seg.unpin()
	}
	v.seg.release()
}

// pin returns the segment's open file, reopening it if the file cache
// closed it, and keeps it open until unpin.
func (s *segment) pin() (vfs.File, error) {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if s.file == nil {
		if s.fs == nil {
			return nil, ErrClosed
		}
		f, err := s.fs.OpenFile(s.path(logSuffix), os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("log: reopen segment: %w", err)
		}
		s.file = f
		if s.cache != nil {
			s.cache.open.Add(1)
		}
	}
	s.fileRefs++
	if s.sealed && s.cache != nil {
		s.cache.markBusy(s)
	}
	return s.file, nil
}

// unpin ends a pin; an idle sealed file joins the cache's LRU list, which
// may close others.
func (s *segment) unpin() {
	s.fileMu.Lock()
	s.fileRefs--
	var victims []*segment
	if s.fileRefs == 0 && s.sealed && s.cache != nil && s.file != nil {
		victims = s.cache.markIdle(s)
	}
	s.fileMu.Unlock()
	for _, v := range victims {
		v.evict()
	}
}

// evict closes the file of a segment the cache dropped, unless it was
// pinned or became idle again meanwhile.
func (s *segment) evict() {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if s.fileRefs > 0 || s.file == nil || s.cache.inIdle(s) {
		return
	}
	_ = s.file.Close()
	s.file = nil
	s.cache.open.Add(-1)
	s.sealedIndex, s.sealedTimes, s.indexLoaded = nil, nil, false
}

// sealLocked hands a segment that is no longer active to the file cache,
// moving its indexes to the sealed fields. It requires Log.mu for writing
// (or exclusive ownership, during Open) and the appender to be done with s.
func (s *segment) sealLocked(cache *FileCache) {
	s.fileMu.Lock()
	s.sealed, s.cache = true, cache
	s.sealedIndex, s.sealedTimes, s.indexLoaded = s.index, s.timeIndex, true
	s.index, s.timeIndex = nil, nil
	var victims []*segment
	if cache != nil && s.file != nil {
		cache.open.Add(1)
		if s.fileRefs == 0 {
			victims = cache.markIdle(s)
		}
	}
	s.fileMu.Unlock()
	for _, v := range victims {
		v.evict()
	}
}

// unseal makes a sealed segment active again (TruncateTo): its file is
// opened and stays open.
func (s *segment) unseal() (vfs.File, error) {
	f, err := s.pin()
	if err != nil {
		return nil, err
	}
	s.fileMu.Lock()
	if s.sealed && s.cache != nil {
		s.cache.markBusy(s)
		s.cache.open.Add(-1)
	}
	s.sealed, s.cache = false, nil
	s.sealedIndex, s.sealedTimes, s.indexLoaded = nil, nil, false
	s.fileRefs--
	s.fileMu.Unlock()
	return f, nil
}

// floorPos returns a file position at or before the batch containing offset.
func (v segmentView) floorPos(offset int64) int64 {
	if i := floorOffsetEntry(v.index, offset-v.seg.base); i >= 0 {
		return int64(v.index[i].pos)
	}
	return 0
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentFileName(s.base, suffix))
}

// trackLocked records a batch of length bytes written at pos, maintaining
// the sparse indexes as Kafka does: an entry is added for a batch when more
// than interval bytes were appended since the previous entry.
func (s *segment) trackLocked(pos, length, lastOffset, maxTS int64, interval int) {
	if maxTS > s.maxTS {
		s.maxTS, s.maxTSOff = maxTS, lastOffset
	}
	if s.bytesSinceIndex > int64(interval) {
		s.index = append(s.index, offsetEntry{rel: int32(lastOffset - s.base), pos: int32(pos)})
		s.maybeAddTimeEntryLocked()
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += length
	s.size = pos + length
	s.next = lastOffset + 1
}

// maybeAddTimeEntryLocked appends (maxTS, maxTSOff) to the time index if it
// raises the indexed maximum.
func (s *segment) maybeAddTimeEntryLocked() {
	if s.maxTSOff < 0 {
		return
	}
	if n := len(s.timeIndex); n > 0 && s.timeIndex[n-1].ts >= s.maxTS {
		return
	}
	s.timeIndex = append(s.timeIndex, timeEntry{ts: s.maxTS, rel: int32(s.maxTSOff - s.base)})
}

// writeIndexFiles writes the offset and time index files. With sync the
// files are fsynced and closed; otherwise they are kept open in indexFiles
// for a later sync.
func (s *segment) writeIndexFiles(fs vfs.FS, sync bool) error {
	s.closeIndexFiles()
	f1, err := writeFile(fs, s.path(indexSuffix), encodeOffsetIndex(s.index), sync, !sync)
	if err != nil {
		return err
	}
	f2, err := writeFile(fs, s.path(timeIndexSuffix), encodeTimeIndex(s.timeIndex), sync, !sync)
	if err != nil {
		if f1 != nil {
			_ = f1.Close()
		}
		return err
	}
	if !sync {
		s.indexFiles = append(s.indexFiles, f1, f2)
	}
	return nil
}

// syncFiles fsyncs the segment's data file and any pending index files.
// A rolled segment whose zeros filled ahead could not be cut at the roll
// gets another try first (pinned, so the file cache cannot close it
// meanwhile).
func (s *segment) syncFiles() error {
	f, err := s.pin()
	if err != nil {
		return err
	}
	_ = vfs.TrimPrefill(f)
	err = f.Sync()
	s.unpin()
	if err != nil {
		return err
	}
	for len(s.indexFiles) > 0 {
		if err := s.indexFiles[0].Sync(); err != nil {
			return err
		}
		_ = s.indexFiles[0].Close()
		s.indexFiles = s.indexFiles[1:]
	}
	return nil
}

func (s *segment) closeIndexFiles() {
	for _, f := range s.indexFiles {
		_ = f.Close()
	}
	s.indexFiles = nil
}

func (s *segment) close() error {
	s.closeIndexFiles()
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if s.sealed && s.cache != nil {
		s.cache.markBusy(s)
		if s.file != nil {
			s.cache.open.Add(-1)
		}
	}
	s.fs = nil // no reopening
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// remove deletes the segment's files and drops the Log's reference (the
// file is closed once in-flight readers are done).
func (s *segment) remove(fs vfs.FS) error {
	defer s.release()
	var first error
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := fs.Remove(s.path(suffix)); err != nil && !isNotExist(err) && first == nil {
			first = err
		}
	}
	return first
}

// shortHeader is the prefix of a batch header Read needs: base offset,
// length and lastOffsetDelta.
const shortHeader = offLastOffsetDelta + 4

// read appends to buf whole batches of s, starting with the batch containing
// offset (or the first batch after it), stopping before a batch whose base
// offset is >= maxOffset or that would make the bytes added exceed maxBytes
// (unless minOne and it is the first batch). It returns the bytes added and
// whether a limit stopped it. It needs only the view's reference, no lock.
//
// In the common case it costs one ReadAt: a window from the index floor
// position, large enough to cover the index gap and maxBytes, parsed in
// memory. Batches beyond the window are located by reading headers and
// fetched with one more ReadAt.
func (v segmentView) read(offset, maxOffset int64, maxBytes int, minOne bool, interval int, buf []byte) ([]byte, int, bool, error) {
	if maxBytes <= 0 && !minOne {
		return buf, 0, true, nil
	}
	s, file := v.seg, v.file
	size := v.size
	pos := v.floorPos(offset)
	if pos >= size {
		return buf, 0, false, nil
	}
	limit := size
	// No batch at or after the second index entry whose last offset is
	// >= maxOffset can be returned (its base offset is beyond maxOffset).
	if i := floorOffsetEntry(v.index, maxOffset-s.base-1) + 2; i < len(v.index) {
		limit = min(limit, int64(v.index[i].pos))
	}
	if pos >= limit {
		return buf, 0, true, nil
	}
	orig := len(buf)
	window := min(limit-pos, int64(interval)+int64(max(maxBytes, 0))+BatchHeaderSize)
	buf = slices.Grow(buf, int(window))[:orig+int(window)]
	chunk := buf[orig:]
	if err := readFull(file, chunk, pos); err != nil {
		return buf[:orig], 0, false, err
	}
	chunkEnd := pos + window

	var small []byte // allocated only when a header lies beyond the window
	header := func(abs int64) ([]byte, error) {
		if abs+shortHeader <= chunkEnd {
			return chunk[abs-pos : abs-pos+shortHeader], nil
		}
		if small == nil {
			small = make([]byte, shortHeader)
		}
		if err := readFull(file, small, abs); err != nil {
			return nil, err
		}
		return small, nil
	}

	start, end := int64(-1), int64(-1)
	stopped := false
	abs := pos
	for abs < limit {
		if abs+shortHeader > size {
			return buf[:orig], 0, false, s.corruption(abs, errShortHeader)
		}
		h, err := header(abs)
		if err != nil {
			return buf[:orig], 0, false, err
		}
		length := int64(int32(binary.BigEndian.Uint32(h[offBatchLength:]))) + batchLengthOverhead
		if length < BatchHeaderSize || abs+length > size {
			return buf[:orig], 0, false, s.corruption(abs, errBadLength)
		}
		baseOffset := int64(binary.BigEndian.Uint64(h[offBaseOffset:]))
		lastOffset := baseOffset + int64(int32(binary.BigEndian.Uint32(h[offLastOffsetDelta:])))
		if start < 0 {
			if lastOffset < offset {
				abs += length
				continue
			}
			start = abs
		}
		if baseOffset >= maxOffset || (abs+length-start > int64(maxBytes) && !(minOne && abs == start)) {
			stopped = true
			break
		}
		abs += length
		end = abs
	}
	if abs >= limit && limit < size {
		stopped = true // cut short by maxOffset via the index
	}
	if start < 0 || end < 0 {
		return buf[:orig], 0, stopped, nil
	}
	n := int(end - start)
	if start < chunkEnd {
		// Keep what the window already holds and fetch the rest.
		held := min(end, chunkEnd) - start
		copy(buf[orig:], chunk[start-pos:start-pos+held])
		buf = buf[:orig+int(held)]
		if end > chunkEnd {
			buf = slices.Grow(buf, int(end-chunkEnd))[:orig+n]
			if err := readFull(file, buf[orig+int(held):], chunkEnd); err != nil {
				return buf[:orig], 0, false, err
			}
		}
		return buf, n, stopped, nil
	}
	buf = slices.Grow(buf[:orig], n)[:orig+n]
	if err := readFull(file, buf[orig:], start); err != nil {
		return buf[:orig], 0, false, err
	}
	return buf, n, stopped, nil
}

func (s *segment) corruption(pos int64, err error) *CorruptionError {
	return &CorruptionError{Segment: segmentFileName(s.base, logSuffix), Offset: pos, Err: err}
}

// readFull reads exactly len(p) bytes at off.
func readFull(f vfs.File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// batchScanner walks the batches of a segment file through a read-ahead
// buffer.
type batchScanner struct {
	seg      *segment
	file     vfs.File
	pos      int64 // position of the next batch
	limit    int64 // scan stops here
	withBody bool  // return whole batches, not just headers

	buf    []byte
	bufPos int64 // file position of buf[0]
}

const scanReadAhead = 64 << 10

func newBatchScanner(s *segment, f vfs.File, pos, limit int64, withBody bool) *batchScanner {
	return &batchScanner{seg: s, file: f, pos: pos, limit: limit, withBody: withBody}
}

// fill makes [pos, pos+need) available in the buffer.
func (sc *batchScanner) fill(pos, need int64) ([]byte, error) {
	if pos >= sc.bufPos && pos+need <= sc.bufPos+int64(len(sc.buf)) {
		return sc.buf[pos-sc.bufPos : pos-sc.bufPos+need], nil
	}
	n := min(max(need, scanReadAhead), sc.limit-pos)
	if int64(cap(sc.buf)) < n {
		sc.buf = make([]byte, n)
	}
	sc.buf = sc.buf[:n]
	sc.bufPos = pos
	if err := readFull(sc.file, sc.buf, pos); err != nil {
		sc.buf = sc.buf[:0]
		return nil, err
	}
	return sc.buf[:need], nil
}

// next returns the next batch's header, its position and, when withBody, its
// bytes (valid until the next call). It returns io.EOF at the limit, a
// *CorruptionError for a torn or malformed batch (CRCs are not checked here),
// or an I/O error.
func (sc *batchScanner) next() (BatchHeader, int64, []byte, error) {
	pos := sc.pos
	if pos >= sc.limit {
		return BatchHeader{}, pos, nil, io.EOF
	}
	if sc.limit-pos < BatchHeaderSize {
		return BatchHeader{}, pos, nil, sc.seg.corruption(pos, errShortHeader)
	}
	hb, err := sc.fill(pos, BatchHeaderSize)
	if err != nil {
		return BatchHeader{}, pos, nil, err
	}
	h, err := ParseBatchHeader(hb)
	if err != nil {
		return h, pos, nil, sc.seg.corruption(pos, err)
	}
	if pos+int64(h.Length) > sc.limit {
		return h, pos, nil, sc.seg.corruption(pos, errBadLength)
	}
	var body []byte
	if sc.withBody {
		if body, err = sc.fill(pos, int64(h.Length)); err != nil {
			return h, pos, nil, err
		}
	}
	sc.pos = pos + int64(h.Length)
	return h, pos, body, nil
}
