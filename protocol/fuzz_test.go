package protocol

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/fuzzseed"
)

// anyHandler serves every API key kmsg knows at every version kmsg knows,
// so that conn.parse runs every request decoder.
type anyHandler struct{}

func (anyHandler) Supported(key, version int16) bool {
	r := kmsg.RequestForKey(key)
	return r != nil && version >= 0 && version <= r.MaxVersion()
}

func (anyHandler) Handle(context.Context, *Request) Reply { return Reply{} }

// decodeAllocBound is the most a request of n wire bytes may make the
// decoder allocate: decoded structs cost a few tens of bytes per wire byte
// (an array element is at least one byte on the wire and kmsg checks a
// declared count against the bytes left before allocating), plus a fixed
// overhead. A declared length that is not backed by bytes must cost nothing.
func decodeAllocBound(n int) uint64 { return 96*uint64(n) + 16<<10 }

// parseAlloc parses frame on c and returns the result and the bytes the
// parse allocated.
func parseAlloc(c *conn, frame []byte) (*Request, bool, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	req, ok := c.parse(frame)
	runtime.ReadMemStats(&after)
	return req, ok, after.TotalAlloc - before.TotalAlloc
}

func newParseConn(t testing.TB) *conn {
	t.Helper()
	srv := NewServer(anyHandler{}, DefaultLimits(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	t.Cleanup(srv.cancel)
	return &conn{srv: srv, info: &ConnInfo{}}
}

// FuzzDecodeRequest runs every request decoder: the input is a frame
// without its size prefix (API key, version, correlation id, client id,
// header tags, body), seeded with a valid request of every key at every
// version kmsg knows, so the fuzzer picks the key and version from the
// input. Decoding must not panic, must allocate at most decodeAllocBound,
// and a decoded request must encode again.
func FuzzDecodeRequest(f *testing.F) {
	for i, s := range fuzzseed.All() {
		f.Add(fuzzseed.Frame(s.Key, s.Version, int32(i), s.Encoded))
	}
	c := newParseConn(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		// readLoop hands parse frames of at least 8 bytes (key, version,
		// correlation id); 64 KiB keeps iterations fast.
		if len(frame) < 8 || len(frame) > 64<<10 {
			return
		}
		req, ok, alloc := parseAlloc(c, frame)
		if bound := decodeAllocBound(len(frame)); alloc > bound {
			t.Fatalf("key %d v%d: decoding %d bytes allocated %d (bound %d)",
				binary.BigEndian.Uint16(frame), binary.BigEndian.Uint16(frame[2:]), len(frame), alloc, bound)
		}
		if ok && req.Parsed {
			_ = req.Body.AppendTo(nil)
		}
	})
}

// TestDecodeSeeds: every seed of FuzzDecodeRequest decodes (so the fuzzer
// starts inside every decoder, not at its first check) within the bound.
func TestDecodeSeeds(t *testing.T) {
	c := newParseConn(t)
	worst := 0.0
	for _, s := range fuzzseed.All() {
		frame := fuzzseed.Frame(s.Key, s.Version, 1, s.Encoded)
		req, ok, alloc := parseAlloc(c, frame)
		if !ok || !req.Parsed {
			t.Fatalf("key %d v%d: seed does not decode", s.Key, s.Version)
		}
		if alloc > decodeAllocBound(len(frame)) {
			t.Fatalf("key %d v%d: %d bytes allocated %d", s.Key, s.Version, len(frame), alloc)
		}
		worst = max(worst, float64(alloc)/float64(len(frame)))
	}
	t.Logf("%d seeds; worst allocation per wire byte %.1f", len(fuzzseed.All()), worst)
}

// TestHugeDeclaredLengths: lengths and counts that the frame's bytes do not
// back (CVE-2022-34917 was an unauthenticated OOM of this kind in Kafka) are
// refused without allocating what they declare.
func TestHugeDeclaredLengths(t *testing.T) {
	c := newParseConn(t)
	hdr := func(key, version int16, flexible bool) []byte {
		b := fuzzseed.Frame(key, version, 1, nil)
		if !flexible {
			return b
		}
		return b[:len(b)-1] // the caller writes the header tags
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	cases := map[string][]byte{
		"array count 2^31-1":         cat(hdr(3, 1, false), u32(0x7fffffff)),
		"compact array count 2^32-2": cat(hdr(3, 12, true), []byte{0}, uv(0xffffffff)),
		"string length 32767":        cat(hdr(0, 3, false), []byte{0xff, 0xff}, []byte{0, 1}, []byte{0, 0, 0x75, 0x30}, u32(1), []byte{0x7f, 0xff, 'a'}),
		"nested array count 2^31-1":  cat(hdr(19, 4, false), u32(1), []byte{0, 1, 't'}, u32(1), []byte{0, 1}, u32(0x7fffffff)),
		"records bytes 2^31":         cat(hdr(0, 9, true), []byte{0}, []byte{0}, []byte{0, 1}, []byte{0, 0, 0x75, 0x30}, uv(2), uv(2), []byte{'t'}, uv(2), u32(0), uv(1<<31+1)),
		"header tag count 2^40":      cat(hdr(3, 12, true), uv(1<<40)),
		"header tag size 2^31":       cat(hdr(3, 12, true), uv(1), uv(0), uv(1<<31)),
		"body tag count 2^40":        cat(hdr(3, 12, true), []byte{0}, uv(1), []byte{0, 0}, uv(1<<40)),
		"body tag size 2^31":         cat(hdr(3, 12, true), []byte{0}, uv(1), []byte{0, 0}, uv(1), uv(9), uv(1<<31)),
		"client id length 32767":     cat([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff}, []byte("abc")),
		"sasl auth bytes 2^31-1":     cat(hdr(36, 1, false), u32(0x7fffffff), []byte("x")),
		"produce record set 2^31-1":  cat(hdr(0, 3, false), []byte{0xff, 0xff}, []byte{0, 1}, []byte{0, 0, 0x75, 0x30}, u32(1), []byte{0, 1, 't'}, u32(1), u32(0), u32(0x7fffffff)),
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			req, ok, alloc := parseAlloc(c, frame)
			if ok && req.Parsed {
				t.Fatalf("%d-byte frame decoded: %+v", len(frame), req.Body)
			}
			if alloc > 16<<10 {
				t.Fatalf("refusing a %d-byte frame allocated %d bytes", len(frame), alloc)
			}
		})
	}
}
