package protocol

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// throttleHandler answers Metadata with the throttle_time_ms of its
// correlation id in ms (corr 300: 300 ms), or, for key 3 with correlation id
// 1000+n, no response and MuteFor n ms; it records when each request is
// handled.
type throttleHandler struct {
	echoHandler
	mu      sync.Mutex
	handled map[int32]time.Time
}

func (h *throttleHandler) Handle(ctx context.Context, req *Request) Reply {
	h.mu.Lock()
	h.handled[req.CorrelationID] = time.Now()
	h.mu.Unlock()
	if req.Key != 3 {
		return h.echoHandler.Handle(ctx, req)
	}
	if req.CorrelationID >= 1000 {
		return Reply{NoResponse: true, MuteFor: time.Duration(req.CorrelationID-1000) * time.Millisecond}
	}
	resp := req.Body.ResponseKind().(*kmsg.MetadataResponse)
	resp.ThrottleMillis = req.CorrelationID
	return Reply{Resp: resp}
}

func (h *throttleHandler) at(corr int32) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handled[corr]
}

func TestThrottleMutesAfterResponse(t *testing.T) {
	h := &throttleHandler{handled: map[int32]time.Time{}}
	addr := startServer(t, h, DefaultLimits())
	c := dial(t, addr)
	var f kmsg.RequestFormatter
	send := func(req kmsg.Request, corr int32) time.Time {
		t.Helper()
		if _, err := c.Write(f.AppendRequest(nil, req, corr)); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(9) // v6+: the client throttles itself (KIP-219)
	sent := send(md, 300)
	readResponse(t, c)
	if d := time.Since(sent); d > 250*time.Millisecond {
		t.Fatalf("throttled v9 response took %v: it should be sent at once", d)
	}
	// The next request waits out the mute.
	send(kmsg.NewPtrApiVersionsRequest(), 1)
	readResponse(t, c)
	if gap := h.at(1).Sub(h.at(300)); gap < 290*time.Millisecond {
		t.Fatalf("next request handled %v after the throttled one, want >= 300ms", gap)
	}

	// Before KIP-219 (Metadata v5) the response itself is held back.
	md5 := kmsg.NewPtrMetadataRequest()
	md5.SetVersion(5)
	sent = send(md5, 200)
	readResponse(t, c)
	if d := time.Since(sent); d < 190*time.Millisecond {
		t.Fatalf("throttled v5 response after %v, want it held back 200ms", d)
	}

	// A reply without a response mutes through MuteFor.
	send(kmsg.NewPtrMetadataRequest(), 1250)
	send(kmsg.NewPtrApiVersionsRequest(), 2)
	readResponse(t, c)
	if gap := h.at(2).Sub(h.at(1250)); gap < 240*time.Millisecond {
		t.Fatalf("request after MuteFor 250ms handled after %v", gap)
	}
}

// refuseSecond admits every other connection and counts releases.
type refuseSecond struct {
	mu       sync.Mutex
	n        int
	admitted int
	released int
}

func (l *refuseSecond) Admit(net.Addr, func() bool) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if l.n%2 == 0 {
		return false, 0
	}
	l.admitted++
	return true, 0
}

func (l *refuseSecond) Release(net.Addr) {
	l.mu.Lock()
	l.released++
	l.mu.Unlock()
}

func TestConnLimiterHook(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &refuseSecond{}
	s := NewServer(&echoHandler{}, DefaultLimits(), nil, nil)
	s.SetConnLimiter(l)
	go s.Serve(ln)
	defer s.Shutdown(context.Background())
	var f kmsg.RequestFormatter
	ok := dial(t, ln.Addr().String())
	if _, err := ok.Write(f.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)); err != nil {
		t.Fatal(err)
	}
	readResponse(t, ok)
	refused := dial(t, ln.Addr().String())
	expectClosed(t, refused)
	ok.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		admitted, released := l.admitted, l.released
		l.mu.Unlock()
		if admitted == 1 && released == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admitted %d, released %d", admitted, released)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
