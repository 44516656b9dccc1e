package replication

// Leadership confirmation for reads served from a leader's memory (the
// group and transaction coordinators of the broker).
//
// A node that believes it leads a group may have been deposed without
// knowing it yet: a process paused (SIGSTOP) past an election, or a leader
// cut into a minority until CheckQuorum makes it step down. Its in-memory
// state then misses what the new leader committed. ConfirmLeader makes
// such a node prove its leadership before it answers.
//
// # Why it is sound
//
// It is Raft's ReadIndex (etcd raft's ReadOnlySafe, Raft thesis §6.4),
// and rests on no clock: the leader records its commit index C, sends a
// heartbeat of its term T carrying the request's context, and the request
// completes only once a quorum of the voters (itself included) answered
// that heartbeat in term T. A voter that answered in T had not yet moved
// to a higher term when it answered, and any leader of a higher term needs
// a quorum, which intersects this one: so no leader of a term above T
// existed when the quorum answered, and nothing was committed that C does
// not cover. ConfirmLeader then waits until this node applied C. Every
// caller joins a round whose ReadIndex is stepped into raft after the
// caller arrived (readNext is handed to raft only by the group's next
// process run), so the confirmation is of a moment after the call began.
//
// A deposed leader never completes a round: its followers, in a higher
// term, answer its heartbeats with their term (CheckQuorum and PreVote
// make them answer rather than ignore), and it steps down, which fails the
// rounds (NotLeaderError). Cut off, it hears nothing; the caller's context
// ends first or CheckQuorum makes it step down. A paused process resumes
// with no round outstanding that predates the pause it can complete
// wrongly: rounds started before the pause completed before it or fail.
//
// A quiesced group is woken by a round (as by a proposal): it ticks again,
// so raft's heartbeats retry the round's context until answered, and
// maybeQuiesceLocked does not quiesce it again while a round is open.

import (
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/raft/v3"
)

// readRound is one ReadIndex request, shared by every ConfirmLeader call
// that joined it before it was stepped into raft.
type readRound struct {
	done  chan struct{}
	err   error  // set before done is closed
	index uint64 // the read index (commit index when issued), Group.mu
}

func (r *readRound) finish(err error) {
	r.err = err
	close(r.done)
}

// ConfirmLeader returns nil once this node has confirmed that it leads
// group, by a ReadIndex round begun after the call (see lease.go), and has
// applied the group's log up to the commit index of that round. It fails
// with a *NotLeaderError if this node does not lead the group or stops
// leading it before the round completes, with ErrStopped or
// ErrUnknownGroup, or with ctx's error (a leader cut off from a quorum
// hears no answers: bound ctx). It takes only Group.inMu, never Group.mu,
// so a caller may hold locks that the StateMachine takes. Cost: one
// heartbeat round trip to the nearest quorum (concurrent callers share a
// round); a single-voter group answers at once.
func (n *Node) ConfirmLeader(ctx context.Context, group uint64) error {
	g := n.group(group)
	if g == nil {
		return fmt.Errorf("%w: %d", ErrUnknownGroup, group)
	}
	if n.stopping.Load() {
		return n.stoppedErr()
	}
	if !g.leading.Load() {
		return &NotLeaderError{Group: group, Leader: g.leaderID.Load()}
	}
	g.inMu.Lock()
	if g.propsClosed {
		g.inMu.Unlock()
		if err := n.Err(); err != nil || n.stopping.Load() {
			return n.stoppedErr()
		}
		return fmt.Errorf("%w: %d (removed)", ErrUnknownGroup, group)
	}
	r := g.readNext
	if r == nil {
		r = &readRound{done: make(chan struct{})}
		g.readNext = r
	}
	g.inMu.Unlock()
	n.sched.enqueue(g)
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stepReadLocked hands round r to raft as a ReadIndex request. g.mu is
// held.
func (g *Group) stepReadLocked(r *readRound) {
	st := g.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		r.finish(&NotLeaderError{Group: g.id, Leader: st.Lead})
		return
	}
	g.quiesced.Store(false)
	g.readSeq++
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], g.readSeq)
	if g.reads == nil {
		g.reads = make(map[string]*readRound)
	}
	g.reads[string(key[:])] = r
	// A leader that has not committed an entry of its term yet holds the
	// request until it has (raft's pendingReadIndexMessages).
	g.rn.ReadIndex(key[:])
}

// noteReadStatesLocked records the read index of the rounds raft
// confirmed. g.mu is held.
func (g *Group) noteReadStatesLocked(rd raft.Ready) {
	for _, rs := range rd.ReadStates {
		r := g.reads[string(rs.RequestCtx)]
		if r == nil {
			continue
		}
		delete(g.reads, string(rs.RequestCtx))
		r.index = rs.Index
		g.readApplied = append(g.readApplied, r)
	}
}

// releaseReadsLocked completes the confirmed rounds whose read index is
// applied. g.mu is held.
func (g *Group) releaseReadsLocked() {
	kept := g.readApplied[:0]
	for _, r := range g.readApplied {
		if r.index <= g.applied {
			r.finish(nil)
		} else {
			kept = append(kept, r)
		}
	}
	clear(g.readApplied[len(kept):])
	g.readApplied = kept
}

// failReadsLocked fails every open round with err (leadership lost, stop,
// removal). g.mu is held.
func (g *Group) failReadsLocked(err error) {
	for k, r := range g.reads {
		r.finish(err)
		delete(g.reads, k)
	}
	for _, r := range g.readApplied {
		r.finish(err)
	}
	g.readApplied = nil
}
