package txn

// The transaction coordinator: Kafka's TransactionCoordinator for one node.
//
// Every transactional id has a transaction (txnMeta) whose state is one of
// Kafka's (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit,
// CompleteAbort, Dead, PrepareEpochFence). Every change is first appended,
// durably, to the internal compacted topic __transaction_state (through
// StateLog, as Kafka's TransactionLogKey/Value records: kmsg.TxnMetadataKey
// and kmsg.TxnMetadataValue) and only then applied in memory, so a reply
// never reports a state that a crash could lose. The partition of an id is
// abs(javaHash(id)) % Partitions, as in Kafka.
//
// EndTxn writes the PrepareCommit/PrepareAbort record, then the markers
// (through MarkerWriter, which returns once every marker is durable), then
// the CompleteCommit/CompleteAbort record, and answers after all of it
// (Kafka answers after the prepare record and writes markers
// asynchronously; answering later only makes clients wait for what they
// would otherwise retry on with CONCURRENT_TRANSACTIONS). A failed marker
// write leaves the transaction prepared; Tick retries it, as does the
// replay at start for transactions found prepared.
//
// Both transaction protocols are served: v1 (KIP-98, with KIP-360 epoch-bump
// recovery and the KIP-890 part 1 verification the broker does through
// Verify) and v2 (KIP-890 part 2: EndTxn bumps the epoch of every
// transaction; the broker adds partitions implicitly on produce and
// TxnOffsetCommit, through AddPartitions).
//
// Locking: Coordinator.mu guards the txns map. Each txnMeta has opMu, held
// for a whole operation including its durable writes and markers (so
// operations on one id are serialised), and mu, guarding its fields and
// held only briefly, never across I/O. Verify (called by the produce path
// under a partition's append lock) takes only Coordinator.mu (read) and
// txnMeta.mu, so it can never wait on a marker write, which takes partition
// append locks: lock order is partition append lock -> Coordinator.mu ->
// txnMeta.mu, and opMu is never taken under any of them.

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors of the transaction coordinator; the broker maps them to Kafka codes.
var (
	ErrInvalidTransactionTimeout = errors.New("txn: invalid transaction timeout")       // INVALID_TRANSACTION_TIMEOUT
	ErrProducerFenced            = errors.New("txn: producer fenced")                   // PRODUCER_FENCED
	ErrInvalidProducerIDMapping  = errors.New("txn: invalid producer id mapping")       // INVALID_PRODUCER_ID_MAPPING
	ErrConcurrentTransactions    = errors.New("txn: concurrent transactions")           // CONCURRENT_TRANSACTIONS
	ErrInvalidTxnState           = errors.New("txn: invalid transaction state")         // INVALID_TXN_STATE
	ErrInvalidTransactionalID    = errors.New("txn: invalid transactional id")          // INVALID_REQUEST
	ErrStorage                   = errors.New("txn: transaction state log unavailable") // COORDINATOR_NOT_AVAILABLE
	ErrLoadInProgress            = errors.New("txn: coordinator loading")               // COORDINATOR_LOAD_IN_PROGRESS
	ErrNotCoordinator            = errors.New("txn: not the coordinator")               // NOT_COORDINATOR
)

// State is a transaction's state, numbered as in Kafka's log.
type State int8

// Kafka's transaction states.
const (
	StateEmpty State = iota
	StateOngoing
	StatePrepareCommit
	StatePrepareAbort
	StateCompleteCommit
	StateCompleteAbort
	StateDead
	StatePrepareEpochFence
)

func (s State) String() string { return kmsg.TransactionState(s).String() }

// TopicPartition names a partition in a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// StateLog is the coordinator's view of __transaction_state. It is safe for
// concurrent use.
type StateLog interface {
	// Append writes one record (value nil: a tombstone) to partition p,
	// ordered after every earlier Append to p; with sync it returns once
	// the record and every earlier one of p are durable. key and value
	// are not retained.
	Append(p int32, key, value []byte, sync bool) error
	// Replay calls fn with every record of p, in offset order; the
	// slices are valid during the call only.
	Replay(p int32, fn func(key, value []byte) error) error
}

