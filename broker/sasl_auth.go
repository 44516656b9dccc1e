package broker

// SASL authentication: the per-connection exchange behind SaslHandshake (17)
// and SaslAuthenticate (36), the mechanisms' lookups (PLAIN users from the
// JAAS config, SCRAM credentials from the entityStore, delegation tokens
// through tokenScramCredential) and the --add-scram bootstrap.
//
// Locking: a connection's exchange lives in its ConnInfo.Auth and is only
// touched from Handle (the connection's reader goroutine), so it needs no
// lock. brokerAuth.mu guards the OAUTHBEARER validators, built once per
// listener (a JWKS validator fetches its key set) and shared by every
// connection of that listener; the validators are safe for concurrent use.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moldau/moldau/broker/sasl"
	"github.com/moldau/moldau/protocol"
)

// saslMetrics count SASL authentications as Kafka's
// successful-authentication-total, failed-authentication-total and their
// re-authentication twins do, by listener and mechanism.
type saslMetrics struct {
	auths *prometheus.CounterVec // listener, mechanism, result (success|failure), reauthentication (true|false)
}

func newSASLMetrics(reg prometheus.Registerer) *saslMetrics {
	m := &saslMetrics{auths: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "moldau", Name: "sasl_authentications_total",
		Help: "SASL authentications and re-authentications (KIP-368), by listener, mechanism and result."},
		[]string{"listener", "mechanism", "result", "reauthentication"})}
	if reg != nil {
		reg.MustRegister(m.auths)
	}
	return m
}

// count records one exchange's outcome; m may be nil.
func (m *saslMetrics) count(listener, mechanism string, ok, reauth bool) {
	if m == nil {
		return
	}
	result := "failure"
	if ok {
		result = "success"
	}
	m.auths.WithLabelValues(listener, mechanism, result, strconv.FormatBool(reauth)).Inc()
}

// saslExchange is one connection's SASL exchange, from SaslHandshake until
// it succeeds or fails (ConnInfo.Auth).
type saslExchange struct {
	mechanism string
	server    sasl.Server
	// prev is the session being re-authenticated (KIP-368); nil for a
	// first authentication.
	prev *protocol.Session
	// raw: the exchange runs on bare tokens (after a v0 SaslHandshake),
	// where a failure can only close the connection.
	raw bool
}

func exchangeOf(c *protocol.ConnInfo) *saslExchange {
	if c == nil {
		return nil
	}
	ex, _ := c.Auth.(*saslExchange)
	return ex
}

// brokerAuth is the broker's SASL state shared by connections.
type brokerAuth struct {
	mu    sync.Mutex
	oauth map[string]sasl.OAuthValidator // by lower-case listener name
}

// saslMechanisms are the mechanisms enabled on listener.
func (b *Broker) saslMechanisms(listener string) []string {
	return b.cfg.Security.SASL.MechanismsFor(listener)
}

// newSASLServer starts the server side of mechanism on listener.
func (b *Broker) newSASLServer(listener, mechanism string) (sasl.Server, error) {
	switch mechanism {
	case sasl.Plain:
		users := b.cfg.Security.SASL.PlainUsers(listener)
		return sasl.NewPlainServer(func(user string) (string, bool) {
			pw, ok := users[user]
			return pw, ok
		}), nil
	case sasl.ScramSHA256, sasl.ScramSHA512:
		return sasl.NewScramServer(mechanism, b.scramLookup)
	case sasl.OAuthBearer:
		v, err := b.oauthValidator(listener)
		if err != nil {
			return nil, err
		}
		return sasl.NewOAuthBearerServer(v), nil
	}
	return nil, fmt.Errorf("broker: SASL mechanism %q not served", mechanism)
}

