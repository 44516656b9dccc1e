package replication

import (
	"errors"
	"fmt"
)

// Errors returned by Node. Match them with errors.Is.
var (
	// ErrStopped: the node is stopped (Stop was called, or a storage or
	// apply error stopped it; the cause is wrapped after it and in
	// Node.Err).
	ErrStopped = errors.New("replication: node stopped")
	// ErrNotLeader: this node does not lead the group. The error is a
	// *NotLeaderError naming the leader this node knows of.
	ErrNotLeader = errors.New("replication: not the leader")
	// ErrDropped: the proposal was not committed and will not be: Raft
	// refused it (leadership in transfer, too many uncommitted bytes), or
	// another entry took its index after a leader change.
	ErrDropped = errors.New("replication: proposal dropped")
	// ErrUnknownGroup: no group with this id on this node.
	ErrUnknownGroup = errors.New("replication: unknown group")
	// ErrGroupExists: AddGroup with an id already hosted.
	ErrGroupExists = errors.New("replication: group already exists")
	// ErrEmptyProposal: empty data cannot be proposed (Raft's own empty
	// entries are empty: DESIGN.md §7).
	ErrEmptyProposal = errors.New("replication: empty proposal")
	// ErrUnreachable: the transport cannot reach the peer now.
	ErrUnreachable = errors.New("replication: peer unreachable")
)

// NotLeaderError is ErrNotLeader with the leader this node knows of (0:
// none known, an election may be running).
type NotLeaderError struct {
	Group  uint64
	Leader uint64
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("replication: not the leader of group %d (leader %d)", e.Group, e.Leader)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