// MarkerWriter writes transaction markers. It is safe for concurrent use.
type MarkerWriter interface {
	// WriteMarkers writes a commit (or abort) marker of producerID at
	// epoch to each partition and returns once all are durable. A
	// partition that no longer exists is skipped. Writing a marker twice
	// is harmless (the second closes nothing). statePartition is the
	// transaction's __transaction_state partition: the markers carry the
	// coordinator epoch this node loaded it at (Kafka's
	// WriteTxnMarkers CoordinatorEpoch), so that partitions refuse them
	// once a newer coordinator has written a marker of the producer.
	WriteMarkers(statePartition int32, producerID int64, epoch int16, commit bool, parts []TopicPartition) error
}

// Config configures a Coordinator.
type Config struct {
	Partitions   int32         // transaction.state.log.num.partitions (50)
	MaxTimeout   time.Duration // transaction.max.timeout.ms
	IDExpiration time.Duration // transactional.id.expiration.ms (0: never)
	Metrics      *Metrics      // nil: none
	// NewProducerID allocates a never-used producer id.
	NewProducerID func() (int64, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Owns reports whether this coordinator currently serves partition p
	// of the state log (nil: every partition, a single node). In a
	// cluster a node coordinates the partitions it leads: Tick leaves the
	// transactions of the others alone, so that a former coordinator
	// neither times out nor completes (writes markers for) what its
	// successor now decides, and a completion (markers) is not started
	// for a partition no longer owned. It must not block.
	Owns func(p int32) bool
}

// Coordinator is the transaction coordinator of every __transaction_state
// partition.
type Coordinator struct {
	cfg     Config
	log     StateLog
	markers MarkerWriter
	logger  *slog.Logger

	mu   sync.RWMutex
	txns map[string]*txnMeta
}

type txnMeta struct {
	id string

	opMu    sync.Mutex // serialises operations (see package locking notes)
	removed bool       // expired and out of the map (guarded by opMu): look it up again

	mu         sync.Mutex
	pid        int64
	lastPid    int64 // the previous producer id after an epoch overflow, or -1
	epoch      int16
	lastEpoch  int16 // the epoch before the last bump, or -1
	timeout    time.Duration
	state      State
	partitions map[TopicPartition]struct{}
	started    time.Time // when the ongoing transaction began
	updated    time.Time
}

// NewCoordinator returns a coordinator with no transactions: call Load
// for each partition of an existing __transaction_state before serving.
func NewCoordinator(cfg Config, log StateLog, markers MarkerWriter, logger *slog.Logger) *Coordinator {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 50
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Coordinator{cfg: cfg, log: log, markers: markers, logger: logger, txns: make(map[string]*txnMeta)}
}

// Partitions is the number of __transaction_state partitions.
func (c *Coordinator) Partitions() int32 { return c.cfg.Partitions }

// PartitionFor is Kafka's partitionFor: abs(javaHash(id)) % partitions.
func PartitionFor(id string, partitions int32) int32 {
	var h int32
	for _, r := range utf16Units(id) {
		h = 31*h + int32(r)
	}
	if h == -1<<31 {
		h = 0 // Kafka's Utils.abs maps MinValue to 0
	}
	if h < 0 {
		h = -h
	}
	return h % partitions
}

// utf16Units is what Java's String.hashCode iterates over.
func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

func (c *Coordinator) get(id string) *txnMeta {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.txns[id]
}

// lock returns the transaction of id (created if create, else nil if
// unknown) with its opMu held.
func (c *Coordinator) lock(id string, create bool) *txnMeta {
	for {
		var t *txnMeta
		if create {
			t, _ = c.getOrCreate(id)
		} else if t = c.get(id); t == nil {
			return nil
		}
		t.opMu.Lock()
		if !t.removed {
			return t
		}
		t.opMu.Unlock()
	}
}

func (c *Coordinator) getOrCreate(id string) (*txnMeta, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.txns[id]; t != nil {
		return t, false
	}
	t := &txnMeta{id: id, pid: -1, lastPid: -1, epoch: -1, lastEpoch: -1, state: StateEmpty}
	c.txns[id] = t
	return t, true
}

// snapshot is a txnMeta's fields, copied under its mu.
type snapshot struct {
	pid, lastPid     int64
	epoch, lastEpoch int16
	timeout          time.Duration
	state            State
	partitions       map[TopicPartition]struct{}
	started, updated time.Time
}

func (t *txnMeta) snapshot() snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := make(map[TopicPartition]struct{}, len(t.partitions))
	for tp := range t.partitions {
		parts[tp] = struct{}{}
	}
	return snapshot{t.pid, t.lastPid, t.epoch, t.lastEpoch, t.timeout, t.state, parts, t.started, t.updated}
}

