package broker

// SaslHandshake, key 17, versions 0–1.
//
//   - On a SASL listener before authentication: a mechanism enabled on the
//     connection's listener starts an exchange (SaslAuthenticate follows);
//     any other is UNSUPPORTED_SASL_MECHANISM with the enabled list, and the
//     connection closes, as Kafka's does.
//   - v0: the client then sends bare SASL tokens without Kafka framing; the
//     reply switches the connection to raw tokens (protocol's RawSASL),
//     which reach SaslAuthenticate as v0 requests.
//   - After authentication, a handshake re-authenticates (KIP-368) when the
//     session has an expiry and the mechanism is the session's; without an
//     expiry it is ILLEGAL_SASL_STATE (Kafka: the request reaches KafkaApis)
//     and the connection stays. A second handshake before the exchange
//     finished, or a different mechanism when re-authenticating, is
//     ILLEGAL_SASL_STATE and closes the connection.
//   - On a PLAINTEXT or SSL listener: ILLEGAL_SASL_STATE.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleSaslHandshake(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.SASLHandshakeRequest)
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	conn := req.Conn
	if conn == nil || !conn.Security.IsSASL() {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return respond(resp)
	}
	sess := conn.Session()
	if sess != nil && (sess.Expiry.IsZero() || r.Version < 1) {
		// Not a re-authentication: Kafka's KafkaApis answers.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return respond(resp)
	}
	enabled := b.saslMechanisms(conn.Listener)
	resp.SupportedMechanisms = slices.Clone(enabled)
	if exchangeOf(conn) != nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return protocol.Reply{Resp: resp, Close: true}
	}
	if !slices.Contains(enabled, r.Mechanism) {
		b.logger.Info("SASL handshake with a mechanism not enabled", "remote", conn.Remote, "listener", conn.Listener, "mechanism", r.Mechanism)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return protocol.Reply{Resp: resp, Close: true}
	}
	if sess != nil && r.Mechanism != sess.Mechanism {
		b.logger.Info("SASL re-authentication with another mechanism", "remote", conn.Remote, "listener", conn.Listener, "mechanism", r.Mechanism, "was", sess.Mechanism)
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return protocol.Reply{Resp: resp, Close: true}
	}
	srv, err := b.newSASLServer(conn.Listener, r.Mechanism)
	if err != nil {
		b.logger.Warn("SASL mechanism cannot start", "listener", conn.Listener, "mechanism", r.Mechanism, "err", err)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return protocol.Reply{Resp: resp, Close: true}
	}
	conn.Auth = &saslExchange{mechanism: r.Mechanism, server: srv, prev: sess, raw: r.Version == 0}
	// v0: bare tokens follow (the protocol server reads them as
	// SaslAuthenticate v0 requests until the session is set).
	return protocol.Reply{Resp: resp, RawSASL: r.Version == 0}
}
