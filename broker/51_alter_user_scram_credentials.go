package broker

// AlterUserScramCredentials, key 51, version 0.
//
//   - Upsertions carry the salt and the salted password the client computed
//     (never the password); the broker derives and stores StoredKey and
//     ServerKey (sasl/FORMAT.md, entity kind scram). Deletions remove one
//     mechanism's credential.
//   - Errors per user, with Kafka's codes and messages
//     (ScramControlManager): a user altered twice in one request (in either
//     list, whatever the mechanisms) is DUPLICATE_RESOURCE for that user,
//     unless its first change already failed (that error stays); an unknown mechanism
//     UNSUPPORTED_SASL_MECHANISM; iterations below 4096 or above 16384, an
//     empty user name, salt or salted password UNACCEPTABLE_CREDENTIAL;
//     deleting a credential that does not exist RESOURCE_NOT_FOUND.
//   - The accepted changes are applied to the entityStore as one change;
//     if that fails every accepted user gets the error. Sessions already
//     authenticated are kept (as in Kafka).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/sasl"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleAlterUserScramCredentials(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type outcome struct {
		err *kerr.Error
		msg string
		put *Entity
		del string
	}
	results := map[string]*outcome{}
	var order []string
	claim := func(name string) (*outcome, bool) {
		if o, ok := results[name]; ok {
			// As Kafka's ScramControlManager: a user whose earlier change
			// was accepted becomes a duplicate; one that already failed
			// keeps its first error.
			if o.err == nil {
				*o = outcome{err: kerr.DuplicateResource, msg: "A user credential cannot be altered twice in the same request"}
			}
			return nil, false
		}
		o := &outcome{}
		results[name] = o
		order = append(order, name)
		return o, true
	}
	for _, d := range r.Deletions {
		o, ok := claim(d.Name)
		if !ok {
			continue
		}
		mech, known := scramMechanismName(d.Mechanism)
		switch {
		case d.Name == "":
			o.err, o.msg = kerr.UnacceptableCredential, "Username must not be empty"
		case !known:
			o.err, o.msg = kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism"
		default:
			if _, exists := b.entities.Get(entityScram, scramKey(mech, d.Name)); !exists {
				o.err, o.msg = kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist"
			} else {
				o.del = scramKey(mech, d.Name)
			}
		}
	}
	for _, u := range r.Upsertions {
		o, ok := claim(u.Name)
		if !ok {
			continue
		}
		mech, known := scramMechanismName(u.Mechanism)
		switch {
		case u.Name == "":
			o.err, o.msg = kerr.UnacceptableCredential, "Username must not be empty"
		case !known:
			o.err, o.msg = kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism"
		case u.Iterations < sasl.MinIterations:
			o.err, o.msg = kerr.UnacceptableCredential, "Too few iterations"
		case u.Iterations > sasl.MaxIterations:
			o.err, o.msg = kerr.UnacceptableCredential, "Too many iterations"
		case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
			o.err, o.msg = kerr.UnacceptableCredential, "Salt and salted password must not be empty"
		default:
			c, err := sasl.ScramCredentialFromSalted(mech, u.Salt, u.SaltedPassword, int(u.Iterations))
			var v []byte
			if err == nil {
				v, err = c.MarshalBinary()
			}
			if err != nil {
				o.err, o.msg = kerr.UnacceptableCredential, err.Error()
			} else {
				o.put = &Entity{Key: scramKey(mech, u.Name), Value: v}
			}
		}
	}
	var put []Entity
	var del []string
	for _, name := range order {
		o := results[name]
		if o.err != nil {
			continue
		}
		if o.put != nil {
			put = append(put, *o.put)
		} else {
			del = append(del, o.del)
		}
	}
	if len(put)+len(del) > 0 {
		if err := b.entities.Apply(ctx, entityScram, put, del); err != nil {
			code := kerr.UnknownServerError
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				code = kerr.RequestTimedOut
			}
			b.logger.Warn("AlterUserScramCredentials: storing the credentials failed", "err", err)
			for _, name := range order {
				if o := results[name]; o.err == nil {
					o.err, o.msg = code, "storing the credentials failed: "+err.Error()
				}
			}
		}
	}
	for _, name := range order {
		o := results[name]
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = name
		if o.err != nil {
			res.ErrorCode = o.err.Code
			res.ErrorMessage = kmsg.StringPtr(o.msg)
		}
		resp.Results = append(resp.Results, res)
	}
	return respond(resp)
}
