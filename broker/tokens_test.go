package broker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/sasl"
	"github.com/moldau/moldau/protocol"
)

// Delegation tokens (38–41, tokens.go): handler-level tests through kmsg
// encoding at every version, on connections with a chosen session.

const testTokenKey = "token-secret-key"

// testClock is a settable clock for WithClock.
type testClock struct{ ms atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ms.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli())
	return c
}
func (c *testClock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *testClock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func newTokenBroker(t *testing.T, clk *testClock, mut ...func(*config.Config)) *Broker {
	t.Helper()
	cfg := config.Default()
	cfg.Memory = true
	cfg.Security.Tokens.SecretKey = testTokenKey
	for _, m := range mut {
		m(&cfg)
	}
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

// saslConn is a SASL_PLAINTEXT connection authenticated as principal.
func sessionConn(principal string) *protocol.ConnInfo {
	c := &protocol.ConnInfo{Listener: "SASL_PLAINTEXT", Security: protocol.SASLPlaintext}
	c.SetSession(&protocol.Session{Principal: principal, Mechanism: "SCRAM-SHA-256"})
	return c
}

// doOn is do (admin_test.go) on a given connection.
func doOn[R kmsg.Response](t *testing.T, b *Broker, conn *protocol.ConnInfo, version int16, req kmsg.Request) R {
	t.Helper()
	req.SetVersion(version)
	wire := kmsg.RequestForKey(req.Key())
	wire.SetVersion(version)
	if err := wire.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("decode request v%d: %v", version, err)
	}
	ctx := context.Background()
	reply := b.Handle(ctx, &protocol.Request{Key: req.Key(), Version: version, Body: wire, Parsed: true, Conn: conn})
	resp := reply.Resp
	if reply.Wait != nil {
		resp = reply.Wait(ctx)
	}
	if resp == nil {
		t.Fatalf("key %d v%d: no response", req.Key(), version)
	}
	out := kmsg.ResponseForKey(req.Key())
	out.SetVersion(version)
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("decode response v%d: %v", version, err)
	}
	return out.(R)
}

func createTokenReq(maxLifetimeMs int64, renewers ...string) *kmsg.CreateDelegationTokenRequest {
	r := kmsg.NewPtrCreateDelegationTokenRequest()
	r.MaxLifetimeMillis = maxLifetimeMs
	for _, p := range renewers {
		rn := kmsg.NewCreateDelegationTokenRequestRenewer()
		rn.PrincipalType, rn.PrincipalName = splitPrincipal(p)
		r.Renewers = append(r.Renewers, rn)
	}
	return r
}

func mustCreateToken(t *testing.T, b *Broker, conn *protocol.ConnInfo, version int16, req *kmsg.CreateDelegationTokenRequest) *kmsg.CreateDelegationTokenResponse {
	t.Helper()
	resp := doOn[*kmsg.CreateDelegationTokenResponse](t, b, conn, version, req)
	wantCode(t, "create token", resp.ErrorCode, nil)
	return resp
}

func renewToken(t *testing.T, b *Broker, conn *protocol.ConnInfo, version int16, mac []byte, ms int64) *kmsg.RenewDelegationTokenResponse {
	t.Helper()
	r := kmsg.NewPtrRenewDelegationTokenRequest()
	r.HMAC, r.RenewTimeMillis = mac, ms
	return doOn[*kmsg.RenewDelegationTokenResponse](t, b, conn, version, r)
}

func expireToken(t *testing.T, b *Broker, conn *protocol.ConnInfo, version int16, mac []byte, ms int64) *kmsg.ExpireDelegationTokenResponse {
	t.Helper()
	r := kmsg.NewPtrExpireDelegationTokenRequest()
	r.HMAC, r.ExpiryPeriodMillis = mac, ms
	return doOn[*kmsg.ExpireDelegationTokenResponse](t, b, conn, version, r)
}

