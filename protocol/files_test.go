package protocol

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fileFixture is two files of random bytes that fetch responses point into.
type fileFixture struct {
	files [2]*os.File
	data  [2][]byte
}

func newFileFixture(t *testing.T) *fileFixture {
	t.Helper()
	fx := &fileFixture{}
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for i := range fx.files {
		b := make([]byte, 300<<10)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		path := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fx.files[i], fx.data[i] = f, b
	}
	return fx
}

// fetchCase builds a fetch response at a version: some partitions' records
// come from file ranges (large ones for sendfile, small ones copied, several
// ranges in one field), one has records in memory, one an error, one
// aborted transactions; flexible versions get tagged fields after the
// records. With files=false the records are filled in, which is what kmsg
// alone would encode.
func (fx *fileFixture) fetchCase(version int16, files bool) (*kmsg.FetchResponse, []FileField) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(version)
	resp.ThrottleMillis = 7
	resp.SessionID = 42
	type rng struct {
		file     int
		off, len int64
	}
	parts := [][]rng{
		{{0, 100, 70000}, {1, 5, 40000}}, // two large ranges, two files
		{{0, 0, 1000}},                   // small: copied
		nil,                              // in-memory records
		nil,                              // error
		{{1, 1000, 200000}, {0, 250000, 100}, {0, 17, 33000}},
	}
	var fields []FileField
	for ti, name := range []string{"alpha", "beta"} {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = name
		rt.TopicID = [16]byte{byte(ti + 1), 9}
		for pi := range parts {
			if ti == 1 && pi >= 3 {
				break
			}
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = int32(pi)
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = 1000+int64(pi), 900, 3
			rp.RecordBatches = []byte{}
			switch pi {
			case 2:
				rp.RecordBatches = []byte("in-memory records")
			case 3:
				rp.ErrorCode = 1
				rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
				at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				at.ProducerID, at.FirstOffset = 5, 6
				rp.AbortedTransactions = append(rp.AbortedTransactions, at)
			case 4:
				rp.PreferredReadReplica = 3
				rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = 4, 99
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = 1, 2
				rp.SnapshotID.EndOffset, rp.SnapshotID.Epoch = 8, 9
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			rp := &resp.Topics[ti].Partitions[pi]
			if len(parts[pi]) == 0 {
				continue
			}
			var ff FileField
			ff.Field = &rp.RecordBatches
			var inline []byte
			for _, r := range parts[pi] {
				ff.Ranges = append(ff.Ranges, FileRange{R: fx.files[r.file], F: fx.files[r.file], Off: r.off, Len: r.len})
				inline = append(inline, fx.data[r.file][r.off:r.off+r.len]...)
			}
			if files {
				fields = append(fields, ff)
			} else {
				rp.RecordBatches = inline
			}
		}
	}
	return resp, fields
}

// fileHandler answers Fetch at any version with the fixture's response,
// from files or (kmsgOnly) fully in memory.
type fileHandler struct {
	fx       *fileFixture
	kmsgOnly bool
	released atomic.Int32
	sent     atomic.Int32
}

func (h *fileHandler) Supported(key, version int16) bool {
	return key == 1 && version >= 4 && version <= 18
}

func (h *fileHandler) Handle(ctx context.Context, req *Request) Reply {
	resp, fields := h.fx.fetchCase(req.Version, !h.kmsgOnly)
	if h.kmsgOnly {
		return Reply{Resp: resp}
	}
	fr := &FileResponse{Response: resp, Fields: fields, Release: func() { h.released.Add(1) }}
	if req.Version%2 == 0 {
		// Half the versions go through Wait, as a long poll does (which
		// pins its files only when it reads, inside Wait).
		return Reply{Wait: func(context.Context) kmsg.Response { h.sent.Add(1); return fr }}
	}
	h.sent.Add(1)
	return Reply{Resp: fr}
}

// plainListener hides the *net.TCPConn so the server takes the copy path.
type plainListener struct{ net.Listener }

type plainConn struct{ net.Conn }

func (l plainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return plainConn{c}, nil
}

