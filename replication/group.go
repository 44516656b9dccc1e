package replication

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// StateMachine is what a group applies committed entries to (for a
// partition: producer and transaction state, the high watermark, waking
// fetches: DESIGN.md §3). The group calls it with its lock held, from one
// goroutine at a time, never concurrently for one group.
type StateMachine interface {
	// Apply applies committed entries, in index order, each exactly once
	// per node lifetime (after a restart, from GroupConfig.Applied+1).
	// Every entry is passed: Raft's empty entries (nil Data) and conf
	// changes (already applied to Raft's configuration by the group)
	// included. An error stops the node.
	Apply(entries []*raftpb.Entry) error
	// Restore replaces the state with the snapshot's, after Storage.Save
	// installed the snapshot. An error stops the node.
	Restore(snap *raftpb.Snapshot) error
}

// LeadershipObserver is implemented by a StateMachine that wants to know
// who leads its group (the broker: the partition's leader and leader epoch
// in the cluster view, AssignEpoch when this node becomes leader). The
// group calls LeaderChanged with its lock held, after the Ready that
// reported the change is persisted and before its messages are sent, with
// the new leader (0: none known) and the term (the leader epoch).
type LeadershipObserver interface {
	LeaderChanged(leader, term uint64)
}

// GroupConfig configures one Raft group on a node.
type GroupConfig struct {
	ID           uint64
	Storage      Storage
	StateMachine StateMachine
	// Applied is the last index the state machine has applied already
	// (restart: the index of the recovered high watermark).
	Applied uint64
}

// Group is one Raft group hosted by a Node.
type Group struct {
	id      uint64
	node    *Node
	storage Storage
	sm      StateMachine

	schedState int // scheduler.mu

	ticks atomic32

	// quiesced: the group is idle and not ticked (DESIGN.md §6); set by
	// the group's worker, cleared by it, by Propose/Campaign and by Tick
	// when quiesceLeader's node goes silent.
	quiesced      atomic.Bool
	quiesceLeader atomic.Uint64
	leading       atomic.Bool   // mirrors isLeader (ProposeAsync's fast check, metrics)
	leaderID      atomic.Uint64 // mirrors leader
	term          atomic.Uint64 // the term last persisted

	inMu        sync.Mutex
	inbox       []Envelope
	unreachable []uint64
	snapReports []snapReport
	props       []*Proposal // proposed, not yet stepped into raft (in order)
	readNext    *readRound  // ConfirmLeader round not yet stepped into raft (lease.go)
	propsClosed bool        // stopped or removed: no more proposals

	guard *guardedStorage // what raft reads through: records storage errors

	mu          sync.Mutex
	rn          *raft.RawNode
	leader      uint64
	isLeader    bool
	applied     uint64
	unindexed   []*Proposal           // proposed, not yet seen in a Ready (in order)
	pending     map[uint64]*Proposal  // appended at index, waiting to be applied
	caughtUp    map[uint64]time.Time  // leader: when each replica last had the whole log
	lostTail    map[uint64]int        // leader: consecutive rejects showing a lost acknowledged tail, by follower
	repWaits    []*replicaWait        // leader: WaitReplicated calls
	reads       map[string]*readRound // leader: ReadIndex rounds by request context, unconfirmed (lease.go)
	readApplied []*readRound          // confirmed rounds waiting for their read index to be applied
	readSeq     uint64                // the last round's request context
	failed      bool                  // a Ready round failed; the node is stopping
	removed     bool                  // RemoveGroup: the group does nothing more
}

type snapReport struct {
	to     uint64
	status raft.SnapshotStatus
}

// Proposal is one entry proposed to a group (Node.ProposeAsync), followed
// until it is applied or known to be lost.
type Proposal struct {
	data     []byte             // the proposed data
	cc       raftpb.ConfChangeI // or the proposed conf change
	conf     bool               // a conf change (ProposeConfChange)
	start    time.Time
	m        *nodeMetrics
	term     uint64 // the term it was proposed in
	index    uint64 // 0 until its entry appears in a Ready (Group.mu; read after appended or done)
	appended chan struct{}
	done     chan struct{}
	finished bool  // Group.mu
	err      error // set before done is closed
}

