package replication

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// stallTransport blocks every Send to one peer while stalled, as a
// congested connection does.
type stallTransport struct {
	Transport
	to   uint64
	mu   sync.Mutex
	gate chan struct{} // nil: not stalled
}

func (s *stallTransport) Send(to uint64, batch []Envelope) error {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if to == s.to && gate != nil {
		<-gate
	}
	return s.Transport.Send(to, batch)
}

func (s *stallTransport) stall() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *stallTransport) release() {
	s.mu.Lock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	s.mu.Unlock()
}

// peerQueueBytes is what n holds for peer to (queued and being sent).
func peerQueueBytes(n *Node, to uint64) int64 {
	n.mu.RLock()
	ps := n.senders[to]
	n.mu.RUnlock()
	if ps == nil {
		return 0
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.bytes
}

// stalledLeader restarts node 1 of a 3-node, 1-group cluster over a
// transport that can stall sends to node 3, elects it, and commits one
// entry so that node 3 is replicating.
func stalledLeader(t *testing.T, cfg Config) (*cluster, *stallTransport, *prometheus.Registry) {
	t.Helper()
	c := newCluster(t, 3, 1)
	if err := c.nodes[1].Stop(); err != nil {
		t.Fatal(err)
	}
	c.net.Detach(1)
	st := &stallTransport{Transport: c.net.Endpoint(1), to: 3}
	t.Cleanup(st.release) // before the nodes stop (cleanups run last first)
	reg := prometheus.NewRegistry()
	cfg.ID, cfg.Transport, cfg.Workers, cfg.Logger, cfg.Registerer = 1, st, 2, quietLogger, reg
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.AddGroup(GroupConfig{ID: 1, Storage: c.storages[[2]uint64{1, 1}], StateMachine: c.sms[[2]uint64{1, 1}]}); err != nil {
		t.Fatal(err)
	}
	c.nodes[1] = n
	c.net.Attach(1, n)
	c.elect(1, 1)
	if err := c.propose(1, 1, "first"); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 3 caught up", 20, func() bool { return c.status(3, 1).Applied == c.status(1, 1).Applied }, 1, 2, 3)
	return c, st, reg
}

// proposeBig commits count entries of size bytes through node 1 (a
// majority without node 3), recording the most node 1 held for node 3
// meanwhile.
func proposeBig(t *testing.T, c *cluster, count, size int) (maxQueued int64) {
	t.Helper()
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // sample while proposing
		defer close(done)
		for {
			if b := peerQueueBytes(c.nodes[1], 3); b > peak.Load() {
				peak.Store(b)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for i := range count {
		data := bytes.Repeat([]byte(fmt.Sprintf("%04d", i)), size/4)
		if err := c.nodes[1].Propose(t.Context(), 1, data); err != nil {
			t.Fatal(err)
		}
		if b := peerQueueBytes(c.nodes[1], 3); b > peak.Load() {
			peak.Store(b)
		}
	}
	close(stop)
	<-done
	return peak.Load()
}

// A peer whose connection stalls costs the leader at most
// MaxPeerQueueBytes: past it, messages are dropped and the group told the
// peer is unreachable (the queue grew with every append before). Once the
// connection moves again the peer catches up.
func TestPeerQueueBounded(t *testing.T) {
	const limit = 64 << 10
	c, st, reg := stalledLeader(t, Config{MaxPeerQueueBytes: limit, MaxInflightBytes: 1 << 30})
	st.stall()
	peak := proposeBig(t, c, 100, 4<<10) // 400 KiB
	if peak > limit {
		t.Fatalf("node 1 held %d bytes for the stalled peer, bound %d", peak, limit)
	}
	if got := gathered(t, reg, "moldau_raft_send_dropped_total"); got == 0 {
		t.Fatal("nothing dropped for a stalled peer")
	}
	st.release()
	c.tickUntil("node 3 caught up after the stall", 100, func() bool {
		return c.status(3, 1).Applied == c.status(1, 1).Applied
	}, 1, 2, 3)
}

// Raft's MaxInflightBytes bounds what a group sends a follower that does
// not acknowledge: the queue for a stalled peer stops near it, well below
// the peer queue bound, and nothing is dropped.
func TestMaxInflightBytes(t *testing.T) {
	const inflight, size = 1 << 20, 64 << 10 // raft's least MaxInflightBytes
	c, st, reg := stalledLeader(t, Config{MaxInflightBytes: inflight})
	st.stall()
	peak := proposeBig(t, c, 48, size) // 3 MiB
	// The last append may pass the bound (raft checks before sending),
	// and the batch stuck in Send counts too: a few entries over.
	if peak > inflight+3*(size+128) {
		t.Fatalf("node 1 held %d bytes for the stalled peer with MaxInflightBytes %d", peak, inflight)
	}
	if got := gathered(t, reg, "moldau_raft_send_dropped_total"); got != 0 {
		t.Fatalf("%v messages dropped under the default queue bound", got)
	}
	st.release()
	c.tickUntil("node 3 caught up after the stall", 100, func() bool {
		return c.status(3, 1).Applied == c.status(1, 1).Applied
	}, 1, 2, 3)
}

func TestMaxInflightBytesBelowMessage(t *testing.T) {
	if _, err := NewNode(Config{ID: 1, Transport: NewLocalNetwork().Endpoint(1), MaxInflightBytes: 16 << 10}); err == nil {
		t.Fatal("NewNode took a MaxInflightBytes below raft's message size (raft panics on it)")
	}
}
