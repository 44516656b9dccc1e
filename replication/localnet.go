package replication

import (
	"fmt"
	"slices"
	"sync"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// LocalNetwork is an in-process Transport between nodes, controllable for
// deterministic tests: links can be cut (Send reports ErrUnreachable, as a
// refused connection), messages dropped by a filter (silently, as a lossy
// network), and a link held (batches queue) and released later, in order
// or reversed (delay and reorder). Messages are copied through their wire
// encoding, so nodes never share a message.
//
// Delivery is synchronous: Send calls the destination's Receive, which
// only queues. LocalNetwork counts frames (Send calls) and messages per
// directed link, so tests can check that one "connection" per pair
// carries every group's messages.
type LocalNetwork struct {
	mu       sync.Mutex
	nodes    map[uint64]Receiver
	cut      map[link]bool
	isolated map[uint64]bool
	drop     func(from, to uint64, env Envelope) bool
	held     map[link]bool
	queue    map[link][][]Envelope
	frames   map[link]int
	msgs     map[link]int
}

type link struct{ from, to uint64 }

// NewLocalNetwork returns a network with no nodes and every link up.
func NewLocalNetwork() *LocalNetwork {
	return &LocalNetwork{
		nodes:    make(map[uint64]Receiver),
		cut:      make(map[link]bool),
		isolated: make(map[uint64]bool),
		held:     make(map[link]bool),
		queue:    make(map[link][][]Envelope),
		frames:   make(map[link]int),
		msgs:     make(map[link]int),
	}
}

// Endpoint returns node id's Transport on this network.
func (nw *LocalNetwork) Endpoint(id uint64) Transport { return localEndpoint{nw, id} }

// Attach makes r receive what is sent to id (a restarted node attaches
// again, replacing the old receiver).
func (nw *LocalNetwork) Attach(id uint64, r Receiver) {
	nw.mu.Lock()
	nw.nodes[id] = r
	nw.mu.Unlock()
}

// Detach removes id: sends to it fail with ErrUnreachable.
func (nw *LocalNetwork) Detach(id uint64) {
	nw.mu.Lock()
	delete(nw.nodes, id)
	nw.mu.Unlock()
}

// Cut takes down the links between a and b, both ways.
func (nw *LocalNetwork) Cut(a, b uint64) {
	nw.mu.Lock()
	nw.cut[link{a, b}], nw.cut[link{b, a}] = true, true
	nw.mu.Unlock()
}

// Isolate cuts id off from every other node.
func (nw *LocalNetwork) Isolate(id uint64) {
	nw.mu.Lock()
	nw.isolated[id] = true
	nw.mu.Unlock()
}

// SetDropFilter makes the network silently drop every message for which
// drop returns true (nil: none). drop is called with the network's lock
// held and must not call back into it.
func (nw *LocalNetwork) SetDropFilter(drop func(from, to uint64, env Envelope) bool) {
	nw.mu.Lock()
	nw.drop = drop
	nw.mu.Unlock()
}

// Hold makes batches from from to to queue instead of being delivered,
// until Release or Heal.
func (nw *LocalNetwork) Hold(from, to uint64) {
	nw.mu.Lock()
	nw.held[link{from, to}] = true
	nw.mu.Unlock()
}

// Release stops holding the link and delivers what it queued, in the order
// sent or, with reverse, last first (a reordering network).
func (nw *LocalNetwork) Release(from, to uint64, reverse bool) {
	l := link{from, to}
	nw.mu.Lock()
	delete(nw.held, l)
	batches := nw.queue[l]
	delete(nw.queue, l)
	r := nw.nodes[to]
	nw.mu.Unlock()
	if reverse {
		slices.Reverse(batches)
	}
	if r == nil {
		return
	}
	for _, b := range batches {
		r.Receive(from, b)
	}
}

// Heal restores every link: cuts, isolation and the drop filter go, and
// held links are released in order.
func (nw *LocalNetwork) Heal() {
	nw.mu.Lock()
	clear(nw.cut)
	clear(nw.isolated)
	nw.drop = nil
	var held []link
	for l := range nw.held {
		held = append(held, l)
	}
	nw.mu.Unlock()
	slices.SortFunc(held, func(a, b link) int {
		if a.from != b.from {
			return int(a.from) - int(b.from)
		}
		return int(a.to) - int(b.to)
	})
	for _, l := range held {
		nw.Release(l.from, l.to, false)
	}
}

// Traffic returns how many frames (Send calls that were delivered or
// held) and Raft messages (liveness envelopes not counted) went from from
// to to.
func (nw *LocalNetwork) Traffic(from, to uint64) (frames, msgs int) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.frames[link{from, to}], nw.msgs[link{from, to}]
}

// Links returns every directed link that carried at least one frame.
func (nw *LocalNetwork) Links() [][2]uint64 {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	var out [][2]uint64
	for l := range nw.frames {
		out = append(out, [2]uint64{l.from, l.to})
	}
	return out
}

type localEndpoint struct {
	nw   *LocalNetwork
	from uint64
}

// Send implements Transport.
func (e localEndpoint) Send(to uint64, batch []Envelope) error {
	nw, l := e.nw, link{e.from, to}
	// Copy through the wire encoding outside the lock.
	copied := make([]Envelope, 0, len(batch))
	for _, env := range batch {
		if env.Msg == nil {
			copied = append(copied, env)
			continue
		}
		b, err := proto.Marshal(env.Msg)
		if err != nil {
			return fmt.Errorf("replication: encode message: %w", err)
		}
		var m raftpb.Message
		if err := proto.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("replication: decode message: %w", err)
		}
		copied = append(copied, Envelope{Group: env.Group, Msg: &m, Quiesce: env.Quiesce})
	}
	nw.mu.Lock()
	r := nw.nodes[to]
	if r == nil || nw.cut[l] || nw.isolated[e.from] || nw.isolated[to] {
		nw.mu.Unlock()
		return fmt.Errorf("%w: %d -> %d", ErrUnreachable, e.from, to)
	}
	if nw.drop != nil {
		copied = slices.DeleteFunc(copied, func(env Envelope) bool { return env.Msg != nil && nw.drop(e.from, to, env) })
	}
	nw.frames[l]++
	for _, env := range copied {
		if env.Msg != nil {
			nw.msgs[l]++
		}
	}
	if nw.held[l] {
		nw.queue[l] = append(nw.queue[l], copied)
		nw.mu.Unlock()
		return nil
	}
	nw.mu.Unlock()
	if len(copied) > 0 {
		r.Receive(e.from, copied)
	}
	return nil
}
