package broker

import (
	"time"

	"github.com/moldau/moldau/broker/sasl"
)

// tokenScramCredential is the delegation-token half of the SCRAM server's
// lookup (sasl.ScramLookup with tokenAuth=true): the credential of token
// tokenID for mechanism ("SCRAM-SHA-256" or "SCRAM-SHA-512"), its Expiry
// the token's, and the token owner's principal, which the session takes. ok=false for an
// unknown, expired or undecodable token, a mechanism the token has no
// credential for, or when delegation tokens are disabled; the exchange then
// fails as with a wrong password. It never blocks on I/O and may be called
// from any goroutine. The returned credential's slices must not be modified.
func (b *Broker) tokenScramCredential(mechanism, tokenID string) (sasl.ScramCredential, string, bool) {
	if !b.cfg.Security.Tokens.Enabled() {
		return sasl.ScramCredential{}, "", false
	}
	t, ok := b.loadToken(tokenID)
	if !ok || t.expired(b.nowMs()) {
		return sasl.ScramCredential{}, "", false
	}
	for _, c := range t.Scram {
		if c.Mechanism == mechanism {
			c.Expiry = time.UnixMilli(min(t.ExpiryMs, t.MaxMs))
			return c, t.Owner, true
		}
	}
	return sasl.ScramCredential{}, "", false
}

// tokenExpiry is when token tokenID expires (its current expiry timestamp,
// which a renewal moves): a session authenticated with the token ends then
// (Session.Expiry). ok=false as for tokenScramCredential.
func (b *Broker) tokenExpiry(tokenID string) (time.Time, bool) {
	if !b.cfg.Security.Tokens.Enabled() {
		return time.Time{}, false
	}
	t, ok := b.loadToken(tokenID)
	if !ok || t.expired(b.nowMs()) {
		return time.Time{}, false
	}
	return time.UnixMilli(min(t.ExpiryMs, t.MaxMs)), true
}
