package broker

// AlterClientQuotas, key 49, versions 0–1.
//
//   - v0: per entity (user, client-id or ip components; a null name is the
//     type's default), ops that set a key to a value or remove it;
//     validate_only checks without storing.
//   - v1: flexible.
//
// Checked as Kafka's controller (ClientQuotaControlManager), each failure an
// INVALID_REQUEST for that entity with Kafka's message: an empty entity, an
// unknown or repeated type, an empty name, ip with user or client-id, an
// ip that is not an address, a key unknown for the entity
// (producer_byte_rate, consumer_byte_rate, request_percentage,
// controller_mutation_rate for users and client ids;
// connection_creation_rate for ips), a value not above zero, a fraction for
// an integral key, a key twice in one entry, an entity twice in one request.
// The valid entities' changes are stored in one entity-store Apply (an
// entity whose last quota is removed is deleted); the quota table is rebuilt
// at once. If the store refuses the change, every entity of it gets the
// error: INVALID_REQUEST when it breaks the store's limits (an entity name
// escaping to over 16 KiB), else the store's error.

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/metadata"
	"github.com/moldau/moldau/broker/quota"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleAlterClientQuotas(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AlterClientQuotasRequest)
	resp := r.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	q := b.quotas
	q.alterMu.Lock()
	defer q.alterMu.Unlock()

	var (
		puts []Entity
		dels []string
		done = map[string]bool{} // entity keys already in this request
	)
	// Results are filled in request order; ok[i] says entry i's change is
	// among puts/dels, to be failed together if the store refuses them.
	ok := make([]bool, len(r.Entries))
	for i := range r.Entries {
		in := &r.Entries[i]
		re := kmsg.NewAlterClientQuotasResponseEntry()
		ent := make(quota.Entity, 0, len(in.Entity))
		for _, c := range in.Entity {
			ent = append(ent, quota.Component{Type: c.Type, Name: c.Name})
			rc := kmsg.NewAlterClientQuotasResponseEntryEntity()
			rc.Type, rc.Name = c.Type, c.Name
			re.Entity = append(re.Entity, rc)
		}
		ent.Sort()
		put, del, err := b.alterOneQuota(ent, in.Ops, done)
		if err != nil {
			re.ErrorCode, re.ErrorMessage = quotaErrorCode(err), quotaErrorMessage(err)
		} else {
			ok[i] = true
			if put != nil {
				puts = append(puts, *put)
			}
			if del != "" {
				dels = append(dels, del)
			}
		}
		resp.Entries = append(resp.Entries, re)
	}
	if r.ValidateOnly || (len(puts) == 0 && len(dels) == 0) {
		return respond(resp)
	}
	if err := b.entities.Apply(ctx, entityQuota, puts, dels); err != nil {
		b.logger.Warn("storing client quotas failed", "err", err)
		code := errorCode(err)
		switch {
		case errors.Is(err, metadata.ErrInvalidEntities): // a name too long for the store
			code = kerr.InvalidRequest.Code
		case code == kerr.KafkaStorageError.Code:
			code = kerr.UnknownServerError.Code
		}
		for i := range resp.Entries {
			if ok[i] {
				resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = code, errMessage(err)
			}
		}
		return respond(resp)
	}
	b.refreshQuotas()
	return respond(resp)
}

// alterOneQuota validates one entry and computes its change: the new value
// to put under its key, or the key to delete; neither when nothing changes.
func (b *Broker) alterOneQuota(ent quota.Entity, ops []kmsg.AlterClientQuotasRequestEntryOp, done map[string]bool) (*Entity, string, error) {
	if err := quota.ValidateEntity(ent); err != nil {
		return nil, "", err
	}
	key := quota.EncodeKey(ent)
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op.Key] {
			return nil, "", &quota.InvalidError{Msg: "Duplicate quota key " + op.Key + " not updating quota for this entity " + ent.String()}
		}
		seen[op.Key] = true
	}
	if done[key] {
		return nil, "", &quota.InvalidError{Msg: "Ignoring duplicate entity " + ent.String()}
	}
	done[key] = true
	var cur []quota.Value
	if raw, ok := b.entities.Get(entityQuota, key); ok {
		var err error
		if cur, err = quota.DecodeValues(raw); err != nil {
			b.logger.Warn("replacing a stored client quota that does not decode", "key", key, "err", err)
			cur = nil
		}
	}
	next := slices.Clone(cur)
	for _, op := range ops {
		i := slices.IndexFunc(next, func(v quota.Value) bool { return v.Key == op.Key })
		if op.Remove {
			if i >= 0 {
				next = slices.Delete(next, i, i+1)
			}
			continue
		}
		if err := quota.ValidateValue(ent, op.Key, op.Value); err != nil {
			return nil, "", err
		}
		if i >= 0 {
			next[i].Value = op.Value
		} else {
			next = append(next, quota.Value{Key: op.Key, Value: op.Value})
		}
	}
	switch {
	case len(next) == 0 && len(cur) > 0:
		return nil, key, nil
	case len(next) == 0:
		return nil, "", nil
	}
	return &Entity{Key: key, Value: quota.EncodeValues(next)}, "", nil
}
