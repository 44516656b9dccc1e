package protocol

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFramePoolClasses(t *testing.T) {
	p := newFramePool(64 << 10)
	for _, c := range []struct{ n, cap int }{{8, 4 << 10}, {4 << 10, 4 << 10}, {4<<10 + 1, 8 << 10}, {1 << 20, 1 << 20}, {16 << 20, 16 << 20}} {
		b := p.get(c.n)
		if len(b) != c.n || cap(b) != c.cap || frameCost(c.n) != int64(c.cap) {
			t.Errorf("get(%d): len %d cap %d cost %d, want cap %d", c.n, len(b), cap(b), frameCost(c.n), c.cap)
		}
	}
	if b := p.get(16<<20 + 1); cap(b) != 16<<20+1 || frameCost(16<<20+1) != 16<<20+1 {
		t.Errorf("above the largest class: cap %d", cap(b))
	}
	// Recycled: the same array comes back for any size of its class.
	a := p.get(5000)
	a[0] = 42
	p.put(a)
	if b := p.get(8000); &b[0] != &a[0] || len(b) != 8000 {
		t.Error("frame not recycled")
	}
	// The idle cap: 64 KiB holds one 32 KiB and one 16 KiB frame; a
	// second 32 KiB frame is dropped.
	x, y, z := p.get(32<<10), p.get(32<<10), p.get(16<<10)
	p.put(x)
	p.put(z)
	p.put(y)
	if p.idle != 48<<10 {
		t.Errorf("idle %d, want %d", p.idle, 48<<10)
	}
	p.put(make([]byte, 100)) // not from get: not a class size
	if p.idle != 48<<10 {
		t.Errorf("foreign slice pooled: idle %d", p.idle)
	}
}

// produceHandler answers Produce and checks every request's records against
// what the client sent for that correlation id.
type produceHandler struct {
	want    map[int32][]byte
	checked atomic.Int32
	bad     atomic.Int32
}

func (h *produceHandler) Supported(key, version int16) bool {
	return key == 0 && version >= 3 && version <= 13
}

func (h *produceHandler) Handle(ctx context.Context, req *Request) Reply {
	r := req.Body.(*kmsg.ProduceRequest)
	if !bytes.Equal(r.Topics[0].Partitions[0].Records, h.want[req.CorrelationID]) {
		h.bad.Add(1)
	}
	h.checked.Add(1)
	return Reply{Resp: r.ResponseKind()}
}

// TestProduceFramesRecycled sends produce requests of many sizes on two
// connections: each request decodes to exactly what was sent (a recycled
// frame holds nothing of an earlier one), every frame goes back to the pool
// and the budget is whole again.
func TestProduceFramesRecycled(t *testing.T) {
	h := &produceHandler{want: make(map[int32][]byte)}
	var f kmsg.RequestFormatter
	var reqs [2][]byte
	const n = 60
	for i := range int32(n) {
		size := 100 << (i % 12) // 100 B .. 200 KiB
		rec := bytes.Repeat([]byte{byte(i + 1)}, int(size)-int(i))
		h.want[i] = rec
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(int16(3 + i%11))
		req.Acks = 1
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = rec
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		reqs[i%2] = append(reqs[i%2], f.AppendRequest(nil, req, i)...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := DefaultLimits()
	s := NewServer(h, limits, nil, NewMetrics(nil))
	go s.Serve(ln)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	for _, out := range reqs {
		c := dial(t, ln.Addr().String())
		if _, err := c.Write(out); err != nil {
			t.Fatal(err)
		}
		for range n / 2 {
			readResponse(t, c)
		}
	}
	if h.checked.Load() != n || h.bad.Load() != 0 {
		t.Fatalf("%d of %d requests decoded to other bytes than sent", h.bad.Load(), h.checked.Load())
	}
	s.frames.mu.Lock()
	idle := s.frames.idle
	s.frames.mu.Unlock()
	if idle == 0 {
		t.Error("no frame was returned to the pool")
	}
	s.budget.mu.Lock()
	free := s.budget.free
	s.budget.mu.Unlock()
	if free != limits.MaxQueuedBytes {
		t.Errorf("budget %d free after every response, want %d", free, limits.MaxQueuedBytes)
	}
}