func newProposal(data []byte, term uint64) *Proposal {
	return &Proposal{data: data, term: term, appended: make(chan struct{}), done: make(chan struct{})}
}

// Appended is closed once the leader has persisted the entry in its own
// log (Kafka's acks=1 point). It is never closed for a proposal that
// failed before it was appended: wait on Done as well.
func (p *Proposal) Appended() <-chan struct{} { return p.appended }

// Done is closed once the entry is committed and applied on this node
// (Err nil: Kafka's acks=all point) or the proposal failed (Err says why).
func (p *Proposal) Done() <-chan struct{} { return p.done }

// Err is the outcome, once Done is closed: nil, ErrDropped (the entry is
// not and will not be committed), or ErrStopped with its cause.
func (p *Proposal) Err() error {
	<-p.done
	return p.err
}

// Index is the entry's Raft index once Appended or Done is closed (0 if it
// failed before it was appended).
func (p *Proposal) Index() uint64 {
	select {
	case <-p.appended:
	case <-p.done:
	}
	return p.index
}

// finish completes p once. Group.mu is held (or, finishUnlocked, p is in
// no list of the group any more).
func (p *Proposal) finish(err error) {
	if p.finished {
		return
	}
	p.finished, p.err = true, err
	if p.m != nil {
		p.m.observeProposal(p, err)
	}
	close(p.done)
}

func (p *Proposal) finishUnlocked(err error) { p.finish(err) }

func isDropped(err error) bool { return errors.Is(err, ErrDropped) }

// AddGroup starts hosting a group. Its storage must hold the group's
// configuration (ConfState) already; a new group's voters are given by its
// storage's initial state (NewMemStorage(voters...)).
func (n *Node) AddGroup(gc GroupConfig) error {
	if gc.Storage == nil || gc.StateMachine == nil {
		return errors.New("replication: group needs a storage and a state machine")
	}
	guard := &guardedStorage{Storage: gc.Storage}
	rn, err := newRawNode(&raft.Config{
		ID:                        n.id,
		ElectionTick:              n.cfg.ElectionTick,
		HeartbeatTick:             n.cfg.HeartbeatTick,
		Storage:                   guard,
		Applied:                   gc.Applied,
		MaxSizePerMsg:             maxSizePerMsg,
		MaxInflightMsgs:           256,
		MaxInflightBytes:          n.cfg.MaxInflightBytes,
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		DisableProposalForwarding: true,
		StepDownOnRemoval:         true,
		Logger:                    raftLogger{n.logger.With("group", gc.ID)},
	})
	if err != nil {
		return fmt.Errorf("replication: group %d: %w", gc.ID, err)
	}
	g := &Group{
		id: gc.ID, node: n, storage: gc.Storage, guard: guard, sm: gc.StateMachine,
		rn: rn, applied: gc.Applied, pending: make(map[uint64]*Proposal), caughtUp: make(map[uint64]time.Time), lostTail: make(map[uint64]int),
	}
	st := rn.BasicStatus()
	g.term.Store(st.GetTerm()) // as loaded; later from each persisted HardState
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping.Load() {
		return ErrStopped
	}
	if n.groups[gc.ID] != nil {
		return fmt.Errorf("%w: %d", ErrGroupExists, gc.ID)
	}
	n.groups[gc.ID] = g
	return nil
}

// RemoveGroup stops hosting group id (its partition was deleted or moved
// away): its proposals fail with ErrUnknownGroup and messages for it are
// dropped from now on. The storage is left to the caller (a worker may be
// finishing a Ready round with it; RemoveGroup waits for that round).
func (n *Node) RemoveGroup(id uint64) error {
	n.mu.Lock()
	g := n.groups[id]
	delete(n.groups, id)
	n.mu.Unlock()
	if g == nil {
		return fmt.Errorf("%w: %d", ErrUnknownGroup, id)
	}
	removedErr := fmt.Errorf("%w: %d (removed)", ErrUnknownGroup, id)
	g.closeProposals(removedErr)
	g.mu.Lock()
	g.removed = true
	g.failAllLocked(removedErr)
	g.mu.Unlock()
	return nil
}

