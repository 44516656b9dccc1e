package replication

// Node hosts the Raft groups of one broker: one ticker, one scheduler (a
// fixed pool of workers running the groups that have work) and one sender
// per peer node that batches every group's messages to that peer into one
// Transport.Send (DESIGN.md §1, §5, §6).
//
// # Locking
//
//   - Node.mu guards groups and senders (the maps; a Group and a
//     peerSender guard themselves).
//   - scheduler.mu guards the run queue and every Group.schedState.
//   - Group.mu guards the RawNode and the group's tracked proposals; a
//     worker holds it for a whole Ready round (persist, send, apply),
//     Campaign/TransferLeadership/Status/Replicas/WaitReplicated for their
//     step. The StateMachine and the Storage are called with it held.
//   - Group.inMu guards the group's inbox (received messages, queued
//     proposals, unreachable and snapshot reports); Receive, the senders
//     and Propose/ProposeAsync/ProposeConfChange take only it, never
//     Group.mu, so neither network delivery nor a proposer waits for a
//     Ready round — and a proposer may hold a lock that the StateMachine's
//     Apply takes (the broker's partition append lock) without deadlock,
//     in ProposeAsync only: Propose and ProposeConfChange wait for Apply,
//     so called under such a lock they deadlock (until their ctx ends).
//     Leader reads atomics only. Do not call the Group.mu methods above
//     while holding a lock that Apply takes.
//   - peerSender.mu guards that peer's outgoing queue and its size.
//
//   - liveMu guards the liveness table, errMu the stopping error.
//
// Lock order: Group.mu, then Node.mu, then peerSender.mu, scheduler.mu,
// Group.inMu, liveMu or errMu (leaves, but for Group.inMu, under which
// only errMu is taken).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Config configures a Node.
type Config struct {
	// ID is this node's Raft id (Kafka node.id + 1: DESIGN.md §1). Not 0.
	ID uint64
	// Transport carries messages to peers. Required.
	Transport Transport
	// TickInterval is the period of the node's one ticker. 0: no ticker;
	// the owner calls Tick (tests, to be deterministic).
	TickInterval time.Duration
	// Workers is the size of the scheduler's pool (default
	// 4*GOMAXPROCS).
	Workers int
	// ElectionTick and HeartbeatTick are raft's, in ticks (defaults 10
	// and 1).
	ElectionTick, HeartbeatTick int
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock for replica lag (ReplicaProgress.CaughtUp);
	// default time.Now.
	Now func() time.Time
	// MaxPeerQueueBytes bounds what the node holds for one peer: the
	// messages queued for it plus the batch its Send is carrying (sizes
	// as envelopeBytes estimates them). A message that would pass it is
	// dropped and its group told the peer is unreachable (raft then
	// probes the peer, one message per heartbeat, instead of streaming
	// appends), as when the transport fails; a message alone in an empty
	// queue is always taken, so one larger than the bound still goes.
	// Default 64 MiB; a peer whose connection stalls costs at most that.
	MaxPeerQueueBytes int64
	// MaxInflightBytes is raft's per-follower bound on the bytes of
	// entries sent and not yet acknowledged, in each group (raft.Config;
	// appends of 1 MiB at most, which is also its least value). Default
	// 8 MiB.
	MaxInflightBytes uint64
	// Registerer receives the node's metrics (metrics.go); nil: none.
	Registerer prometheus.Registerer
	// Peers are the other nodes (this node's id is ignored if present).
	// With peers, the node sends each a liveness envelope every tick and
	// idle groups quiesce (DESIGN.md §6); without, no group quiesces.
	Peers []uint64
}

// Node is one broker's multi-raft host. Its methods are safe for
// concurrent use.
type Node struct {
	cfg    Config
	id     uint64
	logger *slog.Logger
	sched  scheduler
	m      *nodeMetrics

	mu      sync.RWMutex
	groups  map[uint64]*Group
	senders map[uint64]*peerSender

	inFlight atomic.Int64 // messages queued on senders and not yet handed to the transport

	// Node-level liveness (DESIGN.md §6), guarded by liveMu: a peer is
	// live while heard from (any frame) within ElectionTick ticks. One
	// the transport cannot reach (a crashed process: its connection
	// reset, redials refused) and silent past fastDeadTicks is cut off:
	// the groups it leads start their elections early.
	peers     atomic.Pointer[[]uint64] // replaced whole by SetPeers; read with peerList
	liveMu    sync.Mutex
	tickCount int64
	lastHeard map[uint64]int64
	dead      map[uint64]bool
	// unreachable: since when each send to the peer has failed with
	// ErrUnreachable (absent: the last send went out).
	unreachable map[uint64]time.Time
	// cutOff: the peer was unreachable and silent past fastDeadTicks, and
	// the groups it led had their election clocks advanced (once, until
	// it is heard from again).
	cutOff map[uint64]bool

	stopping atomic.Bool   // set first by stop; checked under Group.mu by Propose and AddGroup
	failing  atomic.Bool   // set by fail before its asynchronous stop runs
	stopCh   chan struct{} // closed by stop: ticker and senders exit
	stopOnce sync.Once
	done     chan struct{} // closed when stop has finished
	errMu    sync.Mutex
	err      error // the error that stopped the node (nil: Stop)
	wg       sync.WaitGroup
}

