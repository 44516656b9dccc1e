package broker

// ExpireDelegationToken, key 40, versions 0–2 (KIP-48; tokens.go).
//
//   - Every version: the token is found and checked as for a renewal
//     (39_renew_delegation_token.go: NOT_ALLOWED, AUTH_DISABLED, NOT_FOUND,
//     EXPIRED, OWNER_MISMATCH). A negative ExpiryPeriodMillis removes the
//     token at once, and the response's expiry timestamp is that negative
//     period, as Kafka answers; otherwise the expiry becomes
//     min(max, now + period) and the token stays until it passes it.
//   - v1: throttle_time_ms after the response (always 0); v2: flexible.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleExpireDelegationToken(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ExpireDelegationTokenRequest)
	resp := r.ResponseKind().(*kmsg.ExpireDelegationTokenResponse)
	resp.ExpiryTimestamp = -1
	if code := b.tokenRequestCheck(req.Conn); code != nil {
		resp.ErrorCode = code.Code
		return respond(resp)
	}
	principal := req.Conn.Principal()
	mac := cloneBytes(r.HMAC)
	period := r.ExpiryPeriodMillis
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		b.tokens.mu.Lock()
		defer b.tokens.mu.Unlock()
		t, e := b.tokenForChange(mac, principal)
		if e != nil {
			resp.ErrorCode = e.Code
			return resp
		}
		var err error
		if period < 0 {
			err = b.deleteTokens(ctx, t.ID)
			resp.ExpiryTimestamp = period
		} else {
			t.ExpiryMs = min(t.MaxMs, addMs(b.nowMs(), period))
			err = b.putToken(ctx, t)
			resp.ExpiryTimestamp = t.ExpiryMs
		}
		if err != nil {
			b.logger.Warn("expire delegation token: store", "err", err)
			resp.ErrorCode = tokenStoreError(err).Code
			resp.ExpiryTimestamp = -1
		}
		return resp
	}}
}
