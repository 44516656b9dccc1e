package broker

// SaslAuthenticate, key 36, versions 0–2.
//
//   - One step of the exchange SaslHandshake started; the mechanism's answer
//     goes back in auth_bytes. A failed step is SASL_AUTHENTICATION_FAILED
//     with Kafka's message (the mechanism's own for PLAIN's and SCRAM's
//     authorization-id and PLAIN's password checks and OAUTHBEARER's JSON
//     error, else "Authentication failed during authentication due to
//     invalid credentials with SASL mechanism X"), logged at info with the
//     remote address, and the connection closes after
//     connection.failed.authentication.delay.ms (default 100 ms, as Kafka).
//   - Success sets the connection's session (User:<name>, the mechanism,
//     the delegation token id). v1+: session_lifetime_ms is KIP-368's:
//     connections.max.reauth.ms of the listener and mechanism, capped by
//     the credential's expiry (a delegation token's, an OAuth token's); the
//     session's Expiry is set from it in every version (the protocol
//     server closes an expired connection that does not re-authenticate).
//   - Re-authentication must keep the principal; another one fails the
//     exchange and closes the connection, as Kafka does.
//   - Without an exchange in progress: ILLEGAL_SASL_STATE ("SaslAuthenticate
//     request received after successful authentication" on an
//     authenticated or non-SASL connection; before a handshake the
//     connection also closes).
//   - Raw tokens (after a v0 handshake) arrive here as v0 requests; the
//     protocol server writes auth_bytes back bare. A failure there has no
//     answer: the connection closes.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/sasl"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleSaslAuthenticate(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.SASLAuthenticateRequest)
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	conn := req.Conn
	ex := exchangeOf(conn)
	if ex == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		if conn != nil && conn.Security.IsSASL() && conn.Session() == nil {
			resp.ErrorMessage = kmsg.StringPtr("Unexpected Kafka request of type SASL_AUTHENTICATE during SASL handshake.")
			return protocol.Reply{Resp: resp, Close: true}
		}
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate request received after successful authentication")
		return respond(resp)
	}
	out, done, err := ex.server.Step(r.SASLAuthBytes)
	if err != nil {
		return b.saslFailed(conn, ex, resp, err.Error(), sasl.ClientMessage(err, ex.mechanism, ex.prev != nil))
	}
	resp.SASLAuthBytes = out
	if !done {
		return respond(resp)
	}
	conn.Auth = nil
	res := ex.server.Result()
	if ex.prev != nil && res.Principal != ex.prev.Principal {
		msg := fmt.Sprintf("Cannot change principals during re-authentication from %s: %s", kafkaPrincipalText(ex.prev.Principal), kafkaPrincipalText(res.Principal))
		return b.saslFailed(conn, ex, resp, "principal changed to "+res.Principal, msg)
	}
	now := b.now()
	sess := &protocol.Session{Principal: res.Principal, Mechanism: ex.mechanism, TokenID: res.TokenID}
	expiry := res.Expiry
	if res.TokenID != "" {
		if e, ok := b.tokenExpiry(res.TokenID); ok && (expiry.IsZero() || e.Before(expiry)) {
			expiry = e
		}
	}
	lifetime, ok := sessionLifetime(b.cfg.Security.SASL.MaxReauthFor(conn.Listener, ex.mechanism), expiry, now)
	if ok {
		sess.Expiry = now.Add(lifetime)
		resp.SessionLifetimeMillis = lifetime.Milliseconds()
	}
	conn.SetSession(sess)
	b.topics.metrics.sasl.count(conn.Listener, ex.mechanism, true, ex.prev != nil)
	b.logger.Debug("SASL authenticated", "remote", conn.Remote, "listener", conn.Listener, "mechanism", ex.mechanism,
		"principal", sess.Principal, "reauthentication", ex.prev != nil, "lifetime", lifetime)
	return respond(resp)
}

// saslFailed ends the exchange with SASL_AUTHENTICATION_FAILED and closes
// the connection, after connection.failed.authentication.delay.ms (Kafka's
// brake on password guessing; the writer goroutine waits, the reader reads
// nothing more). why is for the log only (it never holds a password).
func (b *Broker) saslFailed(conn *protocol.ConnInfo, ex *saslExchange, resp *kmsg.SASLAuthenticateResponse, why, clientMsg string) protocol.Reply {
	conn.Auth = nil
	b.topics.metrics.sasl.count(conn.Listener, ex.mechanism, false, ex.prev != nil)
	b.logger.Info("SASL authentication failed", "remote", conn.Remote, "listener", conn.Listener, "mechanism", ex.mechanism,
		"reauthentication", ex.prev != nil, "reason", why)
	resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
	resp.ErrorMessage = &clientMsg
	resp.SASLAuthBytes = nil
	// Bare tokens (v0 handshake) have no way to carry an error: the
	// connection just closes, as Kafka's does.
	var out kmsg.Response = resp
	if ex.raw {
		out = nil
	}
	reply := protocol.Reply{Resp: out, Close: true}
	if d := b.cfg.Security.SASL.AuthFailureDelay(); d > 0 {
		reply.Wait = func(ctx context.Context) kmsg.Response {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			return out
		}
	}
	return reply
}

// kafkaPrincipalText writes "User:alice" as Kafka's re-authentication
// message does ("User.alice").
func kafkaPrincipalText(p string) string {
	typ, name, ok := strings.Cut(p, ":")
	if !ok {
		return p
	}
	return typ + "." + name
}
