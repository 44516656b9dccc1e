package broker

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/moldau/moldau/broker/metadata"
)

// Entity kinds: the security state issue 16 adds, kept as small keyed values.
// The kind names are part of the on-disk and metadata-log formats.
const (
	entityScram = "scram" // key "<mechanism>/<user>": a SCRAM credential (sasl)
	entityACL   = "acl"   // key: one ACL binding's canonical form (authorizer)
	entityQuota = "quota" // key: a client-quota entity (quotas)
	entityToken = "token" // key: a delegation token id (delegation tokens)

	// Issue 17's dynamic configs and features.
	entityBrokerConfig  = "brokercfg"     // key: a broker id, or "" for the cluster-wide default: its dynamic BROKER configs
	entityGroupConfig   = "groupcfg"      // key: a group id: its GROUP configs
	entityClientMetrics = "clientmetrics" // key: a client-metrics resource name: its subscription configs (KIP-714)
	entityFeature       = "feature"       // key: a feature name (metadata.version, share.version, ...): its finalized level
)

// Entity is one keyed value of a kind. Value is opaque to the store (each
// feature encodes its own, with a version byte, in FORMAT.md). It is the
// metadata package's type, so that a cluster's entities are served from the
// metadata view without a copy.
type Entity = metadata.Entity

// entityStore keeps the cluster's security entities: SCRAM credentials,
// ACLs, client quotas and delegation tokens.
//
// Contract:
//   - Apply writes puts and deletes of one kind as one change, all or none,
//     durable (and, in a cluster, committed to the metadata Raft log) when it
//     returns nil; the deletes are applied first, then the puts (a key in
//     both is put; a key put twice takes the last value); a put replaces the
//     value under the same key; deleting a missing key is not an error; a
//     change with neither puts nor deletes does nothing. After a nil
//     return, Get/List on this broker see the change (read your writes);
//     other brokers see it once they apply the metadata log. Apply copies
//     the values: the caller may reuse its slices.
//   - Apply blocks: on a single node for one fsync'd bbolt commit; in a
//     cluster until the change is committed and applied here (the metadata
//     group needs a leader; ctx and a 30 s limit bound the wait). A change
//     that breaks metadata's limits (kind name, key 16 KiB, value 1 MiB, 8
//     MiB for the whole change) fails with an error wrapping
//     metadata.ErrInvalidEntities. An error other than that may leave the
//     change applied or not (a timeout after the proposal was forwarded).
//   - Get/List never block on I/O; List returns entities sorted by key; the
//     returned slices (and values) are shared and must not be modified.
//   - Version increases whenever any entity of any kind changes on this
//     broker, so caches (the authorizer's ACL index, the quota table) rebuild
//     when it moves. It never decreases; 0 means no entity was ever seen
//     (the store is empty).
//   - Safe for concurrent use.
//
// Implementations: memEntities (a single node: in memory, and written to
// the metadata bbolt store unless --memory; metastore.go and FORMAT.md) and
// raftEntities (a cluster: the metadata view, record 16 of
// broker/metadata).
type entityStore interface {
	Apply(ctx context.Context, kind string, put []Entity, del []string) error
	Get(kind, key string) ([]byte, bool)
	List(kind string) []Entity
	Version() uint64
}

// entityWriter persists one change (boltStore.writeEntities): durable on
// a nil return.
type entityWriter interface {
	writeEntities(kind string, put []Entity, del []string) error
}

// memEntities is the entityStore of a single node: the entities in memory
// (an immutable metadata.Entities behind an atomic pointer: Get and List
// take no lock), each change first written through store (nil in --memory
// mode and tests: nothing survives the process).
//
// Locking: mu serialises Apply, so the store sees the changes in the order
// the memory does; readers load set.
type memEntities struct {
	mu      sync.Mutex
	store   entityWriter
	set     atomic.Pointer[metadata.Entities]
	version atomic.Uint64
}

func newMemEntities() *memEntities { return &memEntities{} }

// newStoredEntities returns the entities loaded from a store (loaded: the
// set read at start), writing every change through it.
func newStoredEntities(store entityWriter, loaded *metadata.Entities) *memEntities {
	m := &memEntities{store: store}
	m.set.Store(loaded)
	if loaded.Len() > 0 {
		m.version.Store(1)
	}
	return m
}

func (m *memEntities) Apply(ctx context.Context, kind string, put []Entity, del []string) error {
	if len(put) == 0 && len(del) == 0 {
		return nil
	}
	if err := metadata.ValidateEntityChange(kind, put, del); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.store != nil {
		if err := m.store.writeEntities(kind, put, del); err != nil {
			return err
		}
	}
	m.set.Store(m.set.Load().With(kind, put, del))
	m.version.Add(1)
	return nil
}

func (m *memEntities) Get(kind, key string) ([]byte, bool) { return m.set.Load().Get(kind, key) }

func (m *memEntities) List(kind string) []Entity { return m.set.Load().List(kind) }

func (m *memEntities) Version() uint64 { return m.version.Load() }
