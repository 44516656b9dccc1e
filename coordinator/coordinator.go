// Package coordinator is Moldau's consumer group coordinator: the classic
// group protocol's state machine (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, …) and committed offsets, made durable as records of the
// internal topic __consumer_offsets in Kafka's own on-disk formats
// (FORMAT.md).
//
// The package knows nothing of the wire protocol or the broker: it reaches
// the partition logs through OffsetLog, time through Clock, and reports
// failures as the sentinel errors below, which the broker maps to Kafka
// error codes. Request versions never reach it; the broker normalises them.
//
// Locking: Coordinator.mu guards the groups map only (lookups take it for
// reading); when both are held, a group's lock comes first (a group that
// dies removes itself from the map). Each group has its own mutex guarding
// all of its state, its
// members and its offsets; functions named xxxLocked expect it held. Timer
// callbacks and the completion of durable writes take the group lock
// themselves, and check a sequence number so that a timer that fired after
// being superseded does nothing. Callbacks handed in by the caller (join and
// sync completions) are invoked with the group lock held and must not block
// or call back into the coordinator (the broker's send on a buffered
// channel). Transactional offsets add a per-partition load lock, taken
// before any group lock, and a leaf mutex for the pending offsets
// (txn_offsets.go).
package coordinator

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the coordinator. The broker maps each to a Kafka code.
var (
	ErrInvalidGroupID          = errors.New("coordinator: invalid group id")
	ErrUnknownMemberID         = errors.New("coordinator: unknown member id")
	ErrMemberIDRequired        = errors.New("coordinator: member id required")
	ErrIllegalGeneration       = errors.New("coordinator: illegal generation")
	ErrRebalanceInProgress     = errors.New("coordinator: rebalance in progress")
	ErrFencedInstanceID        = errors.New("coordinator: fenced instance id")
	ErrInconsistentProtocol    = errors.New("coordinator: inconsistent group protocol")
	ErrInvalidSessionTimeout   = errors.New("coordinator: invalid session timeout")
	ErrGroupMaxSizeReached     = errors.New("coordinator: group max size reached")
	ErrCoordinatorNotAvailable = errors.New("coordinator: coordinator not available")
	ErrLoadInProgress          = errors.New("coordinator: load in progress")
	// ErrNotCoordinator: another node serves the group's partition now
	// (Config.Owns).
	ErrNotCoordinator         = errors.New("coordinator: not the coordinator of the group")
	ErrGroupIDNotFound        = errors.New("coordinator: group id not found")
	ErrNonEmptyGroup          = errors.New("coordinator: group is not empty")
	ErrOffsetMetadataTooLarge = errors.New("coordinator: offset metadata too large")
	ErrGroupSubscribedToTopic = errors.New("coordinator: group subscribed to topic")
	ErrStorage                = errors.New("coordinator: storage error")
	// ErrTxnRefused: a TxnOffsetCommit's transaction no longer holds
	// (OffsetLog.AppendTxn); it wraps the reason.
	ErrTxnRefused = errors.New("coordinator: transactional offset commit refused")
)

// Record is one record of __consumer_offsets. A nil Value is a tombstone.
type Record struct {
	Key, Value []byte
}

// OffsetLog is the coordinator's view of the partitions of
// __consumer_offsets. It is safe for concurrent use.
type OffsetLog interface {
	// Append writes recs as one batch to the end of partition p, ordered
	// after every earlier Append to p, and returns the offset of the last
	// record. It does not wait for durability. recs is not retained.
	Append(p int32, recs []Record) (int64, error)
	// Sync blocks until every record of p up to and including offset is
	// durable (a no-op for an in-memory broker).
	Sync(p int32, offset int64) error
	// AppendTxn is Append for a TxnOffsetCommit: recs go as one
	// transactional batch of producerID at producerEpoch, undecided until
	// a COMMIT or ABORT marker of that producer follows in p (written by
	// the broker, which then calls CompleteTxnOffsets). verify (nil: none)
	// runs first, ordered with every append and marker of p (under the
	// partition's append lock), and a producer whose epoch on p is newer
	// (a marker fenced it) is refused: then nothing is appended and the
	// error wraps ErrTxnRefused (and verify's error), so that no batch
	// lands after the marker that ended its transaction.
	AppendTxn(p int32, producerID int64, producerEpoch int16, recs []Record, verify func() error) (int64, error)
	// Replay calls fn with every record of p from the log start, in
	// offset order: the records of every uncompressed batch and the
	// transaction markers. The slices in the LogRecord are valid during
	// the call.
	Replay(p int32, fn func(r LogRecord) error) error
}

// LogRecord is a record of __consumer_offsets as replayed: a Record of a
// batch, or a transaction marker (Marker set; Key and Value empty).
type LogRecord struct {
	Record
	Offset int64
	// ProducerID is the producer of a transactional batch's record or of
	// a marker; -1 for the coordinator's own records.
	ProducerID int64
	Marker     Marker
}

