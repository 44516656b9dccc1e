package broker

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Entity kinds: the security state issue 16 adds, kept as small keyed values.
// The kind names are part of the on-disk and metadata-log formats.
const (
	entityScram = "scram" // key "<mechanism>/<user>": a SCRAM credential (sasl)
	entityACL   = "acl"   // key: one ACL binding's canonical form (authorizer)
	entityQuota = "quota" // key: a client-quota entity (quotas)
	entityToken = "token" // key: a delegation token id (delegation tokens)
)

// Entity is one keyed value of a kind. Value is opaque to the store (each
// feature encodes its own, with a version byte, in FORMAT.md).
type Entity struct {
	Key   string
	Value []byte
}

// entityStore keeps the cluster's security entities: SCRAM credentials,
// ACLs, client quotas and delegation tokens.
//
// Contract:
//   - Apply writes puts and deletes of one kind as one change, all or none,
//     durable (and, in a cluster, committed to the metadata Raft log) when it
//     returns nil; a put replaces the value under the same key; deleting a
//     missing key is not an error. After a nil return, Get/List on this
//     broker see the change (read your writes); other brokers see it once
//     they apply the metadata log.
//   - Get/List never block on I/O; List returns entities sorted by key; the
//     returned slices must not be modified.
//   - Version increases whenever any entity of any kind changes on this
//     broker, so caches (the authorizer's ACL index, the quota table) rebuild
//     when it moves. It never decreases.
//   - Safe for concurrent use.
type entityStore interface {
	Apply(ctx context.Context, kind string, put []Entity, del []string) error
	Get(kind, key string) ([]byte, bool)
	List(kind string) []Entity
	Version() uint64
}

// memEntities is an entityStore in memory: for --memory brokers and tests.
type memEntities struct {
	mu      sync.RWMutex
	kinds   map[string]map[string][]byte
	version uint64
}

func newMemEntities() *memEntities { return &memEntities{kinds: make(map[string]map[string][]byte)} }

func (m *memEntities) Apply(_ context.Context, kind string, put []Entity, del []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.kinds[kind]
	if k == nil {
		k = make(map[string][]byte)
		m.kinds[kind] = k
	}
	for _, key := range del {
		delete(k, key)
	}
	for _, e := range put {
		k[e.Key] = slices.Clone(e.Value)
	}
	m.version++
	return nil
}

func (m *memEntities) Get(kind, key string) ([]byte, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.kinds[kind][key]
	return v, ok
}

func (m *memEntities) List(kind string) []Entity {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Entity, 0, len(m.kinds[kind]))
	for key, v := range m.kinds[kind] {
		out = append(out, Entity{Key: key, Value: v})
	}
	slices.SortFunc(out, func(a, b Entity) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (m *memEntities) Version() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.version
}