// describeTokens: owners nil asks for all.
func describeTokens(t *testing.T, b *Broker, conn *protocol.ConnInfo, version int16, owners []string) *kmsg.DescribeDelegationTokenResponse {
	t.Helper()
	r := kmsg.NewPtrDescribeDelegationTokenRequest()
	if owners != nil {
		r.Owners = []kmsg.DescribeDelegationTokenRequestOwner{}
	}
	for _, o := range owners {
		x := kmsg.NewDescribeDelegationTokenRequestOwner()
		x.PrincipalType, x.PrincipalName = splitPrincipal(o)
		r.Owners = append(r.Owners, x)
	}
	return doOn[*kmsg.DescribeDelegationTokenResponse](t, b, conn, version, r)
}

func describedIDs(r *kmsg.DescribeDelegationTokenResponse) []string {
	var ids []string
	for _, d := range r.TokenDetails {
		ids = append(ids, d.TokenID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(s ...string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func kafkaHMAC(id string) []byte {
	m := hmac.New(sha512.New, []byte(testTokenKey))
	m.Write([]byte(id))
	return m.Sum(nil)
}

func TestCreateDelegationTokenEveryVersion(t *testing.T) {
	clk := newTestClock()
	b := newTokenBroker(t, clk)
	alice := sessionConn("User:alice")
	day, week := (24 * time.Hour).Milliseconds(), (7 * 24 * time.Hour).Milliseconds()
	for v := int16(0); v <= 3; v++ {
		now := clk.now().UnixMilli()
		resp := mustCreateToken(t, b, alice, v, createTokenReq(-1, "User:bob"))
		if resp.PrincipalType != "User" || resp.PrincipalName != "alice" {
			t.Errorf("v%d: owner %s:%s", v, resp.PrincipalType, resp.PrincipalName)
		}
		if v >= 3 && (resp.TokenRequesterPrincipalType != "User" || resp.TokenRequesterPrincipalName != "alice") {
			t.Errorf("v%d: requester %s:%s", v, resp.TokenRequesterPrincipalType, resp.TokenRequesterPrincipalName)
		}
		if resp.IssueTimestamp != now || resp.ExpiryTimestamp != now+day || resp.MaxTimestamp != now+week {
			t.Errorf("v%d: issue %d expiry %d max %d, want %d %d %d", v, resp.IssueTimestamp, resp.ExpiryTimestamp, resp.MaxTimestamp, now, now+day, now+week)
		}
		if len(resp.TokenID) != 22 || resp.TokenID[0] == '-' {
			t.Errorf("v%d: token id %q, want Kafka's 22-character Uuid form", v, resp.TokenID)
		}
		if _, err := base64.RawURLEncoding.DecodeString(resp.TokenID); err != nil {
			t.Errorf("v%d: token id %q: %v", v, resp.TokenID, err)
		}
		if !bytes.Equal(resp.HMAC, kafkaHMAC(resp.TokenID)) {
			t.Errorf("v%d: HMAC is not HMAC-SHA512(secret key, token id)", v)
		}
		clk.advance(time.Second)
	}

	// A requested lifetime shorter than the expiry time bounds both; a
	// longer one than delegation.token.max.lifetime.ms is capped.
	now := clk.now().UnixMilli()
	resp := mustCreateToken(t, b, alice, 2, createTokenReq(60_000))
	if resp.MaxTimestamp != now+60_000 || resp.ExpiryTimestamp != now+60_000 {
		t.Errorf("max lifetime 60s: expiry %d max %d, want both %d", resp.ExpiryTimestamp, resp.MaxTimestamp, now+60_000)
	}
	resp = mustCreateToken(t, b, alice, 2, createTokenReq(100*week))
	if resp.MaxTimestamp != now+week {
		t.Errorf("max lifetime 100 weeks: max %d, want %d", resp.MaxTimestamp, now+week)
	}

	// Two tokens never share an id.
	ids := describedIDs(describeTokens(t, b, alice, 3, nil))
	if len(ids) != 6 || len(slices.Compact(slices.Clone(ids))) != 6 {
		t.Errorf("described ids %v, want 6 distinct", ids)
	}
}

func TestCreateDelegationTokenForOwner(t *testing.T) {
	b := newTokenBroker(t, newTestClock())
	admin := sessionConn("User:admin")
	req := createTokenReq(-1)
	req.OwnerPrincipalType, req.OwnerPrincipalName = kmsg.StringPtr("User"), kmsg.StringPtr("alice")
	resp := mustCreateToken(t, b, admin, 3, req)
	if resp.PrincipalName != "alice" || resp.TokenRequesterPrincipalName != "admin" {
		t.Errorf("owner %s requester %s, want alice, admin", resp.PrincipalName, resp.TokenRequesterPrincipalName)
	}
	cred, principal, ok := b.tokenScramCredential("SCRAM-SHA-512", resp.TokenID)
	if !ok || principal != "User:alice" || cred.Mechanism != "SCRAM-SHA-512" {
		t.Errorf("token lookup: %v %q %v, want User:alice", cred.Mechanism, principal, ok)
	}
	d := describeTokens(t, b, sessionConn("User:alice"), 3, []string{"User:alice"})
	if len(d.TokenDetails) != 1 || d.TokenDetails[0].TokenRequesterPrincipalName != "admin" || d.TokenDetails[0].PrincipalName != "alice" {
		t.Errorf("describe: %+v", d.TokenDetails)
	}
	// v2 has no owner field: the token is the caller's.
	resp = mustCreateToken(t, b, admin, 2, req)
	if resp.PrincipalName != "admin" {
		t.Errorf("v2 owner %s, want admin", resp.PrincipalName)
	}
}

func TestDelegationTokenRequestNotAllowed(t *testing.T) {
	b := newTokenBroker(t, newTestClock())
	alice := sessionConn("User:alice")
	created := mustCreateToken(t, b, alice, 3, createTokenReq(-1))

	tokenSession := &protocol.ConnInfo{Listener: "SASL_SSL", Security: protocol.SASLSSL}
	tokenSession.SetSession(&protocol.Session{Principal: "User:alice", Mechanism: "SCRAM-SHA-256", TokenID: created.TokenID})
	mtls := &protocol.ConnInfo{Listener: "SSL", Security: protocol.SSL}
	mtls.SetSession(&protocol.Session{Principal: "User:CN=alice"})
	oneWaySSL := &protocol.ConnInfo{Listener: "SSL", Security: protocol.SSL}
	oneWaySSL.SetSession(&protocol.Session{Principal: protocol.AnonymousPrincipal})
	unauthenticated := &protocol.ConnInfo{Listener: "SASL_PLAINTEXT", Security: protocol.SASLPlaintext}

	for _, c := range []struct {
		name    string
		conn    *protocol.ConnInfo
		allowed bool
	}{
		{"PLAINTEXT", &protocol.ConnInfo{Listener: "PLAINTEXT"}, false},
		{"one-way SSL", oneWaySSL, false},
		{"token session", tokenSession, false},
		{"SASL before authentication", unauthenticated, false},
		{"no connection info", nil, false},
		{"SSL client certificate", mtls, true},
		{"SASL", alice, true},
	} {
		want := kerr.DelegationTokenRequestNotAllowed
		if c.allowed {
			want = nil
		}
		cr := doOn[*kmsg.CreateDelegationTokenResponse](t, b, c.conn, 3, createTokenReq(-1))
		wantCode(t, c.name+": create", cr.ErrorCode, want)
		if !c.allowed && (cr.TokenID != "" || len(cr.HMAC) != 0 || cr.IssueTimestamp != -1) {
			t.Errorf("%s: refused create carries a token: %+v", c.name, cr)
		}
		if c.allowed {
			continue // renew/expire would need ownership; covered elsewhere
		}
		wantCode(t, c.name+": renew", renewToken(t, b, c.conn, 2, created.HMAC, -1).ErrorCode, want)
		wantCode(t, c.name+": expire", expireToken(t, b, c.conn, 2, created.HMAC, -1).ErrorCode, want)
		d := describeTokens(t, b, c.conn, 3, nil)
		wantCode(t, c.name+": describe", d.ErrorCode, want)
		if len(d.TokenDetails) != 0 {
			t.Errorf("%s: refused describe lists %d tokens", c.name, len(d.TokenDetails))
		}
	}
	// The token still exists: nothing above touched it.
	if _, _, ok := b.tokenScramCredential("SCRAM-SHA-256", created.TokenID); !ok {
		t.Error("token gone after refused requests")
	}
}

func TestDelegationTokenAuthDisabled(t *testing.T) {
	b := newTokenBroker(t, newTestClock(), func(c *config.Config) { c.Security.Tokens.SecretKey = "" })
	alice := sessionConn("User:alice")
	for v := int16(0); v <= 3; v++ {
		wantCode(t, "create", doOn[*kmsg.CreateDelegationTokenResponse](t, b, alice, v, createTokenReq(-1)).ErrorCode, kerr.DelegationTokenAuthDisabled)
		wantCode(t, "describe", describeTokens(t, b, alice, v, nil).ErrorCode, kerr.DelegationTokenAuthDisabled)
	}
	for v := int16(0); v <= 2; v++ {
		wantCode(t, "renew", renewToken(t, b, alice, v, []byte("x"), -1).ErrorCode, kerr.DelegationTokenAuthDisabled)
		wantCode(t, "expire", expireToken(t, b, alice, v, []byte("x"), -1).ErrorCode, kerr.DelegationTokenAuthDisabled)
	}
}

func TestCreateDelegationTokenRenewerType(t *testing.T) {
	b := newTokenBroker(t, newTestClock())
	resp := doOn[*kmsg.CreateDelegationTokenResponse](t, b, sessionConn("User:alice"), 2, createTokenReq(-1, "User:bob", "Group:ops"))
	wantCode(t, "Group renewer", resp.ErrorCode, kerr.InvalidPrincipalType)
	if n := len(b.entities.List(entityToken)); n != 0 {
		t.Errorf("%d tokens stored after a refused create", n)
	}
}

func TestRenewDelegationToken(t *testing.T) {
	clk := newTestClock()
	b := newTokenBroker(t, clk, func(c *config.Config) {
		c.Security.Tokens.ExpiryTimeMs = 10_000
		c.Security.Tokens.MaxLifetimeMs = 60_000
	})
	alice, bob, carol := sessionConn("User:alice"), sessionConn("User:bob"), sessionConn("User:carol")
	tok := mustCreateToken(t, b, alice, 2, createTokenReq(-1, "User:bob"))
	if tok.ExpiryTimestamp != tok.IssueTimestamp+10_000 {
		t.Fatalf("expiry %d, want issue+10s", tok.ExpiryTimestamp)
	}
	for v := int16(0); v <= 2; v++ {
		clk.advance(2 * time.Second)
		now := clk.now().UnixMilli()
		// Owner, default period (delegation.token.expiry.time.ms).
		r := renewToken(t, b, alice, v, tok.HMAC, -1)
		wantCode(t, "owner renew", r.ErrorCode, nil)
		if r.ExpiryTimestamp != now+10_000 {
			t.Errorf("v%d: owner renew: expiry %d, want %d", v, r.ExpiryTimestamp, now+10_000)
		}
		// Renewer, a shorter period.
		r = renewToken(t, b, bob, v, tok.HMAC, 3_000)
		wantCode(t, "renewer renew", r.ErrorCode, nil)
		if r.ExpiryTimestamp != now+3_000 {
			t.Errorf("v%d: renewer renew: expiry %d, want %d", v, r.ExpiryTimestamp, now+3_000)
		}
		// A longer period than the expiry time is capped at it.
		r = renewToken(t, b, bob, v, tok.HMAC, 999_000)
		if r.ExpiryTimestamp != now+10_000 {
			t.Errorf("v%d: long renew: expiry %d, want %d", v, r.ExpiryTimestamp, now+10_000)
		}
		wantCode(t, "other renews", renewToken(t, b, carol, v, tok.HMAC, -1).ErrorCode, kerr.DelegationTokenOwnerMismatch)
		bad := slices.Clone(tok.HMAC)
		bad[0] ^= 1
		wantCode(t, "wrong HMAC", renewToken(t, b, alice, v, bad, -1).ErrorCode, kerr.DelegationTokenNotFound)
	}
	d := describeTokens(t, b, alice, 3, nil)
	if len(d.TokenDetails) != 1 || d.TokenDetails[0].ExpiryTimestamp != clk.now().UnixMilli()+10_000 {
		t.Errorf("describe after renewals: %+v", d.TokenDetails)
	}

	// A token past its expiry cannot be renewed.
	clk.advance(10_001 * time.Millisecond)
	wantCode(t, "renew of an expired token", renewToken(t, b, alice, 2, tok.HMAC, -1).ErrorCode, kerr.DelegationTokenExpired)

	// Renewals never pass the maximum lifetime.
	var r *kmsg.RenewDelegationTokenResponse
	tok3 := mustCreateToken(t, b, alice, 2, createTokenReq(-1))
	for i := 0; i < 6; i++ {
		clk.advance(9 * time.Second)
		r = renewToken(t, b, alice, 2, tok3.HMAC, -1)
		wantCode(t, "renew", r.ErrorCode, nil)
		if r.ExpiryTimestamp > tok3.MaxTimestamp {
			t.Errorf("renewed past max: %d > %d", r.ExpiryTimestamp, tok3.MaxTimestamp)
		}
	}
	if r.ExpiryTimestamp != tok3.MaxTimestamp {
		t.Errorf("last renewal: expiry %d, want the max %d", r.ExpiryTimestamp, tok3.MaxTimestamp)
	}
}

func TestExpireDelegationToken(t *testing.T) {
	clk := newTestClock()
	b := newTokenBroker(t, clk)
	alice, bob, carol := sessionConn("User:alice"), sessionConn("User:bob"), sessionConn("User:carol")
	for v := int16(0); v <= 2; v++ {
		tok := mustCreateToken(t, b, alice, 2, createTokenReq(-1, "User:bob"))
		wantCode(t, "other expires", expireToken(t, b, carol, v, tok.HMAC, -1).ErrorCode, kerr.DelegationTokenOwnerMismatch)

		// A positive period moves the expiry (capped at the max).
		now := clk.now().UnixMilli()
		r := expireToken(t, b, bob, v, tok.HMAC, 5_000)
		wantCode(t, "renewer expires later", r.ErrorCode, nil)
		if r.ExpiryTimestamp != now+5_000 {
			t.Errorf("v%d: expiry %d, want %d", v, r.ExpiryTimestamp, now+5_000)
		}
		if _, _, ok := b.tokenScramCredential("SCRAM-SHA-256", tok.TokenID); !ok {
			t.Errorf("v%d: token unusable before its new expiry", v)
		}
		clk.advance(5_001 * time.Millisecond)
		if _, _, ok := b.tokenScramCredential("SCRAM-SHA-256", tok.TokenID); ok {
			t.Errorf("v%d: token usable after its new expiry", v)
		}
		wantCode(t, "expire an expired token", expireToken(t, b, alice, v, tok.HMAC, -1).ErrorCode, kerr.DelegationTokenExpired)

		// A negative period removes the token at once.
		tok = mustCreateToken(t, b, alice, 2, createTokenReq(-1))
		r = expireToken(t, b, alice, v, tok.HMAC, -1)
		wantCode(t, "expire now", r.ErrorCode, nil)
		if r.ExpiryTimestamp != -1 {
			t.Errorf("v%d: expire now: timestamp %d, want the period -1 as Kafka answers", v, r.ExpiryTimestamp)
		}
		if _, ok := b.entities.Get(entityToken, tok.TokenID); ok {
			t.Errorf("v%d: token still stored after expiring it", v)
		}
		wantCode(t, "expire again", expireToken(t, b, alice, v, tok.HMAC, -1).ErrorCode, kerr.DelegationTokenNotFound)
	}
}

func TestDescribeDelegationTokenOwners(t *testing.T) {
	clk := newTestClock()
	b := newTokenBroker(t, clk)
	alice, bob := sessionConn("User:alice"), sessionConn("User:bob")
	ta := mustCreateToken(t, b, alice, 2, createTokenReq(-1, "User:carol"))
	tb := mustCreateToken(t, b, bob, 2, createTokenReq(-1))
	for v := int16(0); v <= 3; v++ {
		all := describeTokens(t, b, alice, v, nil)
		wantCode(t, "describe", all.ErrorCode, nil)
		// No authorizer: as Kafka without one, every token is visible.
		if got := describedIDs(all); !slices.Equal(got, sorted(ta.TokenID, tb.TokenID)) {
			t.Errorf("v%d: all: %v", v, got)
		}
		if got := describedIDs(describeTokens(t, b, alice, v, []string{})); len(got) != 0 {
			t.Errorf("v%d: empty owners: %v, want none", v, got)
		}
		if got := describedIDs(describeTokens(t, b, alice, v, []string{"User:bob"})); !slices.Equal(got, []string{tb.TokenID}) {
			t.Errorf("v%d: owner bob: %v", v, got)
		}
		// A renewer counts as an owner for the filter.
		if got := describedIDs(describeTokens(t, b, bob, v, []string{"User:carol"})); !slices.Equal(got, []string{ta.TokenID}) {
			t.Errorf("v%d: renewer carol: %v", v, got)
		}
		if got := describedIDs(describeTokens(t, b, bob, v, []string{"User:nobody"})); len(got) != 0 {
			t.Errorf("v%d: owner nobody: %v", v, got)
		}
	}
	d := describeTokens(t, b, alice, 3, []string{"User:alice"})
	if len(d.TokenDetails) != 1 {
		t.Fatalf("details %+v", d.TokenDetails)
	}
	x := d.TokenDetails[0]
	if x.PrincipalName != "alice" || x.TokenRequesterPrincipalName != "alice" || !bytes.Equal(x.HMAC, ta.HMAC) ||
		x.IssueTimestamp != ta.IssueTimestamp || x.ExpiryTimestamp != ta.ExpiryTimestamp || x.MaxTimestamp != ta.MaxTimestamp ||
		len(x.Renewers) != 1 || x.Renewers[0].PrincipalType != "User" || x.Renewers[0].PrincipalName != "carol" {
		t.Errorf("detail %+v", x)
	}
	// Expired tokens are not listed.
	clk.advance(24*time.Hour + time.Millisecond)
	if got := describedIDs(describeTokens(t, b, alice, 3, nil)); len(got) != 0 {
		t.Errorf("after expiry: %v", got)
	}
}

func TestDelegationTokenExpirySweep(t *testing.T) {
	clk := newTestClock()
	b := newTokenBroker(t, clk, func(c *config.Config) {
		c.Security.Tokens.ExpiryTimeMs = 1_000
		c.Security.Tokens.ExpiryCheckIntervalMs = 10
		c.Addr = "127.0.0.1:0"
	})
	alice := sessionConn("User:alice")
	old := mustCreateToken(t, b, alice, 2, createTokenReq(-1))
	clk.advance(500 * time.Millisecond)
	young := mustCreateToken(t, b, alice, 2, createTokenReq(-1))
	if n, err := b.sweepExpiredTokens(context.Background()); n != 0 || err != nil {
		t.Fatalf("sweep before expiry: %d, %v", n, err)
	}
	if err := b.Start(); err != nil { // runs the sweep every 10 ms
		t.Fatal(err)
	}
	clk.advance(600 * time.Millisecond) // old is past its expiry, young is not
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, oldThere := b.entities.Get(entityToken, old.TokenID)
		if !oldThere {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired token not removed by the sweep within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := b.entities.Get(entityToken, young.TokenID); !ok {
		t.Error("the sweep removed a token before its expiry")
	}
}

func TestTokenScramCredential(t *testing.T) {
	clk := newTestClock()
	b := newTokenBroker(t, clk)
	tok := mustCreateToken(t, b, sessionConn("User:alice"), 2, createTokenReq(-1))
	password := base64.StdEncoding.EncodeToString(tok.HMAC)
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
		cred, principal, ok := b.tokenScramCredential(mech, tok.TokenID)
		if !ok || principal != "User:alice" || cred.Mechanism != mech || cred.Iterations != 4096 || cred.Expiry.UnixMilli() != tok.ExpiryTimestamp {
			t.Fatalf("%s: %+v %q %v", mech, cred, principal, ok)
		}
		// The credential is the one of the password base64(HMAC).
		want, err := sasl.NewScramCredential(mech, password, cred.Salt, cred.Iterations)
		if err != nil || !bytes.Equal(want.StoredKey, cred.StoredKey) || !bytes.Equal(want.ServerKey, cred.ServerKey) {
			t.Errorf("%s: credential is not derived from base64(HMAC): %v", mech, err)
		}
	}
	if exp, ok := b.tokenExpiry(tok.TokenID); !ok || exp.UnixMilli() != tok.ExpiryTimestamp {
		t.Errorf("tokenExpiry %v %v, want %d", exp, ok, tok.ExpiryTimestamp)
	}
	if _, _, ok := b.tokenScramCredential("PLAIN", tok.TokenID); ok {
		t.Error("a PLAIN credential for a token")
	}
	if _, _, ok := b.tokenScramCredential("SCRAM-SHA-256", "no-such-token"); ok {
		t.Error("credential of an unknown token")
	}
	clk.advance(24*time.Hour + time.Millisecond)
	if _, _, ok := b.tokenScramCredential("SCRAM-SHA-256", tok.TokenID); ok {
		t.Error("credential of an expired token")
	}
	if _, ok := b.tokenExpiry(tok.TokenID); ok {
		t.Error("expiry of an expired token")
	}
}

func TestTokenFormat(t *testing.T) {
	creds, err := tokenScramCredentials(kafkaHMAC("abc"))
	if err != nil {
		t.Fatal(err)
	}
	tok := &delegationToken{ID: "abc", Owner: "User:alice", Requester: "User:admin", Renewers: []string{"User:bob", "User:carol"},
		IssueMs: 1, ExpiryMs: 2, MaxMs: 3, HMAC: kafkaHMAC("abc"), Scram: creds}
	enc := encodeToken(tok)
	if enc[0] != tokenFormatV0 {
		t.Fatalf("version byte %d", enc[0])
	}
	got, err := decodeToken(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tok.ID || got.Owner != tok.Owner || got.Requester != tok.Requester || !slices.Equal(got.Renewers, tok.Renewers) ||
		got.IssueMs != 1 || got.ExpiryMs != 2 || got.MaxMs != 3 || !bytes.Equal(got.HMAC, tok.HMAC) || len(got.Scram) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	for i, c := range got.Scram {
		w := tok.Scram[i]
		if c.Mechanism != w.Mechanism || !bytes.Equal(c.Salt, w.Salt) || !bytes.Equal(c.StoredKey, w.StoredKey) ||
			!bytes.Equal(c.ServerKey, w.ServerKey) || c.Iterations != w.Iterations {
			t.Errorf("scram %d: %+v, want %+v", i, c, w)
		}
	}
	// Every truncation, a trailing byte and an unknown version are corrupt.
	for n := 0; n < len(enc); n++ {
		if _, err := decodeToken(enc[:n]); !errors.Is(err, errTokenCorrupt) {
			t.Fatalf("truncated to %d: err %v", n, err)
		}
	}
	if _, err := decodeToken(append(slices.Clone(enc), 0)); !errors.Is(err, errTokenCorrupt) {
		t.Errorf("trailing byte: err %v", err)
	}
	bad := slices.Clone(enc)
	bad[0] = 9
	if _, err := decodeToken(bad); !errors.Is(err, errTokenCorrupt) {
		t.Errorf("version 9: err %v", err)
	}
}

func TestTokenEncodedSize(t *testing.T) {
	creds, err := tokenScramCredentials(kafkaHMAC("x"))
	if err != nil {
		t.Fatal(err)
	}
	tok := &delegationToken{ID: newTokenID(), Owner: "User:alice", Requester: "User:alice", Renewers: []string{"User:bob", "User:bob"},
		HMAC: kafkaHMAC("x"), Scram: creds}
	// FORMAT.md states this size.
	if n := len(encodeToken(tok)); n != 468 {
		t.Errorf("encoded token: %d bytes, FORMAT.md says 468", n)
	}
}
