package broker

// The entity store of a cluster (entities.go's contract): SCRAM credentials,
// ACLs, quotas and delegation tokens live in the metadata state (record 16,
// broker/metadata/entities.go), so every broker serves them from its own
// metadata view and a restarted broker gets them back by replaying the
// metadata log, like topics.

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/moldau/moldau/broker/metadata"
)

// maxEntityChangeBytes bounds one encoded PutEntities record: it is one
// Raft entry of the metadata log, sent whole to every voter.
const maxEntityChangeBytes = 8 << 20

// raftEntities reads the metadata view and writes through the metadata
// group (raftCluster.propose: forwarded to the controller, as every admin
// change). It holds no state of its own.
type raftEntities struct{ c *raftCluster }

func (r raftEntities) Get(kind, key string) ([]byte, bool) {
	return r.c.view().Entities().Get(kind, key)
}

func (r raftEntities) List(kind string) []Entity { return r.c.view().Entities().List(kind) }

// Version is the metadata index of the last entity change this broker
// applied: it moves with every change and never goes back while the
// process runs (a restored metadata snapshot only moves it forward).
func (r raftEntities) Version() uint64 { return r.c.view().EntitiesChanged() }

// Apply commits the change as one PutEntities record with a fresh id and
// waits until this broker has applied it. A proposal forwarded again after
// a leader change carries the same id, so a second copy that commits later
// is refused by every replica instead of undoing a newer change.
func (r raftEntities) Apply(ctx context.Context, kind string, put []Entity, del []string) error {
	if len(put) == 0 && len(del) == 0 {
		return nil
	}
	if err := metadata.ValidateEntityChange(kind, put, del); err != nil {
		return err
	}
	rec := metadata.PutEntities{Kind: kind, Puts: put, Deletes: del}
	if _, err := rand.Read(rec.ID[:]); err != nil {
		return err
	}
	rec.ID[0] |= 1 // never the zero id
	if b, err := metadata.Encode(rec); err != nil {
		return err
	} else if len(b) > maxEntityChangeBytes {
		return fmt.Errorf("%w: the change encodes to %d bytes (limit %d): split it", metadata.ErrInvalidEntities, len(b), maxEntityChangeBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	stop := context.AfterFunc(r.c.ctx, cancel)
	defer stop()
	return r.c.propose(ctx, func(*metadata.View) (metadata.Record, error) {
		return rec, nil
	}, func(v *metadata.View) (bool, error) {
		return v.EntityChangeApplied(rec.ID), nil
	})
}
