package protocol

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

// idleConnLimit is the most one idle connection may hold (heap and
// goroutine stacks, both ends of the loopback socket counted): today a
// 64 KiB read buffer, a 64 KiB write buffer and two goroutines.
const idleConnLimit = 256 << 10

// TestIdleConnectionMemory opens 1,000 connections, sends one ApiVersions
// request on each (so both of its goroutines and buffers exist) and then
// leaves them idle, and measures what they hold: the memory an attacker
// gets per connection it keeps open (slow-loris), before any
// connections.max.idle.ms or per-IP limit applies.
func TestIdleConnectionMemory(t *testing.T) {
	const n = 1000
	addr := startServer(t, &echoHandler{}, DefaultLimits())
	var f kmsg.RequestFormatter
	req := f.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)

	before := memInUse()
	goroutines := runtime.NumGoroutine()
	conns := make([]net.Conn, 0, n)
	for range n {
		c := dial(t, addr)
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		if corr, _ := readResponse(t, c); corr != 1 {
			t.Fatalf("correlation id %d", corr)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "two goroutines per connection", func() bool {
		return runtime.NumGoroutine()-goroutines >= 2*n
	})
	after := memInUse()
	per := (int64(after) - int64(before)) / n
	t.Logf("%d idle connections: %d bytes each (heap and stacks), %.1f goroutines each",
		n, per, float64(runtime.NumGoroutine()-goroutines)/n)
	if per > idleConnLimit {
		t.Fatalf("an idle connection holds %d bytes, more than %d", per, idleConnLimit)
	}
	for _, c := range conns {
		c.Close()
	}
}

// memInUse is the heap and stack memory in use after a collection.
func memInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
