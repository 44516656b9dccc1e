package replication

// Phantom entries (DESIGN.md §2): Raft entries that are not Kafka data —
// raft's empty entry, which every new leader appends at the start of its
// term, conf changes, and log start entries (DeleteRecords: logstart.go) —
// occupy a Raft index but no Kafka offset. They
// are kept out of the segment log, so that a partition's first record is
// at offset 0 and its offsets are contiguous data, and stored in
// `raft-phantoms` beside it (format below and in log/FORMAT.md).
//
// A phantom's "offset" is the log end when it was appended: the base offset
// of the batch after it (or the log end, if none). The index → offset map
// of LogStorage (offsets) holds that offset for a phantom, so offsets is
// non-decreasing (strictly increasing over batches only), and BaseOffset
// and EndOffset of a phantom are both that offset.
//
// Crash safety rests on three orderings:
//   - A phantom record is fsynced before any batch that follows it in the
//     Raft log is written (Save, flushPhantomsLocked), whatever
//     UnsafeNoSync says: a batch can never survive a crash that lost a
//     phantom before it, which would shift the batch to a wrong index.
//     (The cost is one fsync per leader change or conf change that a Save
//     carries together with later batches.)
//   - The log is cut first (log.TruncateTo, durable), then the file is
//     rewritten without the phantoms at or above the cut. A crash in
//     between leaves phantoms above the log's last batch, which no longer
//     fit and are dropped at open (a prefix of the old log remains).
//   - The file is rewritten without the phantoms below a new log start
//     only once the log start has moved (CompactTo, snapshot install); the
//     anchor chosen at open decides which phantoms count (those at or above
//     its first index; none for an interrupted install's anchor).
//
// At open the map is rebuilt by merging the log's batch headers with the
// records (mergePhantoms). A phantom whose index does not fit the end of
// the log (a gap: the batches before it were lost to a crash, or cut by an
// interrupted truncation), and every phantom after it, is dropped and the
// file rewritten; that is only ever unacknowledged state. A phantom whose
// index fits but whose offset does not, with batches after it, is
// ErrCorruptPhantoms: no crash produces that.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// The phantom file (`raft-phantoms`, big-endian):
//
//	[0:4] magic "MDRP"
//	[4]   version 2 (1: written before log start entries existed; read,
//	      and rewritten as 2 before a log start entry is added to it)
//	then records, in ascending index order, each:
//	  index  uint64  Raft index
//	  term   uint64  Raft term (>= 1)
//	  offset int64   the log end offset when it was appended
//	  type   uint8   raftpb.EntryType (0 normal, 1 conf change, 2 conf change v2)
//	  length uint32  of data
//	  data   [length]byte  the entry's Data (empty for raft's empty entry;
//	                       a log start entry's 17 bytes: type 0 with data)
//	  crc    uint32  CRC-32C of the record's bytes before it
//
// Records are appended (written in Save, fsynced as entries are); the file
// is replaced atomically (tmp, fsync, rename, fsync the directory) when it
// is created, cut (a divergent suffix), emptied (snapshot install) or
// compacted (CompactTo), and at open when it held a torn tail or phantoms
// that no longer fit. A torn or damaged record ends the file: it and what
// follows are dropped at open (logged).
const (
	phantomFile    = "raft-phantoms"
	phantomTemp    = "raft-phantoms.tmp"
	phantomMagic   = "MDRP"
	phantomVersion = 2

	phantomHeaderSize = 5
	phantomFixedSize  = 8 + 8 + 8 + 1 + 4 // before data
	phantomMaxData    = 64 << 20
)

// ErrCorruptPhantoms: the phantom file's header is damaged or of an unknown
// version, or its records disagree with the log in a way no crash leaves.
var ErrCorruptPhantoms = errors.New("replication: corrupt raft phantoms")

// phantom is a Raft entry stored outside the segment log.
type phantom struct {
	index  uint64
	term   uint64
	offset int64
	typ    raftpb.EntryType
	data   []byte
}

// isPhantom reports whether e is stored as a phantom: raft's empty entry,
// conf changes and log start entries; everything else must be a
// RecordBatch.
func isPhantom(e *raftpb.Entry) bool {
	switch e.GetType() {
	case raftpb.EntryConfChange, raftpb.EntryConfChangeV2:
		return true
	case raftpb.EntryNormal:
		if len(e.Data) == 0 {
			return true
		}
		_, ok := DecodeLogStart(e.Data)
		return ok
	}
	return false
}

// logStart reports whether p is a log start entry, and its offset.
func (p *phantom) logStart() (int64, bool) {
	if p.typ != raftpb.EntryNormal {
		return 0, false
	}
	return DecodeLogStart(p.data)
}

func (p *phantom) entry() *raftpb.Entry {
	e := &raftpb.Entry{Term: new(p.term), Index: new(p.index), Type: p.typ.Enum()}
	if len(p.data) > 0 {
		e.Data = slices.Clone(p.data)
	}
	return e
}

