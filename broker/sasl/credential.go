// Package sasl implements the broker side of Kafka's SASL mechanisms: PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER. It is pure (no I/O beyond
// what a caller's lookup does, and the JWKS fetch an OAUTHBEARER validator
// is configured with) and imports nothing of Moldau.
package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"time"
)

// ScramCredential is what the server keeps for one user and SCRAM mechanism
// (RFC 5802 §3): never the password.
type ScramCredential struct {
	Mechanism  string // "SCRAM-SHA-256" or "SCRAM-SHA-512"
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int
	// Expiry is, for a delegation token's credential, when the token
	// expires (the session may not outlive it); zero for a user's.
	Expiry time.Time
}

// ScramLookup finds the credential a SCRAM exchange checks the client's proof
// against. tokenAuth is the client's "tokenauth=true" extension (Kafka's
// delegation tokens, KIP-48): user is then a token id, and principal is the
// token owner's principal the session takes. ok=false: no such user (or
// token, or an expired one); the exchange fails as with a wrong password.
// principal "" (for a user) means "User:"+user.
type ScramLookup func(mechanism, user string, tokenAuth bool) (cred ScramCredential, principal string, ok bool)

// Iteration bounds: Kafka's ScramMechanism minimum (a credential with fewer
// iterations is refused at login) and the maximum AlterUserScramCredentials
// and --add-scram accept.
const (
	MinIterations = 4096
	MaxIterations = 16384
)

// ErrMechanism is returned for a mechanism that is not SCRAM-SHA-256/512.
var ErrMechanism = errors.New("sasl: not a SCRAM mechanism")

// IsScram reports whether mechanism is one of the SCRAM mechanisms served.
func IsScram(mechanism string) bool { return mechanism == ScramSHA256 || mechanism == ScramSHA512 }

func scramHash(mechanism string) (func() hash.Hash, error) {
	switch mechanism {
	case ScramSHA256:
		return sha256.New, nil
	case ScramSHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrMechanism, mechanism)
}

// NewScramCredential salts password (RFC 5802: SaltedPassword :=
// Hi(password, salt, i)). A nil salt is replaced by random bytes; iterations
// 0 means MinIterations.
func NewScramCredential(mechanism, password string, salt []byte, iterations int) (ScramCredential, error) {
	h, err := scramHash(mechanism)
	if err != nil {
		return ScramCredential{}, err
	}
	if iterations == 0 {
		iterations = MinIterations
	}
	if len(salt) == 0 {
		salt = make([]byte, 32)
		_, _ = rand.Read(salt)
	}
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return ScramCredential{}, fmt.Errorf("sasl: %w", err)
	}
	return ScramCredentialFromSalted(mechanism, salt, salted, iterations)
}

// ScramCredentialFromSalted derives the stored and server keys from a salted
// password, as AlterUserScramCredentials sends it.
func ScramCredentialFromSalted(mechanism string, salt, saltedPassword []byte, iterations int) (ScramCredential, error) {
	h, err := scramHash(mechanism)
	if err != nil {
		return ScramCredential{}, err
	}
	clientKey := hmacOf(h, saltedPassword, []byte("Client Key"))
	sum := h()
	sum.Write(clientKey)
	return ScramCredential{
		Mechanism:  mechanism,
		Salt:       append([]byte(nil), salt...),
		StoredKey:  sum.Sum(nil),
		ServerKey:  hmacOf(h, saltedPassword, []byte("Server Key")),
		Iterations: iterations,
	}, nil
}

func hmacOf(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// credentialVersion is the first byte of an encoded credential (FORMAT.md).
const credentialVersion = 1

// ErrCorruptCredential is returned for an encoded credential that does not
// decode.
var ErrCorruptCredential = errors.New("sasl: corrupt encoded credential")

// MarshalBinary encodes the credential as FORMAT.md describes. The
// mechanism is not encoded (it is part of the store's key); neither is
// Expiry.
func (c ScramCredential) MarshalBinary() ([]byte, error) {
	if c.Iterations <= 0 || len(c.Salt) > 0xffff || len(c.StoredKey) > 0xff || len(c.ServerKey) > 0xff {
		return nil, fmt.Errorf("sasl: credential cannot be encoded (iterations %d, salt %d bytes)", c.Iterations, len(c.Salt))
	}
	out := make([]byte, 0, 1+4+2+len(c.Salt)+2+len(c.StoredKey)+len(c.ServerKey))
	out = append(out, credentialVersion)
	out = binary.BigEndian.AppendUint32(out, uint32(c.Iterations))
	out = binary.BigEndian.AppendUint16(out, uint16(len(c.Salt)))
	out = append(out, c.Salt...)
	out = append(out, byte(len(c.StoredKey)))
	out = append(out, c.StoredKey...)
	out = append(out, byte(len(c.ServerKey)))
	out = append(out, c.ServerKey...)
	return out, nil
}

// UnmarshalScramCredential decodes what MarshalBinary wrote, for mechanism.
func UnmarshalScramCredential(mechanism string, b []byte) (ScramCredential, error) {
	c := ScramCredential{Mechanism: mechanism}
	if len(b) < 1+4+2 || b[0] != credentialVersion {
		return c, ErrCorruptCredential
	}
	c.Iterations = int(binary.BigEndian.Uint32(b[1:5]))
	n := int(binary.BigEndian.Uint16(b[5:7]))
	b = b[7:]
	if len(b) < n+1 {
		return c, ErrCorruptCredential
	}
	c.Salt, b = append([]byte(nil), b[:n]...), b[n:]
	n, b = int(b[0]), b[1:]
	if len(b) < n+1 {
		return c, ErrCorruptCredential
	}
	c.StoredKey, b = append([]byte(nil), b[:n]...), b[n:]
	n, b = int(b[0]), b[1:]
	if len(b) != n || c.Iterations <= 0 {
		return c, ErrCorruptCredential
	}
	c.ServerKey = append([]byte(nil), b...)
	return c, nil
}
