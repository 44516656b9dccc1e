package telemetry

import (
	"slices"
	"strings"
	"sync"
)

// Series is one exposed client series, as Snapshot returns it.
type Series struct {
	Name     string // Prometheus name (PromName)
	Kind     Kind
	ClientID string
	Instance string  // the client instance id (UUIDString)
	Labels   []Label // the sample's attributes, sorted
	Value    float64
}

// StoreStats are the store's counters, for the broker's own metrics.
type StoreStats struct {
	Clients, Series int
	EvictedClients  uint64 // dropped to stay under the total cap
	ExpiredClients  uint64 // no push for 3 push intervals
	DroppedSamples  uint64 // over the per-client cap, a kind conflict, unselected
}

type storedSeries struct {
	name   string
	kind   Kind
	labels []Label
	value  float64
}

type clientState struct {
	clientID, instance string
	lastPush           int64 // ms
	intervalMs         int32
	series             map[string]*storedSeries // key: name and labels
}

type family struct {
	kind Kind
	refs int
}

// Store keeps the latest values each client instance pushed, bounded:
// at most maxPerClient series per instance (new series beyond are dropped),
// at most maxTotal in all (the instances pushed least recently are dropped
// whole), and an instance not pushing for 3 of its push intervals expires.
// A Prometheus name keeps the kind it was first seen with while any series
// has it (a sample of another kind under that name is dropped), so one
// scrape never has a name as both gauge and counter.
//
// Locking: mu guards everything; Update and Snapshot take it.
type Store struct {
	mu                     sync.Mutex
	clients                map[[16]byte]*clientState
	families               map[string]*family
	total                  int
	maxPerClient, maxTotal int
	stats                  StoreStats
	lastSweep              int64 // ms: expiry runs at most once a second
}

// NewStore returns an empty store with the caps (<= 0: 1000 per client,
// 20000 in all).
func NewStore(maxPerClient, maxTotal int) *Store {
	if maxPerClient <= 0 {
		maxPerClient = 1000
	}
	if maxTotal <= 0 {
		maxTotal = 20000
	}
	return &Store{clients: map[[16]byte]*clientState{}, families: map[string]*family{},
		maxPerClient: maxPerClient, maxTotal: maxTotal}
}

func seriesKey(name string, ls []Label) string {
	var b strings.Builder
	b.WriteString(name)
	for _, l := range ls {
		b.WriteByte(0xff)
		b.WriteString(l.Name)
		b.WriteByte(0xfe)
		b.WriteString(l.Value)
	}
	return b.String()
}

// Update applies one push of the instance: samples not selected by the
// plan's metrics are dropped; gauges and cumulative values replace, deltas
// add. A terminating push removes the instance's series after applying
// nothing (the client is gone).
func (s *Store) Update(info ClientInfo, plan Plan, samples []Sample, terminating bool, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	if terminating {
		if c := s.clients[info.InstanceID]; c != nil {
			s.removeLocked(info.InstanceID, c)
		}
		return
	}
	c := s.clients[info.InstanceID]
	if c == nil {
		c = &clientState{clientID: info.ClientID, instance: UUIDString(info.InstanceID), series: map[string]*storedSeries{}}
		s.clients[info.InstanceID] = c
	}
	c.lastPush, c.intervalMs = now, plan.IntervalMs
	for i := range samples {
		sm := &samples[i]
		if !Selected(plan.Metrics, sm.Metric) {
			s.stats.DroppedSamples++
			continue
		}
		name := PromName(sm.Metric)
		key := seriesKey(name, sm.Labels)
		ser := c.series[key]
		if ser == nil {
			f := s.families[name]
			if (f != nil && f.kind != sm.Kind) || len(c.series) >= s.maxPerClient {
				s.stats.DroppedSamples++
				continue
			}
			if f == nil {
				f = &family{kind: sm.Kind}
				s.families[name] = f
			}
			f.refs++
			ser = &storedSeries{name: name, kind: sm.Kind, labels: slices.Clone(sm.Labels)}
			c.series[key] = ser
			s.total++
		}
		if sm.Delta {
			ser.value += sm.Value
		} else {
			ser.value = sm.Value
		}
	}
	for s.total > s.maxTotal && len(s.clients) > 1 {
		var oldest [16]byte
		var oc *clientState
		for id, cs := range s.clients {
			if id != info.InstanceID && (oc == nil || cs.lastPush < oc.lastPush) {
				oldest, oc = id, cs
			}
		}
		s.removeLocked(oldest, oc)
		s.stats.EvictedClients++
	}
}

func (s *Store) removeLocked(id [16]byte, c *clientState) {
	for _, ser := range c.series {
		if f := s.families[ser.name]; f != nil {
			if f.refs--; f.refs <= 0 {
				delete(s.families, ser.name)
			}
		}
	}
	s.total -= len(c.series)
	delete(s.clients, id)
}

func (s *Store) expireLocked(now int64) {
	if now-s.lastSweep < sweepEveryMs && now >= s.lastSweep {
		return
	}
	s.lastSweep = now
	for id, c := range s.clients {
		if now-c.lastPush > 3*int64(c.intervalMs) {
			s.removeLocked(id, c)
			s.stats.ExpiredClients++
		}
	}
}

// Snapshot expires what is due and returns every series (copies).
func (s *Store) Snapshot(now int64) []Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	out := make([]Series, 0, s.total)
	for _, c := range s.clients {
		for _, ser := range c.series {
			out = append(out, Series{Name: ser.name, Kind: ser.kind, ClientID: c.clientID, Instance: c.instance,
				Labels: ser.labels, Value: ser.value})
		}
	}
	return out
}

// Stats returns the store's counters.
func (s *Store) Stats() StoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Clients, st.Series = len(s.clients), s.total
	return st
}

// CountDropped adds n samples dropped before Update (at decoding) to the
// DroppedSamples counter.
func (s *Store) CountDropped(n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.stats.DroppedSamples += uint64(n)
	s.mu.Unlock()
}
