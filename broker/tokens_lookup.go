package broker

import (
	"time"

	"github.com/moldau/moldau/broker/sasl"
)

// tokenScramCredential finds a delegation token's SCRAM credential for a
// SCRAM exchange with tokenauth=true (KIP-48): the credential, the token
// owner's principal, ok=false for an unknown or expired token. The
// delegation-token code replaces this file.
func (b *Broker) tokenScramCredential(mechanism, tokenID string) (sasl.ScramCredential, string, bool) {
	return sasl.ScramCredential{}, "", false
}

// tokenExpiry is when token tokenID expires: a session authenticated with
// the token ends then. ok=false for an unknown or expired token.
func (b *Broker) tokenExpiry(tokenID string) (time.Time, bool) {
	return time.Time{}, false
}
