package broker

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic administration errors; adminErrorCode maps them to Kafka codes.
var (
	errTopicExists              = errors.New("broker: topic already exists")
	errInvalidTopic             = errors.New("broker: invalid topic name")
	errInvalidPartitions        = errors.New("broker: invalid number of partitions")
	errInvalidReplicationFactor = errors.New("broker: invalid replication factor")
	errInvalidReplicaAssignment = errors.New("broker: invalid replica assignment")
	errUnknownTopic             = errors.New("broker: unknown topic")
)

// maxPartitionsPerTopic bounds one create or add-partitions call so a single
// request cannot make the broker open millions of files.
const maxPartitionsPerTopic = 100000

func adminErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, errInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, errInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, errInvalidReplicationFactor):
		return kerr.InvalidReplicationFactor.Code
	case errors.Is(err, errInvalidReplicaAssignment):
		return kerr.InvalidReplicaAssignment.Code
	case errors.Is(err, errUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	}
	return errorCode(err)
}

// topicSpec is a validated request to create one topic.
type topicSpec struct {
	name              string
	partitions        int32
	replicationFactor int16
	configs           map[string]string
}

// checkTopicSpec validates a create request and fills defaults (-1 means the
// broker default). assignment, if given, lists the replicas per partition.
func (b *Broker) checkTopicSpec(name string, partitions int32, rf int16, assignment [][]int32, configs map[string]*string) (topicSpec, error) {
	s := topicSpec{name: name, partitions: partitions, replicationFactor: rf, configs: map[string]string{}}
	if !validTopicName(name) {
		return s, fmt.Errorf("%w: %q (legal: up to 249 of [a-zA-Z0-9._-], not \".\" or \"..\")", errInvalidTopic, name)
	}
	if len(assignment) > 0 {
		if partitions != -1 || rf != -1 {
			return s, fmt.Errorf("%w: both a replica assignment and a partition count or replication factor were given", errInvalidRequest)
		}
		s.partitions = int32(len(assignment))
		s.replicationFactor = int16(len(assignment[0]))
		for i, replicas := range assignment {
			if len(replicas) != int(s.replicationFactor) {
				return s, fmt.Errorf("%w: partition %d has %d replicas, partition 0 has %d", errInvalidReplicaAssignment, i, len(replicas), s.replicationFactor)
			}
			for _, r := range replicas {
				if r != b.cfg.NodeID {
					return s, fmt.Errorf("%w: broker %d is not in the cluster (only %d is)", errInvalidReplicaAssignment, r, b.cfg.NodeID)
				}
			}
		}
	}
	if s.partitions == -1 {
		s.partitions = b.cfg.NumPartitions
	}
	if s.replicationFactor == -1 {
		s.replicationFactor = b.cfg.DefaultReplicationFactor
	}
	if s.partitions <= 0 || s.partitions > maxPartitionsPerTopic {
		return s, fmt.Errorf("%w: %d (must be 1..%d)", errInvalidPartitions, s.partitions, maxPartitionsPerTopic)
	}
	if s.replicationFactor <= 0 {
		return s, fmt.Errorf("%w: %d (must be positive)", errInvalidReplicationFactor, s.replicationFactor)
	}
	if s.replicationFactor > 1 {
		return s, fmt.Errorf("%w: replication factor %d larger than available brokers: 1", errInvalidReplicationFactor, s.replicationFactor)
	}
	for k, v := range configs {
		if err := b.cfg.ValidateTopicConfig(k, v); err != nil {
			return s, err
		}
		if v != nil {
			s.configs[k] = *v
		}
	}
	return s, nil
}

var errInvalidRequest = errors.New("broker: invalid request")

// createTopic creates a topic: the record is made durable first, then the
// partition directories (so a crash in between leaves a topic whose empty
// logs are created on the next start, never orphan data).
func (b *Broker) createTopic(s topicSpec) (*topic, error) {
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	if b.topics.byName[s.name] != nil {
		return nil, fmt.Errorf("%w: %q", errTopicExists, s.name)
	}
	if collides := b.collidingTopicLocked(s.name); collides != "" {
		return nil, fmt.Errorf("%w: %q collides with existing topic %q ('.' and '_' are equivalent in metric names)", errInvalidTopic, s.name, collides)
	}
	t := newTopic(s.name, newTopicID(), s.configs, b.cfg)
	parts := make([]*partition, s.partitions)
	t.partitions.Store(&parts)
	if err := b.meta.putTopic(t.record()); err != nil {
		return nil, err
	}
	for i := range parts {
		// A directory left by an earlier topic of the same name whose
		// deletion was interrupted must not leak into this one.
		if err := b.fs.RemoveAll(filepath.Join(b.dataDir, partitionDirName(s.name, int32(i)))); err != nil {
			return nil, err
		}
		p, err := b.openPartition(t, int32(i))
		if err != nil {
			for _, q := range parts[:i] {
				q.closeLog()
			}
			_ = b.meta.deleteTopic(t.id)
			return nil, err
		}
		parts[i] = p
	}
	b.topics.addLocked(t)
	b.logger.Info("topic created", "topic", s.name, "partitions", s.partitions)
	return t, nil
}