func appendPhantomRecord(b []byte, p *phantom) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint64(b, p.index)
	b = binary.BigEndian.AppendUint64(b, p.term)
	b = binary.BigEndian.AppendUint64(b, uint64(p.offset))
	b = append(b, byte(p.typ))
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.data)))
	b = append(b, p.data...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

func encodePhantoms(ps []phantom) []byte {
	b := append([]byte(phantomMagic), phantomVersion)
	for i := range ps {
		b = appendPhantomRecord(b, &ps[i])
	}
	return b
}

// decodePhantoms returns the whole records of b and whether it ended in a
// torn or damaged one (dropped), or ErrCorruptPhantoms for a bad header.
// Records must ascend by index; one that does not ends the file too.
func decodePhantoms(b []byte) (ps []phantom, torn bool, err error) {
	if len(b) < phantomHeaderSize || string(b[:4]) != phantomMagic {
		return nil, false, fmt.Errorf("%w: bad magic or size", ErrCorruptPhantoms)
	}
	if b[4] != 1 && b[4] != phantomVersion {
		return nil, false, fmt.Errorf("%w: version %d", ErrCorruptPhantoms, b[4])
	}
	p := b[phantomHeaderSize:]
	for len(p) > 0 {
		if len(p) < phantomFixedSize+4 {
			return ps, true, nil
		}
		n := binary.BigEndian.Uint32(p[phantomFixedSize-4:])
		if n > phantomMaxData || len(p) < phantomFixedSize+int(n)+4 {
			return ps, true, nil
		}
		rec := p[:phantomFixedSize+int(n)]
		if binary.BigEndian.Uint32(p[len(rec):]) != crc32.Checksum(rec, castagnoli) {
			return ps, true, nil
		}
		ph := phantom{
			index:  binary.BigEndian.Uint64(rec),
			term:   binary.BigEndian.Uint64(rec[8:]),
			offset: int64(binary.BigEndian.Uint64(rec[16:])),
			typ:    raftpb.EntryType(rec[24]),
		}
		if n > 0 {
			ph.data = slices.Clone(rec[phantomFixedSize:])
		}
		if ph.typ != raftpb.EntryNormal && ph.typ != raftpb.EntryConfChange && ph.typ != raftpb.EntryConfChangeV2 ||
			ph.term < 1 || ph.offset < 0 || (len(ps) > 0 && ph.index <= ps[len(ps)-1].index) {
			return ps, true, nil
		}
		ps = append(ps, ph)
		p = p[len(rec)+4:]
	}
	return ps, false, nil
}

// loadPhantoms reads the phantom file; a missing file is no phantoms.
func loadPhantoms(fsys vfs.FS, dir string) (ps []phantom, exists, torn bool, err error) {
	f, err := fsys.OpenFile(filepath.Join(dir, phantomFile), os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, false, nil
		}
		return nil, false, false, fmt.Errorf("replication: open raft phantoms: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, true, false, err
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, true, false, fmt.Errorf("replication: read raft phantoms: %w", err)
	}
	ps, torn, err = decodePhantoms(b)
	return ps, true, torn, err
}

// savePhantoms replaces the phantom file with ps, durably.
func savePhantoms(fsys vfs.FS, dir string, ps []phantom) error {
	tmp := filepath.Join(dir, phantomTemp)
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("replication: write raft phantoms: %w", err)
	}
	if _, err := f.Write(encodePhantoms(ps)); err != nil {
		f.Close()
		return fmt.Errorf("replication: write raft phantoms: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("replication: sync raft phantoms: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, phantomFile)); err != nil {
		return fmt.Errorf("replication: replace raft phantoms: %w", err)
	}
	return fsys.SyncDir(dir)
}

// rewritePhantomsLocked replaces the file with s.phantoms, durably.
func (s *LogStorage) rewritePhantomsLocked() error {
	if err := savePhantoms(s.fs, s.dir, s.phantoms); err != nil {
		return err
	}
	s.phantomsExist = true
	s.phantomsV1 = false
	s.phantomsPending = 0
	return nil
}

