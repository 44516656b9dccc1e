package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/moldau/moldau/log/vfs"
)

// Index entry sizes in Kafka's on-disk layouts.
const (
	offsetEntrySize = 8  // relativeOffset int32 BE, position int32 BE
	timeEntrySize   = 12 // timestamp int64 BE, relativeOffset int32 BE
)

// offsetEntry maps the last offset of a batch (relative to the segment base)
// to the file position where that batch starts. Entries are strictly
// increasing in both fields.
type offsetEntry struct {
	rel int32
	pos int32
}

// timeEntry records that the largest timestamp among the batches of the
// segment up to and including the batch whose last offset is base+rel is ts.
// Entries are strictly increasing in ts and in rel.
type timeEntry struct {
	ts  int64
	rel int32
}

// floorOffsetEntry returns the index of the last entry whose rel <= rel, or -1.
func floorOffsetEntry(entries []offsetEntry, rel int64) int {
	i := sort.Search(len(entries), func(i int) bool { return int64(entries[i].rel) > rel })
	return i - 1
}

// floorTimeEntryBelow returns the index of the last entry whose ts < ts, or -1.
func floorTimeEntryBelow(entries []timeEntry, ts int64) int {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].ts >= ts })
	return i - 1
}

func encodeOffsetIndex(entries []offsetEntry) []byte {
	b := make([]byte, len(entries)*offsetEntrySize)
	for i, e := range entries {
		binary.BigEndian.PutUint32(b[i*offsetEntrySize:], uint32(e.rel))
		binary.BigEndian.PutUint32(b[i*offsetEntrySize+4:], uint32(e.pos))
	}
	return b
}

func encodeTimeIndex(entries []timeEntry) []byte {
	b := make([]byte, len(entries)*timeEntrySize)
	for i, e := range entries {
		binary.BigEndian.PutUint64(b[i*timeEntrySize:], uint64(e.ts))
		binary.BigEndian.PutUint32(b[i*timeEntrySize+8:], uint32(e.rel))
	}
	return b
}

var errBadIndex = errors.New("log: inconsistent index file")

// decodeOffsetIndex parses and sanity-checks an offset index against the size
// of its segment.
func decodeOffsetIndex(b []byte, segmentSize int64) ([]offsetEntry, error) {
	if len(b)%offsetEntrySize != 0 {
		return nil, fmt.Errorf("%w: size %d is not a multiple of %d", errBadIndex, len(b), offsetEntrySize)
	}
	entries := make([]offsetEntry, len(b)/offsetEntrySize)
	for i := range entries {
		e := offsetEntry{
			rel: int32(binary.BigEndian.Uint32(b[i*offsetEntrySize:])),
			pos: int32(binary.BigEndian.Uint32(b[i*offsetEntrySize+4:])),
		}
		if e.rel < 0 || e.pos < 0 || int64(e.pos) >= segmentSize {
			return nil, fmt.Errorf("%w: entry %d out of bounds", errBadIndex, i)
		}
		if i > 0 && (e.rel <= entries[i-1].rel || e.pos <= entries[i-1].pos) {
			return nil, fmt.Errorf("%w: entry %d not increasing", errBadIndex, i)
		}
		entries[i] = e
	}
	return entries, nil
}

func decodeTimeIndex(b []byte) ([]timeEntry, error) {
	if len(b)%timeEntrySize != 0 {
		return nil, fmt.Errorf("%w: size %d is not a multiple of %d", errBadIndex, len(b), timeEntrySize)
	}
	entries := make([]timeEntry, len(b)/timeEntrySize)
	for i := range entries {
		e := timeEntry{
			ts:  int64(binary.BigEndian.Uint64(b[i*timeEntrySize:])),
			rel: int32(binary.BigEndian.Uint32(b[i*timeEntrySize+8:])),
		}
		if e.rel < 0 {
			return nil, fmt.Errorf("%w: entry %d out of bounds", errBadIndex, i)
		}
		if i > 0 && (e.ts <= entries[i-1].ts || e.rel < entries[i-1].rel) {
			return nil, fmt.Errorf("%w: entry %d not increasing", errBadIndex, i)
		}
		entries[i] = e
	}
	return entries, nil
}

// readWholeFile reads a small file (an index or the meta file).
func readWholeFile(fs vfs.FS, name string) ([]byte, error) {
	f, err := fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if n == len(b) {
		err = nil
	} else if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return b[:n], err
}

// writeFile writes b to name (truncating), optionally syncing it. It returns
// the still-open file when keepOpen is set, so that a later SyncTo can fsync
// it.
func writeFile(fs vfs.FS, name string, b []byte, sync, keepOpen bool) (vfs.File, error) {
	f, err := fs.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return nil, err
	}
	if sync {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	if keepOpen {
		return f, nil
	}
	return nil, f.Close()
}
