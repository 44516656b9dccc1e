package protocol

import (
	"context"
	"sync"
)

// byteBudget is a counting semaphore over bytes: readers acquire a frame's
// size before allocating it and release it once the handler returns, so the
// request bytes held in memory across all connections stay bounded.
type byteBudget struct {
	mu      sync.Mutex
	free    int64
	waiters []budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

func newByteBudget(n int64) *byteBudget { return &byteBudget{free: n} }

// acquire takes n bytes, waiting in FIFO order; it returns false if ctx ends
// first.
func (b *byteBudget) acquire(ctx context.Context, n int64) bool {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.free >= n {
		b.free -= n
		b.mu.Unlock()
		return true
	}
	w := budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready:
			// Granted while we gave up: hand it back.
			b.free += n
			b.grantLocked()
		default:
			for i := range b.waiters {
				if b.waiters[i].ready == w.ready {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
			b.grantLocked()
		}
		return false
	}
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	b.grantLocked()
	b.mu.Unlock()
}

func (b *byteBudget) grantLocked() {
	for len(b.waiters) > 0 && b.free >= b.waiters[0].n {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.free -= w.n
		close(w.ready)
	}
}