// flushPhantomsLocked writes the phantoms appended since the last flush
// (the last s.phantomsPending of s.phantoms) to the file, fsynced if sync.
// A file not yet created is written whole, through a rename (durable).
func (s *LogStorage) flushPhantomsLocked(sync bool) error {
	if s.phantomsPending == 0 {
		return nil
	}
	if !s.phantomsExist {
		return s.rewritePhantomsLocked()
	}
	if s.phantomsV1 {
		// A version 1 file gets no log start entry: written whole as
		// version 2 first (once).
		for i := len(s.phantoms) - s.phantomsPending; i < len(s.phantoms); i++ {
			if _, ok := s.phantoms[i].logStart(); ok {
				return s.rewritePhantomsLocked()
			}
		}
	}
	var b []byte
	for i := len(s.phantoms) - s.phantomsPending; i < len(s.phantoms); i++ {
		b = appendPhantomRecord(b, &s.phantoms[i])
	}
	f, err := s.fs.OpenFile(filepath.Join(s.dir, phantomFile), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("replication: open raft phantoms: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("replication: write raft phantoms: %w", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("replication: sync raft phantoms: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	s.phantomsPending = 0
	return nil
}

// phantomAtLocked returns the phantom at index, or nil if index is a batch
// (or out of range).
func (s *LogStorage) phantomAtLocked(index uint64) *phantom {
	k := sort.Search(len(s.phantoms), func(k int) bool { return s.phantoms[k].index >= index })
	if k < len(s.phantoms) && s.phantoms[k].index == index {
		return &s.phantoms[k]
	}
	return nil
}

// endOffsetLocked is the offset just past index's batch, or a phantom's
// offset; index in [first, last].
func (s *LogStorage) endOffsetLocked(index uint64) int64 {
	k := index - s.first
	if s.phantomAtLocked(index) != nil {
		return s.offsets[k]
	}
	if k+1 < uint64(len(s.offsets)) {
		return s.offsets[k+1] // the next batch's base, or the next phantom's (the same)
	}
	return s.log.EndOffset()
}

// truncatePhantomsLocked drops the phantoms at or above index, rewriting
// the file if there were any (durable on return).
func (s *LogStorage) truncatePhantomsLocked(index uint64) error {
	k := sort.Search(len(s.phantoms), func(k int) bool { return s.phantoms[k].index >= index })
	if k == len(s.phantoms) {
		return nil
	}
	if err := s.flushPhantomsLocked(false); err != nil { // nothing pending in practice: Save flushes
		return err
	}
	s.phantoms = slices.Clone(s.phantoms[:k])
	return s.rewritePhantomsLocked()
}

// compactPhantomsLocked drops the phantoms below first (the log start
// moved), rewriting the file if there were any.
func (s *LogStorage) compactPhantomsLocked() error {
	k := sort.Search(len(s.phantoms), func(k int) bool { return s.phantoms[k].index >= s.first })
	if k == 0 {
		return nil
	}
	if err := s.flushPhantomsLocked(false); err != nil {
		return err
	}
	s.phantoms = slices.Clone(s.phantoms[k:])
	return s.rewritePhantomsLocked()
}

// mergePhantoms rebuilds the index → offset map at open from the log's
// batch headers from its start and the phantom records at or above the
// first index (ps, ascending). It returns the phantoms kept; the caller
// rewrites the file when that is fewer than given.
func (s *LogStorage) mergePhantoms(ps []phantom) ([]phantom, error) {
	start := s.log.LogStartOffset()
	pi := 0
	err := s.log.ScanHeaders(start, func(h plog.BatchHeader) error {
		if h.LeaderEpoch < 1 {
			return fmt.Errorf("%w: batch at offset %d has leader epoch %d", ErrBadEntry, h.BaseOffset, h.LeaderEpoch)
		}
		for pi < len(ps) && ps[pi].index == s.lastLocked()+1 {
			if ps[pi].offset != h.BaseOffset {
				return fmt.Errorf("%w: phantom at index %d has offset %d, the batch after it is at %d", ErrCorruptPhantoms, ps[pi].index, ps[pi].offset, h.BaseOffset)
			}
			s.noteAppendedLocked(ps[pi].offset, ps[pi].term)
			pi++
		}
		if pi < len(ps) && ps[pi].index <= s.lastLocked() {
			return fmt.Errorf("%w: phantom at index %d, where the log has a batch", ErrCorruptPhantoms, ps[pi].index)
		}
		s.noteAppendedLocked(h.BaseOffset, uint64(h.LeaderEpoch))
		return nil
	})
	if err != nil {
		return nil, err
	}
	end := s.log.EndOffset()
	for pi < len(ps) && ps[pi].index == s.lastLocked()+1 && ps[pi].offset == end {
		s.noteAppendedLocked(end, ps[pi].term)
		pi++
	}
	if pi < len(ps) {
		s.logger.Warn("raft phantom entries past the end of the recovered log dropped (lost with the batches before them in a crash; never acknowledged)",
			"dir", s.dir, "first_dropped_index", ps[pi].index, "dropped", len(ps)-pi, "last_index", s.lastLocked(), "log_end_offset", end)
	}
	return ps[:pi], nil
}

// phantomFileVersion is the version byte of the phantom file (0 if it
// cannot be read).
func phantomFileVersion(fsys vfs.FS, dir string) byte {
	f, err := fsys.OpenFile(filepath.Join(dir, phantomFile), os.O_RDONLY, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	var b [phantomHeaderSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return 0
	}
	return b[4]
}
