package broker

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/moldau/moldau/broker/metadata"
	bolt "go.etcd.io/bbolt"
)

// metaStore keeps the broker's local metadata: topics, the cluster id and the
// producer id allocator. Every method is durable on return (bbolt commits
// with fsync). The on-disk layout is in FORMAT.md beside this file.
type metaStore interface {
	loadTopics() ([]topicRecord, error)
	putTopic(topicRecord) error
	deleteTopic(id [16]byte) error
	// reserveProducerIDs durably reserves n producer ids and returns the
	// first; ids are never handed out twice, even across crashes.
	reserveProducerIDs(n int64) (int64, error)
	clusterID() string
	// entities returns the single-node entity store (entities.go): loaded
	// from the store at this call, every change written through it.
	entities() (entityStore, error)
	close() error
}

// topicRecord is one topic as persisted.
type topicRecord struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
	// Deleting marks a topic whose directories are being removed; it is
	// finished on start-up if the broker stopped half way.
	Deleting bool `json:"deleting,omitempty"`
}

const topicRecordVersion byte = 1

var errMetaCorrupt = errors.New("broker: corrupt metadata record")

func encodeTopicRecord(t topicRecord) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return append([]byte{topicRecordVersion}, b...), nil
}

func decodeTopicRecord(b []byte) (topicRecord, error) {
	var t topicRecord
	if len(b) < 1 || b[0] != topicRecordVersion {
		return t, fmt.Errorf("%w: unknown topic record version", errMetaCorrupt)
	}
	if err := json.Unmarshal(b[1:], &t); err != nil {
		return t, fmt.Errorf("%w: %v", errMetaCorrupt, err)
	}
	return t, nil
}

var (
	bucketTopics   = []byte("topics")
	bucketMeta     = []byte("meta")
	bucketEntities = []byte("entities") // format 2: "<kind>\x00<key>" -> value
	keyFormat      = []byte("format")
	keyCluster     = []byte("cluster_id")
	keyNextPID     = []byte("next_producer_id")
)

// metaFormatVersion is the format of a store that never held an entity;
// the first entity written moves it to metaFormatEntities, which a binary
// from before entities refuses to open (rather than run without the ACLs
// and credentials it cannot see). FORMAT.md.
const (
	metaFormatVersion  byte = 1
	metaFormatEntities byte = 2
)

type boltStore struct {
	db      *bolt.DB
	cluster string
}

func openBoltStore(dir string) (*boltStore, error) {
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o644, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("broker: open metadata: %w", err)
	}
	s := &boltStore{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketTopics); err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := m.Get(keyFormat); v == nil {
			if err := m.Put(keyFormat, []byte{metaFormatVersion}); err != nil {
				return err
			}
		} else if len(v) != 1 || (v[0] != metaFormatVersion && v[0] != metaFormatEntities) {
			return fmt.Errorf("%w: metadata format %v not supported", errMetaCorrupt, v)
		}
		if v := m.Get(keyCluster); v != nil {
			s.cluster = string(v)
			return nil
		}
		s.cluster = newClusterID()
		return m.Put(keyCluster, []byte(s.cluster))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("broker: init metadata: %w", err)
	}
	return s, nil
}

func (s *boltStore) loadTopics() ([]topicRecord, error) {
	var out []topicRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).ForEach(func(k, v []byte) error {
			t, err := decodeTopicRecord(v)
			if err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

func (s *boltStore) putTopic(t topicRecord) error {
	v, err := encodeTopicRecord(t)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).Put(t.ID[:], v)
	})
}

func (s *boltStore) deleteTopic(id [16]byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTopics).Delete(id[:])
	})
}

func (s *boltStore) reserveProducerIDs(n int64) (int64, error) {
	var first int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if v := m.Get(keyNextPID); len(v) == 8 {
			first = int64(binary.BigEndian.Uint64(v))
		}
		return m.Put(keyNextPID, binary.BigEndian.AppendUint64(nil, uint64(first+n)))
	})
	return first, err
}

func (s *boltStore) clusterID() string { return s.cluster }
func (s *boltStore) close() error      { return s.db.Close() }

// entityDBKey is an entity's key in the entities bucket: the kind (no NUL:
// metadata.ValidateEntityKind), a NUL, the key.
func entityDBKey(kind, key string) []byte {
	b := make([]byte, 0, len(kind)+1+len(key))
	b = append(b, kind...)
	b = append(b, 0)
	return append(b, key...)
}

func (s *boltStore) entities() (entityStore, error) {
	var set *metadata.Entities
	err := s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketEntities)
		if bk == nil {
			return nil
		}
		// Keys come sorted, so one kind's entities are consecutive.
		var kind string
		var batch []Entity
		flush := func() {
			if len(batch) > 0 {
				set = set.With(kind, batch, nil)
			}
			batch = nil
		}
		err := bk.ForEach(func(k, v []byte) error {
			i := bytes.IndexByte(k, 0)
			if i < 0 || metadata.ValidateEntityKind(string(k[:i])) != nil {
				return fmt.Errorf("%w: entity key %q", errMetaCorrupt, k)
			}
			if string(k[:i]) != kind {
				flush()
				kind = string(k[:i])
			}
			batch = append(batch, Entity{Key: string(k[i+1:]), Value: v}) // With copies v
			return nil
		})
		flush()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("broker: load entities: %w", err)
	}
	return newStoredEntities(s, set), nil
}

// writeEntities writes one change in one transaction (fsync'd on commit):
// deletes, then puts; the first one moves the format to 2.
func (s *boltStore) writeEntities(kind string, put []Entity, del []string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if v := m.Get(keyFormat); len(v) != 1 || v[0] != metaFormatEntities {
			if err := m.Put(keyFormat, []byte{metaFormatEntities}); err != nil {
				return err
			}
		}
		bk, err := tx.CreateBucketIfNotExists(bucketEntities)
		if err != nil {
			return err
		}
		for _, key := range del {
			if err := bk.Delete(entityDBKey(kind, key)); err != nil {
				return err
			}
		}
		for _, e := range put {
			if err := bk.Put(entityDBKey(kind, e.Key), e.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: write entities: %w", err)
	}
	return nil
}

// memStore is the metaStore of --memory mode: nothing survives the process.
type memStore struct {
	mu      sync.Mutex
	topics  map[[16]byte]topicRecord
	nextPID int64
	cluster string
}

func newMemStore() *memStore {
	return &memStore{topics: make(map[[16]byte]topicRecord), cluster: newClusterID()}
}

func (s *memStore) loadTopics() ([]topicRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]topicRecord, 0, len(s.topics))
	for _, t := range s.topics {
		out = append(out, t)
	}
	return out, nil
}

func (s *memStore) putTopic(t topicRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topics[t.ID] = t
	return nil
}

func (s *memStore) deleteTopic(id [16]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.topics, id)
	return nil
}

func (s *memStore) reserveProducerIDs(n int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.nextPID
	s.nextPID += n
	return first, nil
}

func (s *memStore) clusterID() string              { return s.cluster }
func (s *memStore) entities() (entityStore, error) { return newMemEntities(), nil }
func (s *memStore) close() error                   { return nil }

// newClusterID returns a Kafka-style cluster id: 16 random bytes in URL-safe
// base64 without padding.
func newClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newTopicID returns a random, non-zero topic id (a v4 UUID, as Kafka uses).
func newTopicID() [16]byte {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:])
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if id != ([16]byte{}) {
			return id
		}
	}
}