func (t *txnMeta) apply(s snapshot) {
	t.mu.Lock()
	t.pid, t.lastPid, t.epoch, t.lastEpoch, t.timeout, t.state, t.partitions, t.started, t.updated =
		s.pid, s.lastPid, s.epoch, s.lastEpoch, s.timeout, s.state, s.partitions, s.started, s.updated
	t.mu.Unlock()
}

// persist writes s for id durably, then applies it.
func (c *Coordinator) persist(t *txnMeta, s snapshot) error { return c.write(t, s, true) }

// write writes s for id (durably if sync), then applies it. Completion
// records need not be durable: lost, the transaction replays as prepared and
// its markers are written again, which closes nothing (any later state of
// the id was synced, and with it every earlier record of the partition).
func (c *Coordinator) write(t *txnMeta, s snapshot, sync bool) error {
	s.updated = c.cfg.Now()
	key, value := encodeRecord(t.id, s)
	if err := c.log.Append(PartitionFor(t.id, c.cfg.Partitions), key, value, sync); err != nil {
		c.logger.Error("writing transaction state failed", "transactional_id", t.id, "err", err)
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	t.apply(s)
	return nil
}

func encodeRecord(id string, s snapshot) ([]byte, []byte) {
	k := kmsg.NewTxnMetadataKey()
	k.TransactionalID = id
	v := kmsg.NewTxnMetadataValue()
	v.ProducerID, v.ProducerEpoch = s.pid, s.epoch
	v.PreviousProducerID, v.NextProducerID, v.NextProducerEpoch = s.lastPid, -1, -1
	v.TimeoutMillis = int32(s.timeout / time.Millisecond)
	v.State = kmsg.TransactionState(s.state)
	v.LastUpdateTimestamp = s.updated.UnixMilli()
	v.StartTimestamp = -1
	if !s.started.IsZero() {
		v.StartTimestamp = s.started.UnixMilli()
	}
	v.ClientTransactionVersion = 1
	v.Version = 1
	byTopic := map[string][]int32{}
	for tp := range s.partitions {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	topics := make([]string, 0, len(byTopic))
	for name := range byTopic {
		topics = append(topics, name)
	}
	sort.Strings(topics)
	for _, name := range topics {
		ps := byTopic[name]
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		vt := kmsg.NewTxnMetadataValueTopic()
		vt.Topic, vt.Partitions = name, ps
		v.Topics = append(v.Topics, vt)
	}
	return k.AppendTo(nil), v.AppendTo(nil)
}

// Load replays partition p of __transaction_state; transactions found
// prepared are completed by the next Tick (or CompletePrepared).
func (c *Coordinator) Load(p int32) error {
	return c.log.Replay(p, func(key, value []byte) error {
		var k kmsg.TxnMetadataKey
		if err := k.ReadFrom(key); err != nil {
			c.logger.Warn("skipping an unreadable __transaction_state key", "partition", p, "err", err)
			return nil
		}
		if value == nil {
			c.mu.Lock()
			delete(c.txns, k.TransactionalID)
			c.mu.Unlock()
			return nil
		}
		var v kmsg.TxnMetadataValue
		if err := v.ReadFrom(value); err != nil {
			c.logger.Warn("skipping an unreadable __transaction_state value", "partition", p, "transactional_id", k.TransactionalID, "err", err)
			return nil
		}
		s := snapshot{pid: v.ProducerID, lastPid: v.PreviousProducerID, epoch: v.ProducerEpoch, lastEpoch: -1,
			timeout: time.Duration(v.TimeoutMillis) * time.Millisecond, state: State(v.State),
			partitions: map[TopicPartition]struct{}{}, updated: time.UnixMilli(v.LastUpdateTimestamp)}
		if v.StartTimestamp >= 0 {
			s.started = time.UnixMilli(v.StartTimestamp)
		}
		for _, vt := range v.Topics {
			for _, part := range vt.Partitions {
				s.partitions[TopicPartition{vt.Topic, part}] = struct{}{}
			}
		}
		t, _ := c.getOrCreate(k.TransactionalID)
		t.apply(s)
		return nil
	})
}

// ProducerIDAndEpoch is what InitProducerID returns.
type ProducerIDAndEpoch struct {
	ProducerID int64
	Epoch      int16
}

// InitProducerID is InitProducerId for a transactional id. current is the
// producer id and epoch a KIP-360 client passes to recover (ProducerID -1:
// none).
func (c *Coordinator) InitProducerID(id string, timeout time.Duration, current ProducerIDAndEpoch) (ProducerIDAndEpoch, error) {
	if id == "" {
		return ProducerIDAndEpoch{}, ErrInvalidTransactionalID
	}
	if timeout <= 0 || timeout > c.cfg.MaxTimeout {
		return ProducerIDAndEpoch{}, ErrInvalidTransactionTimeout
	}
	t := c.lock(id, true)
	defer t.opMu.Unlock()
	s := t.snapshot()
	if s.pid < 0 {
		pid, err := c.cfg.NewProducerID()
		if err != nil {
			return ProducerIDAndEpoch{}, fmt.Errorf("%w: %w", ErrStorage, err)
		}
		s.pid, s.epoch, s.lastEpoch, s.timeout, s.state = pid, 0, -1, timeout, StateEmpty
		s.partitions, s.started = map[TopicPartition]struct{}{}, time.Time{}
		if err := c.persist(t, s); err != nil {
			return ProducerIDAndEpoch{}, err
		}
		return ProducerIDAndEpoch{pid, 0}, nil
	}
	if current.ProducerID >= 0 && current.ProducerID != s.pid &&
		(current.ProducerID != s.lastPid || current.Epoch != epochExhausted) {
		return ProducerIDAndEpoch{}, ErrProducerFenced
	}
	switch s.state {
	case StatePrepareCommit, StatePrepareAbort:
		// A completion is pending (a marker write failed): finish it
		// first, then serve the init.
		if err := c.completeLocked(t, s); err != nil {
			return ProducerIDAndEpoch{}, ErrConcurrentTransactions
		}
		s = t.snapshot()
	case StateOngoing:
		// Fence the producer of the ongoing transaction: bump the epoch
		// and abort at the new epoch, then bump again for the caller
		// below (Kafka answers CONCURRENT_TRANSACTIONS in between and
		// lets the client retry; doing both here is the same end state).
		if current.ProducerID >= 0 && current.Epoch != s.epoch {
			return ProducerIDAndEpoch{}, ErrProducerFenced
		}
		if err := c.abortFencing(t, s); err != nil {
			return ProducerIDAndEpoch{}, err
		}
		c.cfg.Metrics.ended1(resultFenced)
		s = t.snapshot()
	case StateDead, StatePrepareEpochFence:
		return ProducerIDAndEpoch{}, ErrConcurrentTransactions
	}
	if current.ProducerID >= 0 && current.ProducerID == s.pid && current.Epoch != s.epoch {
		if current.Epoch == s.lastEpoch {
			// A retry of the init that bumped to s.epoch.
			return ProducerIDAndEpoch{s.pid, s.epoch}, nil
		}
		return ProducerIDAndEpoch{}, ErrProducerFenced
	}
	if current.ProducerID >= 0 && current.ProducerID == s.lastPid && current.ProducerID != s.pid {
		return ProducerIDAndEpoch{s.pid, s.epoch}, nil // retry after an overflow to a new id
	}
	if err := c.bump(&s); err != nil {
		return ProducerIDAndEpoch{}, err
	}
	s.timeout, s.state, s.partitions, s.started = timeout, StateEmpty, map[TopicPartition]struct{}{}, time.Time{}
	if err := c.persist(t, s); err != nil {
		return ProducerIDAndEpoch{}, err
	}
	return ProducerIDAndEpoch{s.pid, s.epoch}, nil
}

// epochExhausted is the last epoch before a producer id must be replaced.
const epochExhausted int16 = 1<<15 - 2

// bump increments s's epoch, moving to a new producer id when exhausted.
func (c *Coordinator) bump(s *snapshot) error {
	s.lastEpoch = s.epoch
	if s.epoch >= epochExhausted {
		pid, err := c.cfg.NewProducerID()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
		s.lastPid, s.pid, s.epoch, s.lastEpoch = s.pid, pid, 0, -1
		return nil
	}
	s.epoch++
	return nil
}

// abortFencing aborts t's ongoing transaction at a bumped epoch, fencing its
// producer (for InitProducerID and timeouts). t.opMu is held.
func (c *Coordinator) abortFencing(t *txnMeta, s snapshot) error {
	if s.epoch < epochExhausted {
		s.lastEpoch = s.epoch
		s.epoch++
	}
	s.state = StatePrepareAbort
	if err := c.persist(t, s); err != nil {
		return err
	}
	if err := c.completeLocked(t, s); err != nil {
		return ErrConcurrentTransactions
	}
	return nil
}

// completeLocked writes the markers of a prepared transaction and records
// its completion. t.opMu is held.
func (c *Coordinator) completeLocked(t *txnMeta, s snapshot) error {
	if c.cfg.Owns != nil && !c.cfg.Owns(PartitionFor(t.id, c.cfg.Partitions)) {
		// The partition moved to another coordinator, which completes
		// the transaction from the log.
		return ErrNotCoordinator
	}
	commit := s.state == StatePrepareCommit
	parts := make([]TopicPartition, 0, len(s.partitions))
	for tp := range s.partitions {
		parts = append(parts, tp)
	}
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].Topic != parts[j].Topic {
			return parts[i].Topic < parts[j].Topic
		}
		return parts[i].Partition < parts[j].Partition
	})
	if err := c.markers.WriteMarkers(PartitionFor(t.id, c.cfg.Partitions), s.pid, s.epoch, commit, parts); err != nil {
		c.logger.Warn("writing transaction markers failed; will retry", "transactional_id", t.id, "err", err)
		return err
	}
	if commit {
		s.state = StateCompleteCommit
	} else {
		s.state = StateCompleteAbort
	}
	s.partitions, s.started = map[TopicPartition]struct{}{}, time.Time{}
	return c.write(t, s, false)
}

