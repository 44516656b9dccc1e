package protocol

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

// echoHandler serves ApiVersions v0–4 and Metadata (answered after an
// optional delay) so the tests can check framing and ordering.
type echoHandler struct {
	mu    sync.Mutex
	order []int32
	delay time.Duration
}

func (h *echoHandler) Supported(key, version int16) bool {
	switch key {
	case 18:
		return version >= 0 && version <= 4
	case 3:
		return version >= 0 && version <= 13
	}
	return false
}

func (h *echoHandler) Handle(ctx context.Context, req *Request) Reply {
	h.mu.Lock()
	h.order = append(h.order, req.CorrelationID)
	h.mu.Unlock()
	resp := req.Body.ResponseKind()
	if !req.Parsed {
		resp.SetVersion(0)
		resp.(*kmsg.ApiVersionsResponse).ErrorCode = 35
		return Reply{Resp: resp}
	}
	if req.Key == 3 && h.delay > 0 && req.CorrelationID%2 == 0 {
		d := h.delay
		return Reply{Wait: func(ctx context.Context) kmsg.Response { time.Sleep(d); return resp }}
	}
	return Reply{Resp: resp}
}

func startServer(t *testing.T, h Handler, limits Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(h, limits, nil, NewMetrics(nil))
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func readResponse(t *testing.T, c net.Conn) (int32, []byte) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read size: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return int32(binary.BigEndian.Uint32(body[:4])), body[4:]
}

func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	var b [1]byte
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(b[:]); err == nil {
		t.Fatal("connection still open, want it closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection not closed within 5s")
	}
}

func TestPipelinedResponsesInOrder(t *testing.T) {
	h := &echoHandler{delay: 20 * time.Millisecond}
	addr := startServer(t, h, DefaultLimits())
	c := dial(t, addr)
	var f kmsg.RequestFormatter
	var out []byte
	for i := range int32(10) {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(int16(i % 14))
		// AppendRequest writes the size at the start of dst, so each
		// request is formatted on its own.
		out = append(out, f.AppendRequest(nil, req, i)...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	for i := range int32(10) {
		corr, body := readResponse(t, c)
		if corr != i {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
		resp := kmsg.NewPtrMetadataResponse()
		resp.SetVersion(int16(i % 14))
		if resp.IsFlexible() {
			if body[0] != 0 {
				t.Fatalf("response %d: header tags %d", i, body[0])
			}
			body = body[1:]
		}
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("response %d v%d does not parse: %v", i, i%14, err)
		}
	}
}

func TestApiVersionsUnsupportedVersion(t *testing.T) {
	addr := startServer(t, &echoHandler{}, DefaultLimits())
	c := dial(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(99)
	var f kmsg.RequestFormatter
	// A v99 request is flexible; kmsg would write v99 as flexible too.
	if _, err := c.Write(f.AppendRequest(nil, req, 7)); err != nil {
		t.Fatal(err)
	}
	corr, body := readResponse(t, c)
	if corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 35 {
		t.Fatalf("error code %d, want 35", resp.ErrorCode)
	}
}

func TestBadFramesClose(t *testing.T) {
	limits := Limits{MaxRequestBytes: 1 << 20, MaxOtherRequestBytes: 1 << 16}
	addr := startServer(t, &echoHandler{}, limits)
	frame := func(size int32, rest ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(size)), rest...)
	}
	cases := map[string][]byte{
		"negative size":        frame(-1),
		"oversized":            frame(1<<20 + 1),
		"http get":             []byte("GET / HTTP/1.1\r\n\r\n"),
		"too short":            frame(3, 0, 3, 0),
		"unknown key":          frame(10, 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff),
		"unsupported version":  frame(10, 0, 3, 0x00, 99, 0, 0, 0, 1, 0xff, 0xff),
		"truncated body":       frame(12, 0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 5, 0),
		"non-produce too big":  frame(1<<16+1, 0, 3, 0, 1),
		"bad client id length": frame(10, 0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			c := dial(t, addr)
			if _, err := c.Write(data); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, c)
		})
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	h := &echoHandler{delay: 200 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(h, DefaultLimits(), nil, nil)
	go s.Serve(ln)
	c := dial(t, ln.Addr().String())
	var f kmsg.RequestFormatter
	if _, err := c.Write(f.AppendRequest(nil, kmsg.NewPtrMetadataRequest(), 2)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the reader to hand the request to the handler", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.order) == 1
	})
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	if corr, _ := readResponse(t, c); corr != 2 {
		t.Fatalf("correlation id %d", corr)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
}

// FuzzServeFrames feeds arbitrary bytes to a connection: the server must
// answer or close, never panic or hang.
func FuzzServeFrames(f *testing.F) {
	var rf kmsg.RequestFormatter
	f.Add(rf.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1))
	mr := kmsg.NewPtrMetadataRequest()
	mr.SetVersion(12)
	f.Add(rf.AppendRequest(nil, mr, 2))
	f.Add([]byte{0, 0, 0, 8, 0, 18, 0, 3, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &echoHandler{}
		srv := NewServer(h, Limits{MaxRequestBytes: 1 << 16}, nil, nil)
		a, b := net.Pipe()
		c := &conn{srv: srv, nc: a, info: &ConnInfo{}}
		srv.connWG.Add(1)
		srv.conns[c] = struct{}{}
		go c.serve()
		go func() {
			_, _ = b.Write(data)
			b.Close()
		}()
		done := make(chan struct{})
		go func() { srv.connWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection did not finish")
		}
	})
}