// collidingTopicLocked returns an existing topic whose name differs from name
// only by '.' versus '_', which Kafka refuses.
func (b *Broker) collidingTopicLocked(name string) string {
	norm := func(s string) string {
		out := []byte(s)
		for i, c := range out {
			if c == '.' {
				out[i] = '_'
			}
		}
		return string(out)
	}
	n := norm(name)
	for other := range b.topics.byName {
		if other != name && norm(other) == n {
			return other
		}
	}
	return ""
}

// autoCreateTopic creates a topic with the broker defaults (Metadata with
// auto-creation allowed). A concurrent creation of the same name wins.
func (b *Broker) autoCreateTopic(name string) (*topic, error) {
	s, err := b.checkTopicSpec(name, -1, -1, nil, nil)
	if err != nil {
		return nil, err
	}
	t, err := b.createTopic(s)
	if errors.Is(err, errTopicExists) {
		return b.topics.get(name), nil
	}
	return t, err
}

// Errors of DeleteTopics, DeleteRecords, CreatePartitions and the config
// APIs; adminRequestErrorCode maps them, and all that adminErrorCode maps.
var (
	errTopicDeletionDisabled = errors.New("broker: topic deletion is disabled")
	errPolicyViolation       = errors.New("broker: policy violation")
)

// adminRequestErrorCode is adminErrorCode extended with the errors above and
// errInvalidRequest.
func adminRequestErrorCode(err error) int16 {
	switch {
	case errors.Is(err, errInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, errTopicDeletionDisabled):
		return kerr.TopicDeletionDisabled.Code
	case errors.Is(err, errPolicyViolation):
		return kerr.PolicyViolation.Code
	}
	return adminErrorCode(err)
}

// deleteTopic deletes t. Once the record is durably marked Deleting the
// deletion is committed (loadTopics finishes it after a crash); then the
// topic leaves the registry so no new request finds it, every partition log
// is closed and removed, fetches long-polling on it are woken to see it
// gone, and the record is dropped. Failures after the commit point are
// logged, not returned: the next start finishes the job.
//
// topics.mu is held throughout, so a topic re-created under the same name
// cannot have its fresh directories removed by this deletion.
func (b *Broker) deleteTopic(t *topic) error {
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	if b.topics.byID[t.id] != t {
		return fmt.Errorf("%w: %q", errUnknownTopic, t.name)
	}
	rec := t.record()
	rec.Deleting = true
	if err := b.meta.putTopic(rec); err != nil {
		return err
	}
	b.topics.removeLocked(t)
	for _, p := range t.partitionList() {
		if err := p.deleteLog(); err != nil {
			b.logger.Warn("delete partition log (finished at next start)", "partition", p.dirName(), "err", err)
		}
		p.notify()
	}
	if err := b.meta.deleteTopic(t.id); err != nil {
		b.logger.Warn("drop deleted topic record (finished at next start)", "topic", t.name, "err", err)
	}
	b.logger.Info("topic deleted", "topic", t.name)
	return nil
}

