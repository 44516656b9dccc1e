package broker

// CreateDelegationToken, key 38, versions 0–3 (KIP-48; tokens.go).
//
//   - Every version, checked in Kafka 4.4's order: the caller must be
//     authenticated and not with a token (tokenRequestsAllowed), else
//     DELEGATION_TOKEN_REQUEST_NOT_ALLOWED; renewers must be User
//     principals (INVALID_PRINCIPAL_TYPE);
//     DELEGATION_TOKEN_AUTH_DISABLED without delegation.token.secret.key.
//     MaxLifetimeMillis <= 0 means delegation.token.max.lifetime.ms, a
//     larger request is capped at it; the expiry is
//     min(max, now + delegation.token.expiry.time.ms).
//   - v1: throttle_time_ms is applied after the response (always 0 here).
//   - v2: flexible encoding.
//   - v3 (KIP-373): OwnerPrincipalType/Name create the token for someone
//     else, which needs CREATE_TOKENS on that User
//     (DELEGATION_TOKEN_AUTHORIZATION_FAILED otherwise; authorize.go checks
//     it before this handler); the response names the requester too.
//
// Error responses carry the owner and requester and -1 timestamps, as
// Kafka's CreateDelegationTokenResponse.prepareResponse.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleCreateDelegationToken(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.CreateDelegationTokenRequest)
	resp := r.ResponseKind().(*kmsg.CreateDelegationTokenResponse)
	requester := req.Conn.Principal()
	owner := requester
	if r.Version >= 3 && r.OwnerPrincipalName != nil && *r.OwnerPrincipalName != "" {
		typ := "User"
		if r.OwnerPrincipalType != nil && *r.OwnerPrincipalType != "" {
			typ = *r.OwnerPrincipalType // "" is User, as authorize.go reads it
		}
		owner = typ + ":" + *r.OwnerPrincipalName
	}
	resp.PrincipalType, resp.PrincipalName = splitPrincipal(owner)
	resp.TokenRequesterPrincipalType, resp.TokenRequesterPrincipalName = splitPrincipal(requester)
	fail := func(e *kerr.Error) protocol.Reply {
		resp.ErrorCode = e.Code
		resp.IssueTimestamp, resp.ExpiryTimestamp, resp.MaxTimestamp = -1, -1, -1
		resp.HMAC = []byte{}
		return respond(resp)
	}
	var renewers []string
	for _, rn := range r.Renewers {
		renewers = append(renewers, rn.PrincipalType+":"+rn.PrincipalName)
	}
	if !tokenRequestsAllowed(req.Conn) {
		return fail(kerr.DelegationTokenRequestNotAllowed)
	}
	for _, rn := range r.Renewers {
		if rn.PrincipalType != "User" {
			return fail(kerr.InvalidPrincipalType)
		}
	}
	if !b.cfg.Security.Tokens.Enabled() {
		return fail(kerr.DelegationTokenAuthDisabled)
	}
	maxLifetimeMs := b.cfg.Security.Tokens.MaxLifetime().Milliseconds()
	if r.MaxLifetimeMillis > 0 {
		maxLifetimeMs = min(maxLifetimeMs, r.MaxLifetimeMillis)
	}
	expiryMs := b.cfg.Security.Tokens.ExpiryTime().Milliseconds()
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		now := b.nowMs()
		id := newTokenID()
		mac := tokenHMAC(b.cfg.Security.Tokens.SecretKey, id)
		creds, err := tokenScramCredentials(mac)
		if err != nil {
			b.logger.Error("create delegation token", "err", err)
			return fail(kerr.UnknownServerError).Resp
		}
		t := &delegationToken{
			ID:        id,
			Owner:     owner,
			Requester: requester,
			Renewers:  renewers,
			IssueMs:   now,
			MaxMs:     addMs(now, maxLifetimeMs),
			HMAC:      mac,
			Scram:     creds,
		}
		t.ExpiryMs = min(t.MaxMs, addMs(now, expiryMs))
		b.tokens.mu.Lock()
		err = b.putToken(ctx, t)
		b.tokens.mu.Unlock()
		if err != nil {
			b.logger.Warn("create delegation token: store", "err", err)
			return fail(tokenStoreError(err)).Resp
		}
		resp.IssueTimestamp, resp.ExpiryTimestamp, resp.MaxTimestamp = t.IssueMs, t.ExpiryMs, t.MaxMs
		resp.TokenID, resp.HMAC = t.ID, t.HMAC
		return resp
	}}
}

// addMs is now+d saturating at the largest int64 (a huge configured
// lifetime must not wrap into the past).
func addMs(now, d int64) int64 {
	if d > 0 && now > (1<<63-1)-d {
		return 1<<63 - 1
	}
	return now + d
}

// tokenStoreError is the Kafka error for a failed entityStore write: the
// request timed out when its context ended, else an unknown server error.
func tokenStoreError(err error) *kerr.Error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return kerr.RequestTimedOut
	}
	return kerr.UnknownServerError
}