// oauthValidator returns listener's OAUTHBEARER validator: JWKS when an
// endpoint is configured, else Kafka's unsecured validator with the JAAS
// options.
func (b *Broker) oauthValidator(listener string) (sasl.OAuthValidator, error) {
	l := strings.ToLower(listener)
	b.auth.mu.Lock()
	defer b.auth.mu.Unlock()
	if v, ok := b.auth.oauth[l]; ok {
		return v, nil
	}
	sc := &b.cfg.Security.SASL
	var v sasl.OAuthValidator
	if o := sc.OAuthFor(listener); o.JWKS() {
		skew := 30 * time.Second // Kafka's sasl.oauthbearer.clock.skew.seconds default
		if o.ClockSkewSet {
			skew = o.ClockSkew
		}
		jv, err := sasl.NewJWKSValidator(sasl.JWKSConfig{
			URL: o.JWKSURL, Refresh: o.JWKSRefresh, ExpectedAudience: o.ExpectedAudience,
			ExpectedIssuer: o.ExpectedIssuer, SubClaimName: o.SubClaimName, ScopeClaimName: o.ScopeClaimName,
			ClockSkew: skew, Now: b.now,
		})
		if err != nil {
			// The validator retries on later tokens.
			b.logger.Warn("OAUTHBEARER: JWKS fetch failed", "listener", listener, "err", err)
		}
		v = jv
	} else {
		e, _ := sc.JAASFor(listener, sasl.OAuthBearer)
		uv, err := sasl.NewUnsecuredValidator(e.Options)
		if err != nil {
			return nil, err
		}
		uv.Now = b.now
		v = uv
	}
	if b.auth.oauth == nil {
		b.auth.oauth = map[string]sasl.OAuthValidator{}
	}
	b.auth.oauth[l] = v
	return v, nil
}

// scramLookup is the sasl.ScramLookup of every SCRAM exchange.
func (b *Broker) scramLookup(mechanism, user string, tokenAuth bool) (sasl.ScramCredential, string, bool) {
	if !b.metadataLoaded() {
		// A node behind the metadata log could still hold a credential
		// that was changed or deleted since: refuse until caught up.
		return sasl.ScramCredential{}, "", false
	}
	if tokenAuth {
		return b.tokenScramCredential(mechanism, user)
	}
	c, ok := b.scramCredential(mechanism, user)
	return c, "", ok
}

// scramKey is a SCRAM credential's entity key (sasl/FORMAT.md).
func scramKey(mechanism, user string) string { return mechanism + "/" + user }

// scramCredential reads user's credential for mechanism from the entityStore.
func (b *Broker) scramCredential(mechanism, user string) (sasl.ScramCredential, bool) {
	v, ok := b.entities.Get(entityScram, scramKey(mechanism, user))
	if !ok {
		return sasl.ScramCredential{}, false
	}
	c, err := sasl.UnmarshalScramCredential(mechanism, v)
	if err != nil {
		b.logger.Error("SCRAM credential does not decode; treating the user as unknown", "mechanism", mechanism, "user", user, "err", err)
		return sasl.ScramCredential{}, false
	}
	return c, true
}

// sessionLifetime is Kafka's KIP-368 session lifetime
// (SaslServerAuthenticator.ReauthInfo): connections.max.reauth.ms for the
// listener and mechanism, capped by the credential's expiry; 0 and
// ok=false when neither applies.
func sessionLifetime(maxReauth time.Duration, credExpiry, now time.Time) (time.Duration, bool) {
	switch {
	case credExpiry.IsZero() && maxReauth <= 0:
		return 0, false
	case credExpiry.IsZero():
		return maxReauth, true
	}
	left := max(credExpiry.Sub(now), 0)
	if maxReauth > 0 {
		left = min(left, maxReauth)
	}
	return left, true
}

// bootstrapScramUsers writes the --add-scram credentials that are not in the
// entityStore yet (Kafka writes them at format time; an existing credential,
// perhaps changed since with AlterUserScramCredentials, is kept).
func (b *Broker) bootstrapScramUsers(ctx context.Context) error {
	var put []Entity
	for _, u := range b.cfg.Security.SASL.ScramUsers {
		key := scramKey(u.Credential.Mechanism, u.User)
		if _, ok := b.entities.Get(entityScram, key); ok {
			continue
		}
		v, err := u.Credential.MarshalBinary()
		if err != nil {
			return err
		}
		put = append(put, Entity{Key: key, Value: v})
	}
	if len(put) == 0 {
		return nil
	}
	if err := b.entities.Apply(ctx, entityScram, put, nil); err != nil {
		return fmt.Errorf("broker: bootstrap SCRAM users: %w", err)
	}
	b.logger.Info("SCRAM users bootstrapped", "credentials", len(put))
	return nil
}

// startScramBootstrap runs bootstrapScramUsers at start: at once for a
// single node, in the background with retries in a cluster (the metadata
// log must be writable first).
func (b *Broker) startScramBootstrap() error {
	if len(b.cfg.Security.SASL.ScramUsers) == 0 {
		return nil
	}
	if b.raft == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return b.bootstrapScramUsers(ctx)
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := b.bootstrapScramUsers(ctx)
			cancel()
			if err == nil {
				return
			}
			b.logger.Warn("bootstrapping SCRAM users; retrying", "err", err)
			select {
			case <-b.stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return nil
}