func TestByteBudget(t *testing.T) {
	b := newByteBudget(10)
	ctx := context.Background()
	if !b.acquire(ctx, 6) {
		t.Fatal("acquire 6")
	}
	waiting := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.waiters) == 1
	}
	got := make(chan bool, 1)
	go func() { got <- b.acquire(ctx, 6) }()
	testenv.WaitFor(t, 10*time.Second, "acquire(6) to queue", waiting)
	select {
	case <-got:
		t.Fatal("acquired beyond the budget")
	default:
	}
	b.release(6)
	if !<-got {
		t.Fatal("waiter not granted after release")
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { // cancels once the acquire below waits (not t.Fatal: another goroutine)
		for !waiting() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if b.acquire(cctx, 6) {
		t.Fatal("acquired beyond the budget after cancel")
	}
	b.release(6)
	if !b.acquire(ctx, 10) {
		t.Fatal("budget leaked")
	}
}

// closeAfterWaitHandler answers Metadata with no response and a Wait whose
// outcome decides (CloseAfterWait) whether the connection closes: the
// correlation id 1 closes, every other one does not.
type closeAfterWaitHandler struct{ echoHandler }

func (h *closeAfterWaitHandler) Handle(ctx context.Context, req *Request) Reply {
	if req.Key != 3 {
		return h.echoHandler.Handle(ctx, req)
	}
	failed := false
	return Reply{
		NoResponse:     true,
		Wait:           func(context.Context) kmsg.Response { failed = req.CorrelationID == 1; return nil },
		CloseAfterWait: func() bool { return failed },
	}
}

// TestCloseAfterWait: a reply whose CloseAfterWait says so after its Wait
// closes the connection (acks=0 produce whose fsync in Wait failed); one
// that does not leaves it open for the next request.
func TestCloseAfterWait(t *testing.T) {
	addr := startServer(t, &closeAfterWaitHandler{}, DefaultLimits())
	c := dial(t, addr)
	var f kmsg.RequestFormatter
	send := func(req kmsg.Request, corr int32) {
		t.Helper()
		if _, err := c.Write(f.AppendRequest(nil, req, corr)); err != nil {
			t.Fatal(err)
		}
	}
	send(kmsg.NewPtrMetadataRequest(), 0) // no response, stays open
	api := kmsg.NewPtrApiVersionsRequest()
	send(api, 2)
	if corr, _ := readResponse(t, c); corr != 2 {
		t.Fatalf("correlation id %d, want 2: the connection should have stayed open", corr)
	}
	send(kmsg.NewPtrMetadataRequest(), 1) // Wait fails: closes
	expectClosed(t, c)
}