// NewNode starts a node with no groups.
func NewNode(cfg Config) (*Node, error) {
	if cfg.ID == 0 {
		return nil, errors.New("replication: node id 0 is reserved by raft")
	}
	if cfg.Transport == nil {
		return nil, errors.New("replication: no transport")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.ElectionTick <= 0 {
		cfg.ElectionTick = 10
	}
	if cfg.HeartbeatTick <= 0 {
		cfg.HeartbeatTick = 1
	}
	if cfg.MaxPeerQueueBytes <= 0 {
		cfg.MaxPeerQueueBytes = 64 << 20
	}
	if cfg.MaxInflightBytes == 0 {
		cfg.MaxInflightBytes = 8 << 20
	}
	if cfg.MaxInflightBytes < maxSizePerMsg {
		return nil, fmt.Errorf("replication: MaxInflightBytes %d below the largest append, %d", cfg.MaxInflightBytes, maxSizePerMsg)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := &Node{
		cfg:     cfg,
		id:      cfg.ID,
		logger:  cfg.Logger.With("node", cfg.ID),
		groups:  make(map[uint64]*Group),
		senders: make(map[uint64]*peerSender),
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	n.lastHeard = make(map[uint64]int64, len(cfg.Peers))
	n.unreachable = make(map[uint64]time.Time)
	n.cutOff = make(map[uint64]bool)
	n.SetPeers(cfg.Peers)
	n.dead = make(map[uint64]bool)
	m, err := newNodeMetrics(cfg.Registerer, n)
	if err != nil {
		return nil, err
	}
	n.m = m
	n.sched.init()
	n.sched.onIdle = n.flush
	for range cfg.Workers {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.sched.run()
		}()
	}
	if cfg.TickInterval > 0 {
		n.wg.Add(1)
		go n.tickLoop(cfg.TickInterval)
	}
	return n, nil
}

// ID returns the node's Raft id.
func (n *Node) ID() uint64 { return n.id }

func (n *Node) tickLoop(d time.Duration) {
	defer n.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.stopCh:
			return
		case <-t.C:
			n.Tick()
		}
	}
}

