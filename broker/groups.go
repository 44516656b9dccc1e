package broker

// Wiring of the group coordinator: __consumer_offsets as its OffsetLog
// (created on first use through the normal createTopic path, replayed on
// start), the error mapping to Kafka codes, and offset expiry.

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/moldau/moldau/coordinator"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
)

// offsetsTopic is Kafka's internal topic of group metadata and offsets.
const offsetsTopic = "__consumer_offsets"

// isInternalTopic reports whether clients may not produce to name (Kafka's
// Topic.isInternal: the coordinators' topics).
func isInternalTopic(name string) bool {
	return name == offsetsTopic || name == txnStateTopic || name == shareStateTopic
}

var errOffsetsTopicUnavailable = errors.New("broker: __consumer_offsets unavailable")

// newCoordinator builds the group coordinator and replays every existing
// __consumer_offsets partition (at New, before serving).
func (b *Broker) newCoordinator(opts options) error {
	parts := b.cfg.OffsetsTopicNumPartitions
	t := b.topics.get(offsetsTopic)
	if t != nil {
		parts = int32(len(t.partitionList()))
	}
	cfg := coordinator.Config{
		Partitions:             parts,
		InitialRebalanceDelay:  time.Duration(b.cfg.GroupInitialRebalanceDelayMs) * time.Millisecond,
		MinSessionTimeout:      time.Duration(b.cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:      time.Duration(b.cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
		MaxGroupSize:           int(b.cfg.GroupMaxSize),
		OffsetsRetention:       time.Duration(b.cfg.OffsetsRetentionMinutes) * time.Minute,
		OffsetMetadataMaxBytes: int(b.cfg.OffsetMetadataMaxBytes),
		Settings:               b.groupSettings,
	}
	if b.raft != nil {
		// Owns is asked before every group request, with no lock held.
		// Leading the partition by this node's own view is not enough:
		// a deposed leader (paused, or in a minority) still believes it
		// leads until it hears the new term, and would answer from stale
		// groups (OffsetFetch going backwards). confirmLeads proves the
		// leadership by a ReadIndex round (raft.go); a node that cannot
		// within leaderConfirmTimeout answers NOT_COORDINATOR, so that
		// clients look the coordinator up again rather than retry here
		// (COORDINATOR_LOAD_IN_PROGRESS) on a node that likely lost it.
		cfg.Owns = func(part int32) bool {
			t := b.topics.get(offsetsTopic)
			if t == nil {
				return true // created on first use (FindCoordinator), by the leader-to-be
			}
			return b.raft.confirmLeads(t.partition(part))
		}
	}
	b.groups = coordinator.New(cfg, &offsetLog{b: b}, nil, b.logger.With("component", "coordinator"),
		coordinator.NewMetrics(opts.registerer))
	b.groups.RegisterLag(func(topic string, partition int32) (int64, bool) {
		t := b.topics.get(topic)
		if t == nil {
			return 0, false
		}
		p := t.partition(partition)
		if p == nil {
			return 0, false
		}
		return p.highWatermark(), true
	})
	b.groups.SetTopics(func() []coordinator.TopicMeta {
		all := b.topics.all()
		out := make([]coordinator.TopicMeta, 0, len(all))
		for _, t := range all {
			out = append(out, coordinator.TopicMeta{ID: t.id, Name: t.name, Partitions: int32(len(t.partitionList()))})
		}
		return out
	}, time.Duration(b.cfg.GroupConsumerSessionTimeoutMs)*time.Millisecond,
		time.Duration(b.cfg.GroupConsumerHeartbeatIntervalMs)*time.Millisecond)
	b.wireShareGroups() // share_wiring.go
	if b.raft != nil {
		// Cluster mode: each partition is loaded when this node becomes
		// its leader (leadershipMoved).
		return nil
	}
	if t == nil {
		b.groups.MarkLoaded()
		return nil
	}
	start := time.Now()
	for i := int32(0); i < parts; i++ {
		if err := b.groups.Load(i); err != nil {
			return err
		}
	}
	b.logger.Info("groups recovered", "partitions", parts, "elapsed", time.Since(start).Round(time.Microsecond))
	return nil
}

// ensureOffsetsTopic creates __consumer_offsets on first use, as Kafka
// does on the first FindCoordinator for a group.
func (b *Broker) ensureOffsetsTopic() error {
	return b.ensureInternalTopic(offsetsTopic, b.groups.Partitions(), "producer", errOffsetsTopicUnavailable)
}

// ensureInternalTopic creates an internal compacted topic (100 MiB
// segments, as Kafka's) unless it exists; a failure wraps unavailable.
func (b *Broker) ensureInternalTopic(name string, partitions int32, compression string, unavailable error) error {
	return b.ensureInternalTopicConfigs(name, partitions,
		map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600", "compression.type": compression}, unavailable)
}

// ensureInternalTopicConfigs is ensureInternalTopic with the topic's
// configs given.
func (b *Broker) ensureInternalTopicConfigs(name string, partitions int32, configs map[string]string, unavailable error) error {
	if b.topics.get(name) != nil {
		return nil
	}
	rf := int16(1)
	if b.raft != nil {
		// Kafka's offsets.topic.replication.factor and
		// transaction.state.log.replication.factor (3), bounded by the
		// brokers there are.
		rf = int16(min(3, b.brokerCount()))
	}
	s := topicSpec{name: name, partitions: partitions, replicationFactor: rf, configs: configs}
	_, err := b.createTopic(s)
	if err != nil && !errors.Is(err, errTopicExists) {
		b.logger.Error("creating an internal topic failed", "topic", name, "err", err)
		return fmt.Errorf("%w: %v", unavailable, err)
	}
	return nil
}

// internalPartition returns partition p of the internal topic name, which
// ensure creates on first use; what is missing wraps unavailable.
func (b *Broker) internalPartition(name string, ensure func() error, unavailable error, p int32) (*partition, error) {
	if err := ensure(); err != nil {
		return nil, err
	}
	t := b.topics.get(name)
	if t == nil {
		return nil, unavailable
	}
	part := t.partition(p)
	if part == nil {
		return nil, fmt.Errorf("%w: no partition %d", unavailable, p)
	}
	return part, nil
}

// appendInternal appends recs to an internal topic's partition as one
// uncompressed batch (an entry like any other: partition.appendInternal),
// which wakes its waiting fetches, and returns the batch's base offset. It
// does not fsync: the coordinators sync what they need (Sync), and a
// flush.messages flush goes to the background flusher.
func (b *Broker) appendInternal(part *partition, recs []coordinator.Record) (int64, error) {
	now := b.now().UnixMilli()
	res, err := part.appendInternal(internalBatch(recs, now), now)
	if err != nil {
		return 0, err
	}
	if res.flushDue {
		b.flushSoon(part)
	}
	return res.base, nil
}

// groupErrorCode maps a coordinator error to its Kafka code.
func groupErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, coordinator.ErrInvalidGroupID):
		return kerr.InvalidGroupID.Code
	case errors.Is(err, coordinator.ErrUnknownMemberID):
		return kerr.UnknownMemberID.Code
	case errors.Is(err, coordinator.ErrMemberIDRequired):
		return kerr.MemberIDRequired.Code
	case errors.Is(err, coordinator.ErrIllegalGeneration):
		return kerr.IllegalGeneration.Code
	case errors.Is(err, coordinator.ErrRebalanceInProgress):
		return kerr.RebalanceInProgress.Code
	case errors.Is(err, coordinator.ErrFencedInstanceID):
		return kerr.FencedInstanceID.Code
	case errors.Is(err, coordinator.ErrInconsistentProtocol):
		return kerr.InconsistentGroupProtocol.Code
	case errors.Is(err, coordinator.ErrInvalidSessionTimeout):
		return kerr.InvalidSessionTimeout.Code
	case errors.Is(err, coordinator.ErrGroupMaxSizeReached):
		return kerr.GroupMaxSizeReached.Code
	case errors.Is(err, coordinator.ErrCoordinatorNotAvailable), errors.Is(err, errOffsetsTopicUnavailable):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, coordinator.ErrLoadInProgress):
		return kerr.CoordinatorLoadInProgress.Code
	case errors.Is(err, coordinator.ErrNotCoordinator):
		return kerr.NotCoordinator.Code
	case errors.Is(err, coordinator.ErrGroupIDNotFound):
		return kerr.GroupIDNotFound.Code
	case errors.Is(err, coordinator.ErrNonEmptyGroup):
		return kerr.NonEmptyGroup.Code
	case errors.Is(err, coordinator.ErrOffsetMetadataTooLarge):
		return kerr.OffsetMetadataTooLarge.Code
	case errors.Is(err, coordinator.ErrGroupSubscribedToTopic):
		return kerr.GroupSubscribedToTopic.Code
	case errors.Is(err, coordinator.ErrFencedMemberEpoch):
		return kerr.FencedMemberEpoch.Code
	case errors.Is(err, coordinator.ErrStaleMemberEpoch):
		return kerr.StaleMemberEpoch.Code
	case errors.Is(err, coordinator.ErrUnsupportedAssignor):
		return kerr.UnsupportedAssignor.Code
	case errors.Is(err, coordinator.ErrInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, coordinator.ErrNotConsumerGroup):
		return kerr.GroupIDNotFound.Code
	case errors.Is(err, coordinator.ErrUnreleasedInstance):
		return kerr.UnreleasedInstanceID.Code
	case errors.Is(err, coordinator.ErrStorage):
		// Kafka answers a failed offsets append with a retriable
		// coordinator error, so clients retry.
		return kerr.CoordinatorNotAvailable.Code
	}
	return errorCode(err)
}

