// Package sasl implements the broker side of Kafka's SASL mechanisms: PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER. It is pure (no I/O beyond
// what a caller's lookup does) and imports nothing of Moldau.
package sasl

// ScramCredential is what the server keeps for one user and SCRAM mechanism
// (RFC 5802 §3): never the password.
type ScramCredential struct {
	Mechanism  string // "SCRAM-SHA-256" or "SCRAM-SHA-512"
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int
}

// ScramLookup finds the credential a SCRAM exchange checks the client's proof
// against. tokenAuth is the client's "tokenauth=true" extension (Kafka's
// delegation tokens, KIP-48): user is then a token id, and principal is the
// token owner's principal the session takes. ok=false: no such user (or
// token, or an expired one); the exchange fails as with a wrong password.
type ScramLookup func(mechanism, user string, tokenAuth bool) (cred ScramCredential, principal string, ok bool)
