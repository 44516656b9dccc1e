package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/metadata"
	bolt "go.etcd.io/bbolt"
)

// entityConformance runs the entityStore contract against one store:
// puts, replaces, deletes first then puts, sorted lists, versions, limits,
// values copied, concurrent readers.
func entityConformance(t *testing.T, s entityStore) {
	t.Helper()
	ctx := context.Background()
	v0 := s.Version()
	buf := []byte("c1")
	if err := s.Apply(ctx, entityScram, []Entity{{Key: "SCRAM-SHA-256/bob", Value: buf}, {Key: "SCRAM-SHA-256/alice", Value: []byte("c2")}}, nil); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X' // the caller reuses its slice: the store copied it
	if got, ok := s.Get(entityScram, "SCRAM-SHA-256/bob"); !ok || string(got) != "c1" {
		t.Fatalf("get = %q %v", got, ok)
	}
	v1 := s.Version()
	if v1 <= v0 {
		t.Fatalf("version %d after %d", v1, v0)
	}
	if err := s.Apply(ctx, entityACL, []Entity{{Key: "b", Value: []byte("2")}, {Key: "a", Value: nil}}, nil); err != nil {
		t.Fatal(err)
	}
	// Deletes first, then puts; deleting a missing key is no error.
	if err := s.Apply(ctx, entityACL, []Entity{{Key: "a", Value: []byte("new")}}, []string{"a", "b", "missing"}); err != nil {
		t.Fatal(err)
	}
	if got := s.List(entityACL); len(got) != 1 || got[0].Key != "a" || string(got[0].Value) != "new" {
		t.Fatalf("acl = %v", got)
	}
	var scram []string // the keys written here (a cluster test may hold others)
	for _, e := range s.List(entityScram) {
		if strings.HasPrefix(e.Key, "SCRAM-SHA-256/") {
			scram = append(scram, e.Key)
		}
	}
	if !slices.Equal(scram, []string{"SCRAM-SHA-256/alice", "SCRAM-SHA-256/bob"}) {
		t.Fatalf("scram not sorted: %v", s.List(entityScram))
	}
	if _, ok := s.Get(entityQuota, "x"); ok || len(s.List(entityToken)) != 0 {
		t.Fatal("an empty kind has entities")
	}
	v2 := s.Version()
	if v2 <= v1 {
		t.Fatalf("version %d after %d", v2, v1)
	}
	if err := s.Apply(ctx, entityACL, nil, nil); err != nil || s.Version() != v2 {
		t.Fatalf("an empty change: %v, version %d -> %d", err, v2, s.Version())
	}
	if err := s.Apply(ctx, "Bad Kind", []Entity{{Key: "k"}}, nil); !errors.Is(err, metadata.ErrInvalidEntities) {
		t.Fatalf("bad kind: %v", err)
	}
	if err := s.Apply(ctx, entityToken, []Entity{{Key: "t", Value: make([]byte, metadata.MaxEntityValueBytes+1)}}, nil); !errors.Is(err, metadata.ErrInvalidEntities) {
		t.Fatalf("huge value: %v", err)
	}
	if s.Version() != v2 {
		t.Fatal("a refused change moved the version")
	}
	// Readers while writers apply (-race).
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				if err := s.Apply(ctx, entityQuota, []Entity{{Key: fmt.Sprintf("w%d-%d", w, i), Value: []byte{byte(i)}}}, nil); err != nil {
					t.Error(err)
					return
				}
				_ = s.List(entityQuota)
			}
		}()
	}
	wg.Wait()
	if got := s.List(entityQuota); len(got) != 20 {
		t.Fatalf("%d quotas, want 20", len(got))
	}
}

func TestMemEntities(t *testing.T) { entityConformance(t, newMemEntities()) }

// TestEntitiesSurviveRestart: a single node's entities are in the bbolt
// store: a reopened broker serves them (loaded at start) and the store's
// format moved to 2.
func TestEntitiesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b := diskBroker(t, dir)
	if _, ok := b.entities.(*memEntities); !ok {
		t.Fatalf("single node store is %T", b.entities)
	}
	entityConformance(t, b.entities)
	want := map[string][]Entity{}
	for _, k := range []string{entityScram, entityACL, entityQuota, entityToken} {
		want[k] = slices.Clone(b.entities.List(k))
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b = diskBroker(t, dir)
	defer b.Close(context.Background())
	for k, w := range want {
		got := b.entities.List(k)
		if !slices.EqualFunc(got, w, func(a, b Entity) bool { return a.Key == b.Key && bytes.Equal(a.Value, b.Value) }) {
			t.Fatalf("%s after restart: %v, want %v", k, got, w)
		}
	}
	if b.entities.Version() == 0 {
		t.Fatal("version 0 with entities loaded")
	}
	// A change after the restart is durable too.
	if err := b.entities.Apply(context.Background(), entityACL, nil, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(dir+"/meta.db", 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyFormat); !bytes.Equal(v, []byte{metaFormatEntities}) {
			t.Errorf("format %v, want 2", v)
		}
		if v := tx.Bucket(bucketEntities).Get(entityDBKey(entityScram, "SCRAM-SHA-256/bob")); string(v) != "c1" {
			t.Errorf("raw scram value %q", v)
		}
		if v := tx.Bucket(bucketEntities).Get(entityDBKey(entityACL, "a")); v != nil {
			t.Errorf("deleted acl still stored: %q", v)
		}
		return nil
	})
}

// TestEntitiesFormat1Store: a store written before entities (format 1)
// opens, has none, and moves to format 2 at the first change only.
func TestEntitiesFormat1Store(t *testing.T) {
	dir := t.TempDir()
	st, err := openBoltStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	es, err := st.entities()
	if err != nil {
		t.Fatal(err)
	}
	if es.Version() != 0 || len(es.List(entityACL)) != 0 {
		t.Fatal("a new store has entities")
	}
	format := func() byte {
		var f byte
		_ = st.db.View(func(tx *bolt.Tx) error { f = tx.Bucket(bucketMeta).Get(keyFormat)[0]; return nil })
		return f
	}
	if f := format(); f != metaFormatVersion {
		t.Fatalf("format %d before any entity", f)
	}
	if err := es.Apply(context.Background(), entityACL, []Entity{{Key: "k", Value: []byte("v")}}, nil); err != nil {
		t.Fatal(err)
	}
	if f := format(); f != metaFormatEntities {
		t.Fatalf("format %d after an entity", f)
	}
	// A key without the kind separator is corruption, reported at load.
	_ = st.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEntities).Put([]byte("nokind"), []byte("v")) })
	if _, err := st.entities(); !errors.Is(err, errMetaCorrupt) {
		t.Fatalf("corrupt key: %v", err)
	}
	st.close()
}

// TestEntitiesMemoryMode: --memory keeps them in memory only.
func TestEntitiesMemoryMode(t *testing.T) {
	cfg := config.Default()
	cfg.Memory = true
	b, err := New(cfg, WithLogger(clusterLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	m, ok := b.entities.(*memEntities)
	if !ok || m.store != nil {
		t.Fatalf("memory mode store %T", b.entities)
	}
}
