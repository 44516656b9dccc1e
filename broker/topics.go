package broker

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/moldau/moldau/broker/config"
	plog "github.com/moldau/moldau/log"
)

// topic is one topic. Its partition list and settings are immutable
// snapshots behind atomic pointers, so the produce and fetch paths read them
// without locks; the admin paths replace them under topicRegistry.adminMu.
type topic struct {
	name       string
	id         [16]byte
	partitions atomic.Pointer[[]*partition]
	state      atomic.Pointer[topicState]
	metrics    *topicMetrics // set when the topic joins the registry
}

type topicState struct {
	overrides map[string]string // topic-level config overrides as set
	settings  config.TopicSettings
}

func newTopic(name string, id [16]byte, overrides map[string]string, cfg config.Config) *topic {
	t := &topic{name: name, id: id}
	t.setConfigs(overrides, cfg)
	empty := []*partition{}
	t.partitions.Store(&empty)
	return t
}

func (t *topic) setConfigs(overrides map[string]string, cfg config.Config) {
	if overrides == nil {
		overrides = map[string]string{}
	}
	t.state.Store(&topicState{overrides: overrides, settings: cfg.ResolveTopic(overrides)})
}

func (t *topic) settings() *config.TopicSettings { return &t.state.Load().settings }

func (t *topic) partitionList() []*partition { return *t.partitions.Load() }

func (t *topic) partition(i int32) *partition {
	ps := t.partitionList()
	if i < 0 || int(i) >= len(ps) {
		return nil
	}
	return ps[i]
}

// segmentFiles bounds the open data files of sealed (non-active) segments
// across every partition of every broker in the process: the file limit is
// per process. Active segments (one per partition) stay open besides.
var segmentFiles = plog.NewFileCache(1024)

func (t *topic) logConfig() plog.Config {
	s := t.settings()
	c := plog.Config{
		SegmentBytes:           s.SegmentBytes,
		SegmentMs:              s.SegmentMs,
		SegmentJitterMs:        s.SegmentJitterMs,
		IndexIntervalBytes:     int(s.IndexIntervalBytes),
		SegmentIndexBytes:      int64(s.SegmentIndexBytes),
		Files:                  segmentFiles,
		RetentionMs:            s.RetentionMs,
		RetentionBytes:         s.RetentionBytes,
		FlushMessages:          s.FlushMessages,
		FlushMs:                s.FlushMs,
		Compact:                s.Compact,
		DeleteRetentionMs:      s.DeleteRetentionMs,
		MinCompactionLagMs:     s.MinCompactionLagMs,
		MaxCompactionLagMs:     s.MaxCompactionLagMs,
		MinCleanableDirtyRatio: s.MinCleanableDirtyRatio,
	}
	if !s.Delete {
		// cleanup.policy=compact: no time or size retention.
		c.RetentionMs, c.RetentionBytes = -1, -1
	}
	return c
}

func (t *topic) record() topicRecord {
	return topicRecord{Name: t.name, ID: t.id, Partitions: int32(len(t.partitionList())), Configs: t.state.Load().overrides}
}

// topicRegistry is the broker's metadata cache of topics.
//
// Locking. Lookups (get, getID, all, count) take no lock: they load snap, an
// immutable snapshot that is replaced whole, never changed in place. The
// produce and fetch paths therefore never wait for an admin operation, however
// long its I/O takes.
//
// adminMu serialises every change of the topic set and of a topic's record
// (create, delete, add partitions, configs, auto-creation, loading at
// start-up). The data path never takes it. An admin change holds it across
// its I/O (the metadata store's fsync, creating, opening and removing
// partition directories), reads the current snapshot (which, with adminMu
// held, no one else can replace), and publishes the result with one atomic
// store (publishLocked) once the I/O that must precede visibility is done.
// Functions named xxxLocked expect adminMu held. What may wait for adminMu:
// other admin changes, a Metadata request that auto-creates a topic, and the
// first use of an internal topic (__consumer_offsets,
// __transaction_state), which creates it; each such request holds up only
// its own connection.
//
// Interleavings that matter:
//   - A create publishes only after the record is durable and every
//     partition is open: a reader sees the whole topic or none of it.
//   - A delete publishes the topic's removal right after its Deleting
//     marker is durable, then removes the directories with adminMu still
//     held, so a topic re-created under the same name (which needs adminMu)
//     cannot have its fresh directories removed by the old deletion. A
//     produce that loaded the old snapshot just before the removal may still
//     append to a log being deleted; the log answers ErrClosed, as before.
//   - createPartitions replaces the topic's partition list (an atomic
//     pointer of the topic, not of the registry) after the grown record is
//     durable.
type topicRegistry struct {
	snap    atomic.Pointer[topicSnapshot]
	adminMu sync.Mutex
	metrics *brokerMetrics
}

// topicSnapshot is one immutable version of the topic set. Nothing in it is
// modified after it is published; a change builds a new one.
type topicSnapshot struct {
	byName map[string]*topic
	byID   map[[16]byte]*topic
	sorted []*topic // by name
}

var emptyTopicSnapshot = &topicSnapshot{byName: map[string]*topic{}, byID: map[[16]byte]*topic{}}

func newTopicRegistry(m *brokerMetrics) *topicRegistry {
	r := &topicRegistry{metrics: m}
	r.snap.Store(emptyTopicSnapshot)
	return r
}

func (r *topicRegistry) get(name string) *topic { return r.snap.Load().byName[name] }

func (r *topicRegistry) getID(id [16]byte) *topic { return r.snap.Load().byID[id] }

func (r *topicRegistry) count() int { return len(r.snap.Load().sorted) }

// all returns the topics sorted by name. The slice is shared: callers must
// not modify it.
func (r *topicRegistry) all() []*topic { return r.snap.Load().sorted }

// publishLocked replaces the snapshot with one where the topics of add are
// added (or replace a topic of the same name) and those of remove are gone,
// with one atomic store. Expects adminMu held. A topic added gets its
// metrics first; a removed one loses them.
func (r *topicRegistry) publishLocked(add, remove []*topic) {
	old := r.snap.Load()
	next := &topicSnapshot{
		byName: make(map[string]*topic, len(old.byName)+len(add)),
		byID:   make(map[[16]byte]*topic, len(old.byID)+len(add)),
	}
	gone := make(map[*topic]bool, len(remove)+len(add))
	for _, t := range remove {
		gone[t] = true
	}
	for _, t := range add {
		if prev := old.byName[t.name]; prev != nil {
			gone[prev] = true
		}
	}
	for _, t := range old.sorted {
		if !gone[t] {
			next.byName[t.name] = t
			next.byID[t.id] = t
		}
	}
	for _, t := range add {
		t.metrics = r.metrics.forTopic(t.name)
		next.byName[t.name] = t
		next.byID[t.id] = t
	}
	next.sorted = make([]*topic, 0, len(next.byName))
	for _, t := range next.byName {
		next.sorted = append(next.sorted, t)
	}
	sort.Slice(next.sorted, func(i, j int) bool { return next.sorted[i].name < next.sorted[j].name })
	r.snap.Store(next)
	for _, t := range remove {
		if next.byName[t.name] == nil {
			r.metrics.dropTopic(t.name)
		}
	}
}

// validTopicName reports whether name is a legal Kafka topic name.
func validTopicName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