// Tick advances every awake group's logical clock by one tick (the
// node's one ticker calls it; tests call it by hand); quiesced groups are
// skipped. With peers it also sends each peer a liveness envelope and
// wakes the quiesced groups that depended on a peer that has just gone
// silent. It does not block on Raft work.
func (n *Node) Tick() {
	if n.stopping.Load() {
		return
	}
	var newlyDead, fastDead []uint64
	var skip int32 // ticks to add to groups led by a fastDead peer
	if peers := n.peerList(); len(peers) > 0 {
		n.liveMu.Lock()
		n.tickCount++
		for _, p := range peers {
			if n.dead[p] {
				continue
			}
			silent := n.tickCount - n.lastHeard[p]
			_, cut := n.unreachable[p]
			switch {
			case silent > int64(n.cfg.ElectionTick):
				n.dead[p] = true
				newlyDead = append(newlyDead, p)
			case cut && silent > fastDeadTicks && !n.cutOff[p]:
				// Not dead yet for PeerAlive (the controller fences
				// brokers on that): only the groups it leads move on.
				n.cutOff[p] = true
				fastDead = append(fastDead, p)
				skip = max(skip, int32(n.cfg.ElectionTick)-int32(silent))
			}
		}
		n.liveMu.Unlock()
		for _, p := range peers {
			n.enqueueSend(p, []Envelope{{}})
		}
		n.flush()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	awake := make([]*Group, 0, len(n.groups))
	for _, g := range n.groups {
		if len(newlyDead) > 0 && g.quiesced.Load() {
			if l := g.quiesceLeader.Load(); l == n.id || slices.Contains(newlyDead, l) {
				n.logger.Debug("waking quiesced group: a peer went silent", "group", g.id, "peers", newlyDead)
				g.quiesced.Store(false)
			}
		}
		if len(fastDead) > 0 && !g.leading.Load() && slices.Contains(fastDead, g.leaderID.Load()) {
			// The leader's node is gone (its connection dropped and
			// it stays silent): advance the group's election clock to
			// the election timeout, so that its CheckQuorum lease ends
			// now and it campaigns after its randomized timeout's
			// remainder (0 to ElectionTick-1 ticks) instead of after
			// the whole of it. Only the fixed part is skipped: the
			// random part keeps the survivors from campaigning at
			// once and splitting the vote. Raft's safety does not rest
			// on ticks; a leader that was alive after all resets the
			// clock with its next heartbeat.
			n.logger.Debug("leader's node unreachable: election clock advanced", "group", g.id, "leader", g.leaderID.Load(), "ticks", skip)
			g.quiesced.Store(false)
			g.ticks.addN(skip)
		}
		if g.quiesced.Load() {
			continue
		}
		g.ticks.add()
		awake = append(awake, g)
	}
	n.sched.enqueueAll(awake)
}

// fastDeadTicks: a peer the transport cannot reach (every send since
// some point failed with ErrUnreachable) counts as dead once silent for
// more than this many ticks, instead of ElectionTick. A live peer whose
// connection merely dropped is redialed within a tick or two and heard
// from again before then.
const fastDeadTicks = 3

// PeerDisconnected implements DisconnectReceiver: the peer counts as
// unreachable from now until a send to it goes out again.
func (n *Node) PeerDisconnected(peer uint64) {
	n.liveMu.Lock()
	defer n.liveMu.Unlock()
	if _, tracked := n.lastHeard[peer]; !tracked {
		return
	}
	if _, cut := n.unreachable[peer]; !cut {
		n.unreachable[peer] = n.cfg.Now()
	}
}

// PeerDownSince reports since when peer (a node in Config.Peers) has been
// unreachable through the transport or, failing that, silent past the
// election timeout; ok is false while it is reachable and live. The
// broker holds a Metadata answer briefly while a partition's leader is
// down, so that it names the successor (replication elects within an
// election timeout of this time).
func (n *Node) PeerDownSince(peer uint64) (since time.Time, ok bool) {
	if len(n.peerList()) == 0 {
		return time.Time{}, false
	}
	n.liveMu.Lock()
	defer n.liveMu.Unlock()
	if t, cut := n.unreachable[peer]; cut {
		return t, true
	}
	if n.dead[peer] {
		// Silent, though sends go out (a paused process, a cut
		// link): since about an election timeout ago.
		return n.cfg.Now().Add(-time.Duration(n.tickCount-n.lastHeard[peer]) * n.cfg.TickInterval), true
	}
	return time.Time{}, false
}

// PeerAlive reports whether peer (a node in Config.Peers) was heard from
// within the election timeout (always true without peers): the broker's
// controller fences brokers that stay silent.
func (n *Node) PeerAlive(peer uint64) bool { return n.live(peer) }

// live reports whether peer was heard from recently (always true without
// liveness tracking).
func (n *Node) live(peer uint64) bool {
	if len(n.peerList()) == 0 {
		return true
	}
	n.liveMu.Lock()
	defer n.liveMu.Unlock()
	return !n.dead[peer]
}

// SetPeers replaces the other nodes of liveness tracking (Config.Peers:
// the broker follows the cluster's membership as nodes join and leave). A
// new peer counts as heard from now; a peer no longer listed is forgotten.
func (n *Node) SetPeers(peers []uint64) {
	var list []uint64
	for _, p := range peers {
		if p != n.id && p != 0 && !slices.Contains(list, p) {
			list = append(list, p)
		}
	}
	slices.Sort(list)
	if old := n.peers.Load(); old != nil && slices.Equal(*old, list) {
		return
	}
	n.liveMu.Lock()
	for _, p := range list {
		if _, ok := n.lastHeard[p]; !ok {
			n.lastHeard[p] = n.tickCount
		}
	}
	for p := range n.lastHeard {
		if !slices.Contains(list, p) {
			delete(n.lastHeard, p)
			delete(n.dead, p)
			delete(n.unreachable, p)
			delete(n.cutOff, p)
		}
	}
	n.peers.Store(&list)
	n.liveMu.Unlock()
}

// peerList is the current peers (SetPeers); the slice is never modified.
func (n *Node) peerList() []uint64 {
	if p := n.peers.Load(); p != nil {
		return *p
	}
	return nil
}

// ProposeForwardTo is ProposeForward, but when no leader is known it sends
// the proposal to hint (a node that may lead the group: a joining node
// tries the voters it was given in turn; a node that does not lead drops
// it). Errors as ProposeForward's; a *NotLeaderError only when neither a
// leader nor a hint is known.
func (n *Node) ProposeForwardTo(group uint64, data []byte, hint uint64) error {
	err := n.ProposeForward(group, data)
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.Leader != 0 || hint == 0 || hint == n.id {
		return err
	}
	msg := &raftpb.Message{Type: raftpb.MsgProp.Enum(), To: new(hint), From: new(n.id),
		Entries: []*raftpb.Entry{{Data: slices.Clone(data)}}}
	n.enqueueSend(hint, []Envelope{{Group: group, Msg: msg}})
	n.flush()
	return nil
}

// Receive implements Receiver: it queues each message for its group and
// schedules the group. Messages for unknown groups are dropped.
func (n *Node) Receive(from uint64, batch []Envelope) {
	if n.stopping.Load() {
		return
	}
	if len(n.peerList()) > 0 {
		n.liveMu.Lock()
		n.lastHeard[from] = n.tickCount
		delete(n.dead, from)
		delete(n.cutOff, from)
		n.liveMu.Unlock()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	// Queue every message before scheduling any group: a group scheduled
	// after its first message could run and take its inbox before the
	// batch's later messages for it arrive, and would not run again.
	touched := make([]*Group, 0, 4)
	for _, env := range batch {
		g := n.groups[env.Group]
		if g == nil || env.Msg == nil {
			continue
		}
		if env.Msg.GetType() == raftpb.MsgProp {
			// A forwarded proposal (ProposeForward): proposed here as
			// if local, fire and forget; raft's own MsgProp never
			// crosses nodes (DisableProposalForwarding).
			n.proposeForwarded(g, env.Msg)
			continue
		}
		g.inMu.Lock()
		g.inbox = append(g.inbox, env)
		g.inMu.Unlock()
		if len(touched) == 0 || touched[len(touched)-1] != g {
			touched = append(touched, g)
		}
	}
	n.sched.enqueueAll(touched) // a repeat is harmless
}

// group returns the hosted group id, or nil.
func (n *Node) group(id uint64) *Group {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.groups[id]
}

// Propose proposes data (one entry) to group and returns once it is
// committed and applied on this node (Kafka's acks=all point). Errors: a
// *NotLeaderError (ErrNotLeader) at once on a follower; ErrDropped if Raft
// refused it or another entry took its place; ErrStopped (with the cause)
// if the node stopped; ctx's error if ctx ended first (the entry may still
// commit); ErrUnknownGroup, ErrEmptyProposal. data must not be modified
// afterwards. It waits for Apply: never call it holding a lock that the
// StateMachine's Apply takes (use ProposeAsync under the lock, then wait
// for Done after releasing it).
func (n *Node) Propose(ctx context.Context, group uint64, data []byte) error {
	p, err := n.ProposeAsync(group, data)
	if err != nil {
		return err
	}
	select {
	case <-p.Done():
		return p.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ProposeForward proposes data to group on its leader, wherever that is:
// on this node as ProposeAsync does, else sent to the leader this node
// knows of, which proposes it as its own. It does not say whether the
// entry commits (the caller watches the state it applies for the effect,
// and retries: an entry may be lost with a leader change, or arrive
// twice). Errors: a *NotLeaderError with leader 0 when no leader is known,
// and ProposeAsync's errors on the leader. For rare writes that any node
// may make (the metadata group: broker registration, admin requests).
func (n *Node) ProposeForward(group uint64, data []byte) error {
	if len(data) == 0 {
		return ErrEmptyProposal
	}
	g := n.group(group)
	if g == nil {
		return fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	if g.leading.Load() {
		_, err := n.ProposeAsync(group, data)
		if err == nil || !errors.Is(err, ErrNotLeader) {
			return err
		}
	}
	leader := g.leaderID.Load()
	if leader == 0 || leader == n.id {
		return &NotLeaderError{Group: group}
	}
	msg := &raftpb.Message{Type: raftpb.MsgProp.Enum(), To: new(leader), From: new(n.id),
		Entries: []*raftpb.Entry{{Data: slices.Clone(data)}}}
	n.enqueueSend(leader, []Envelope{{Group: group, Msg: msg}})
	n.flush()
	return nil
}

// proposeForwarded proposes the entries of a MsgProp a peer forwarded
// (ProposeForward). n.mu is read-held.
func (n *Node) proposeForwarded(g *Group, m *raftpb.Message) {
	if !g.leading.Load() {
		return // the sender retries once it knows the leader
	}
	for _, e := range m.GetEntries() {
		if len(e.GetData()) == 0 {
			continue
		}
		p := newProposal(e.GetData(), 0)
		p.start, p.m = time.Now(), n.m
		if err := g.enqueueProposal(p); err != nil {
			n.logger.Debug("forwarded proposal refused", "group", g.id, "err", err)
			return
		}
	}
	n.sched.enqueue(g)
}

// ProposeAsync proposes data to group and returns at once with the
// proposal to follow (Appended for acks=1, Done for acks=all), or with the
// errors Propose returns at once.
func (n *Node) ProposeAsync(group uint64, data []byte) (*Proposal, error) {
	if len(data) == 0 {
		return nil, ErrEmptyProposal
	}
	g := n.group(group)
	if g == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	p := newProposal(data, 0)
	p.start, p.m = time.Now(), n.m
	if err := g.enqueueProposal(p); err != nil {
		return nil, err
	}
	n.sched.enqueue(g)
	return p, nil
}

// RequestTransfer asks group's leader, wherever it is, to hand the
// leadership to target (a voter): on this node if it leads, else sent to
// the leader this node knows of, or to leaderHint (a node that need not
// host the group: the broker's metadata names the leader) as a
// MsgTransferLeader, which raft's leader handles as its own transfer. It
// does not wait: the caller watches the leadership. Errors: a
// *NotLeaderError when no leader is known.
func (n *Node) RequestTransfer(group, target, leaderHint uint64) error {
	if g := n.group(group); g != nil {
		if g.leading.Load() {
			return n.TransferLeadership(group, target)
		}
		if l := g.leaderID.Load(); l != 0 {
			leaderHint = l
		}
	}
	if leaderHint == 0 || leaderHint == n.id {
		return &NotLeaderError{Group: group}
	}
	msg := &raftpb.Message{Type: raftpb.MsgTransferLeader.Enum(), To: new(leaderHint), From: new(target)}
	n.enqueueSend(leaderHint, []Envelope{{Group: group, Msg: msg}})
	n.flush()
	return nil
}

// ProposeConfChange proposes a membership change (raftpb.ConfChange or
// ConfChangeV2) to group and returns once it is committed and applied on
// this node, with Propose's errors; ErrDropped also when another change is
// still pending (Raft allows one at a time).
//
// A storage that implements ConfStateSaver (LogStorage) persists each
// applied configuration, learners and joint halves included, so it
// survives a restart (DESIGN.md §9; the broker's metadata group grows and
// shrinks this way, partition groups are reassigned this way).
func (n *Node) ProposeConfChange(ctx context.Context, group uint64, cc raftpb.ConfChangeI) error {
	g := n.group(group)
	if g == nil {
		return fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	p := newProposal(nil, 0)
	p.cc, p.conf = cc, true
	p.start, p.m = time.Now(), n.m
	if err := g.enqueueProposal(p); err != nil {
		return err
	}
	n.sched.enqueue(g)
	select {
	case <-p.Done():
		return p.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Campaign makes this node start an election in group now (tests, and
// leadership placement).
func (n *Node) Campaign(group uint64) error {
	g := n.group(group)
	if g == nil {
		return fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	err := func() (err error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.failed {
			return n.stoppedErr()
		}
		defer func() {
			if r := recover(); r != nil {
				err = g.storagePanicLocked(r)
			}
		}()
		g.quiesced.Store(false)
		return g.rn.Campaign()
	}()
	n.sched.enqueue(g)
	return err
}

// TransferLeadership asks this node, if it leads group, to hand the
// leadership to node to (a graceful shutdown, preferred-leader balancing).
// It returns at once; the transfer completes when to has caught up and
// won its election (watch Status), or is abandoned after an election
// timeout. On a follower it returns a *NotLeaderError.
func (n *Node) TransferLeadership(group, to uint64) error {
	g := n.group(group)
	if g == nil {
		return fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	err := func() (err error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.failed {
			return n.stoppedErr()
		}
		st := g.rn.BasicStatus()
		if st.RaftState != raft.StateLeader {
			return &NotLeaderError{Group: group, Leader: st.Lead}
		}
		defer func() {
			if r := recover(); r != nil {
				err = g.storagePanicLocked(r)
			}
		}()
		g.quiesced.Store(false)
		g.rn.TransferLeader(to)
		return nil
	}()
	if err != nil {
		return err
	}
	n.sched.enqueue(g)
	return nil
}

// WaitReplicated returns once at least n voters of group (the leader
// included) hold entry index: Kafka's acks=all with a min.insync.replicas
// above the Raft majority (DESIGN.md §3), waited for after the proposal
// committed. It fails with a *NotLeaderError if this node does not lead
// the group or stops leading it, with ErrStopped, or with ctx's error.
func (n *Node) WaitReplicated(ctx context.Context, group, index uint64, want int) error {
	g := n.group(group)
	if g == nil {
		return fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	w := &replicaWait{index: index, n: want, done: make(chan struct{})}
	g.mu.Lock()
	if g.failed || n.stopping.Load() {
		g.mu.Unlock()
		return n.stoppedErr()
	}
	st := g.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		g.mu.Unlock()
		return &NotLeaderError{Group: group, Leader: st.Lead}
	}
	g.repWaits = append(g.repWaits, w)
	g.noteCaughtUpLocked() // perhaps satisfied already
	g.mu.Unlock()
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-w.done: // released meanwhile
			return w.err
		default:
		}
		g.repWaits = slices.DeleteFunc(g.repWaits, func(x *replicaWait) bool { return x == w })
		return ctx.Err()
	}
}

// ReplicaProgress is what a leader knows of one replica of its group.
type ReplicaProgress struct {
	ID      uint64
	Learner bool
	Match   uint64 // highest index known to be in the replica's log
	// CaughtUp is the last time the replica had every entry of the
	// leader's log (Kafka's ISR: caught up within replica.lag.time.max.ms);
	// zero if never seen caught up. The leader itself: now.
	CaughtUp time.Time
}

// Replicas returns the progress of every replica of group, from its leader
// (a *NotLeaderError elsewhere), in id order.
func (n *Node) Replicas(group uint64) ([]ReplicaProgress, error) {
	g := n.group(group)
	if g == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	return g.replicas()
}

// ConfState returns group's configuration as this node applied it: the
// voters (and the outgoing voters while joint), the learners. Membership
// changes (reassignment) compare it with their goal.
func (n *Node) ConfState(group uint64) (*raftpb.ConfState, error) {
	g := n.group(group)
	if g == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.rn.Status()
	return &raftpb.ConfState{
		Voters:         st.Config.Voters[0].Slice(),
		VotersOutgoing: st.Config.Voters[1].Slice(),
		Learners:       sortedIDs(st.Config.Learners),
		LearnersNext:   sortedIDs(st.Config.LearnersNext),
		AutoLeave:      new(st.Config.AutoLeave),
	}, nil
}

func sortedIDs(m map[uint64]struct{}) []uint64 {
	out := make([]uint64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Leader returns group's leader as this node knows it, the term this node
// last persisted, and whether this node leads (the leader's epoch is the
// term once it is leading). It takes no group lock: cheap enough for every
// request, and safe to call from anywhere (Status waits for a Ready round).
func (n *Node) Leader(group uint64) (leader, term uint64, isLeader bool, err error) {
	g := n.group(group)
	if g == nil {
		return 0, 0, false, fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	return g.leaderID.Load(), g.term.Load(), g.leading.Load(), nil
}

// Membership returns group's configuration as this node has applied it:
// its voters (both halves of a joint configuration) and its learners
// (those to become learners when a joint configuration is left
// included), each in id order. It takes the group's lock.
func (n *Node) Membership(group uint64) (voters, learners []uint64, err error) {
	g := n.group(group)
	if g == nil {
		return nil, nil, fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed {
		return nil, nil, n.stoppedErr()
	}
	cfg := g.rn.Status().Config
	for id := range cfg.Voters.IDs() {
		voters = append(voters, id)
	}
	for id := range cfg.Learners {
		learners = append(learners, id)
	}
	for id := range cfg.LearnersNext {
		if !slices.Contains(learners, id) {
			learners = append(learners, id)
		}
	}
	slices.Sort(voters)
	slices.Sort(learners)
	return voters, learners, nil
}

// GroupStatus is a group's Raft state as this node sees it.
type GroupStatus struct {
	ID        uint64
	Term      uint64
	Leader    uint64 // 0: none known
	IsLeader  bool
	Commit    uint64
	Applied   uint64
	LastIndex uint64 // the storage's last index
	Quiesced  bool   // not ticking: idle, see DESIGN.md §6
}

// Status returns group's state on this node.
func (n *Node) Status(group uint64) (GroupStatus, error) {
	g := n.group(group)
	if g == nil {
		return GroupStatus{}, fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	return g.status(), nil
}

// Busy reports whether the node has work in hand: a group queued or
// running, or messages not yet handed to the transport. A node that is not
// busy does nothing until a tick, a proposal or a message arrives (tests
// use it to let a cluster settle between manual ticks).
func (n *Node) Busy() bool {
	if n.failing.Load() {
		// A stop on error is under way: busy until it has finished, so
		// that a caller settling the cluster sees Done closed after.
		select {
		case <-n.done:
			return false
		default:
			return true
		}
	}
	if n.stopping.Load() {
		return false
	}
	return n.sched.busy() || n.inFlight.Load() > 0
}

// Err returns the error that stopped the node (nil while it runs or if
// Stop stopped it).
func (n *Node) Err() error {
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

// Done is closed once the node has stopped (by Stop or by an error).
func (n *Node) Done() <-chan struct{} { return n.done }

// Stop stops the node: no more ticks, sends or Ready rounds; pending
// proposals fail with ErrStopped. It waits for the node's goroutines and
// returns the error that had stopped it already, if any. Idempotent.
func (n *Node) Stop() error {
	n.stop(nil)
	<-n.done
	return n.Err()
}

// fail stops the node because of err (a storage or apply error), without
// waiting: it may be called from a worker, which stop waits for.
func (n *Node) fail(err error) {
	n.logger.Error("replication node stopping on error", "err", err)
	n.failing.Store(true)
	go n.stop(err)
}

func (n *Node) stop(cause error) {
	n.stopOnce.Do(func() {
		n.errMu.Lock()
		n.err = cause
		n.errMu.Unlock()
		// Set under mu: enqueueSend and AddGroup check it under mu, so
		// no sender goroutine is added (wg.Add) once Wait may run.
		n.mu.Lock()
		n.stopping.Store(true)
		n.mu.Unlock()
		close(n.stopCh)
		n.sched.stop()
		n.wg.Wait()
		stopErr := ErrStopped
		if cause != nil {
			stopErr = fmt.Errorf("%w: %w", ErrStopped, cause)
		}
		n.mu.RLock()
		groups := make([]*Group, 0, len(n.groups))
		for _, g := range n.groups {
			groups = append(groups, g)
		}
		n.mu.RUnlock()
		for _, g := range groups {
			g.closeProposals(stopErr)
			g.mu.Lock()
			g.failAllLocked(stopErr)
			g.mu.Unlock()
		}
		close(n.done)
	})
}

// enqueueSend queues msgs (all for peer to) on that peer's sender.
func (n *Node) enqueueSend(to uint64, envs []Envelope) {
	n.mu.Lock()
	ps := n.senders[to]
	if ps == nil {
		if n.stopping.Load() {
			n.mu.Unlock()
			return
		}
		ps = &peerSender{to: to, wake: make(chan struct{}, 1)}
		n.senders[to] = ps
		n.wg.Add(1)
		go n.sendLoop(ps)
	}
	n.mu.Unlock()
	var dropped []Envelope
	ps.mu.Lock()
	for _, env := range envs {
		size := envelopeBytes(env)
		if ps.bytes > 0 && ps.bytes+size > n.cfg.MaxPeerQueueBytes {
			dropped = append(dropped, env)
			continue
		}
		ps.bytes += size
		ps.queue = append(ps.queue, env)
		n.inFlight.Add(1)
	}
	full := len(ps.queue) >= flushBatch
	ps.mu.Unlock()
	if full {
		ps.signal()
	}
	if len(dropped) > 0 {
		n.m.sendDropped.Add(float64(len(dropped)))
		n.afterSend(to, dropped, fmt.Errorf("%w: send queue to %d holds %d bytes or more", ErrUnreachable, to, n.cfg.MaxPeerQueueBytes))
	}
}

// envelopeBytes estimates what env costs in a peer's queue: its entries'
// and snapshot's data plus a fixed overhead per message and entry (exact
// sizes would mean encoding every message once more).
func envelopeBytes(env Envelope) int64 {
	const overhead = 64
	m := env.Msg
	if m == nil {
		return overhead
	}
	size := int64(overhead + len(m.GetSnapshot().GetData()))
	for _, e := range m.Entries {
		size += int64(overhead + len(e.GetData()))
	}
	return size
}

// flushBatch is the queue length at which a peer's queue is sent without
// waiting for the end of the scheduling round.
const flushBatch = 256

// flush wakes every sender with something queued. The scheduler calls it
// when a worker finds the run queue empty (the end of a round), so that
// the messages every group produced in the round — the heartbeats of all
// groups at a tick, say — go to each peer as one batch.
func (n *Node) flush() {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, ps := range n.senders {
		ps.mu.Lock()
		has := len(ps.queue) > 0
		ps.mu.Unlock()
		if has {
			ps.signal()
		}
	}
}

func (ps *peerSender) signal() {
	select {
	case ps.wake <- struct{}{}:
	default:
	}
}

// peerSender is the one sender to a peer: everything queued for the peer
// while the previous Send ran goes out in the next one.
type peerSender struct {
	to    uint64
	wake  chan struct{} // capacity 1
	mu    sync.Mutex
	queue []Envelope
	bytes int64 // envelopeBytes of queue and of the batch being sent (Config.MaxPeerQueueBytes)
}

func (n *Node) sendLoop(ps *peerSender) {
	defer n.wg.Done()
	for {
		select {
		case <-n.stopCh:
			return
		case <-ps.wake:
		}
		ps.mu.Lock()
		batch := ps.queue
		ps.queue = nil
		ps.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		var size int64
		for _, env := range batch {
			size += envelopeBytes(env)
		}
		err := n.cfg.Transport.Send(ps.to, batch)
		ps.mu.Lock()
		ps.bytes -= size
		ps.mu.Unlock()
		n.m.framesSent.Inc()
		n.m.messagesSent.Add(float64(len(batch)))
		if err != nil {
			n.m.sendFailures.Inc()
		}
		n.afterSend(ps.to, batch, err)
		n.inFlight.Add(-int64(len(batch)))
	}
}

// afterSend reports an unreachable peer to the groups of a failed batch,
// and the outcome of every snapshot message (raft needs ReportSnapshot).
func (n *Node) afterSend(to uint64, batch []Envelope, err error) {
	unreachable := err != nil
	n.liveMu.Lock()
	if _, tracked := n.lastHeard[to]; tracked {
		if !unreachable {
			delete(n.unreachable, to)
		} else if _, cut := n.unreachable[to]; !cut && errors.Is(err, ErrUnreachable) {
			n.unreachable[to] = n.cfg.Now()
		}
	}
	n.liveMu.Unlock()
	if unreachable && !errors.Is(err, ErrUnreachable) {
		n.logger.Warn("replication send failed", "peer", to, "err", err)
	}
	touched := make(map[*Group]bool)
	for _, env := range batch {
		if env.Msg == nil {
			continue // liveness
		}
		isSnap := env.Msg.GetType() == raftpb.MsgSnap
		if !unreachable && !isSnap {
			continue
		}
		g := n.group(env.Group)
		if g == nil {
			continue
		}
		g.inMu.Lock()
		if unreachable && !touched[g] {
			g.unreachable = append(g.unreachable, to)
		}
		if isSnap {
			status := raft.SnapshotFinish
			if unreachable {
				status = raft.SnapshotFailure
			}
			g.snapReports = append(g.snapReports, snapReport{to, status})
		}
		g.inMu.Unlock()
		touched[g] = true
	}
	for g := range touched {
		n.sched.enqueue(g)
	}
}

// scheduler runs groups that have work on a fixed pool of workers, one
// worker at a time per group; a group that gets work while it runs is run
// again after.
type scheduler struct {
	mu      sync.Mutex
	cond    sync.Cond
	queue   []*Group
	running int // groups being processed
	stopped bool
	onIdle  func() // called (without mu) at the end of a round, see run
	rounds  int    // groups run since onIdle was last called
}

// flushEvery bounds how many group runs messages can wait for a flush
// while the run queue never empties (a busy node).
const flushEvery = 64

// Group.schedState values (guarded by scheduler.mu).
const (
	schedIdle = iota
	schedQueued
	schedRunning
	schedRunningDirty // got work while running: queue again after
)

func (s *scheduler) init() { s.cond.L = &s.mu }

func (s *scheduler) enqueue(g *Group) {
	s.mu.Lock()
	s.enqueueLocked(g)
	s.mu.Unlock()
}

// enqueueAll queues gs at once, so that no worker sees the queue empty (and
// flushes the senders) half way through: one tick's heartbeats leave
// together.
func (s *scheduler) enqueueAll(gs []*Group) {
	s.mu.Lock()
	for _, g := range gs {
		s.enqueueLocked(g)
	}
	s.mu.Unlock()
}

func (s *scheduler) enqueueLocked(g *Group) {
	switch g.schedState {
	case schedIdle:
		g.schedState = schedQueued
		s.queue = append(s.queue, g)
		s.cond.Signal()
	case schedRunning:
		g.schedState = schedRunningDirty
	}
}

// busy reports whether any group is queued or running.
func (s *scheduler) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0 || s.running > 0
}

func (s *scheduler) stop() {
	s.mu.Lock()
	s.stopped = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *scheduler) run() {
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.stopped {
			s.cond.Wait()
		}
		if s.stopped {
			s.mu.Unlock()
			return
		}
		g := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		g.schedState = schedRunning
		s.running++
		s.mu.Unlock()

		g.process()

		s.mu.Lock()
		s.running--
		if g.schedState == schedRunningDirty && !s.stopped {
			g.schedState = schedQueued
			s.queue = append(s.queue, g)
			s.cond.Signal()
		} else {
			g.schedState = schedIdle
		}
		s.rounds++
		flush := len(s.queue) == 0 || s.rounds >= flushEvery
		if flush {
			s.rounds = 0
		}
		s.mu.Unlock()
		if flush && s.onIdle != nil {
			s.onIdle()
		}
	}
}
