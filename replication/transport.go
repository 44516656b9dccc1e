package replication

import "go.etcd.io/raft/v3/raftpb"

// Envelope is one Raft message of one group, as carried between nodes.
type Envelope struct {
	Group uint64
	// Msg is the message; nil in a liveness envelope (the node-level
	// heartbeat, DESIGN.md §6), which carries nothing but its arrival.
	Msg *raftpb.Message
	// Quiesce marks a leader's last heartbeat before its group goes quiet:
	// a follower that is caught up stops ticking the group.
	Quiesce bool
}

// Transport carries batches of messages between nodes: one connection (or
// equivalent) per pair of nodes carries the messages of every group
// (DESIGN.md §6). A Node has one sender per peer, which hands the
// transport everything queued for that peer since its last Send as one
// batch, so batches coalesce under load.
//
// Contract:
//   - Send is called by one goroutine per destination at a time (the
//     node's sender for that peer), for different destinations
//     concurrently. It may block while the connection is congested (that
//     is the back-pressure on the peer's sender), but must return when the
//     transport is closed.
//   - Every field of Envelope must arrive (Quiesce included), and a nil
//     Msg must arrive as nil (liveness).
//   - The transport owns batch after Send is called; the messages must not
//     be modified by the caller afterwards (they are not).
//   - Delivery is best effort: messages may be lost, delayed, duplicated or
//     reordered; Raft tolerates all of it. A nil error does not mean the
//     peer received the batch. ErrUnreachable (wrapped or not) says the
//     batch was not sent because the peer cannot be reached now; the node
//     then reports the peer unreachable to each group in the batch.
//   - Batches received from a peer are passed to the local node's Receive
//     (Receiver), in the order the connection delivers them.
type Transport interface {
	Send(to uint64, batch []Envelope) error
}

// Receiver takes batches that arrived from peer node from. Node implements
// it. Receive does not block on Raft work: it queues the messages for
// their groups and returns. Messages for groups the node does not host
// are dropped (their sender retries). The receiver takes ownership of
// batch.
type Receiver interface {
	Receive(from uint64, batch []Envelope)
}

// ReceiverFunc adapts a function to Receiver.
type ReceiverFunc func(from uint64, batch []Envelope)

// Receive implements Receiver.
func (f ReceiverFunc) Receive(from uint64, batch []Envelope) { f(from, batch) }

// DisconnectReceiver is implemented by receivers that want to hear at once
// that the transport lost its connection to a peer (Node: a crashed
// peer's connection resets at once, long before its silence passes the
// election timeout). Optional for transports: without it the receiver
// learns of the loss through failed sends. PeerDisconnected must not
// block.
type DisconnectReceiver interface {
	PeerDisconnected(peer uint64)
}
