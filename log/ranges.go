package log

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/moldau/moldau/log/vfs"
)

// Zero-copy reads, the log's half of sendfile: ReadRanges returns where the
// bytes Read would return lie in segment files instead of copying them, and
// keeps those files open until release is called. A connection writer that
// gets the *os.File (FileRange.OSFile) can send each range with sendfile(2)
// at an explicit offset (segment files are shared, so it must not rely on
// the file position), or fall back to ReadAt. The broker's Fetch uses it
// on the OS file system (broker/01_fetch.go, protocol/files.go).
//
// Why a pinned range cannot shrink: the view's segment reference keeps the
// file open (retention and compaction unlink or replace the name, not the
// open file), and bytes below a view's size never change (appends only add
// after it; TruncateTo cuts only beyond the high watermark, which Fetch
// never reads past).

// FileRange is Len bytes at Pos of File: whole batches.
type FileRange struct {
	File vfs.File
	Pos  int64
	Len  int64
}

// OSFile returns the *os.File behind a range, if the log is on the OS file
// system.
func (r FileRange) OSFile() (*os.File, bool) { return vfs.OSFile(r.File) }

// ReadRanges is Read without the copy: same arguments and the same batches,
// as file ranges. The ranges stay valid (their files open, even if
// retention or compaction removes the segments meanwhile) until release is
// called; release must be called exactly once, also after an error.
func (l *Log) ReadRanges(offset, maxOffset int64, maxBytes int, minOneBatch bool) ([]FileRange, func(), error) {
	var views []segmentView
	release := func() {
		for _, v := range views {
			v.done()
		}
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, release, ErrClosed
	}
	if offset < l.logStart.Load() || offset > l.end.Load() {
		l.mu.RUnlock()
		return nil, release, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, l.logStart.Load(), l.end.Load())
	}
	v := l.segments[l.segmentIndexLocked(offset)].viewLocked()
	l.mu.RUnlock()
	var out []FileRange
	total := int64(0)
	for {
		var err error
		if v, err = v.pin(); err != nil {
			return out, release, err
		}
		views = append(views, v)
		start, end, stopped, err := v.locate(offset, maxOffset, int64(maxBytes)-total, minOneBatch && total == 0)
		if err != nil {
			return out, release, err
		}
		if end > start {
			out = append(out, FileRange{File: v.file, Pos: start, Len: end - start})
			total += end - start
		}
		offset = max(offset, v.next)
		if stopped || total >= int64(maxBytes) || offset >= maxOffset {
			return out, release, nil
		}
		var ok bool
		if v, ok = l.viewAt(offset); !ok {
			return out, release, nil
		}
	}
}

// locate finds the byte range read would copy, reading only batch headers
// (one small ReadAt each, after an index lookup).
func (v segmentView) locate(offset, maxOffset, maxBytes int64, minOne bool) (start, end int64, stopped bool, err error) {
	if maxBytes <= 0 && !minOne {
		return 0, 0, true, nil
	}
	var hb [shortHeader]byte
	start, end = -1, -1
	for pos := v.floorPos(offset); pos < v.size; {
		if pos+shortHeader > v.size {
			return 0, 0, false, v.seg.corruption(pos, errShortHeader)
		}
		if err := readFull(v.file, hb[:], pos); err != nil {
			return 0, 0, false, err
		}
		length := int64(int32(binary.BigEndian.Uint32(hb[offBatchLength:]))) + batchLengthOverhead
		if length < BatchHeaderSize || pos+length > v.size {
			return 0, 0, false, v.seg.corruption(pos, errBadLength)
		}
		base := int64(binary.BigEndian.Uint64(hb[offBaseOffset:]))
		last := base + int64(int32(binary.BigEndian.Uint32(hb[offLastOffsetDelta:])))
		if start < 0 {
			if last < offset {
				pos += length
				continue
			}
			start = pos
		}
		if base >= maxOffset || (pos+length-start > maxBytes && !(minOne && pos == start)) {
			stopped = true
			break
		}
		pos += length
		end = pos
	}
	if start < 0 || end < 0 {
		return 0, 0, stopped, nil
	}
	return start, end, stopped, nil
}
