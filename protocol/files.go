package protocol

// Zero-copy responses: a FileResponse is a kmsg response some of whose byte
// fields (a fetch response's RecordBatches) are not in memory but in files.
// The writer sends those bytes straight from the page cache to the socket
// with sendfile(2) when the connection is a TCP socket and the file an OS
// file, and otherwise copies them through its 64 KiB write buffer (pread into
// the buffer, then write), so a response never needs its record bytes in
// memory at once either way.
//
// Encoding: kmsg encodes everything. The writer cannot hand kmsg a
// placeholder as long as the file bytes without allocating (and zero-filling
// and copying) that much memory, which is the cost this path exists to
// avoid, so it finds where the file bytes go instead:
//
//  1. encode the response with every file field empty ([]byte{}: length 0);
//  2. encode it again with every file field one byte long;
//  3. walk both encodings side by side. They are equal except at the file
//     fields, because a byte field's contents change nothing else in the
//     encoding (Kafka's formats have no byte-length prefixes on structs,
//     only on the field itself). The first difference is therefore the last
//     byte of the first field's length (int32 0 vs 1, or, in flexible
//     versions, the compact length uvarint 1 vs 2), followed in the second
//     encoding by the one placeholder byte; skip it and continue for the
//     next field. Every difference is checked against exactly that shape,
//     and the tails must match.
//
// This needs no marker bytes (nothing in the response can be mistaken for
// one) and costs two encodings of a response without its records. The
// response is then written as: the first encoding up to a field's length,
// the field's real length in the same encoding kmsg uses (kbin's int32, or
// uvarint(n+1) for compact bytes: the prefix kbin.AppendNullableBytes /
// AppendCompactNullableBytes write), the file bytes, and so on; the size
// prefix counts exactly those bytes. If the walk ever finds anything else the
// writer falls back to reading the ranges into memory and encoding the whole
// response with kmsg.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FileRange is Len bytes at Off of an open file.
type FileRange struct {
	// R reads the bytes (the copy path). Always set.
	R io.ReaderAt
	// F, when set, is the same file as an *os.File: the writer may send
	// the range with sendfile(2). It always passes Off explicitly and never
	// uses or moves the file's position (the file may be shared).
	F   *os.File
	Off int64
	Len int64
}

// FileField is a []byte field of a response whose bytes are the
// concatenation of Ranges.
type FileField struct {
	// Field points at the field inside the response. The handler leaves it
	// empty; the writer sets it while encoding and leaves it empty again.
	Field  *[]byte
	Ranges []FileRange
}

// Len is the field's length in bytes.
func (f *FileField) Len() int64 {
	var n int64
	for _, r := range f.Ranges {
		n += r.Len
	}
	return n
}

// FileResponse is a response some of whose byte fields are sent from files.
// It is a kmsg.Response (the embedded one), so a Reply carries it like any
// other response.
//
// Contract: Fields are listed in the order kmsg encodes them (for a fetch
// response: topics in order, partitions in order) and each Field points into
// Response. The file bytes must not change or shrink until Release is called:
// the handler pins them. The server calls Release exactly once, after the
// response is written or when it is dropped (connection closed).
type FileResponse struct {
	kmsg.Response
	Fields  []FileField
	Release func()
}

// ErrShortFile is returned (and the connection closed) when a file ends
// before a range does: the size prefix has already been sent, so nothing
// else can be written on the connection.
var ErrShortFile = errors.New("protocol: file shorter than the range being sent")

// placeholder is the one-byte value of every file field in the second
// encoding. Its value does not matter; it is only checked to be there.
var placeholder = []byte{0xA5}

// releaseResponse releases the files a dropped or written response pins.
func releaseResponse(resp kmsg.Response) {
	if fr, ok := resp.(*FileResponse); ok && fr.Release != nil {
		fr.Release()
		fr.Release = nil
	}
}

// fieldCut is where a file field's length field lies in the encoding with
// empty fields.
type fieldCut struct {
	pos    int // first byte of the length field
	lenLen int // bytes of the empty length (4, or 1 when compact)
}

// locateFields finds the file fields' length fields in enc0 (fields empty)
// by comparing it with enc1 (fields one placeholder byte long); see the
// package comment at the top of this file. ok=false means the encodings do
// not have the expected shape.
func locateFields(enc0, enc1 []byte, n int, compact bool, cuts []fieldCut) ([]fieldCut, bool) {
	if len(enc1) != len(enc0)+n {
		return cuts, false
	}
	i, j := 0, 0
	for range n {
		for i < len(enc0) && enc0[i] == enc1[j] {
			i++
			j++
		}
		if i >= len(enc0) || j+1 >= len(enc1) || enc1[j+1] != placeholder[0] {
			return cuts, false
		}
		if compact {
			// uvarint(0+1) vs uvarint(1+1)
			if enc0[i] != 1 || enc1[j] != 2 {
				return cuts, false
			}
			cuts = append(cuts, fieldCut{pos: i, lenLen: 1})
		} else {
			// int32 0 vs int32 1: the first three bytes matched.
			if i < 3 || enc0[i] != 0 || enc1[j] != 1 || enc0[i-1] != 0 || enc0[i-2] != 0 || enc0[i-3] != 0 {
				return cuts, false
			}
			cuts = append(cuts, fieldCut{pos: i - 3, lenLen: 4})
		}
		i++
		j += 2
	}
	if string(enc0[i:]) != string(enc1[j:]) {
		return cuts, false
	}
	return cuts, true
}

