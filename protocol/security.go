package protocol

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync/atomic"
	"time"
)

// SecurityProtocol is a listener's Kafka security protocol
// (listener.security.protocol.map values).
type SecurityProtocol int8

// Kafka's security protocols; the numbers are Kafka's SecurityProtocol ids.
const (
	Plaintext     SecurityProtocol = 0 // PLAINTEXT
	SSL           SecurityProtocol = 1 // SSL
	SASLPlaintext SecurityProtocol = 2 // SASL_PLAINTEXT
	SASLSSL       SecurityProtocol = 3 // SASL_SSL
)

func (p SecurityProtocol) String() string {
	switch p {
	case Plaintext:
		return "PLAINTEXT"
	case SSL:
		return "SSL"
	case SASLPlaintext:
		return "SASL_PLAINTEXT"
	case SASLSSL:
		return "SASL_SSL"
	}
	return "UNKNOWN"
}

// IsSASL reports whether connections must authenticate with SASL before any
// request other than ApiVersions, SaslHandshake and SaslAuthenticate.
func (p SecurityProtocol) IsSASL() bool { return p == SASLPlaintext || p == SASLSSL }

// IsTLS reports whether the listener wraps connections in TLS.
func (p SecurityProtocol) IsTLS() bool { return p == SSL || p == SASLSSL }

// AnonymousPrincipal is Kafka's principal for an unauthenticated connection
// (PLAINTEXT, or SSL without a client certificate).
const AnonymousPrincipal = "User:ANONYMOUS"

// Session is who a connection authenticated as. A Session is immutable once
// set; re-authentication (KIP-368) replaces it.
type Session struct {
	// Principal is Kafka's principal string, "User:alice".
	Principal string
	// Mechanism is the SASL mechanism ("PLAIN", "SCRAM-SHA-512", ...), ""
	// when the principal came from the listener (PLAINTEXT, SSL).
	Mechanism string
	// Expiry, when not zero, is when the session ends (KIP-368's
	// session_lifetime_ms): a request other than SaslHandshake and
	// SaslAuthenticate arriving later closes the connection.
	Expiry time.Time
	// TokenID is the delegation token the session authenticated with, ""
	// for none.
	TokenID string
}

// ConnInfo describes the connection a request arrived on.
type ConnInfo struct {
	Remote net.Addr
	Local  net.Addr
	// Listener is the name of the listener the connection came in on
	// ("PLAINTEXT", "SASL_SSL", or a custom name); Security its protocol.
	Listener string
	Security SecurityProtocol
	// TLS is the connection's TLS state after the handshake; nil on a
	// listener without TLS.
	TLS *tls.ConnectionState
	// Auth is the handler's state of a SASL exchange in progress on this
	// connection (which mechanism, which step). Only Handle touches it,
	// from the connection's reader goroutine one request at a time, so it
	// needs no lock; the server never reads it.
	Auth any

	session atomic.Pointer[Session]
}

// Session returns the connection's current session: nil on a SASL listener
// before authentication; on other listeners the session the server set when
// the connection was accepted (the TLS principal or User:ANONYMOUS).
func (c *ConnInfo) Session() *Session {
	if c == nil {
		return nil
	}
	return c.session.Load()
}

// SetSession records a successful (re-)authentication. The handler calls it
// from the connection's reader goroutine (SaslAuthenticate).
func (c *ConnInfo) SetSession(s *Session) { c.session.Store(s) }

// Principal is the session's principal, or AnonymousPrincipal when there is
// no session (a connection made without a ConnInfo, or not yet authenticated).
func (c *ConnInfo) Principal() string {
	if s := c.Session(); s != nil {
		return s.Principal
	}
	return AnonymousPrincipal
}

// ListenerConfig is one listener served by ServeListener.
type ListenerConfig struct {
	// Name is the listener's name as clients' requests report it
	// (ConnInfo.Listener): "PLAINTEXT", "SASL_SSL", or a custom name.
	Name string
	// Security is the listener's security protocol.
	Security SecurityProtocol
	// TLS is the server side of the TLS handshake; required when
	// Security.IsTLS(), ignored otherwise. Certificate reload is the
	// config's business (GetConfigForClient, GetCertificate).
	TLS *tls.Config
	// HandshakeTimeout bounds the TLS handshake; 0: 10 seconds.
	HandshakeTimeout time.Duration
	// Principal maps an SSL listener's client certificate chain (leaf
	// first, verified by the handshake) to a Kafka principal; nil:
	// "User:" + the leaf's subject DN (SubjectDN). It is not called
	// without a client certificate (the session is then User:ANONYMOUS)
	// nor on SASL_SSL listeners (SASL sets the principal there). An error
	// closes the connection (Kafka: no principal-mapping rule applies).
	Principal func(chain []*x509.Certificate) (string, error)
}

// SubjectDN is the subject of cert as a distinguished name in RFC 2253 form,
// most specific attribute first, as Kafka (Java's X500Principal) prints it:
// "CN=alice,OU=eng,O=Acme,C=US". Attribute types without a keyword in RFC
// 2253 (emailAddress, serialNumber, ...) are written as their OID and the
// hex of their DER value ("1.2.840.113549.1.9.1=#1611...").
func SubjectDN(cert *x509.Certificate) string {
	return formatDN(cert.RawSubject)
}

// SASLMaxReceiveSize is Kafka's sasl.server.max.receive.size default: the
// largest frame a SASL listener reads before the connection authenticated.
const SASLMaxReceiveSize = 524288
