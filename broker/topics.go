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
// without locks; the admin paths replace them under topicRegistry.mu.
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

// topicRegistry is the broker's metadata cache of topics. mu guards the maps
// and serialises admin changes (create, delete, add partitions, configs).
type topicRegistry struct {
	mu      sync.RWMutex
	byName  map[string]*topic
	byID    map[[16]byte]*topic
	metrics *brokerMetrics
}

func newTopicRegistry(m *brokerMetrics) *topicRegistry {
	return &topicRegistry{byName: make(map[string]*topic), byID: make(map[[16]byte]*topic), metrics: m}
}

func (r *topicRegistry) get(name string) *topic {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byName[name]
}

func (r *topicRegistry) getID(id [16]byte) *topic {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byID[id]
}

func (r *topicRegistry) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byName)
}

// all returns the topics sorted by name.
func (r *topicRegistry) all() []*topic {
	r.mu.RLock()
	out := make([]*topic, 0, len(r.byName))
	for _, t := range r.byName {
		out = append(out, t)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// addLocked/removeLocked expect mu held for writing; add takes it.
func (r *topicRegistry) add(t *topic) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(t)
}

func (r *topicRegistry) addLocked(t *topic) {
	t.metrics = r.metrics.forTopic(t.name)
	r.byName[t.name] = t
	r.byID[t.id] = t
}

func (r *topicRegistry) removeLocked(t *topic) {
	delete(r.byName, t.name)
	delete(r.byID, t.id)
	r.metrics.dropTopic(t.name)
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