// appendFieldLen appends the length prefix kmsg writes for a nullable byte
// field of n bytes.
func appendFieldLen(dst []byte, n int64, compact bool) []byte {
	if compact {
		return kbin.AppendUvarint(dst, uint32(n+1))
	}
	return kbin.AppendInt32(dst, int32(n))
}

// fileEncoder holds the scratch buffers of one connection's writer for file
// responses; the encodings without records are small.
type fileEncoder struct {
	enc0, enc1 []byte
	cuts       []fieldCut
}

// prepare encodes fr twice and locates its file fields. It returns the
// encoding with empty fields (framed by appendResponse, size prefix not yet
// right) and the cuts, or ok=false.
func (e *fileEncoder) prepare(correlationID int32, fr *FileResponse) ([]byte, []fieldCut, bool) {
	for i := range fr.Fields {
		*fr.Fields[i].Field = []byte{}
	}
	e.enc0 = appendResponse(e.enc0[:0], correlationID, fr.Response)
	for i := range fr.Fields {
		*fr.Fields[i].Field = placeholder
	}
	e.enc1 = appendResponse(e.enc1[:0], correlationID, fr.Response)
	for i := range fr.Fields {
		*fr.Fields[i].Field = []byte{}
	}
	// Compare after the size prefixes (which differ by the field count).
	var ok bool
	e.cuts, ok = locateFields(e.enc0[4:], e.enc1[4:], len(fr.Fields), fr.IsFlexible(), e.cuts[:0])
	for i := range e.cuts {
		e.cuts[i].pos += 4
	}
	enc0, cuts := e.enc0, e.cuts
	if cap(e.enc0) > 1<<20 { // do not pin a large buffer per connection
		e.enc0, e.enc1 = nil, nil
	}
	return enc0, cuts, ok
}

// rangeSender writes a file range to the connection; the server picks
// sendfile or a copy per range.
type rangeSender func(bw *bufio.Writer, r FileRange) error

// writeFileResponse writes fr: enc0 with each file field's empty length
// replaced by its real length and followed by its file bytes.
func writeFileResponse(bw *bufio.Writer, enc0 []byte, cuts []fieldCut, fr *FileResponse, compact bool, send rangeSender) error {
	size := int64(len(enc0) - 4)
	var lb [8]byte
	for i, c := range cuts {
		n := fr.Fields[i].Len()
		size += int64(len(appendFieldLen(lb[:0], n, compact))) - int64(c.lenLen) + n
	}
	if size > 1<<31-1 {
		return fmt.Errorf("protocol: response of %d bytes", size)
	}
	if _, err := bw.Write(kbin.AppendInt32(lb[:0], int32(size))); err != nil {
		return err
	}
	at := 4
	for i, c := range cuts {
		if _, err := bw.Write(enc0[at:c.pos]); err != nil {
			return err
		}
		f := &fr.Fields[i]
		if _, err := bw.Write(appendFieldLen(lb[:0], f.Len(), compact)); err != nil {
			return err
		}
		for _, r := range f.Ranges {
			if err := send(bw, r); err != nil {
				return err
			}
		}
		at = c.pos + c.lenLen
	}
	_, err := bw.Write(enc0[at:])
	return err
}

// copyRange writes a range through bw: read into bw's buffer, then write.
func copyRange(bw *bufio.Writer, r FileRange) error {
	n, err := bw.ReadFrom(io.NewSectionReader(r.R, r.Off, r.Len))
	if err == nil && n < r.Len {
		err = ErrShortFile
	}
	return err
}

// inlineFileResponse is the fallback: read every range into memory, fill in
// the fields and let kmsg encode the response whole.
func inlineFileResponse(dst []byte, correlationID int32, fr *FileResponse) ([]byte, error) {
	for i := range fr.Fields {
		f := &fr.Fields[i]
		b := make([]byte, f.Len())
		at := 0
		for _, r := range f.Ranges {
			if _, err := r.R.ReadAt(b[at:at+int(r.Len)], r.Off); err != nil {
				return dst, err
			}
			at += int(r.Len)
		}
		*f.Field = b
	}
	dst = appendResponse(dst, correlationID, fr.Response)
	for i := range fr.Fields {
		*fr.Fields[i].Field = []byte{}
	}
	return dst, nil
}
