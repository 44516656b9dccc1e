package broker

import "github.com/moldau/moldau/broker/sasl"

// tokenScramCredential finds a delegation token's SCRAM credential for a
// SCRAM exchange with tokenauth=true (KIP-48): the credential (its Expiry set
// to the token's expiry), the token owner's principal, ok=false for an
// unknown or expired token. The delegation-token code replaces this body.
func (b *Broker) tokenScramCredential(mechanism, tokenID string) (sasl.ScramCredential, string, bool) {
	return sasl.ScramCredential{}, "", false
}
