package broker

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/moldau/moldau/broker/config"
)

// Delegation tokens authenticating through SCRAM (sasl_auth.go calls
// tokenScramCredential): a SCRAM login with the token id as the user, the
// base64 HMAC as the password and tokenauth=true makes a session of the
// token's owner.

// tokenLogin is the SCRAM login of a delegation token.
func tokenLogin(id string, mac []byte, sha512 bool) ksasl.Mechanism {
	a := scram.Auth{User: id, Pass: base64.StdEncoding.EncodeToString(mac), IsToken: true}
	if sha512 {
		return a.AsSha512Mechanism()
	}
	return a.AsSha256Mechanism()
}

// TestDelegationTokenSession: the session a token login makes, at the
// handler level (SaslHandshake and SaslAuthenticate through Handle).
func TestDelegationTokenSession(t *testing.T) {
	clk := newTestClock()
	b := newTokenBroker(t, clk)
	tok := mustCreateToken(t, b, sessionConn("User:alice"), 3, createTokenReq(-1))

	for _, sha512 := range []bool{false, true} {
		conn := saslConn()
		resp, closed := login(t, b, conn, tokenLogin(tok.TokenID, tok.HMAC, sha512), 1)
		if resp.ErrorCode != 0 || closed {
			t.Fatalf("token login (sha512 %v): %v", sha512, kerr.ErrorForCode(resp.ErrorCode))
		}
		s := conn.Session()
		if s.Principal != "User:alice" || s.TokenID != tok.TokenID {
			t.Errorf("session %+v, want User:alice with token %s", s, tok.TokenID)
		}
		// The session ends when the token expires (KIP-368 lifetime).
		if !s.Expiry.Equal(time.UnixMilli(tok.ExpiryTimestamp)) || resp.SessionLifetimeMillis != tok.ExpiryTimestamp-clk.now().UnixMilli() {
			t.Errorf("session expiry %v, lifetime %d ms; want the token's expiry %v", s.Expiry, resp.SessionLifetimeMillis, time.UnixMilli(tok.ExpiryTimestamp))
		}
		// A token session may not manage tokens.
		cr := doOn[*kmsg.CreateDelegationTokenResponse](t, b, conn, 3, createTokenReq(-1))
		wantCode(t, "create from a token session", cr.ErrorCode, kerr.DelegationTokenRequestNotAllowed)
		wantCode(t, "renew from a token session", renewToken(t, b, conn, 2, tok.HMAC, -1).ErrorCode, kerr.DelegationTokenRequestNotAllowed)
	}

	// Without tokenauth the token id is a user name that does not exist.
	conn := saslConn()
	plainScram := scram.Auth{User: tok.TokenID, Pass: base64.StdEncoding.EncodeToString(tok.HMAC)}.AsSha256Mechanism()
	if resp, _ := login(t, b, conn, plainScram, 1); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Errorf("token as a SCRAM user without tokenauth: %v, want SASL_AUTHENTICATION_FAILED", kerr.ErrorForCode(resp.ErrorCode))
	}
	// A wrong HMAC fails.
	bad := bytes.Clone(tok.HMAC)
	bad[5] ^= 0x20
	if resp, _ := login(t, b, saslConn(), tokenLogin(tok.TokenID, bad, true), 1); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Errorf("wrong HMAC: %v, want SASL_AUTHENTICATION_FAILED", kerr.ErrorForCode(resp.ErrorCode))
	}
	// A renewal gives later logins a longer session.
	clk.advance(time.Hour)
	r := renewToken(t, b, sessionConn("User:alice"), 2, tok.HMAC, -1)
	wantCode(t, "renew", r.ErrorCode, nil)
	conn = saslConn()
	if resp, _ := login(t, b, conn, tokenLogin(tok.TokenID, tok.HMAC, false), 2); resp.ErrorCode != 0 ||
		!conn.Session().Expiry.Equal(time.UnixMilli(r.ExpiryTimestamp)) {
		t.Errorf("login after renewal: %v, expiry %v, want %v", kerr.ErrorForCode(resp.ErrorCode), conn.Session().Expiry, time.UnixMilli(r.ExpiryTimestamp))
	}
	// Past its expiry the token no longer logs in.
	clk.advance(24*time.Hour + time.Millisecond)
	if resp, _ := login(t, b, saslConn(), tokenLogin(tok.TokenID, tok.HMAC, true), 1); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Errorf("expired token: %v, want SASL_AUTHENTICATION_FAILED", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// startTokenListenerBroker runs a broker with PLAINTEXT and SASL_PLAINTEXT
// listeners, SCRAM users alice (both mechanisms), bob, carol and admin
// (SCRAM-SHA-256, password "<name>-secret", --add-scram), delegation tokens
// on, and the extra properties given.
func startTokenListenerBroker(t *testing.T, props ...string) *Broker {
	t.Helper()
	args := []string{"--memory", "--admin-addr", "",
		"--set", "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"--set", "delegation.token.secret.key=" + testTokenKey,
		"--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]"}
	for _, u := range []string{"alice", "bob", "carol", "admin"} {
		args = append(args, "--add-scram", "SCRAM-SHA-256=[name="+u+",password="+u+"-secret]")
	}
	for _, p := range props {
		args = append(args, "--set", p)
	}
	cfg, err := config.Load(args, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	return b
}

func tokenTestClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestDelegationTokenSCRAMEndToEnd: over TCP with franz-go, alice logs in
// with SCRAM on the SASL_PLAINTEXT listener and creates a token; a second
// client logs in with the token (each mechanism) and produces as alice;
// alice reads the records back. Token requests are refused on PLAINTEXT and
// from the token's own session; an expired token no longer logs in.
func TestDelegationTokenSCRAMEndToEnd(t *testing.T) {
	b := startTokenListenerBroker(t)
	addr := b.ListenerAddr("SASL_PLAINTEXT")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	aliceLogin := kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism())
	alice := kadm.NewClient(tokenTestClient(t, addr, aliceLogin))
	tok, err := alice.CreateDelegationToken(ctx, kadm.CreateDelegationToken{})
	if err != nil {
		t.Fatalf("alice creates a token: %v", err)
	}
	if tok.Owner.Type != "User" || tok.Owner.Name != "alice" || !bytes.Equal(tok.HMAC, kafkaHMAC(tok.TokenID)) {
		t.Fatalf("token %+v", tok)
	}

	plain := kadm.NewClient(tokenTestClient(t, b.ListenerAddr("PLAINTEXT")))
	if _, err := plain.CreateDelegationToken(ctx, kadm.CreateDelegationToken{}); !errors.Is(err, kerr.DelegationTokenRequestNotAllowed) {
		t.Errorf("create over PLAINTEXT: %v, want DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", err)
	}

	if _, err := alice.CreateTopic(ctx, 1, 1, nil, "token-e2e"); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, sha512 := range []bool{false, true} {
		cl := tokenTestClient(t, addr, kgo.SASL(tokenLogin(tok.TokenID, tok.HMAC, sha512)), kgo.DefaultProduceTopic("token-e2e"))
		v := "via token, sha512=" + map[bool]string{false: "no", true: "yes"}[sha512]
		if err := cl.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatalf("produce with the token (sha512 %v): %v", sha512, err)
		}
		want = append(want, v)
		if _, err := kadm.NewClient(cl).CreateDelegationToken(ctx, kadm.CreateDelegationToken{}); !errors.Is(err, kerr.DelegationTokenRequestNotAllowed) {
			t.Errorf("create from the token's session: %v, want DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", err)
		}
	}
	cons := tokenTestClient(t, addr, aliceLogin, kgo.ConsumeTopics("token-e2e"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < len(want) && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("alice reads %q, want %q", got, want)
	}

	// Expired at once: the token no longer logs in.
	if _, err := alice.ExpireDelegationToken(ctx, tok.HMAC, -time.Millisecond); err != nil {
		t.Fatalf("expire: %v", err)
	}
	cl := tokenTestClient(t, addr, kgo.SASL(tokenLogin(tok.TokenID, tok.HMAC, false)))
	if err := cl.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("login with an expired token: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}

// userLogin is user's SCRAM-SHA-256 login on the listener brokers.
func userLogin(user string) kgo.Opt {
	return kgo.SASL(scram.Auth{User: user, Pass: user + "-secret"}.AsSha256Mechanism())
}

// TestDelegationTokenACLs: with the authorizer on, a token acts as its
// owner: alice's token may write where alice may, bob's token may not; a
// token for another owner needs CREATE_TOKENS on that user; DescribeDelegation
// Token shows a user its own tokens (a super user all).
func TestDelegationTokenACLs(t *testing.T) {
	b := startTokenListenerBroker(t, "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer", "super.users=User:admin")
	addr := b.ListenerAddr("SASL_PLAINTEXT")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := kadm.NewClient(tokenTestClient(t, addr, userLogin("admin")))
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "acl-tokens"); err != nil {
		t.Fatal(err)
	}
	res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("acl-tokens").Operations(kadm.OpWrite))
	if err == nil && len(res) == 1 {
		err = res[0].Err
	}
	if err != nil {
		t.Fatalf("ACL for alice: %v", err)
	}

	alice := kadm.NewClient(tokenTestClient(t, addr, userLogin("alice")))
	bob := kadm.NewClient(tokenTestClient(t, addr, userLogin("bob")))
	aliceTok, err := alice.CreateDelegationToken(ctx, kadm.CreateDelegationToken{})
	if err != nil {
		t.Fatal(err)
	}
	bobTok, err := bob.CreateDelegationToken(ctx, kadm.CreateDelegationToken{})
	if err != nil {
		t.Fatal(err)
	}

	// The token's session is its owner's: alice's may write, bob's not.
	viaAlice := tokenTestClient(t, addr, kgo.SASL(tokenLogin(aliceTok.TokenID, aliceTok.HMAC, false)), kgo.DefaultProduceTopic("acl-tokens"))
	if err := viaAlice.ProduceSync(ctx, kgo.StringRecord("as alice")).FirstErr(); err != nil {
		t.Errorf("produce with alice's token: %v", err)
	}
	viaBob := tokenTestClient(t, addr, kgo.SASL(tokenLogin(bobTok.TokenID, bobTok.HMAC, false)), kgo.DefaultProduceTopic("acl-tokens"))
	if err := viaBob.ProduceSync(ctx, kgo.StringRecord("as bob")).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("produce with bob's token: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// A token for alice: carol may not (no CREATE_TOKENS on User:alice),
	// the super user may.
	carol := kadm.NewClient(tokenTestClient(t, addr, userLogin("carol")))
	owner := &kadm.Principal{Type: "User", Name: "alice"}
	if _, err := carol.CreateDelegationToken(ctx, kadm.CreateDelegationToken{Owner: owner}); !errors.Is(err, kerr.DelegationTokenAuthorizationFailed) {
		t.Errorf("carol creates alice's token: %v, want DELEGATION_TOKEN_AUTHORIZATION_FAILED", err)
	}
	forAlice, err := admin.CreateDelegationToken(ctx, kadm.CreateDelegationToken{Owner: owner})
	if err != nil || forAlice.Owner.Name != "alice" || forAlice.TokenRequesterPrincipal.Name != "admin" {
		t.Fatalf("admin creates alice's token: %+v, %v", forAlice, err)
	}

	// Describe: bob sees his own token, alice her two, admin all three.
	for _, c := range []struct {
		name string
		adm  *kadm.Client
		want int
	}{{"bob", bob, 1}, {"alice", alice, 2}, {"admin", admin, 3}, {"carol", carol, 0}} {
		toks, err := c.adm.DescribeDelegationTokens(ctx)
		if err != nil || len(toks) != c.want {
			t.Errorf("%s describes %d tokens (%v), want %d", c.name, len(toks), err, c.want)
		}
	}
}
