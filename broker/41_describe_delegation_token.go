package broker

// DescribeDelegationToken, key 41, versions 0–3 (KIP-48; tokens.go).
//
//   - Every version: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED and
//     DELEGATION_TOKEN_AUTH_DISABLED as for the other token APIs. Owners
//     null lists every token the caller may see, an empty list none; given
//     owners keep the tokens of which one of them is the owner, requester
//     or a renewer (Kafka's DelegationTokenManager.filterToken). With an
//     authorizer, authorize.go then keeps the caller's own tokens (owner,
//     requester or renewer) and those it may describe (DESCRIBE on the
//     token, DESCRIBE_TOKENS on its owner); without one every token is
//     listed, as in Kafka. Expired tokens the sweep has not removed yet are
//     not listed. The HMAC is returned, as Kafka does.
//   - v1: throttle_time_ms after the response (always 0); v2: flexible.
//   - v3 (KIP-373): the token requester per token.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeDelegationToken(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeDelegationTokenRequest)
	resp := r.ResponseKind().(*kmsg.DescribeDelegationTokenResponse)
	if code := b.tokenRequestCheck(req.Conn); code != nil {
		resp.ErrorCode = code.Code
		return respond(resp)
	}
	if r.Owners != nil && len(r.Owners) == 0 {
		return respond(resp)
	}
	var owners []string
	for _, o := range r.Owners {
		owners = append(owners, o.PrincipalType+":"+o.PrincipalName)
	}
	now := b.nowMs()
	for _, t := range b.allTokens() {
		if t.expired(now) || !tokenAsked(owners, t) {
			continue
		}
		d := kmsg.NewDescribeDelegationTokenResponseTokenDetail()
		d.PrincipalType, d.PrincipalName = splitPrincipal(t.Owner)
		d.TokenRequesterPrincipalType, d.TokenRequesterPrincipalName = splitPrincipal(t.Requester)
		d.IssueTimestamp, d.ExpiryTimestamp, d.MaxTimestamp = t.IssueMs, t.ExpiryMs, t.MaxMs
		d.TokenID, d.HMAC = t.ID, t.HMAC
		for _, rn := range t.Renewers {
			x := kmsg.NewDescribeDelegationTokenResponseTokenDetailRenewer()
			x.PrincipalType, x.PrincipalName = splitPrincipal(rn)
			d.Renewers = append(d.Renewers, x)
		}
		resp.TokenDetails = append(resp.TokenDetails, d)
	}
	return respond(resp)
}

// tokenAsked is the owners part of Kafka's filterToken: owners (nil: any)
// keeps the tokens of which one is the owner, requester or a renewer.
func tokenAsked(owners []string, t *delegationToken) bool {
	if owners == nil {
		return true
	}
	for _, o := range owners {
		if t.ownerOrRenewer(o) {
			return true
		}
	}
	return false
}