// check validates a producer id and epoch against s.
func check(s snapshot, pid int64, epoch int16) error {
	if s.pid != pid {
		return ErrInvalidProducerIDMapping
	}
	if s.epoch != epoch {
		return ErrProducerFenced
	}
	return nil
}

// AddPartitions is AddPartitionsToTxn (and, with the group's
// __consumer_offsets partition, AddOffsetsToTxn). The addition is durable on
// return.
func (c *Coordinator) AddPartitions(id string, pid int64, epoch int16, parts []TopicPartition) error {
	return c.addPartitions(id, pid, epoch, parts, true)
}

// AddPartitionsNoSync is AddPartitions whose state record is appended but
// not made durable on return (the transactions-v2 produce path, which must
// not fsync on a connection's reader goroutine). The addition is applied at
// once; the caller must make partition PartitionFor(id) of the StateLog
// durable through its end before acting visibly on the addition (the
// produce path does so before acknowledging the batch).
func (c *Coordinator) AddPartitionsNoSync(id string, pid int64, epoch int16, parts []TopicPartition) error {
	return c.addPartitions(id, pid, epoch, parts, false)
}

func (c *Coordinator) addPartitions(id string, pid int64, epoch int16, parts []TopicPartition, sync bool) error {
	t := c.lock(id, false)
	if t == nil {
		return ErrInvalidProducerIDMapping
	}
	defer t.opMu.Unlock()
	s := t.snapshot()
	if err := check(s, pid, epoch); err != nil {
		return err
	}
	switch s.state {
	case StatePrepareCommit, StatePrepareAbort:
		return ErrConcurrentTransactions
	case StateDead, StatePrepareEpochFence:
		return ErrInvalidTxnState
	case StateOngoing:
		missing := false
		for _, tp := range parts {
			if _, ok := s.partitions[tp]; !ok {
				missing = true
				break
			}
		}
		if !missing {
			return nil
		}
	default:
		s.started = c.cfg.Now()
	}
	for _, tp := range parts {
		s.partitions[tp] = struct{}{}
	}
	s.state = StateOngoing
	return c.write(t, s, sync)
}