// Marker says what a LogRecord is.
type Marker int8

// Kinds of LogRecord.
const (
	NoMarker     Marker = iota // a record of a batch
	CommitMarker               // a COMMIT control record of ProducerID
	AbortMarker                // an ABORT control record of ProducerID
)

// Config holds the coordinator's settings (Kafka's group.* and offsets.*
// broker configs).
type Config struct {
	Partitions             int32         // offsets.topic.num.partitions (of the existing topic)
	InitialRebalanceDelay  time.Duration // group.initial.rebalance.delay.ms
	MinSessionTimeout      time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout      time.Duration // group.max.session.timeout.ms
	MaxGroupSize           int           // group.max.size
	OffsetsRetention       time.Duration // offsets.retention.minutes
	OffsetMetadataMaxBytes int           // offset.metadata.max.bytes
	// NewMemberID makes a member id from a client or instance id; nil:
	// prefix + "-" + a random UUID, as Kafka does. Tests make it
	// deterministic.
	NewMemberID func(prefix string) string
	// Owns reports whether this coordinator serves the groups of a
	// __consumer_offsets partition now (in a cluster: this node leads
	// it); the others get ErrNotCoordinator, so that clients look the
	// coordinator up again. nil: every partition (one node).
	Owns func(partition int32) bool
	// Settings returns a group's effective settings (settings.go); nil:
	// DefaultGroupSettings with the consumer session and heartbeat given to
	// SetTopics.
	Settings func(group string) GroupSettings
}

// newMemberJoinTimeout is Kafka's NewMemberJoinTimeoutMs: a new member
// awaiting its first join is dropped after this long (its client retries).
const newMemberJoinTimeout = 5 * time.Minute

// Coordinator serves the groups of every __consumer_offsets partition.
type Coordinator struct {
	cfg     Config
	log     OffsetLog
	clock   Clock
	logger  *slog.Logger
	metrics *Metrics

	mu     sync.RWMutex
	groups map[string]*group

	topics            Topics        // KIP-848: the cluster's topics
	consumerSession   time.Duration // group.consumer.session.timeout.ms
	consumerHeartbeat time.Duration // group.consumer.heartbeat.interval.ms

	loaded   []atomic.Bool    // per partition: replayed and serving
	txn      txnOffsets       // pending transactional offsets (txn_offsets.go)
	share    shareCoordinator // share groups' wiring (share.go); guarded by mu
	inflight sync.WaitGroup
	closed   atomic.Bool
}

// New returns a coordinator. Every partition starts unloaded: call Load (or
// MarkLoaded for a topic that does not exist yet) before serving.
func New(cfg Config, log OffsetLog, clock Clock, logger *slog.Logger, metrics *Metrics) *Coordinator {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 50
	}
	if cfg.MaxGroupSize <= 0 {
		cfg.MaxGroupSize = 1<<31 - 1
	}
	if cfg.NewMemberID == nil {
		cfg.NewMemberID = randomMemberID
	}
	if clock == nil {
		clock = RealClock{}
	}
	c0 := 45 * time.Second
	if logger == nil {
		logger = slog.Default()
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	c := &Coordinator{cfg: cfg, log: log, clock: clock, logger: logger, metrics: metrics,
		groups: make(map[string]*group), loaded: make([]atomic.Bool, cfg.Partitions),
		txn:             txnOffsets{load: make([]sync.RWMutex, cfg.Partitions)},
		consumerSession: c0, consumerHeartbeat: 5 * time.Second}
	return c
}

func randomMemberID(prefix string) string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s-%s", prefix, h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// Partitions is the number of __consumer_offsets partitions.
func (c *Coordinator) Partitions() int32 { return c.cfg.Partitions }

// PartitionFor is the __consumer_offsets partition of a group: Java's
// String.hashCode over UTF-16 code units, made non-negative with
// n & 0x7fffffff, modulo partitions. Kafka uses Utils.abs (Math.abs, with
// MIN_VALUE → 0), which differs for every negative hash: a group whose
// hash is negative lives in another partition than on Kafka. Clients never
// see it (FindCoordinator names the coordinator); only a tool reading
// __consumer_offsets partition by partition would. It is kept because
// existing data directories hold their groups where this formula put them
// (the share coordinator's sharestate partitioning is Kafka's exact one).
func (c *Coordinator) PartitionFor(groupID string) int32 {
	return PartitionFor(groupID, c.cfg.Partitions)
}

