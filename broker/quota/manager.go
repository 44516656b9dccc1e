package quota

import (
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a quota the broker enforces per (user, client-id).
type Kind uint8

const (
	Produce            Kind = iota // producer_byte_rate: bytes of produce requests
	Fetch                          // consumer_byte_rate: bytes of fetch responses
	Request                        // request_percentage: handler time, % of one thread
	ControllerMutation             // controller_mutation_rate: partition mutations/s (token bucket)
	numKinds
)

var kindKeys = [numKinds]string{KeyProducerByteRate, KeyConsumerByteRate, KeyRequestPercentage, KeyControllerMutationRate}

// Key is the quota key of k.
func (k Kind) Key() string { return kindKeys[k] }

// Stored is one entity's quotas as kept in the entity store.
type Stored struct {
	Entity Entity
	Values []Value
}

// slot is one side of a (user, client-id) entity: absent, the default, or a
// name.
type slot struct {
	kind uint8 // slotAbsent, slotDefault, slotNamed
	name string
}

const (
	slotAbsent uint8 = iota
	slotDefault
	slotNamed
)

type pairKey struct{ user, client slot }

type kindValues struct {
	set uint8 // bit k: kind k is set
	v   [numKinds]float64
}

// Table is an immutable snapshot of every configured quota, built from the
// entity store, that resolves the quota applying to a client.
type Table struct {
	pairs   map[pairKey]kindValues
	ips     map[slot]float64 // connection_creation_rate
	enabled [numKinds]bool
	// levelsSet[k] bit i: some entity of levels[i]'s shape sets kind k, so
	// Resolve looks up only the levels that can match.
	levelsSet [numKinds]uint8
}

// NewTable indexes stored quotas. Entities that are not valid user/client-id
// or ip entities are skipped.
func NewTable(entries []Stored) *Table {
	t := &Table{pairs: map[pairKey]kindValues{}, ips: map[slot]float64{}}
	toSlot := func(c Component, ok bool) slot {
		switch {
		case !ok:
			return slot{}
		case c.Name == nil:
			return slot{kind: slotDefault}
		default:
			return slot{kind: slotNamed, name: *c.Name}
		}
	}
	for _, s := range entries {
		if ValidateEntity(s.Entity) != nil {
			continue
		}
		if ip, ok := s.Entity.Get(TypeIP); ok {
			for _, v := range s.Values {
				if v.Key == KeyConnectionCreationRate {
					t.ips[toSlot(ip, true)] = v.Value
				}
			}
			continue
		}
		u, uok := s.Entity.Get(TypeUser)
		c, cok := s.Entity.Get(TypeClientID)
		pk := pairKey{toSlot(u, uok), toSlot(c, cok)}
		kv := t.pairs[pk]
		for _, v := range s.Values {
			for k := range numKinds {
				if kindKeys[k] == v.Key {
					kv.set |= 1 << k
					kv.v[k] = v.Value
					t.enabled[k] = true
					for i, l := range levels {
						if l.user == pk.user.kind && l.client == pk.client.kind {
							t.levelsSet[k] |= 1 << i
						}
					}
				}
			}
		}
		t.pairs[pk] = kv
	}
	return t
}

// level is one step of KIP-55's precedence: which user and client-id slots
// to look up, and whether the sensor (the quota's sharing) is per user and
// per client-id.
type level struct {
	user, client       uint8
	perUser, perClient bool
}

// levels is KIP-55's order, most specific first:
// /users/<u>/clients/<c>, /users/<u>/clients/<default>, /users/<u>,
// /users/<default>/clients/<c>, /users/<default>/clients/<default>,
// /users/<default>, /clients/<c>, /clients/<default>.
var levels = [8]level{
	{slotNamed, slotNamed, true, true},
	{slotNamed, slotDefault, true, true},
	{slotNamed, slotAbsent, true, false},
	{slotDefault, slotNamed, true, true},
	{slotDefault, slotDefault, true, true},
	{slotDefault, slotAbsent, true, false},
	{slotAbsent, slotNamed, false, true},
	{slotAbsent, slotDefault, false, true},
}

func mkSlot(kind uint8, name string) slot {
	if kind != slotNamed {
		name = ""
	}
	return slot{kind: kind, name: name}
}

// Resolve returns the quota of kind k applying to (user, clientID) and the
// sensor key under which its usage is counted (Kafka's quota metric tags: a
// quota set on a user alone is shared by all its client ids).
func (t *Table) Resolve(k Kind, user, clientID string) (bound float64, key SensorKey, ok bool) {
	if t == nil || !t.enabled[k] {
		return 0, SensorKey{}, false
	}
	set := t.levelsSet[k]
	for i, l := range levels {
		if set&(1<<i) == 0 {
			continue
		}
		kv, found := t.pairs[pairKey{mkSlot(l.user, user), mkSlot(l.client, clientID)}]
		if !found || kv.set&(1<<k) == 0 {
			continue
		}
		key = SensorKey{Kind: k}
		if l.perUser {
			key.User = user
		}
		if l.perClient {
			key.ClientID = clientID
		}
		return kv.v[k], key, true
	}
	return 0, SensorKey{}, false
}

// IPRate is the connection_creation_rate of ip: its own, else the default
// ip entity's.
func (t *Table) IPRate(ip net.IP) (float64, bool) {
	if t == nil || len(t.ips) == 0 {
		return 0, false
	}
	if r, ok := t.ips[slot{kind: slotNamed, name: ip.String()}]; ok {
		return r, true
	}
	r, ok := t.ips[slot{kind: slotDefault}]
	return r, ok
}

// Enabled reports whether any quota of kind k is set.
func (t *Table) Enabled(k Kind) bool { return t != nil && t.enabled[k] }

// SensorKey names the usage a quota is measured on.
type SensorKey struct {
	Kind     Kind
	User     string
	ClientID string
}

type sensor struct {
	mu       sync.Mutex
	rate     *Rate        // byte rates and request time
	bucket   *TokenBucket // controller_mutation_rate
	lastUsed int64        // ms
}

// sensorExpiry is how long an idle sensor is kept (Kafka's
// InactiveSensorExpirationTimeSeconds).
const sensorExpiry = time.Hour

// Manager records clients' usage against the current Table and computes
// throttle times, as Kafka's ClientQuotaManager and ClientRequestQuotaManager.
//
// Locking: table is swapped atomically; mu guards the sensors map (read
// locked to find a sensor); each sensor's own mu guards its rate. With no
// quota of a kind configured, Record returns after one atomic load.
type Manager struct {
	window     Window
	ctrlWindow Window // controller.quota.window.*: the mutation buckets' burst
	table      atomic.Pointer[Table]

	mu      sync.RWMutex
	sensors map[SensorKey]*sensor
}

// NewManager returns a manager with an empty table.
func NewManager(w Window) *Manager {
	m := &Manager{window: w.normalized(), ctrlWindow: DefaultWindow, sensors: map[SensorKey]*sensor{}}
	m.table.Store(NewTable(nil))
	return m
}

// SetControllerWindow sets the window of controller_mutation_rate's token
// buckets (controller.quota.window.num and .size.seconds; default 11 x 1 s).
// Call it before use.
func (m *Manager) SetControllerWindow(w Window) { m.ctrlWindow = w.normalized() }

// Window is the manager's sample window.
func (m *Manager) Window() Window { return m.window }

// SetTable installs a new snapshot of the configured quotas.
func (m *Manager) SetTable(t *Table) { m.table.Store(t) }

// Table is the current snapshot.
func (m *Manager) Table() *Table { return m.table.Load() }

// Enabled reports whether a quota of kind k is configured (one atomic load).
func (m *Manager) Enabled(k Kind) bool { return m.table.Load().Enabled(k) }

func (m *Manager) sensor(key SensorKey, nowMs int64) *sensor {
	m.mu.RLock()
	s := m.sensors[key]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.sensors[key]; s == nil {
		s = &sensor{lastUsed: nowMs}
		if key.Kind == ControllerMutation {
			s.bucket = NewTokenBucket(m.ctrlWindow)
		} else {
			s.rate = NewRate(m.window)
		}
		m.sensors[key] = s
	}
	return s
}

// Record adds value (bytes, or request-time percentage for Request) for
// (user, clientID) at now and returns the throttle time: zero within the
// quota or with none set. Request throttles are capped at one sample window
// (Kafka's boundedThrottleTime); byte-rate throttles are not.
func (m *Manager) Record(k Kind, user, clientID string, value float64, now time.Time) time.Duration {
	t := m.table.Load()
	if !t.Enabled(k) || k == ControllerMutation { // mutations: RecordMutations
		return 0
	}
	bound, key, ok := t.Resolve(k, user, clientID)
	if !ok {
		return 0
	}
	nowMs := now.UnixMilli()
	s := m.sensor(key, nowMs)
	var maxThrottle time.Duration
	if k == Request {
		maxThrottle = m.window.Size
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUsed = nowMs
	return s.rate.RecordAndThrottle(value, bound, nowMs, maxThrottle)
}

// RecordMutations applies controller_mutation_rate to n partition
// mutations of (user, clientID) (Kafka's ControllerMutationQuota). Strict
// (the request versions that know THROTTLING_QUOTA_EXCEEDED): while the
// bucket is in debt the mutations are refused (ok false) and throttle is
// the time until it is out of debt; otherwise they are debited, even into
// debt, without a throttle. Permissive (older versions): always debited, and
// throttle is the resulting debt's time. No quota: ok, no throttle.
func (m *Manager) RecordMutations(user, clientID string, n float64, strict bool, now time.Time) (ok bool, throttle time.Duration) {
	t := m.table.Load()
	if !t.Enabled(ControllerMutation) {
		return true, 0
	}
	rate, key, found := t.Resolve(ControllerMutation, user, clientID)
	if !found {
		return true, 0
	}
	nowMs := now.UnixMilli()
	s := m.sensor(key, nowMs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUsed = nowMs
	if strict {
		if d := s.bucket.Debt(rate, nowMs); d > 0 {
			return false, d
		}
		s.bucket.Record(n, rate, nowMs)
		return true, 0
	}
	s.bucket.Record(n, rate, nowMs)
	return true, s.bucket.Debt(rate, nowMs)
}

// Unrecord takes value back (Kafka's unrecordQuotaSensor: a throttled fetch
// returns no data, so its bytes do not count).
func (m *Manager) Unrecord(k Kind, user, clientID string, value float64, now time.Time) {
	_, key, ok := m.table.Load().Resolve(k, user, clientID)
	if !ok || k == ControllerMutation {
		return
	}
	s := m.sensor(key, now.UnixMilli())
	s.mu.Lock()
	s.rate.Record(-value, now.UnixMilli())
	s.mu.Unlock()
}

// MaxValueInWindow is the most that one request may record without being
// throttled even with nothing else in the window: the quota times
// (samples-1) windows (Kafka's getMaxValueInQuotaWindow, which caps a fetch's
// max bytes). +Inf without a quota.
func (m *Manager) MaxValueInWindow(k Kind, user, clientID string) float64 {
	bound, _, ok := m.table.Load().Resolve(k, user, clientID)
	if !ok {
		return math.Inf(1)
	}
	return bound * float64(m.window.Samples-1) * m.window.Size.Seconds()
}

// Expire drops sensors idle for an hour.
func (m *Manager) Expire(now time.Time) {
	cut := now.Add(-sensorExpiry).UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.sensors {
		s.mu.Lock()
		idle := s.lastUsed < cut
		s.mu.Unlock()
		if idle {
			delete(m.sensors, k)
		}
	}
}

// RequestPercentage converts handler time to request_percentage units
// (Kafka's nanosToPercentage: 100% is one thread busy for the whole second).
func RequestPercentage(d time.Duration) float64 { return float64(d.Nanoseconds()) * 100 / 1e9 }

// UserOf is the quota user of a principal: "User:alice" -> "alice" (Kafka's
// session user is the principal's name).
func UserOf(principal string) string {
	for i := 0; i < len(principal); i++ {
		if principal[i] == ':' {
			return principal[i+1:]
		}
	}
	return principal
}
