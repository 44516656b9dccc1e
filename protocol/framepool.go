package protocol

import (
	"math/bits"
	"sync"
)

// framePool recycles the frames of Produce requests. A fresh frame costs
// more than reading it: Go zeroes every new large allocation, and first
// touching fresh pages faults them in (a W2 profile had 21 % of the broker's
// CPU zeroing produce frames). A recycled frame is overwritten by the read
// and needs neither.
//
// Only Produce frames are recycled: the decoded request's byte fields alias
// the frame, and handlers of other APIs keep some of them (group metadata,
// assignments); the produce handler copies what it keeps (the log writes the
// batch to its file, or the in-memory FS copies it) before Handle returns,
// and its Reply.Wait does not touch the request (see Handler).
//
// Classes are powers of two from 4 KiB to 16 MiB; a frame gets the smallest
// class that holds it (larger frames are allocated and left to the GC). The
// byte budget is acquired for the class size, not the frame size, so the
// bytes held by in-flight frames stay within MaxQueuedBytes as before; idle
// frames are capped separately at maxIdle bytes (beyond it a returned frame
// is dropped), so the pool adds at most maxIdle to what the budget bounds.
type framePool struct {
	mu      sync.Mutex
	free    [frameClasses][][]byte
	idle    int64
	maxIdle int64
}

const (
	minFrameShift = 12 // 4 KiB
	maxFrameShift = 24 // 16 MiB
	frameClasses  = maxFrameShift - minFrameShift + 1
)

func newFramePool(maxIdle int64) *framePool { return &framePool{maxIdle: maxIdle} }

// class returns the class index of a frame of n bytes and its capacity, or
// -1 and n if n is above the largest class.
func frameClass(n int) (int, int) {
	if n > 1<<maxFrameShift {
		return -1, n
	}
	shift := max(bits.Len(uint(n-1)), minFrameShift)
	return shift - minFrameShift, 1 << shift
}

// frameCost is what a frame of n bytes from get counts against the budget.
func frameCost(n int) int64 {
	_, c := frameClass(n)
	return int64(c)
}

// get returns a frame of n bytes; its contents are unspecified.
func (p *framePool) get(n int) []byte {
	class, size := frameClass(n)
	if class < 0 {
		return make([]byte, n)
	}
	p.mu.Lock()
	if l := len(p.free[class]); l > 0 {
		b := p.free[class][l-1]
		p.free[class][l-1] = nil
		p.free[class] = p.free[class][:l-1]
		p.idle -= int64(cap(b))
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	return make([]byte, n, size)
}

// put returns a frame from get. The caller must hold no reference into it.
func (p *framePool) put(b []byte) {
	class, size := frameClass(cap(b))
	if class < 0 || size != cap(b) {
		return
	}
	p.mu.Lock()
	if p.idle+int64(size) <= p.maxIdle {
		p.free[class] = append(p.free[class], b[:0])
		p.idle += int64(size)
	}
	p.mu.Unlock()
}