// enqueueProposal queues p for the group's worker, which steps it into
// raft in order. It takes only inMu, never the group's lock, so a proposer
// never waits for a Ready round (its fsync) and may hold locks that the
// StateMachine takes (the broker proposes under the partition's append
// lock and applies under it too).
func (g *Group) enqueueProposal(p *Proposal) error {
	if g.node.stopping.Load() {
		return g.node.stoppedErr()
	}
	if !g.leading.Load() {
		return &NotLeaderError{Group: g.id, Leader: g.leaderID.Load()}
	}
	g.inMu.Lock()
	defer g.inMu.Unlock()
	if g.propsClosed {
		if err := g.node.Err(); err != nil || g.node.stopping.Load() {
			return g.node.stoppedErr()
		}
		return fmt.Errorf("%w: %d (removed)", ErrUnknownGroup, g.id)
	}
	g.props = append(g.props, p)
	return nil
}

// closeProposals fails the queued proposals with err and refuses new
// ones (stop, removal).
func (g *Group) closeProposals(err error) {
	g.inMu.Lock()
	props, read := g.props, g.readNext
	g.props, g.readNext, g.propsClosed = nil, nil, true
	g.inMu.Unlock()
	for _, p := range props {
		p.finishUnlocked(err)
	}
	if read != nil {
		read.finish(err)
	}
}

// stepProposalsLocked steps queued proposals into raft. g.mu is held.
func (g *Group) stepProposalsLocked(props []*Proposal) {
	if len(props) == 0 {
		return
	}
	st := g.rn.BasicStatus()
	for _, p := range props {
		if st.RaftState != raft.StateLeader {
			p.finish(&NotLeaderError{Group: g.id, Leader: st.Lead})
			continue
		}
		g.quiesced.Store(false)
		var err error
		if p.conf {
			err = g.rn.ProposeConfChange(p.cc)
		} else {
			err = g.rn.Propose(p.data)
		}
		if err != nil {
			p.finish(fmt.Errorf("%w: %w", ErrDropped, err))
			continue
		}
		p.term = st.GetTerm()
		g.unindexed = append(g.unindexed, p)
	}
}

func (n *Node) stoppedErr() error {
	if err := n.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStopped, err)
	}
	return ErrStopped
}

func (g *Group) status() GroupStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.rn.BasicStatus()
	last, _ := g.storage.LastIndex()
	return GroupStatus{
		ID: g.id, Term: st.GetTerm(), Leader: st.Lead, IsLeader: st.RaftState == raft.StateLeader,
		Commit: st.GetCommit(), Applied: g.applied, LastIndex: last, Quiesced: g.quiesced.Load(),
	}
}