// PartitionFor is Kafka's partition formula for a group id.
func PartitionFor(groupID string, partitions int32) int32 {
	var h int32
	for _, r := range groupID {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return (h & 0x7fffffff) % partitions
}

// MarkLoaded marks every partition as serving without replaying (the topic
// does not exist yet, so there is nothing to replay).
func (c *Coordinator) MarkLoaded() {
	for i := range c.loaded {
		c.loaded[i].Store(true)
	}
}

// WaitIdle waits for every background completion of a durable write (tests
// use it to make the state machine deterministic).
func (c *Coordinator) WaitIdle() { c.inflight.Wait() }

func (c *Coordinator) checkGroupID(id string) error {
	if c.closed.Load() {
		return ErrCoordinatorNotAvailable
	}
	if id == "" {
		return ErrInvalidGroupID
	}
	p := c.PartitionFor(id)
	if c.cfg.Owns != nil && !c.cfg.Owns(p) {
		return ErrNotCoordinator
	}
	if !c.loaded[p].Load() {
		return ErrLoadInProgress
	}
	return nil
}

// Unload marks partition p not loaded (this node stopped leading it): its
// groups are loaded again, from the log, if it becomes the leader again.
//
// Its groups are dropped from memory (Kafka's onResignation): their timers
// stop and waiting JoinGroup/SyncGroup callers get ErrNotCoordinator. A
// group left behind would go on expiring sessions and rebalancing on its
// own and append what it decided if this node led the partition again.
func (c *Coordinator) Unload(p int32) {
	if p < 0 || int(p) >= len(c.loaded) {
		return
	}
	c.loaded[p].Store(false)
	c.txn.mu.Lock()
	delete(c.txn.pending, p) // Load rebuilds them
	c.txn.mu.Unlock()
	// On its own goroutine: the caller may hold the partition's Raft lock,
	// which a group's append (under g.mu) can wait for. Under the load
	// lock, so a Load that ran meanwhile (loaded again) is left alone: it
	// replaced the groups it found in the log. Not counted in inflight: an
	// Unload racing Close would Add to it during Close's Wait (after Close
	// every timer is stopped already, so this only drops groups).
	go func() {
		lm := c.loadLock(p)
		lm.Lock()
		defer lm.Unlock()
		if c.loaded[p].Load() {
			return
		}
		for _, g := range c.allGroups() {
			if g.partition != p {
				continue
			}
			g.mu.Lock()
			if g.state != StateDead {
				g.stopTimersLocked(ErrNotCoordinator)
				g.killLocked()
			}
			g.mu.Unlock()
		}
	}()
}

// getGroup returns the group or nil.
func (c *Coordinator) getGroup(id string) *group {
	c.mu.RLock()
	g := c.groups[id]
	c.mu.RUnlock()
	return g
}

// getOrCreateGroup returns the group, creating an Empty one.
func (c *Coordinator) getOrCreateGroup(id string) *group {
	if g := c.getGroup(id); g != nil {
		return g
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[id]; g != nil {
		return g
	}
	g := newGroup(c, id)
	c.groups[id] = g
	c.metrics.groupsCreated()
	return g
}

// removeGroupLocked drops a Dead group from the map (g.mu held).
func (c *Coordinator) removeGroupLocked(g *group) {
	c.mu.Lock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
	}
	c.mu.Unlock()
}

// lockedGroup returns the group locked, retrying if it died between lookup
// and locking (a Dead group has been removed from the map). create makes
// it if missing.
func (c *Coordinator) lockedGroup(id string, create bool) *group {
	for {
		var g *group
		if create {
			g = c.getOrCreateGroup(id)
		} else if g = c.getGroup(id); g == nil {
			return nil
		}
		g.mu.Lock()
		if g.state != StateDead {
			return g
		}
		g.mu.Unlock()
		if c.getGroup(id) == g {
			// Still in the map while Dead: should not happen, but never spin.
			return nil
		}
	}
}

// allGroups returns the groups sorted by id.
func (c *Coordinator) allGroups() []*group {
	c.mu.RLock()
	out := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// storeLocked appends recs for g (lock held) and, once they are durable,
// calls then with the group lock held again (from another goroutine). If
// the append fails, then is called at once, still under the caller's lock.
func (c *Coordinator) storeLocked(g *group, recs []Record, then func(err error)) {
	if c.closed.Load() {
		then(ErrCoordinatorNotAvailable)
		return
	}
	off, err := c.log.Append(g.partition, recs)
	if err != nil {
		c.logger.Error("appending to __consumer_offsets failed", "group", g.id, "err", err)
		then(fmt.Errorf("%w: %v", ErrStorage, err))
		return
	}
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		err := c.log.Sync(g.partition, off)
		if err != nil {
			c.logger.Error("syncing __consumer_offsets failed", "group", g.id, "err", err)
			err = fmt.Errorf("%w: %v", ErrStorage, err)
		}
		g.mu.Lock()
		then(err)
		g.mu.Unlock()
	}()
}

// Close stops every timer and waits for background completions. Waiting
// join and sync callers are answered ErrCoordinatorNotAvailable.
func (c *Coordinator) Close() {
	c.closed.Store(true)
	for _, g := range c.allGroups() {
		g.mu.Lock()
		g.stopTimersLocked(ErrCoordinatorNotAvailable)
		g.mu.Unlock()
	}
	c.inflight.Wait()
}
