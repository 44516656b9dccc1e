package broker

// DescribeUserScramCredentials, key 50, version 0.
//
//   - No users (null or empty): every user with a SCRAM credential.
//   - Per user: its mechanisms (1 SCRAM-SHA-256, 2 SCRAM-SHA-512) and
//     iterations, never salts or keys; RESOURCE_NOT_FOUND for a user
//     without credentials, DUPLICATE_RESOURCE for a user named twice, with
//     Kafka's messages (ScramImage.describe).
//   - Credentials live in the entityStore (kind scram, sasl/FORMAT.md).

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/sasl"
	"github.com/moldau/moldau/protocol"
)

// scramMechanismCodes are Kafka's ScramMechanism type ids (the wire's
// mechanism int8).
var scramMechanismCodes = []struct {
	code int8
	name string
}{{1, sasl.ScramSHA256}, {2, sasl.ScramSHA512}}

func scramMechanismName(code int8) (string, bool) {
	for _, m := range scramMechanismCodes {
		if m.code == code {
			return m.name, true
		}
	}
	return "", false
}

func (b *Broker) handleDescribeUserScramCredentials(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	type userInfo struct {
		infos []kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo
		dup   bool
	}
	users := map[string]*userInfo{}
	var order []string
	add := func(name string) {
		if u, ok := users[name]; ok {
			u.dup = true
			return
		}
		users[name] = &userInfo{}
		order = append(order, name)
	}
	all := len(r.Users) == 0
	if all {
		for _, e := range b.entities.List(entityScram) {
			if _, user, ok := strings.Cut(e.Key, "/"); ok {
				if _, seen := users[user]; !seen {
					add(user)
				}
			}
		}
	} else {
		for _, u := range r.Users {
			add(u.Name)
		}
	}
	for _, name := range order {
		u := users[name]
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		switch {
		case u.dup:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + name)
		default:
			for _, m := range scramMechanismCodes {
				c, ok := b.scramCredential(m.name, name)
				if !ok {
					continue
				}
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = m.code, int32(c.Iterations)
				res.CredentialInfos = append(res.CredentialInfos, info)
			}
			if len(res.CredentialInfos) == 0 {
				res.ErrorCode = kerr.ResourceNotFound.Code
				res.ErrorMessage = kmsg.StringPtr("Attempt to describe nonexistent SCRAM credential for user " + name)
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return respond(resp)
}
