package broker

// RenewDelegationToken, key 39, versions 0–2 (KIP-48; tokens.go).
//
//   - Every version: the token is found by its HMAC. Checked in Kafka's
//     order: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED (tokenRequestsAllowed),
//     DELEGATION_TOKEN_AUTH_DISABLED, DELEGATION_TOKEN_NOT_FOUND (no token
//     has that HMAC, a wrong one included), DELEGATION_TOKEN_EXPIRED,
//     DELEGATION_TOKEN_OWNER_MISMATCH (the caller is neither the owner nor a
//     renewer). The new expiry is min(max, now + period), where the period
//     is delegation.token.expiry.time.ms, or RenewTimeMillis when that is
//     positive and smaller.
//   - v1: throttle_time_ms after the response (always 0); v2: flexible.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleRenewDelegationToken(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.RenewDelegationTokenRequest)
	resp := r.ResponseKind().(*kmsg.RenewDelegationTokenResponse)
	resp.ExpiryTimestamp = -1
	if code := b.tokenRequestCheck(req.Conn); code != nil {
		resp.ErrorCode = code.Code
		return respond(resp)
	}
	principal := req.Conn.Principal()
	mac := cloneBytes(r.HMAC)
	period := b.cfg.Security.Tokens.ExpiryTime().Milliseconds()
	if r.RenewTimeMillis > 0 {
		period = min(period, r.RenewTimeMillis)
	}
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		b.tokens.mu.Lock()
		defer b.tokens.mu.Unlock()
		t, e := b.tokenForChange(mac, principal)
		if e != nil {
			resp.ErrorCode = e.Code
			return resp
		}
		t.ExpiryMs = min(t.MaxMs, addMs(b.nowMs(), period))
		if err := b.putToken(ctx, t); err != nil {
			b.logger.Warn("renew delegation token: store", "err", err)
			resp.ErrorCode = tokenStoreError(err).Code
			return resp
		}
		resp.ExpiryTimestamp = t.ExpiryMs
		return resp
	}}
}

// tokenRequestCheck is the connection and configuration check every token
// API makes first: nil when the request may proceed.
func (b *Broker) tokenRequestCheck(c *protocol.ConnInfo) *kerr.Error {
	if !tokenRequestsAllowed(c) {
		return kerr.DelegationTokenRequestNotAllowed
	}
	if !b.cfg.Security.Tokens.Enabled() {
		return kerr.DelegationTokenAuthDisabled
	}
	return nil
}

// tokenForChange finds the token a renew or expire names by its HMAC and
// checks that principal may change it. Called with tokens.mu held.
func (b *Broker) tokenForChange(mac []byte, principal string) (*delegationToken, *kerr.Error) {
	t, ok := b.tokenByHMAC(mac)
	if !ok {
		return nil, kerr.DelegationTokenNotFound
	}
	if t.expired(b.nowMs()) {
		return nil, kerr.DelegationTokenExpired
	}
	if !t.mayRenew(principal) {
		return nil, kerr.DelegationTokenOwnerMismatch
	}
	return t, nil
}