// fetchAllVersions sends one Fetch of every version v4–v18 pipelined on one
// connection and returns the raw response frames (size prefix included).
func fetchAllVersions(t *testing.T, h Handler, wrap func(net.Listener) net.Listener) ([][]byte, *Metrics) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	s := NewServer(h, DefaultLimits(), nil, m)
	go s.Serve(wrap(ln))
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	c := dial(t, ln.Addr().String())
	var f kmsg.RequestFormatter
	var out []byte
	for v := int16(4); v <= 18; v++ {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(v)
		out = append(out, f.AppendRequest(nil, req, int32(v))...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for v := int16(4); v <= 18; v++ {
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		n := int(uint32(size[0])<<24 | uint32(size[1])<<16 | uint32(size[2])<<8 | uint32(size[3]))
		frame := make([]byte, 4+n)
		copy(frame, size[:])
		if _, err := io.ReadFull(c, frame[4:]); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		frames = append(frames, frame)
	}
	return frames, m
}

// TestFileResponsesMatchKmsg checks that a fetch response sent from files,
// with sendfile (TCP) and with the copy path (not a TCP connection), is
// byte for byte what kmsg encodes with the records in memory, at every
// fetch version.
func TestFileResponsesMatchKmsg(t *testing.T) {
	fx := newFileFixture(t)
	want, _ := fetchAllVersions(t, &fileHandler{fx: fx, kmsgOnly: true}, func(l net.Listener) net.Listener { return l })
	for v := int16(4); v <= 18; v++ {
		// The reference is kmsg's own encoding, framed as appendResponse
		// frames every response.
		resp, _ := fx.fetchCase(v, false)
		if ref := appendResponse(nil, int32(v), resp); !bytes.Equal(ref, want[v-4]) {
			t.Fatalf("v%d: reference frame differs from the server's kmsg path", v)
		}
	}
	paths := []struct {
		name string
		wrap func(net.Listener) net.Listener
	}{
		{"sendfile", func(l net.Listener) net.Listener { return l }},
		{"copy", func(l net.Listener) net.Listener { return plainListener{l} }},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			h := &fileHandler{fx: fx}
			got, m := fetchAllVersions(t, h, p.wrap)
			for v := int16(4); v <= 18; v++ {
				g, w := got[v-4], want[v-4]
				if !bytes.Equal(g, w) {
					i := 0
					for i < len(g) && i < len(w) && g[i] == w[i] {
						i++
					}
					t.Errorf("v%d: %d bytes, want %d; first difference at %d", v, len(g), len(w), i)
				}
			}
			if r, s := h.released.Load(), h.sent.Load(); r != s {
				t.Errorf("released %d of %d file responses", r, s)
			}
			sent, copied := m.fileSent.Load(), m.fileCopied.Load()
			if p.name == "sendfile" && canSendfile && (sent == 0 || copied == 0) {
				t.Errorf("sendfile path: %d bytes sent with sendfile, %d copied; want both (large and small ranges)", sent, copied)
			}
			if p.name == "copy" && (sent != 0 || copied == 0) {
				t.Errorf("copy path: %d bytes sent with sendfile, %d copied", sent, copied)
			}
		})
	}
}