// groupHousekeeping expires offsets every offsets.retention.check.interval.ms.
func (b *Broker) groupHousekeeping() {
	interval := time.Duration(b.cfg.OffsetsRetentionCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.groups.ExpireOffsets()
		}
	}
}

// offsetLog implements coordinator.OffsetLog over the partitions of
// __consumer_offsets.
type offsetLog struct{ b *Broker }

func (o *offsetLog) partition(p int32) (*partition, error) {
	return o.b.internalPartition(offsetsTopic, o.b.ensureOffsetsTopic, errOffsetsTopicUnavailable, p)
}

// Append implements coordinator.OffsetLog: one uncompressed RecordBatch v2.
func (o *offsetLog) Append(p int32, recs []coordinator.Record) (int64, error) {
	part, err := o.partition(p)
	if err != nil {
		return 0, err
	}
	base, err := o.b.appendInternal(part, recs)
	if err != nil {
		return 0, err
	}
	return base + int64(len(recs)) - 1, nil
}

// Sync implements coordinator.OffsetLog.
func (o *offsetLog) Sync(p int32, offset int64) error {
	if o.b.cfg.Memory {
		return nil
	}
	part, err := o.partition(p)
	if err != nil {
		return err
	}
	return part.syncTo(offset + 1)
}

// AppendTxn implements coordinator.OffsetLog: one uncompressed
// transactional RecordBatch v2 of the producer (a TxnOffsetCommit's),
// after verify and the producer's epoch on the partition (appendInternalTxn).
func (o *offsetLog) AppendTxn(p int32, pid int64, epoch int16, recs []coordinator.Record, verify func() error) (int64, error) {
	part, err := o.partition(p)
	if err != nil {
		return 0, err
	}
	now := o.b.now().UnixMilli()
	res, err := part.appendInternalTxn(internalTxnBatch(recs, pid, epoch, now), pid, epoch, now, verify)
	if err != nil {
		return 0, err
	}
	if res.flushDue {
		o.b.flushSoon(part)
	}
	return res.base + int64(len(recs)) - 1, nil
}

