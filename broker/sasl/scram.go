package sasl

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// NewScramServer returns a SCRAM-SHA-256 or SCRAM-SHA-512 server (RFC 5802,
// RFC 7677) with Kafka's behaviour (ScramSaslServer):
//   - channel binding: only "n" (the client does not support it);
//   - the authorization id must be empty or the user name;
//   - extensions: tokenauth=true (KIP-48) makes the user name a delegation
//     token id, passed to lookup with tokenAuth=true; others are ignored;
//   - a credential with fewer than MinIterations iterations is refused;
//   - an unknown user fails at the first message, a wrong proof at the
//     final one, both without a client-visible reason.
func NewScramServer(mechanism string, lookup ScramLookup) (Server, error) {
	h, err := scramHash(mechanism)
	if err != nil {
		return nil, err
	}
	return &scramServer{mechanism: mechanism, hash: h, lookup: lookup}, nil
}

type scramServer struct {
	mechanism string
	hash      func() hash.Hash
	lookup    ScramLookup

	step            int // 0: want client-first, 1: want client-final, 2: ended
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string // client nonce + server nonce
	cred            ScramCredential
	result          Result
	newNonce        func() string // the server nonce part; random (tests fix it)
}

func (s *scramServer) Result() Result { return s.result }

func (s *scramServer) Step(msg []byte) ([]byte, bool, error) {
	step := s.step
	s.step = 2 // ended unless a step succeeds and says otherwise
	switch step {
	case 0:
		resp, err := s.clientFirst(string(msg))
		if err != nil {
			return nil, false, err
		}
		s.step = 1
		return resp, false, nil
	case 1:
		resp, err := s.clientFinal(string(msg))
		s.cred = ScramCredential{}
		if err != nil {
			return nil, false, err
		}
		return resp, true, nil
	}
	return nil, false, ErrState
}

// clientFirst parses
//
//	gs2-header client-first-message-bare
//	gs2-header = "n," [ "a=" saslname ] ","
//	client-first-message-bare = [reserved-mext ","] "n=" saslname "," "r=" c-nonce ["," extensions]
func (s *scramServer) clientFirst(msg string) ([]byte, error) {
	malformed := func(why string) error {
		return fmt.Errorf("%w: %s client-first-message: %s", ErrMalformed, s.mechanism, why)
	}
	if !strings.HasPrefix(msg, "n,") {
		return nil, malformed("channel binding is not supported (want gs2 flag \"n\")")
	}
	rest := msg[2:]
	authzPart, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, malformed("no gs2 header")
	}
	var authzid string
	if authzPart != "" {
		if !strings.HasPrefix(authzPart, "a=") {
			return nil, malformed("bad authzid")
		}
		var err error
		if authzid, err = unescapeSaslName(authzPart[2:]); err != nil {
			return nil, malformed(err.Error())
		}
	}
	s.gs2Header = msg[:2+len(authzPart)+1]
	s.clientFirstBare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) > 0 && strings.HasPrefix(attrs[0], "m=") {
		return nil, malformed("mandatory extension not supported")
	}
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, malformed("want n=user,r=nonce")
	}
	user, err := unescapeSaslName(attrs[0][2:])
	if err != nil || user == "" {
		return nil, malformed("bad user name")
	}
	clientNonce := attrs[1][2:]
	if clientNonce == "" || !printable(clientNonce) {
		return nil, malformed("bad nonce")
	}
	tokenAuth := false
	for _, ext := range attrs[2:] {
		k, v, ok := strings.Cut(ext, "=")
		if !ok || k == "" {
			return nil, malformed("bad extension")
		}
		if k == "tokenauth" {
			tokenAuth = strings.EqualFold(v, "true")
		}
	}
	cred, principal, ok := s.lookup(s.mechanism, user, tokenAuth)
	if !ok {
		if tokenAuth {
			return nil, fmt.Errorf("%w: token authentication failed: invalid token id", ErrCredentials)
		}
		return nil, fmt.Errorf("%w: no such user", ErrCredentials)
	}
	if authzid != "" && authzid != user {
		return nil, &AuthError{Msg: "Authentication failed: Client requested an authorization id that is different from username"}
	}
	if cred.Iterations < MinIterations {
		return nil, fmt.Errorf("%w: iterations %d is less than the minimum %d for %s", ErrCredentials, cred.Iterations, MinIterations, s.mechanism)
	}
	if principal == "" {
		principal = userPrincipal(user)
	}
	s.cred = cred
	s.result = Result{Principal: principal, Expiry: cred.Expiry}
	if tokenAuth {
		s.result.TokenID = user
	}
	if s.newNonce == nil {
		s.newNonce = randomNonce
	}
	s.nonce = clientNonce + s.newNonce()
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(cred.Iterations)
	return []byte(s.serverFirst), nil
}

// clientFinal parses
//
//	client-final-message = "c=" base64(gs2-header) "," "r=" nonce ["," extensions] "," "p=" base64(proof)
func (s *scramServer) clientFinal(msg string) ([]byte, error) {
	malformed := func(why string) error {
		return fmt.Errorf("%w: %s client-final-message: %s", ErrMalformed, s.mechanism, why)
	}
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, malformed("no proof")
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, malformed("want c=...,r=...")
	}
	cb, err := base64.StdEncoding.DecodeString(attrs[0][2:])
	if err != nil || string(cb) != s.gs2Header {
		return nil, malformed("channel binding does not match the gs2 header")
	}
	// The final nonce must end with the server-first nonce; librdkafka
	// before 2.6.1 (Debian's kcat: 2.0.2) sends its client nonce again in
	// front of it (librdkafka#4895). Kafka 4.4 refuses that, so Debian's
	// kcat cannot log in there with SCRAM; Moldau accepts it on purpose:
	// the server nonce must still be there, and the proof covers the
	// nonce as sent (it is in the AuthMessage), so nothing is weakened.
	if !strings.HasSuffix(attrs[1][2:], s.nonce) {
		return nil, fmt.Errorf("%w: invalid client nonce in the final client message", ErrCredentials)
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil {
		return nil, malformed("bad proof encoding")
	}
	authMessage := []byte(s.clientFirstBare + "," + s.serverFirst + "," + withoutProof)
	clientSignature := hmacOf(s.hash, s.cred.StoredKey, authMessage)
	if len(proof) != len(clientSignature) {
		return nil, fmt.Errorf("%w: invalid client credentials", ErrCredentials)
	}
	clientKey := make([]byte, len(proof))
	for j := range proof {
		clientKey[j] = proof[j] ^ clientSignature[j]
	}
	h := s.hash()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) != 1 {
		return nil, fmt.Errorf("%w: invalid client credentials", ErrCredentials)
	}
	serverSignature := hmacOf(s.hash, s.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), nil
}

func randomNonce() string {
	var nb [24]byte
	_, _ = rand.Read(nb[:])
	return base64.RawURLEncoding.EncodeToString(nb[:])
}

// unescapeSaslName undoes RFC 5802's saslname escaping ("=2C" is ",",
// "=3D" is "="; any other "=" is an error).
func unescapeSaslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", fmt.Errorf("bad escape in %q", s)
		}
		i += 2
	}
	return b.String(), nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}
