// Package share is Moldau's share-partition layer (KIP-932): the in-flight
// records of one share group on one partition, their acquisition locks and
// delivery counts, and the durable share-partition state behind them.
//
// This file is the contract between the share-partition leader (the node
// that leads the data partition and answers ShareFetch/ShareAcknowledge) and
// the share coordinator (the node that leads the __share_group_state
// partition a key hashes to, and makes the state durable in Kafka's record
// formats). On one node both are local; in a cluster the leader reaches a
// remote coordinator through ReadShareGroupState/WriteShareGroupState, as
// Kafka's brokers do.
package share

import (
	"context"
	"errors"
)

// Errors of the persister. The broker maps them to Kafka codes at the wire
// edge (KafkaApis' share-state answers).
var (
	// ErrUninitialized: no state was ever initialized for the key (Kafka
	// answers reads of such a key with an empty state at state epoch -1).
	ErrUninitialized = errors.New("share: share-partition state not initialized")
	// ErrFencedStateEpoch: a write carries an older state epoch than the
	// stored one (FENCED_STATE_EPOCH).
	ErrFencedStateEpoch = errors.New("share: fenced state epoch")
	// ErrFencedLeaderEpoch: a read or write carries an older leader epoch
	// than the stored one (FENCED_LEADER_EPOCH).
	ErrFencedLeaderEpoch = errors.New("share: fenced leader epoch")
	// ErrNotCoordinator: this node does not serve the key's state partition
	// now (NOT_COORDINATOR); callers look the coordinator up again.
	ErrNotCoordinator = errors.New("share: not the share coordinator")
	// ErrCoordinatorNotAvailable: the state partition is loading or has
	// no leader (COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS).
	ErrCoordinatorNotAvailable = errors.New("share: share coordinator not available")
	// ErrStorage: the state could not be made durable.
	ErrStorage = errors.New("share: storage error")
)

// Key names one share-partition: a share group on one partition of a topic
// (by topic id, as Kafka's ShareSnapshot/ShareUpdate keys do).
type Key struct {
	Group     string
	TopicID   [16]byte
	Partition int32
}

// Delivery states of a state batch, as Kafka's RecordState ids.
const (
	StateAvailable int8 = 0
	StateAcquired  int8 = 1 // never persisted (Kafka writes acquired records as available)
	StateAcked     int8 = 2
	StateArchived  int8 = 4
)

// StateBatch is a run of offsets [FirstOffset, LastOffset] at or after the
// start offset that share one delivery state and delivery count (Kafka's
// PersisterStateBatch).
type StateBatch struct {
	FirstOffset   int64
	LastOffset    int64
	DeliveryState int8
	DeliveryCount int16
}

// State is a share-partition's durable state (Kafka's ShareSnapshot value,
// with the updates since folded in).
type State struct {
	StateEpoch  int32 // bumped by initialize/alter offsets; fences writers
	LeaderEpoch int32 // the data partition's leader epoch of the last writer
	StartOffset int64 // the share-partition start offset (SPSO); -1 unset
	// DeliveryCompleteCount is the number of records at or after
	// StartOffset that are acked or archived (KIP-1226's lag); -1 unknown.
	DeliveryCompleteCount int32
	Batches               []StateBatch // sorted by FirstOffset, not overlapping
}

// Persister makes share-partition state durable.
//
// Contract:
//   - Initialize sets a key's state to StartOffset at stateEpoch with no
//     batches (a newly assigned partition, or AlterShareGroupOffsets); an
//     older stateEpoch than the stored one fails with ErrFencedStateEpoch.
//   - Read returns the key's current state; ErrUninitialized if none.
//     leaderEpoch (-1: do not check) older than the stored one fails with
//     ErrFencedLeaderEpoch; a newer one is recorded.
//   - Write replaces the state from startOffset on: batches before
//     startOffset are dropped, the given batches overwrite the offsets they
//     cover (Kafka's ShareUpdate merge), and a startOffset of -1 keeps the
//     stored one. stateEpoch/leaderEpoch are checked as above. Durable
//     (and, in a cluster, replicated) when it returns nil.
//   - Delete removes the key's state (DeleteShareGroupOffsets, group
//     deletion); deleting a missing key is not an error.
//   - ReadSummary is Read without the batches (DescribeShareGroupOffsets).
//   - Every call may block on I/O or the network; ctx bounds it. Safe for
//     concurrent use; calls for one key are applied in the order they
//     return.
type Persister interface {
	Initialize(ctx context.Context, k Key, stateEpoch int32, startOffset int64) error
	Read(ctx context.Context, k Key, leaderEpoch int32) (State, error)
	Write(ctx context.Context, k Key, stateEpoch, leaderEpoch int32, startOffset int64, batches []StateBatch) error
	Delete(ctx context.Context, k Key) error
	ReadSummary(ctx context.Context, k Key) (State, error)
}