// Replay implements coordinator.OffsetLog: the records of the uncompressed
// batches, with the producer id of transactional ones, and the COMMIT and
// ABORT markers. Compressed batches (never written by Moldau) are skipped
// with a warning.
func (o *offsetLog) Replay(p int32, fn func(r coordinator.LogRecord) error) error {
	t := o.b.topics.get(offsetsTopic)
	if t == nil || t.partition(p) == nil {
		return nil
	}
	skipped := func(h plog.BatchHeader) {
		o.b.logger.Warn("skipping a compressed batch in __consumer_offsets", "partition", p, "offset", h.BaseOffset)
	}
	return replayBatches(t.partition(p).log, skipped, func(h plog.BatchHeader, off int64, key, value []byte) error {
		lr := coordinator.LogRecord{Record: coordinator.Record{Key: key, Value: value}, Offset: off, ProducerID: -1}
		if h.IsTransactional() {
			lr.ProducerID = h.ProducerID
		}
		if h.IsControl() {
			typ, err := records.ControlType(key)
			if err != nil {
				return nil // not a marker the coordinator can read: skipped
			}
			switch typ {
			case records.ControlCommit:
				lr.Marker = coordinator.CommitMarker
			case records.ControlAbort:
				lr.Marker = coordinator.AbortMarker
			default:
				return nil
			}
			lr.Key, lr.Value = nil, nil
		}
		return fn(lr)
	})
}

// internalBatch encodes an internal topic's records as one uncompressed
// RecordBatch v2 (no producer id, create time now; the log append stamps the
// leader epoch).
func internalBatch(recs []coordinator.Record, now int64) []byte {
	size := records.HeaderSize
	for _, r := range recs {
		size += len(r.Key) + len(r.Value) + 16
	}
	bb := records.NewBuilder(make([]byte, 0, size), records.NoProducer(now))
	for _, r := range recs {
		bb.Add(now, r.Key, r.Value)
	}
	return bb.Build()
}

// internalTxnBatch is internalBatch as a transactional batch of pid at
// epoch (no sequence, as Kafka's coordinators write theirs).
func internalTxnBatch(recs []coordinator.Record, pid int64, epoch int16, now int64) []byte {
	size := records.HeaderSize
	for _, r := range recs {
		size += len(r.Key) + len(r.Value) + 16
	}
	bb := records.NewBuilder(make([]byte, 0, size), records.BatchOptions{BaseTimestamp: now,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1, Transactional: true})
	for _, r := range recs {
		bb.Add(now, r.Key, r.Value)
	}
	return bb.Build()
}

func nullableString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// closeLogs closes every partition log (a failed New).
func (b *Broker) closeLogs() {
	for _, t := range b.topics.all() {
		for _, p := range t.partitionList() {
			_ = p.closeLog()
		}
	}
}