// process is one scheduling round: step what arrived, tick, then handle
// Ready until there is none. A storage or apply error stops the node.
func (g *Group) process() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed || g.removed || g.node.stopping.Load() {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			g.storagePanicLocked(r)
		}
	}()
	g.inMu.Lock()
	inbox, unreachable, snaps, props, read := g.inbox, g.unreachable, g.snapReports, g.props, g.readNext
	g.inbox, g.unreachable, g.snapReports, g.props, g.readNext = nil, nil, nil, nil, nil
	g.inMu.Unlock()
	var quiesceMsg *raftpb.Message
	for _, env := range inbox {
		m := env.Msg
		switch {
		case env.Quiesce:
			quiesceMsg = m
		case m.GetType() != raftpb.MsgHeartbeatResp:
			// Anything but the answer to a heartbeat means the group
			// has work: wake it.
			g.quiesced.Store(false)
			quiesceMsg = nil
		}
		if m.GetType() == raftpb.MsgAppResp && m.GetReject() && g.isLeader && g.lostAcknowledged(m) {
			continue // stepping it would only resend the same probe
		}
		// Errors are raft's refusals of a message (a peer it does not
		// know, a local message type from the network): drop it.
		_ = g.rn.Step(m)
	}
	g.stepProposalsLocked(props)
	if read != nil {
		g.stepReadLocked(read)
	}
	for _, id := range unreachable {
		g.rn.ReportUnreachable(id)
	}
	for _, r := range snaps {
		g.rn.ReportSnapshot(r.to, r.status)
	}
	ticked := false
	for t := g.ticks.swap(); t > 0; t-- {
		g.rn.Tick()
		ticked = true
	}
	for g.rn.HasReady() {
		rd := g.rn.Ready()
		if err := g.handleReady(rd); err != nil {
			g.failLocked(err)
			return
		}
		g.rn.Advance(rd)
	}
	if err := g.guard.failure(); err != nil {
		// A read error raft did not panic on (none in raft v3.7.0 but
		// for defence): the storage is no more trusted than after a
		// panic.
		g.failLocked(fmt.Errorf("storage: %w", err))
		return
	}
	if g.isLeader {
		g.noteCaughtUpLocked()
	}
	if quiesceMsg != nil {
		g.maybeFollowQuiesceLocked(quiesceMsg)
	} else if ticked && g.isLeader && len(g.node.peerList()) > 0 {
		g.maybeQuiesceLocked()
	}
}

// lostAcknowledged reports whether m, a rejected append from a follower,
// shows that the follower lost entries it had acknowledged (a disk that did
// not keep what it was told to, or entries not synced before they were
// acknowledged, DESIGN.md §4). etcd raft assumes a follower's Match never
// goes back: it probes such a follower at Match forever, as fast as the
// network allows. The leader detects it (the reject is for the probe at
// Match and the follower's last index, its hint, is below Match; three in
// a row in one term, so that a reordered stale reject is not mistaken for
// it), drops those rejects, and hands the leadership to a caught-up voter:
// a new leader starts every follower's progress afresh. g.mu is held.
func (g *Group) lostAcknowledged(m *raftpb.Message) bool {
	from := m.GetFrom()
	var suspect bool
	var match uint64
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == from {
			match = pr.Match
			suspect = pr.State == tracker.StateProbe && m.GetIndex() == pr.Match && pr.Match > 0 && m.GetRejectHint() < pr.Match
		}
	})
	if !suspect {
		delete(g.lostTail, from)
		return false
	}
	g.lostTail[from]++
	if g.lostTail[from] < 3 {
		return false
	}
	if g.lostTail[from] == 3 {
		g.node.logger.Error("follower lost entries it had acknowledged; handing leadership over so it is probed afresh",
			"group", g.id, "follower", from, "acknowledged", match, "follower_last_index", m.GetRejectHint())
		last, _ := g.storage.LastIndex()
		var to uint64
		g.rn.WithProgress(func(id uint64, typ raft.ProgressType, pr tracker.Progress) {
			if to == 0 && id != g.node.id && id != from && typ == raft.ProgressTypePeer && pr.Match == last {
				to = id
			}
		})
		if to != 0 {
			g.rn.TransferLeader(to)
		}
	}
	return true
}

