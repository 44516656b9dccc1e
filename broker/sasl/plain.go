package sasl

import (
	"bytes"
	"crypto/subtle"
	"fmt"
)

// PlainLookup returns the password of user for PLAIN, ok=false if there is
// no such user.
type PlainLookup func(user string) (password string, ok bool)

// NewPlainServer returns a PLAIN (RFC 4616) server checking passwords with
// lookup. As Kafka's PlainSaslServer, the authorization id must be empty or
// the user name.
func NewPlainServer(lookup PlainLookup) Server { return &plainServer{lookup: lookup} }

type plainServer struct {
	lookup PlainLookup
	result Result
	ended  bool
}

func (s *plainServer) Result() Result { return s.result }

func (s *plainServer) Step(msg []byte) ([]byte, bool, error) {
	if s.ended {
		return nil, false, ErrState
	}
	s.ended = true
	// message = [authzid] UTF8NUL authcid UTF8NUL passwd
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return nil, false, fmt.Errorf("%w: PLAIN: expected 3 tokens, got %d", ErrMalformed, len(parts))
	}
	authzid, user, pass := string(parts[0]), string(parts[1]), parts[2]
	if user == "" {
		return nil, false, &AuthError{Msg: "Authentication failed: username not specified"}
	}
	if len(pass) == 0 {
		return nil, false, &AuthError{Msg: "Authentication failed: password not specified"}
	}
	want, ok := s.lookup(user)
	// Compare even for an unknown user, so timing does not tell users apart.
	if !ok {
		want = "\x00unknown user\x00"
	}
	if subtle.ConstantTimeCompare([]byte(want), pass) != 1 || !ok {
		return nil, false, &AuthError{Msg: "Authentication failed: Invalid username or password"}
	}
	if authzid != "" && authzid != user {
		return nil, false, &AuthError{Msg: "Authentication failed: Client requested an authorization id that is different from username"}
	}
	s.result = Result{Principal: userPrincipal(user)}
	return nil, true, nil
}