// TestLocateFieldsRejects checks that encodings of an unexpected shape are
// refused (so the writer falls back to kmsg) rather than spliced wrongly.
func TestLocateFieldsRejects(t *testing.T) {
	enc0 := []byte{9, 9, 0, 0, 0, 0, 7}
	good := []byte{9, 9, 0, 0, 0, 1, placeholder[0], 7}
	if cuts, ok := locateFields(enc0, good, 1, false, nil); !ok || cuts[0].pos != 2 || cuts[0].lenLen != 4 {
		t.Fatalf("good input: %v %v", cuts, ok)
	}
	for name, enc1 := range map[string][]byte{
		"wrong length":      {9, 9, 0, 0, 0, 1, placeholder[0], 7, 7},
		"no placeholder":    {9, 9, 0, 0, 0, 1, 0, 7},
		"not a zero length": {9, 9, 0, 0, 1, 1, placeholder[0], 7},
		"tail differs":      {9, 9, 0, 0, 0, 1, placeholder[0], 8},
	} {
		if _, ok := locateFields(enc0, enc1, 1, false, nil); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, ok := locateFields([]byte{1, 5}, []byte{2, placeholder[0], 5}, 1, true, nil); !ok {
		t.Error("compact: rejected")
	}
	if _, ok := locateFields([]byte{3, 5}, []byte{4, placeholder[0], 5}, 1, true, nil); ok {
		t.Error("compact length other than 0: accepted")
	}
}

// TestFileResponseReleasedWhenDropped checks that a ready file response
// queued behind a connection that dies is still released.
func TestFileResponseReleasedWhenDropped(t *testing.T) {
	fx := newFileFixture(t)
	h := &fileHandler{fx: fx}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(h, DefaultLimits(), nil, NewMetrics(nil))
	go s.Serve(ln)
	c := dial(t, ln.Addr().String())
	var f kmsg.RequestFormatter
	var out []byte
	for i := range 20 {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(int16(4 + i%15))
		out = append(out, f.AppendRequest(nil, req, int32(i))...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	c.Close() // never read: the writer fails and drops the rest
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Shutdown returns once every connection is closed; the drain
	// goroutine may still be releasing.
	deadline := time.Now().Add(10 * time.Second)
	for h.released.Load() != h.sent.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("released %d of %d", h.released.Load(), h.sent.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFileResponseRandomShapes splices random fetch responses (topic and
// partition counts, names, error codes, aborted transactions, tagged fields,
// record lengths around the varint boundaries) without a socket and checks
// each against kmsg's encoding of the same response with its records in
// memory.
func TestFileResponseRandomShapes(t *testing.T) {
	fx := newFileFixture(t)
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := []int64{0, 1, 126, 127, 128, 16383, 16384, 70000}
	var e fileEncoder
	for iter := range 600 {
		version := int16(4 + iter%15)
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(version)
		resp.SessionID = rng.Int32()
		for ti := range 1 + rng.IntN(3) {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic = string(rune('a'+ti)) + "-topic"
			rt.TopicID[0] = byte(rng.Uint32())
			for pi := range rng.IntN(4) {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition = int32(pi)
				rp.ErrorCode = int16(rng.IntN(2))
				rp.HighWatermark = rng.Int64N(1 << 40)
				rp.RecordBatches = []byte{}
				for range rng.IntN(3) {
					at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					at.ProducerID = rng.Int64()
					rp.AbortedTransactions = append(rp.AbortedTransactions, at)
				}
				if rng.IntN(3) == 0 {
					rp.DivergingEpoch.Epoch = rng.Int32N(9)
					rp.CurrentLeader.LeaderID = rng.Int32N(9)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		// Choose the file fields, in encoding order, and build the
		// reference with the same bytes in memory.
		ref := kmsg.NewPtrFetchResponse()
		*ref = *resp
		ref.Topics = nil
		var fields []FileField
		for _, rt := range resp.Topics {
			rt.Partitions = append([]kmsg.FetchResponseTopicPartition(nil), rt.Partitions...)
			ref.Topics = append(ref.Topics, rt)
		}
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				if rng.IntN(2) == 0 {
					continue
				}
				n := lengths[rng.IntN(len(lengths))]
				off := rng.Int64N(int64(len(fx.data[0])) - n)
				fields = append(fields, FileField{
					Field:  &resp.Topics[ti].Partitions[pi].RecordBatches,
					Ranges: []FileRange{{R: fx.files[0], Off: off, Len: n}},
				})
				ref.Topics[ti].Partitions[pi].RecordBatches = fx.data[0][off : off+n]
			}
		}
		fr := &FileResponse{Response: resp, Fields: fields}
		enc0, cuts, ok := e.prepare(int32(iter), fr)
		if !ok {
			t.Fatalf("iteration %d v%d: layout not recognised", iter, version)
		}
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		if err := writeFileResponse(bw, enc0, cuts, fr, fr.IsFlexible(), copyRange); err != nil {
			t.Fatal(err)
		}
		_ = bw.Flush()
		if want := appendResponse(nil, int32(iter), ref); !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("iteration %d v%d: spliced %d bytes, kmsg %d", iter, version, out.Len(), len(want))
		}
	}
}

// respAndWaitHandler answers Fetch with both a ready FileResponse in Resp and
// a Wait returning another one (a delayed reply that also prepared a
// response), or, every third request, Resp itself: every response created
// must be released exactly once, whether written or dropped.
type respAndWaitHandler struct {
	fx                *fileFixture
	n                 atomic.Int32
	created, released atomic.Int32
}

func (h *respAndWaitHandler) Supported(key, version int16) bool { return key == 1 && version == 12 }

func (h *respAndWaitHandler) Handle(ctx context.Context, req *Request) Reply {
	mk := func() *FileResponse {
		h.created.Add(1)
		resp, fields := h.fx.fetchCase(req.Version, true)
		var once atomic.Bool
		return &FileResponse{Response: resp, Fields: fields, Release: func() {
			if once.Swap(true) {
				panic("released twice")
			}
			h.released.Add(1)
		}}
	}
	ready := mk()
	if h.n.Add(1)%3 == 0 {
		return Reply{Resp: ready, Wait: func(context.Context) kmsg.Response { return ready }}
	}
	return Reply{Resp: ready, Wait: func(context.Context) kmsg.Response { return mk() }}
}

// TestRespAndWaitBothReleased: a reply with Resp and Wait releases Resp even
// when Wait returns another response (before, only Wait's was released).
func TestRespAndWaitBothReleased(t *testing.T) {
	for _, drop := range []bool{false, true} {
		fx := newFileFixture(t)
		h := &respAndWaitHandler{fx: fx}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := NewServer(h, DefaultLimits(), nil, NewMetrics(nil))
		go s.Serve(ln)
		c := dial(t, ln.Addr().String())
		var f kmsg.RequestFormatter
		var out []byte
		const n = 12
		for i := range n {
			req := kmsg.NewPtrFetchRequest()
			req.SetVersion(12)
			out = append(out, f.AppendRequest(nil, req, int32(i))...)
		}
		if _, err := c.Write(out); err != nil {
			t.Fatal(err)
		}
		if drop {
			c.Close() // never read: the writer fails and drops the rest
		} else {
			for range n {
				readResponse(t, c)
			}
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Shutdown returns once every connection is closed; the drain
		// goroutine may still be releasing.
		deadline := time.Now().Add(10 * time.Second)
		for h.released.Load() != h.created.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("drop=%v: released %d of %d responses", drop, h.released.Load(), h.created.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
}