// noteCaughtUpLocked records the replicas that have the leader's whole
// log now, and releases the WaitReplicated calls that are satisfied. g.mu
// is held.
func (g *Group) noteCaughtUpLocked() {
	last, err := g.storage.LastIndex()
	if err != nil {
		return
	}
	now := g.node.cfg.Now()
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if pr.Match >= last {
			g.caughtUp[id] = now
		}
	})
	if len(g.repWaits) == 0 {
		return
	}
	kept := g.repWaits[:0]
	for _, w := range g.repWaits {
		n := 0
		g.rn.WithProgress(func(_ uint64, typ raft.ProgressType, pr tracker.Progress) {
			if typ == raft.ProgressTypePeer && pr.Match >= w.index {
				n++
			}
		})
		if n >= w.n {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	clear(g.repWaits[len(kept):])
	g.repWaits = kept
}

// replicaWait is a WaitReplicated call: done is closed once n voters hold
// index.
type replicaWait struct {
	index uint64
	n     int
	done  chan struct{}
	err   error // set before done is closed when the wait cannot succeed here
}

func (g *Group) replicas() ([]ReplicaProgress, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		return nil, &NotLeaderError{Group: g.id, Leader: st.Lead}
	}
	now := g.node.cfg.Now()
	quiet := g.quiesced.Load() // quiesced: every replica has the whole log
	var out []ReplicaProgress
	g.rn.WithProgress(func(id uint64, typ raft.ProgressType, pr tracker.Progress) {
		rp := ReplicaProgress{ID: id, Learner: typ == raft.ProgressTypeLearner, Match: pr.Match, CaughtUp: g.caughtUp[id]}
		if id == g.node.id || quiet {
			rp.CaughtUp = now
		}
		out = append(out, rp)
	})
	slices.SortFunc(out, func(a, b ReplicaProgress) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// maybeQuiesceLocked quiesces an idle leader's group: nothing proposed or
// in flight, every voter has the whole log, it is committed and applied,
// and every voter's node is live. It sends each follower a last heartbeat
// with the commit index, flagged Quiesce, and stops ticking. g.mu is held.
func (g *Group) maybeQuiesceLocked() {
	if g.quiesced.Load() || len(g.unindexed) > 0 || len(g.pending) > 0 || len(g.reads) > 0 || len(g.readApplied) > 0 || g.rn.HasReady() {
		return
	}
	st := g.rn.Status()
	last, err := g.storage.LastIndex()
	if err != nil || st.RaftState != raft.StateLeader || st.LeadTransferee != 0 ||
		st.GetCommit() != last || st.Applied != last || g.applied != last {
		return
	}
	for id, pr := range st.Progress {
		if pr.Match != last || pr.IsLearner ||
			(id != g.node.id && (!slices.Contains(g.node.peerList(), id) || !g.node.live(id))) {
			return // a voter whose node is untracked or silent
		}
	}
	for id := range st.Progress {
		if id == g.node.id {
			continue
		}
		hb := &raftpb.Message{
			Type: raftpb.MsgHeartbeat.Enum(), To: new(id), From: new(g.node.id),
			Term: new(st.GetTerm()), Commit: new(last),
		}
		g.node.enqueueSend(id, []Envelope{{Group: g.id, Msg: hb, Quiesce: true}})
	}
	g.quiesceLeader.Store(g.node.id)
	g.quiesced.Store(true)
}

// maybeFollowQuiesceLocked quiesces a follower on its leader's quiesce
// heartbeat m if it is caught up: same leader and term, the whole log up
// to m's commit persisted, committed and applied. g.mu is held.
func (g *Group) maybeFollowQuiesceLocked(m *raftpb.Message) {
	st := g.rn.BasicStatus()
	last, err := g.storage.LastIndex()
	if err != nil || st.RaftState != raft.StateFollower || st.Lead != m.GetFrom() || st.GetTerm() != m.GetTerm() ||
		last != m.GetCommit() || st.GetCommit() != last || g.applied != last || g.rn.HasReady() {
		return
	}
	// Only under a leader whose node's liveness this node tracks (and
	// finds live): the death of any other (a node that joined after this
	// one started; Config.Peers is fixed) would never wake the group.
	if !slices.Contains(g.node.peerList(), m.GetFrom()) || !g.node.live(m.GetFrom()) {
		return
	}
	g.quiesceLeader.Store(m.GetFrom())
	g.quiesced.Store(true)
}

// handleReady handles one Ready in etcd's order: persist (snapshot,
// entries, hard state), restore a snapshot, send, apply, and the caller
// then calls Advance.
func (g *Group) handleReady(rd raft.Ready) error {
	leaderChanged := false
	if rd.SoftState != nil {
		leaderChanged = rd.SoftState.Lead != g.leader
		wasLeader := g.isLeader
		if rd.SoftState.Lead != g.leader && rd.SoftState.Lead != raft.None {
			g.node.m.leaderChanges.Inc()
		}
		g.leader = rd.SoftState.Lead
		g.isLeader = rd.SoftState.RaftState == raft.StateLeader
		g.leaderID.Store(g.leader)
		if g.isLeader && !wasLeader {
			clear(g.caughtUp) // a previous term's observations
			clear(g.lostTail)
		}
		if wasLeader && !g.isLeader {
			g.failReplicaWaitsLocked(&NotLeaderError{Group: g.id, Leader: g.leader})
			g.failReadsLocked(&NotLeaderError{Group: g.id, Leader: g.leader})
		}
	}
	g.noteReadStatesLocked(rd)
	appended := g.trackAppended(rd.Entries)
	if !g.isLeader && len(g.unindexed) > 0 {
		// Proposed but never appended, and this node no longer leads:
		// the entry can never exist.
		for _, p := range g.unindexed {
			p.finish(fmt.Errorf("%w: leadership lost before append", ErrDropped))
		}
		g.unindexed = nil
	}

	// 1. Persist, durably before anything is sent.
	start := time.Now()
	if err := g.storage.Save(rd.HardState, rd.Entries, rd.Snapshot, rd.MustSync); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	g.node.m.persistLatency.Observe(time.Since(start).Seconds())
	if rd.HardState != nil {
		g.term.Store(rd.HardState.GetTerm())
	}
	// Published after the term: a reader that sees leading sees its term.
	g.leading.Store(g.isLeader)
	if obs, ok := g.sm.(LeadershipObserver); ok && leaderChanged {
		obs.LeaderChanged(g.leader, g.term.Load())
	}
	for _, p := range appended {
		close(p.appended)
	}
	// 2. A received snapshot replaces the state machine's state.
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		if err := g.sm.Restore(rd.Snapshot); err != nil {
			return fmt.Errorf("restore snapshot: %w", err)
		}
		g.applied = rd.Snapshot.GetMetadata().GetIndex()
		snapTerm := rd.Snapshot.GetMetadata().GetTerm()
		for idx, p := range g.pending {
			switch {
			case idx <= g.applied:
				// Superseded by a snapshot: whether it committed is
				// unknown here; report it dropped (callers retry,
				// idempotently).
				p.finish(fmt.Errorf("%w: superseded by a snapshot", ErrDropped))
				delete(g.pending, idx)
			case p.term < snapTerm:
				// Terms never decrease along a log, so the leader's
				// log, which holds the snapshot's entry, has a term of
				// at least snapTerm at idx: this proposal's entry is in
				// no leader's log and can never commit. Left pending,
				// it waited for ever once the group went idle (no
				// later entry at idx arrives to overwrite it).
				p.finish(fmt.Errorf("%w: index %d is past a snapshot of a later term", ErrDropped, idx))
				delete(g.pending, idx)
			}
		}
	}
	// 3. Send.
	g.send(rd.Messages)
	// 4. Apply.
	if len(rd.CommittedEntries) > 0 {
		for _, e := range rd.CommittedEntries {
			if err := g.applyConfChange(e); err != nil {
				return err
			}
		}
		if err := g.sm.Apply(rd.CommittedEntries); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		for _, e := range rd.CommittedEntries {
			idx := e.GetIndex()
			g.applied = idx
			if p := g.pending[idx]; p != nil {
				delete(g.pending, idx)
				if p.term == e.GetTerm() {
					p.finish(nil)
				} else {
					p.finish(fmt.Errorf("%w: index %d committed in term %d, proposed in %d", ErrDropped, idx, e.GetTerm(), p.term))
				}
			}
		}
	}
	g.releaseReadsLocked()
	return nil
}

// trackAppended gives proposals their index as their entries appear, and
// fails proposals whose index an entry of another term now takes. It
// returns the proposals indexed.
func (g *Group) trackAppended(entries []*raftpb.Entry) (indexed []*Proposal) {
	if len(entries) > 0 && len(g.pending) > 0 {
		// Entries from index first on replace the stored suffix from
		// first: a pending proposal there survives only if this batch
		// carries its entry again (same index and term).
		first := entries[0].GetIndex()
		for idx, p := range g.pending {
			if idx < first {
				continue
			}
			if k := idx - first; k < uint64(len(entries)) && entries[k].GetTerm() == p.term {
				continue
			}
			delete(g.pending, idx)
			p.finish(fmt.Errorf("%w: index %d overwritten after a leader change", ErrDropped, idx))
		}
	}
	for _, e := range entries {
		idx, term := e.GetIndex(), e.GetTerm()
		if len(g.unindexed) == 0 || term != g.unindexed[0].term {
			continue
		}
		// A leader's entries of its term are its proposals, in the
		// order proposed (after the empty entry that starts the term),
		// so the first unindexed proposal is this entry's. A data
		// proposal's bytes are compared as a check (raft copies the
		// data). Raft turns a conf change into an empty entry when
		// another one is pending: that proposal is dropped.
		p := g.unindexed[0]
		isConf := e.GetType() == raftpb.EntryConfChange || e.GetType() == raftpb.EntryConfChangeV2
		switch {
		case !p.conf && !isConf && len(e.Data) > 0 && bytes.Equal(e.Data, p.data),
			p.conf && isConf:
			p.index = idx
			g.pending[idx] = p
			indexed = append(indexed, p)
		case p.conf && !isConf && len(e.Data) == 0:
			p.finish(fmt.Errorf("%w: another configuration change is pending", ErrDropped))
		default:
			continue // the term's empty entry
		}
		g.unindexed[0] = nil
		g.unindexed = g.unindexed[1:]
	}
	return indexed
}

// applyConfChange applies a committed configuration change to Raft.
func (g *Group) applyConfChange(e *raftpb.Entry) error {
	var cc raftpb.ConfChangeI
	switch e.GetType() {
	case raftpb.EntryConfChange:
		var c raftpb.ConfChange
		if err := proto.Unmarshal(e.Data, &c); err != nil {
			return fmt.Errorf("decode conf change at %d: %w", e.GetIndex(), err)
		}
		cc = &c
	case raftpb.EntryConfChangeV2:
		var c raftpb.ConfChangeV2
		if err := proto.Unmarshal(e.Data, &c); err != nil {
			return fmt.Errorf("decode conf change at %d: %w", e.GetIndex(), err)
		}
		cc = &c
	default:
		return nil
	}
	if ci, ok := g.storage.(ConfIndexer); ok && e.GetIndex() <= ci.ConfIndex() {
		return nil // in the configuration already (a snapshot's: ConfIndexer)
	}
	cs := g.rn.ApplyConfChange(cc)
	// A member that left forgets when it was last caught up: re-added
	// (a reassignment walked back), it must catch up again before it
	// counts as in sync or as a caught-up learner.
	for id := range g.caughtUp {
		if !slices.Contains(cs.Voters, id) && !slices.Contains(cs.VotersOutgoing, id) &&
			!slices.Contains(cs.Learners, id) && !slices.Contains(cs.LearnersNext, id) {
			delete(g.caughtUp, id)
		}
	}
	if saver, ok := g.storage.(ConfStateSaver); ok {
		if err := saver.SaveConfState(e.GetIndex(), cs); err != nil {
			return fmt.Errorf("save configuration at %d: %w", e.GetIndex(), err)
		}
	}
	return nil
}

// send hands the Ready's messages to the per-peer senders, one batch per
// peer.
func (g *Group) send(msgs []*raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	byPeer := make(map[uint64][]Envelope, 2)
	for _, m := range msgs {
		to := m.GetTo()
		byPeer[to] = append(byPeer[to], Envelope{Group: g.id, Msg: m})
	}
	for to, envs := range byPeer {
		g.node.enqueueSend(to, envs)
	}
}

// failReplicaWaitsLocked ends every WaitReplicated call with err. g.mu is
// held.
func (g *Group) failReplicaWaitsLocked(err error) {
	for _, w := range g.repWaits {
		w.err = err
		close(w.done)
	}
	g.repWaits = nil
}

// failAllLocked fails every proposal and replica wait still waiting. g.mu
// is held.
func (g *Group) failAllLocked(err error) {
	g.failReplicaWaitsLocked(err)
	g.failReadsLocked(err)
	for _, p := range g.unindexed {
		p.finish(err)
	}
	g.unindexed = nil
	for idx, p := range g.pending {
		p.finish(err)
		delete(g.pending, idx)
	}
}

// maxSizePerMsg is raft's bound on the entries of one append message.
const maxSizePerMsg = 1 << 20

// failLocked stops the node because of the group's storage or apply error
// (g.mu held): the group does nothing more.
func (g *Group) failLocked(err error) {
	g.failed = true
	g.node.fail(fmt.Errorf("group %d: %w", g.id, err))
}

// storagePanicLocked handles a panic recovered from a call into raft with
// g.mu held: etcd raft panics when a Storage read (Term, Entries, ...)
// fails with anything but its sentinels. Such a panic stops the node like
// any other storage error (DESIGN.md §4), not the process; the raft state
// is not used again (g.failed). Any other panic is a bug and goes on.
func (g *Group) storagePanicLocked(r any) error {
	err := g.guard.failure()
	if err == nil {
		panic(r)
	}
	err = fmt.Errorf("storage: %w", err)
	if !g.failed {
		g.failLocked(err)
	}
	return fmt.Errorf("replication: group %d: %w", g.id, err)
}

// newRawNode is raft.NewRawNode, with a panic over a storage error (raft
// reads the storage while building the node) returned as that error.
func newRawNode(cfg *raft.Config) (rn *raft.RawNode, err error) {
	guard := cfg.Storage.(*guardedStorage)
	defer func() {
		if r := recover(); r != nil {
			serr := guard.failure()
			if serr == nil {
				panic(r)
			}
			rn, err = nil, fmt.Errorf("storage: %w", serr)
		}
	}()
	return raft.NewRawNode(cfg)
}

// guardedStorage is the raft.Storage raft is given: the group's Storage,
// recording the first error that is not one of raft's sentinels
// (ErrCompacted, ErrUnavailable, ErrSnapshotTemporarilyUnavailable), so
// that the panic raft raises over it can be told from a bug. The errors
// are returned unchanged (raft compares the sentinels with ==).
type guardedStorage struct {
	Storage
	mu  sync.Mutex
	err error
}

func (s *guardedStorage) note(err error) {
	if err == nil || err == raft.ErrCompacted || err == raft.ErrUnavailable || err == raft.ErrSnapshotTemporarilyUnavailable {
		return
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// failure is the first storage error recorded, or nil.
func (s *guardedStorage) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *guardedStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	hs, cs, err := s.Storage.InitialState()
	s.note(err)
	return hs, cs, err
}

func (s *guardedStorage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	ents, err := s.Storage.Entries(lo, hi, maxSize)
	s.note(err)
	return ents, err
}

func (s *guardedStorage) Term(i uint64) (uint64, error) {
	t, err := s.Storage.Term(i)
	s.note(err)
	return t, err
}

func (s *guardedStorage) LastIndex() (uint64, error) {
	i, err := s.Storage.LastIndex()
	s.note(err)
	return i, err
}

func (s *guardedStorage) FirstIndex() (uint64, error) {
	i, err := s.Storage.FirstIndex()
	s.note(err)
	return i, err
}

func (s *guardedStorage) Snapshot() (*raftpb.Snapshot, error) {
	snap, err := s.Storage.Snapshot()
	s.note(err)
	return snap, err
}