// createPartitions raises topic name's partition count to count. assignment,
// if not nil, names the replicas of each new partition. The new logs are
// opened (over any stale directory of an earlier topic of the same name)
// before the record grows, and become visible only after it is durable; a
// crash in between leaves directories that the next creation removes.
func (b *Broker) createPartitions(name string, count int32, assignment [][]int32, validateOnly bool) error {
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	t := b.topics.byName[name]
	if t == nil {
		return fmt.Errorf("%w: %q", errUnknownTopic, name)
	}
	old := t.partitionList()
	current := int32(len(old))
	switch {
	case count == current:
		return fmt.Errorf("%w: topic already has %d partition(s)", errInvalidPartitions, current)
	case count < current:
		return fmt.Errorf("%w: the topic %s currently has %d partition(s); %d would not be an increase", errInvalidPartitions, name, current, count)
	case count > maxPartitionsPerTopic:
		return fmt.Errorf("%w: %d (at most %d per topic)", errInvalidPartitions, count, maxPartitionsPerTopic)
	}
	if assignment != nil {
		if err := b.checkNewPartitionAssignment(assignment, count-current); err != nil {
			return err
		}
	}
	if validateOnly {
		return nil
	}
	parts := make([]*partition, count)
	copy(parts, old)
	abandon := func(opened []*partition) {
		for _, p := range opened {
			if err := p.deleteLog(); err != nil {
				b.logger.Warn("remove abandoned partition", "partition", p.dirName(), "err", err)
			}
		}
	}
	for i := current; i < count; i++ {
		if err := b.fs.RemoveAll(filepath.Join(b.dataDir, partitionDirName(name, i))); err != nil {
			abandon(parts[current:i])
			return err
		}
		p, err := b.openPartition(t, i)
		if err != nil {
			abandon(parts[current:i])
			return err
		}
		parts[i] = p
	}
	rec := t.record()
	rec.Partitions = count
	if err := b.meta.putTopic(rec); err != nil {
		abandon(parts[current:])
		return err
	}
	t.partitions.Store(&parts)
	b.logger.Info("partitions added", "topic", name, "from", current, "to", count)
	return nil
}

// checkNewPartitionAssignment checks a manual assignment of n new partitions
// (Kafka's messages): one entry per partition, each exactly this node.
func (b *Broker) checkNewPartitionAssignment(assignment [][]int32, n int32) error {
	if len(assignment) != int(n) {
		return fmt.Errorf("%w: attempted to add %d additional partition(s), but only %d assignment(s) were specified", errInvalidReplicaAssignment, n, len(assignment))
	}
	for _, replicas := range assignment {
		if len(replicas) == 0 {
			return fmt.Errorf("%w: the manual partition assignment includes an empty replica list", errInvalidReplicaAssignment)
		}
		for _, r := range replicas {
			if r != b.cfg.NodeID {
				return fmt.Errorf("%w: the manual partition assignment includes broker %d, but no such broker is registered", errInvalidReplicaAssignment, r)
			}
		}
		if len(replicas) != 1 {
			return fmt.Errorf("%w: the manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have 1 replica(s)", errInvalidReplicaAssignment, len(replicas))
		}
	}
	return nil
}

// alterTopicConfigs replaces the config overrides of topic name with what
// change makes of a copy of the current ones, after validating the whole
// new set. The record is made durable before the new settings are
// published; then every partition log gets the new log settings. topics.mu
// serialises the read-modify-write against other admin changes.
func (b *Broker) alterTopicConfigs(name string, change func(overrides map[string]string) (map[string]string, error), validateOnly bool) error {
	if name == "" {
		return fmt.Errorf("%w: default topic resources are not allowed", errInvalidRequest)
	}
	if !validTopicName(name) {
		return fmt.Errorf("%w: %q", errInvalidTopic, name)
	}
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	t := b.topics.byName[name]
	if t == nil {
		return fmt.Errorf("%w: %q", errUnknownTopic, name)
	}
	next, err := change(maps.Clone(t.state.Load().overrides))
	if err != nil {
		return err
	}
	if next == nil {
		next = map[string]string{}
	}
	if err := b.cfg.ValidateTopicConfigs(next); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	rec := t.record()
	rec.Configs = next
	if err := b.meta.putTopic(rec); err != nil {
		return err
	}
	t.setConfigs(next, b.cfg)
	lc := t.logConfig()
	for _, p := range t.partitionList() {
		p.setLogConfig(lc)
	}
	b.logger.Info("topic configs altered", "topic", name, "overrides", len(next))
	return nil
}

// configResource names one resource of an AlterConfigs-style request.
type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

// alterEachResource serves the resources of AlterConfigs and
// IncrementalAlterConfigs alike: a resource listed twice is INVALID_REQUEST
// for each listing (as Kafka answers), every other one goes to alter; answer
// receives each resource's outcome in request order.
func alterEachResource[R any](rs []R, key func(R) configResource, alter func(R) error, answer func(r R, code int16, msg *string)) {
	seen := make(map[configResource]int, len(rs))
	for _, r := range rs {
		seen[key(r)]++
	}
	for _, r := range rs {
		var err error
		if seen[key(r)] > 1 {
			err = fmt.Errorf("%w: each resource must appear at most once", errInvalidRequest)
		} else {
			err = alter(r)
		}
		answer(r, adminRequestErrorCode(err), errMessage(err))
	}
}
