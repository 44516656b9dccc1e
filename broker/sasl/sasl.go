package sasl

import (
	"errors"
	"time"
)

// Mechanism names, as clients send them in SaslHandshake.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	OAuthBearer = "OAUTHBEARER"
)

// Mechanisms lists every mechanism this package serves.
var Mechanisms = []string{Plain, ScramSHA256, ScramSHA512, OAuthBearer}

// Server is the server side of one SASL exchange. It is not safe for
// concurrent use (a connection's reader goroutine drives it).
type Server interface {
	// Step consumes the client's next message and returns the server's
	// answer. done reports that the exchange succeeded: resp is then the
	// server's final message (possibly empty) and Result is valid. A
	// non-nil error fails the exchange; it is an *AuthError when its
	// message may be shown to the client, otherwise the caller answers
	// with a generic message (as Kafka does, so that nothing about the
	// user leaks). After done or an error, Step must not be called again.
	Step(msg []byte) (resp []byte, done bool, err error)
	// Result is who authenticated; valid once Step returned done.
	Result() Result
}

// Result is the outcome of a successful exchange.
type Result struct {
	// Principal is Kafka's principal string, "User:alice".
	Principal string
	// TokenID is the delegation token a SCRAM exchange with
	// tokenauth=true authenticated with; "" otherwise.
	TokenID string
	// Expiry, when not zero, is when the credential stops being valid
	// (a delegation token's or an OAuth token's expiry): the session's
	// lifetime must not go beyond it.
	Expiry time.Time
}

// AuthError is a failure whose message Kafka sends to the client as is
// (Kafka's SaslAuthenticationException). Detail, for the broker's log only,
// says more (why a token was refused); Error includes it.
type AuthError struct{ Msg, Detail string }

func (e *AuthError) Error() string {
	if e.Detail != "" {
		return e.Msg + " (" + e.Detail + ")"
	}
	return e.Msg
}

// Errors that carry no client-visible message (Kafka's SaslException: the
// client sees "Authentication failed during authentication due to invalid
// credentials with SASL mechanism X").
var (
	ErrMalformed   = errors.New("sasl: malformed client message")
	ErrCredentials = errors.New("sasl: invalid credentials")
	ErrState       = errors.New("sasl: unexpected message after the exchange ended")
)

// ClientMessage is the message Kafka shows for err: the AuthError's text,
// or the generic one naming the mechanism and whether this was a
// re-authentication (Kafka's SaslServerAuthenticator).
func ClientMessage(err error, mechanism string, reauth bool) string {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae.Msg
	}
	phase := "authentication"
	if reauth {
		phase = "re-authentication"
	}
	return "Authentication failed during " + phase + " due to invalid credentials with SASL mechanism " + mechanism
}

func userPrincipal(user string) string { return "User:" + user }
