package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

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
	assignment        [][]int32 // manual replica assignment, or nil
}

// brokerCount is the number of brokers a replica may be placed on: this
// one, or in cluster mode the registered, unfenced brokers.
func (b *Broker) brokerCount() int {
	if b.raft != nil {
		return b.raft.liveBrokers()
	}
	return 1
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
				if b.raft != nil {
					if _, ok := b.raft.view().Broker(r); !ok {
						return s, fmt.Errorf("%w: broker %d is not in the cluster", errInvalidReplicaAssignment, r)
					}
				} else if r != b.cfg.NodeID {
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
	if brokers := b.brokerCount(); int(s.replicationFactor) > brokers {
		return s, fmt.Errorf("%w: replication factor %d larger than available brokers: %d", errInvalidReplicationFactor, s.replicationFactor, brokers)
	}
	s.assignment = assignment
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
// logs are created on the next start, never orphan data), and the topic is
// published to readers only once every partition is open. topics.adminMu is
// held throughout; readers (produce, fetch, metadata) never wait for it.
func (b *Broker) createTopic(s topicSpec) (*topic, error) {
	if b.raft != nil {
		return b.raft.createTopic(s, s.assignment)
	}
	b.topics.adminMu.Lock()
	defer b.topics.adminMu.Unlock()
	if b.topics.get(s.name) != nil {
		return nil, fmt.Errorf("%w: %q", errTopicExists, s.name)
	}
	if collides := b.collidingTopicLocked(s.name); collides != "" {
		return nil, fmt.Errorf("%w: %q collides with existing topic %q ('.' and '_' are equivalent in metric names)", errInvalidTopic, s.name, collides)
	}
	t := newTopic(s.name, newTopicID(), s.configs, *b.config())
	sized := make([]*partition, s.partitions) // for t.record's count only
	t.partitions.Store(&sized)
	if err := b.meta.putTopic(t.record()); err != nil {
		return nil, err
	}
	parts, err := b.openNewPartitions(t, 0, s.partitions)
	if err != nil {
		_ = b.meta.deleteTopic(t.id)
		return nil, err
	}
	t.partitions.Store(&parts)
	b.topics.publishLocked([]*topic{t}, nil)
	b.logger.Info("topic created", "topic", s.name, "partitions", s.partitions)
	return t, nil
}

// openWorkers bounds the goroutines that create, open or remove partition
// logs for one admin operation or the start-up load. Opening a log is
// mostly system calls (mkdir, open, fallocate, read of small files), so a
// few more than the cores keep the disk busy without a thread per
// partition.
func openWorkers() int { return min(16, max(4, 2*runtime.GOMAXPROCS(0))) }

// forEachParallel calls fn(i) for i in [0, n) on up to openWorkers
// goroutines and returns the first error (every call is still made).
func forEachParallel(n int, fn func(i int) error) error {
	workers := min(openWorkers(), n)
	if workers <= 1 {
		var first error
		for i := range n {
			if err := fn(i); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	var (
		next  atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// openNewPartitions creates and opens partitions [from, to) of t, which has
// no data yet: a directory left by an earlier topic of the same name whose
// deletion was interrupted (found by one listing of the data directory) is
// removed first, so it cannot leak into this one. The fresh directories are made durable with one fsync of the data
// directory for all of them (plog.Open fsyncs the parent only for a
// directory it creates itself), then the logs are opened in parallel. On
// error every log opened is closed and the directories are left to the next
// creation, which removes them.
func (b *Broker) openNewPartitions(t *topic, from, to int32) ([]*partition, error) {
	n := int(to - from)
	existing, err := b.fs.ReadDir(b.dataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("broker: list %s: %w", b.dataDir, err)
	}
	err = nil
	stale := make(map[string]bool)
	for _, name := range existing {
		if strings.HasPrefix(name, t.name+"-") {
			stale[name] = true
		}
	}
	// One goroutine: mkdirs in one parent contend for its lock (measured
	// here: 4 goroutines spent 3x the CPU of one for 10,000 directories).
	for i := range n {
		name := partitionDirName(t.name, from+int32(i))
		dir := filepath.Join(b.dataDir, name)
		if stale[name] {
			if err = b.fs.RemoveAll(dir); err != nil {
				break
			}
		}
		if err = b.fs.MkdirAll(dir, 0o755); err != nil {
			break
		}
	}
	if err == nil {
		err = b.fs.SyncDir(b.dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: create partition directories of %s: %w", t.name, err)
	}
	parts := make([]*partition, to)
	copy(parts, t.partitionList())
	err = forEachParallel(n, func(i int) error {
		p, err := b.openPartition(t, from+int32(i))
		parts[from+int32(i)] = p
		return err
	})
	if err != nil {
		for _, p := range parts[from:] {
			if p != nil {
				p.closeLog()
			}
		}
		return nil, err
	}
	return parts, nil
}

// collidingTopicLocked returns an existing topic whose name differs from name
// only by '.' versus '_', which Kafka refuses. Expects topics.adminMu held.
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
	for _, other := range b.topics.all() {
		if other.name != name && norm(other.name) == n {
			return other.name
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
	case errors.Is(err, errThrottlingQuotaExceeded):
		return kerr.ThrottlingQuotaExceeded.Code
	}
	return adminErrorCode(err)
}

// deleteTopic deletes t. Once the record is durably marked Deleting the
// deletion is committed (loadTopics finishes it after a crash); then the
// topic leaves the registry (one atomic publish) so no new request finds
// it, every partition log is closed and removed, fetches long-polling on it
// are woken to see it gone, and the record is dropped. Failures after the
// commit point are logged, not returned: the next start finishes the job.
//
// topics.adminMu is held throughout, so a topic re-created under the same
// name cannot have its fresh directories removed by this deletion; readers
// never take it.
func (b *Broker) deleteTopic(t *topic) error {
	if b.raft != nil {
		return b.raft.deleteTopic(t)
	}
	b.topics.adminMu.Lock()
	defer b.topics.adminMu.Unlock()
	if b.topics.getID(t.id) != t {
		return fmt.Errorf("%w: %q", errUnknownTopic, t.name)
	}
	rec := t.record()
	rec.Deleting = true
	if err := b.meta.putTopic(rec); err != nil {
		return err
	}
	b.topics.publishLocked(nil, []*topic{t})
	parts := t.partitionList()
	_ = forEachParallel(len(parts), func(i int) error {
		p := parts[i]
		if err := p.deleteLog(); err != nil {
			b.logger.Warn("delete partition log (finished at next start)", "partition", p.dirName(), "err", err)
		}
		p.notify()
		return nil
	})
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
// topics.adminMu is held throughout; readers never take it.
func (b *Broker) createPartitions(name string, count int32, assignment [][]int32, validateOnly bool) error {
	if b.raft != nil {
		return b.raft.createPartitions(name, count, assignment, validateOnly)
	}
	b.topics.adminMu.Lock()
	defer b.topics.adminMu.Unlock()
	t := b.topics.get(name)
	if t == nil {
		return fmt.Errorf("%w: %q", errUnknownTopic, name)
	}
	old := t.partitionList()
	current := int32(len(old))
	if err := checkPartitionCount(name, current, count); err != nil {
		return err
	}
	if assignment != nil {
		if err := b.checkNewPartitionAssignment(assignment, count-current); err != nil {
			return err
		}
	}
	if validateOnly {
		return nil
	}
	parts, err := b.openNewPartitions(t, current, count)
	if err != nil {
		return err
	}
	rec := t.record()
	rec.Partitions = count
	if err := b.meta.putTopic(rec); err != nil {
		for _, p := range parts[current:] {
			if err := p.deleteLog(); err != nil {
				b.logger.Warn("remove abandoned partition", "partition", p.dirName(), "err", err)
			}
		}
		return err
	}
	t.partitions.Store(&parts)
	b.logger.Info("partitions added", "topic", name, "from", current, "to", count)
	return nil
}

// checkPartitionCount is CreatePartitions' check of the new count against
// the current one (Kafka's messages).
func checkPartitionCount(name string, current, count int32) error {
	switch {
	case count == current:
		return fmt.Errorf("%w: topic already has %d partition(s)", errInvalidPartitions, current)
	case count < current:
		return fmt.Errorf("%w: the topic %s currently has %d partition(s); %d would not be an increase", errInvalidPartitions, name, current, count)
	case count > maxPartitionsPerTopic:
		return fmt.Errorf("%w: %d (at most %d per topic)", errInvalidPartitions, count, maxPartitionsPerTopic)
	}
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
// published; then every partition log gets the new log settings.
// topics.adminMu serialises the read-modify-write against other admin
// changes; readers never take it.
func (b *Broker) alterTopicConfigs(name string, change func(overrides map[string]string) (map[string]string, error), validateOnly bool) error {
	if name == "" {
		return fmt.Errorf("%w: default topic resources are not allowed", errInvalidRequest)
	}
	if !validTopicName(name) {
		return fmt.Errorf("%w: %q", errInvalidTopic, name)
	}
	b.topics.adminMu.Lock()
	defer b.topics.adminMu.Unlock()
	t := b.topics.get(name)
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
	if err := b.config().ValidateTopicConfigs(next); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if b.raft != nil {
		b.topics.adminMu.Unlock() // the reconciler takes it to apply the change
		err := b.raft.alterTopicConfigs(t, next)
		b.topics.adminMu.Lock()
		return err
	}
	rec := t.record()
	rec.Configs = next
	if err := b.meta.putTopic(rec); err != nil {
		return err
	}
	t.setConfigs(next, *b.config())
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