// Verify reports whether the producer may write transactional data to tp:
// its transaction is ongoing at this epoch and includes tp (KIP-890 part
// 1). It never blocks on an operation in progress. The errors follow Kafka's
// TransactionCoordinator.handleVerifyPartitionsInTransaction: an unknown id
// or another producer id, ErrInvalidProducerIDMapping; another epoch,
// ErrProducerFenced; a transaction being ended, ErrConcurrentTransactions;
// tp not in an ongoing transaction, ErrInvalidTxnState (Kafka's
// TRANSACTION_ABORTABLE, which it answers as INVALID_TXN_STATE to older
// requests).
func (c *Coordinator) Verify(id string, pid int64, epoch int16, tp TopicPartition) error {
	t := c.get(id)
	if t == nil {
		return ErrInvalidProducerIDMapping
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pid != pid {
		return ErrInvalidProducerIDMapping
	}
	if epoch != t.epoch {
		return ErrProducerFenced
	}
	if t.state == StatePrepareCommit || t.state == StatePrepareAbort {
		return ErrConcurrentTransactions
	}
	if t.state != StateOngoing {
		return ErrInvalidTxnState
	}
	if _, ok := t.partitions[tp]; !ok {
		return ErrInvalidTxnState
	}
	return nil
}

// EndTxn commits or aborts the producer's transaction, returning once the
// markers are durable and the completion is recorded, and the producer id
// and epoch to use next.
//
// With tv2 (EndTxn v5, transactions v2, KIP-890 part 2) every transaction
// ends with an epoch bump: the prepare record and the markers carry the
// bumped epoch, which is returned, so a late produce or EndTxn of the
// ended transaction is fenced; a retry at the previous epoch of a
// transaction that ended the same way succeeds; an abort with no
// transaction open succeeds and bumps the epoch too.
func (c *Coordinator) EndTxn(id string, pid int64, epoch int16, commit, tv2 bool) (ProducerIDAndEpoch, error) {
	t := c.lock(id, false)
	if t == nil {
		return ProducerIDAndEpoch{}, ErrInvalidProducerIDMapping
	}
	defer t.opMu.Unlock()
	s := t.snapshot()
	ended := func(s snapshot) bool {
		return (commit && s.state == StateCompleteCommit) || (!commit && s.state == StateCompleteAbort)
	}
	if tv2 && s.pid != pid && pid == s.lastPid && ended(s) {
		return ProducerIDAndEpoch{s.pid, s.epoch}, nil // a retry after the id rolled over
	}
	if s.pid != pid {
		return ProducerIDAndEpoch{}, ErrInvalidProducerIDMapping
	}
	if s.epoch != epoch {
		if tv2 && (epoch == s.lastEpoch || epoch == s.epoch-1) && ended(s) {
			return ProducerIDAndEpoch{s.pid, s.epoch}, nil // a retry
		}
		return ProducerIDAndEpoch{}, ErrProducerFenced
	}
	switch s.state {
	case StateOngoing:
	case StateCompleteCommit, StateCompleteAbort, StateEmpty:
		if tv2 {
			if commit {
				return ProducerIDAndEpoch{}, ErrInvalidTxnState
			}
			break // an empty abort: bump the epoch, no markers
		}
		if ended(s) {
			return ProducerIDAndEpoch{s.pid, s.epoch}, nil // a retry
		}
		return ProducerIDAndEpoch{}, ErrInvalidTxnState
	case StatePrepareCommit, StatePrepareAbort:
		if (s.state == StatePrepareCommit) != commit {
			return ProducerIDAndEpoch{}, ErrInvalidTxnState
		}
		if err := c.completeLocked(t, s); err != nil {
			return ProducerIDAndEpoch{}, ErrConcurrentTransactions
		}
		s = t.snapshot()
		return ProducerIDAndEpoch{s.pid, s.epoch}, nil
	default:
		return ProducerIDAndEpoch{}, ErrInvalidTxnState
	}
	if tv2 {
		s.lastEpoch = s.epoch
		s.epoch++ // <= epochExhausted+1, a valid epoch
	}
	if commit {
		s.state = StatePrepareCommit
	} else {
		s.state = StatePrepareAbort
	}
	if err := c.persist(t, s); err != nil {
		return ProducerIDAndEpoch{}, err
	}
	// Decided: a marker failure is retried by Tick, and the answer is
	// success, as Kafka's is once the prepare record is written.
	if c.completeLocked(t, s) == nil && tv2 && s.epoch >= epochExhausted {
		// The id is used up: move to a new one for the next transaction.
		s = t.snapshot()
		if err := c.bump(&s); err == nil {
			_ = c.persist(t, s)
		}
	}
	if commit {
		c.cfg.Metrics.ended1(resultCommit)
	} else {
		c.cfg.Metrics.ended1(resultAbort)
	}
	s = t.snapshot()
	return ProducerIDAndEpoch{s.pid, s.epoch}, nil
}

// Tick aborts transactions past their timeout (fencing their producers
// with an epoch bump, as Kafka does) and retries unfinished completions.
// The broker calls it periodically.
func (c *Coordinator) Tick() {
	now := c.cfg.Now()
	c.mu.RLock()
	all := make([]*txnMeta, 0, len(c.txns))
	for _, t := range c.txns {
		all = append(all, t)
	}
	c.mu.RUnlock()
	for _, t := range all {
		if c.cfg.Owns != nil && !c.cfg.Owns(PartitionFor(t.id, c.cfg.Partitions)) {
			continue
		}
		if !t.opMu.TryLock() {
			continue
		}
		if t.removed {
			t.opMu.Unlock()
			continue
		}
		s := t.snapshot()
		switch {
		case s.state == StatePrepareCommit || s.state == StatePrepareAbort:
			_ = c.completeLocked(t, s)
		case s.state == StateOngoing && now.Sub(s.started) > s.timeout:
			c.logger.Info("aborting a timed-out transaction", "transactional_id", t.id, "producer_id", s.pid, "epoch", s.epoch)
			if c.abortFencing(t, s) == nil {
				c.cfg.Metrics.ended1(resultTimeout)
			}
		case c.cfg.IDExpiration > 0 && s.pid >= 0 && now.Sub(s.updated) > c.cfg.IDExpiration &&
			(s.state == StateEmpty || s.state == StateCompleteCommit || s.state == StateCompleteAbort):
			c.expireLocked(t)
		}
		t.opMu.Unlock()
	}
}

// Transaction describes one transaction (DescribeTransactions,
// ListTransactions).
type Transaction struct {
	ID         string
	ProducerID int64
	Epoch      int16
	State      State
	Timeout    time.Duration
	Started    time.Time // zero unless ongoing
	Partitions []TopicPartition
}

// Describe returns the transaction of id, or false if unknown.
func (c *Coordinator) Describe(id string) (Transaction, bool) {
	t := c.get(id)
	if t == nil {
		return Transaction{}, false
	}
	s := t.snapshot()
	if s.pid < 0 {
		return Transaction{}, false
	}
	out := Transaction{ID: id, ProducerID: s.pid, Epoch: s.epoch, State: s.state, Timeout: s.timeout, Started: s.started}
	for tp := range s.partitions {
		out.Partitions = append(out.Partitions, tp)
	}
	sort.Slice(out.Partitions, func(i, j int) bool {
		a, b := out.Partitions[i], out.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	return out, true
}

// List returns every transaction, sorted by id.
func (c *Coordinator) List() []Transaction {
	c.mu.RLock()
	ids := make([]string, 0, len(c.txns))
	for id := range c.txns {
		ids = append(ids, id)
	}
	c.mu.RUnlock()
	sort.Strings(ids)
	out := make([]Transaction, 0, len(ids))
	for _, id := range ids {
		if t, ok := c.Describe(id); ok {
			out = append(out, t)
		}
	}
	return out
}

// expireLocked forgets an idle transactional id (transactional.id.expiration.ms),
// writing its tombstone. t.opMu is held.
func (c *Coordinator) expireLocked(t *txnMeta) {
	key, _ := encodeRecord(t.id, snapshot{})
	if err := c.log.Append(PartitionFor(t.id, c.cfg.Partitions), key, nil, false); err != nil {
		c.logger.Warn("writing a transactional id tombstone failed", "transactional_id", t.id, "err", err)
		return
	}
	c.mu.Lock()
	if c.txns[t.id] == t {
		delete(c.txns, t.id)
	}
	c.mu.Unlock()
	t.removed = true
	c.logger.Info("expired an idle transactional id", "transactional_id", t.id)
}
