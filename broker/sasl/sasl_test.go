package sasl

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// run drives server with a franz-go client mechanism as kgo does: the
// client's first message, then challenge/response until both are done.
func run(t *testing.T, m ksasl.Mechanism, srv Server) (Result, error) {
	t.Helper()
	sess, msg, err := m.Authenticate(context.Background(), "broker:9092")
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		resp, done, err := srv.Step(msg)
		if err != nil {
			return Result{}, err
		}
		cdone, next, cerr := sess.Challenge(resp)
		if cerr != nil {
			t.Fatalf("client refused the server's answer %q: %v", resp, cerr)
		}
		if done {
			if !cdone {
				t.Fatal("server done, client not")
			}
			return srv.Result(), nil
		}
		msg = next
	}
	t.Fatal("exchange did not end")
	return Result{}, nil
}

func TestPlain(t *testing.T) {
	users := map[string]string{"alice": "alice-secret"}
	lookup := func(u string) (string, bool) { p, ok := users[u]; return p, ok }
	res, err := run(t, plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism(), NewPlainServer(lookup))
	if err != nil || res.Principal != "User:alice" {
		t.Fatalf("good password: %+v %v", res, err)
	}
	for _, tc := range []struct {
		msg, want string
	}{
		{"\x00alice\x00wrong", "Authentication failed: Invalid username or password"},
		{"\x00bob\x00alice-secret", "Authentication failed: Invalid username or password"},
		{"bob\x00alice\x00alice-secret", "Authentication failed: Client requested an authorization id that is different from username"},
		{"\x00\x00x", "Authentication failed: username not specified"},
		{"\x00alice\x00", "Authentication failed: password not specified"},
	} {
		_, _, err := NewPlainServer(lookup).Step([]byte(tc.msg))
		if got := ClientMessage(err, Plain, false); got != tc.want {
			t.Errorf("%q: message %q, want %q", tc.msg, got, tc.want)
		}
	}
	_, done, err := NewPlainServer(lookup).Step([]byte("alice\x00alice\x00alice-secret"))
	if !done || err != nil {
		t.Errorf("authzid = user: done %v err %v", done, err)
	}
	_, _, err = NewPlainServer(lookup).Step([]byte("alice-secret"))
	if !errors.Is(err, ErrMalformed) || ClientMessage(err, Plain, true) != "Authentication failed during re-authentication due to invalid credentials with SASL mechanism PLAIN" {
		t.Errorf("malformed: %v", err)
	}
}

// TestScramRFC7677 replays RFC 7677 §3's SCRAM-SHA-256 example.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := NewScramCredential(ScramSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := NewScramServer(ScramSHA256, func(mech, user string, token bool) (ScramCredential, string, bool) {
		return cred, "", user == "user" && !token
	})
	srv.(*scramServer).newNonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	first, done, err := srv.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil || done || string(first) != "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096" {
		t.Fatalf("server-first %q done %v err %v", first, done, err)
	}
	final, done, err := srv.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil || !done || string(final) != "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("server-final %q done %v err %v", final, done, err)
	}
	if srv.Result().Principal != "User:user" {
		t.Errorf("principal %q", srv.Result().Principal)
	}
	// The same proof one bit off fails, without a client-visible reason.
	srv, _ = NewScramServer(ScramSHA256, func(string, string, bool) (ScramCredential, string, bool) { return cred, "", true })
	srv.(*scramServer).newNonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	_, _, _ = srv.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	_, _, err = srv.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU="))
	if !errors.Is(err, ErrCredentials) {
		t.Errorf("bad proof: %v", err)
	}
}

func TestScramWithFranzGo(t *testing.T) {
	for _, mech := range []string{ScramSHA256, ScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			cred, err := NewScramCredential(mech, "alice-secret", nil, 8192)
			if err != nil {
				t.Fatal(err)
			}
			tokenCred, _ := NewScramCredential(mech, "token-hmac", nil, 4096)
			tokenCred.Expiry = time.Unix(2000000000, 0)
			var gotToken bool
			lookup := func(m, user string, token bool) (ScramCredential, string, bool) {
				if m != mech {
					t.Errorf("lookup for %s", m)
				}
				gotToken = token
				if token {
					return tokenCred, "User:owner", user == "tok1"
				}
				return cred, "", user == "al,i=ce"
			}
			client := func(a scram.Auth) ksasl.Mechanism {
				if mech == ScramSHA256 {
					return a.AsSha256Mechanism()
				}
				return a.AsSha512Mechanism()
			}
			newSrv := func() Server { s, _ := NewScramServer(mech, lookup); return s }
			res, err := run(t, client(scram.Auth{User: "al,i=ce", Pass: "alice-secret"}), newSrv())
			if err != nil || res.Principal != "User:al,i=ce" || res.TokenID != "" || !res.Expiry.IsZero() {
				t.Fatalf("login: %+v %v", res, err)
			}
			if _, err := run(t, client(scram.Auth{User: "al,i=ce", Pass: "wrong"}), newSrv()); !errors.Is(err, ErrCredentials) {
				t.Errorf("wrong password: %v", err)
			}
			if _, err := run(t, client(scram.Auth{User: "bob", Pass: "alice-secret"}), newSrv()); !errors.Is(err, ErrCredentials) {
				t.Errorf("unknown user: %v", err)
			}
			_, err = run(t, client(scram.Auth{Zid: "bob", User: "al,i=ce", Pass: "alice-secret"}), newSrv())
			if ClientMessage(err, mech, false) != "Authentication failed: Client requested an authorization id that is different from username" {
				t.Errorf("authzid: %v", err)
			}
			res, err = run(t, client(scram.Auth{User: "tok1", Pass: "token-hmac", IsToken: true}), newSrv())
			if err != nil || !gotToken || res.Principal != "User:owner" || res.TokenID != "tok1" || !res.Expiry.Equal(tokenCred.Expiry) {
				t.Errorf("token: %+v %v", res, err)
			}
		})
	}
	weak, _ := NewScramCredential(ScramSHA256, "pw", nil, 4096)
	weak.Iterations = 4095
	s, _ := NewScramServer(ScramSHA256, func(string, string, bool) (ScramCredential, string, bool) { return weak, "", true })
	if _, err := run(t, scram.Auth{User: "u", Pass: "pw"}.AsSha256Mechanism(), s); !errors.Is(err, ErrCredentials) {
		t.Errorf("4095 iterations accepted: %v", err)
	}
	s, _ = NewScramServer(ScramSHA256, nil)
	if _, _, err := s.Step([]byte("y,,n=u,r=abc")); !errors.Is(err, ErrMalformed) {
		t.Errorf("channel binding y: %v", err)
	}
	if _, err := NewScramServer("SCRAM-SHA-1", nil); !errors.Is(err, ErrMechanism) {
		t.Errorf("SCRAM-SHA-1: %v", err)
	}
}

func TestCredentialEncoding(t *testing.T) {
	c, _ := NewScramCredential(ScramSHA512, "pw", []byte("salt"), 5000)
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalScramCredential(ScramSHA512, b)
	if err != nil || string(got.Salt) != "salt" || got.Iterations != 5000 || string(got.StoredKey) != string(c.StoredKey) || string(got.ServerKey) != string(c.ServerKey) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for i := range b {
		if _, err := UnmarshalScramCredential(ScramSHA512, b[:i]); err == nil {
			t.Errorf("truncated at %d decoded", i)
		}
	}
	b[0] = 2
	if _, err := UnmarshalScramCredential(ScramSHA512, b); !errors.Is(err, ErrCorruptCredential) {
		t.Errorf("version 2: %v", err)
	}
}

func unsecuredJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "none"})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

func TestOAuthBearerUnsecured(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	v, err := NewUnsecuredValidator(map[string]string{"unsecuredValidatorRequiredScope": "kafka", "unsecuredValidatorAllowableClockSkewMs": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return now }
	good := unsecuredJWT(map[string]any{"sub": "alice", "exp": now.Unix() + 60, "iat": now.Unix(), "scope": "kafka other"})
	res, err := run(t, oauth.Auth{Token: good, Extensions: map[string]string{"traceId": "x"}}.AsMechanism(), NewOAuthBearerServer(v))
	if err != nil || res.Principal != "User:alice" || !res.Expiry.Equal(now.Add(60*time.Second)) {
		t.Fatalf("good token: %+v %v", res, err)
	}
	for _, tc := range []struct {
		name, token, want string
	}{
		{"expired", unsecuredJWT(map[string]any{"sub": "alice", "exp": now.Unix() - 2, "scope": "kafka"}), `{"status":"invalid_token"}`},
		{"no exp", unsecuredJWT(map[string]any{"sub": "alice", "scope": "kafka"}), `{"status":"invalid_token"}`},
		{"no sub", unsecuredJWT(map[string]any{"exp": now.Unix() + 60, "scope": "kafka"}), `{"status":"invalid_token"}`},
		{"future iat", unsecuredJWT(map[string]any{"sub": "a", "exp": now.Unix() + 60, "iat": now.Unix() + 5, "scope": "kafka"}), `{"status":"invalid_token"}`},
		{"scope", unsecuredJWT(map[string]any{"sub": "a", "exp": now.Unix() + 60, "scope": []string{"x"}}), `{"status":"insufficient_scope", "scope":"kafka"}`},
		{"signed", strings.TrimSuffix(good, ".") + ".c2ln", `{"status":"invalid_token"}`},
	} {
		srv := NewOAuthBearerServer(v)
		sess, msg, _ := oauth.Auth{Token: tc.token}.AsMechanism().Authenticate(context.Background(), "")
		resp, done, err := srv.Step(msg)
		if err != nil || done || string(resp) != tc.want {
			t.Errorf("%s: challenge %q done %v err %v", tc.name, resp, done, err)
			continue
		}
		_, ack, _ := sess.Challenge(resp)
		_, _, err = srv.Step(ack)
		if ClientMessage(err, OAuthBearer, false) != tc.want {
			t.Errorf("%s: final error %v", tc.name, err)
		}
	}
	// Custom principal claim.
	v2, _ := NewUnsecuredValidator(map[string]string{"unsecuredValidatorPrincipalClaimName": "client_id"})
	res, err = run(t, oauth.Auth{Token: unsecuredJWT(map[string]any{"client_id": "svc", "exp": time.Now().Unix() + 60})}.AsMechanism(), NewOAuthBearerServer(v2))
	if err != nil || res.Principal != "User:svc" {
		t.Errorf("client_id claim: %+v %v", res, err)
	}
	_, err = run(t, oauth.Auth{Zid: "bob", Token: unsecuredJWT(map[string]any{"sub": "alice", "exp": time.Now().Unix() + 60})}.AsMechanism(), NewOAuthBearerServer(v2))
	var ae *AuthError
	if v2.PrincipalClaimName = ""; !errors.As(err, &ae) {
		t.Errorf("authzid bob for alice's token: %v", err)
	}
	for _, bad := range []string{
		"n,,auth=Bearer x",
		"n,,\x01auth=Bearer " + good + "\x01\x01x",
		"n,,\x01auth=Bearer " + good + "\x01auth=Bearer " + good + "\x01\x01",
		"n,,\x01auth=Bearer " + good + "\x01bad_key=1\x01\x01",
		"n,,\x01auth=Basic " + good + "\x01\x01",
		"n,,\x01auth=Bearer a b\x01\x01",
		"y,,\x01auth=Bearer " + good + "\x01\x01",
		"n,,\x01\x01",
	} {
		if _, _, err := NewOAuthBearerServer(v).Step([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("malformed %q: %v", bad, err)
		}
	}
}

func TestOAuthBearerJWKS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	jwks := map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": "r1", "use": "sig", "n": b64(rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(rsaKey.E)).Bytes())},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64(ecKey.X.FillBytes(make([]byte, 32))), "y": b64(ecKey.Y.FillBytes(make([]byte, 32)))},
	}}
	data, _ := json.Marshal(jwks)
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sign := func(alg, kid string, claims map[string]any) string {
		h, _ := json.Marshal(map[string]any{"alg": alg, "kid": kid, "typ": "JWT"})
		c, _ := json.Marshal(claims)
		in := b64(h) + "." + b64(c)
		var sig []byte
		switch alg {
		case "RS256":
			d := crypto.SHA256.New()
			d.Write([]byte(in))
			sig, _ = rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, d.Sum(nil))
		case "PS256":
			d := crypto.SHA256.New()
			d.Write([]byte(in))
			sig, _ = rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		case "ES256":
			d := crypto.SHA256.New()
			d.Write([]byte(in))
			r, s, _ := ecdsa.Sign(rand.Reader, ecKey, d.Sum(nil))
			sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}
		return in + "." + b64(sig)
	}
	v, err := NewJWKSValidator(JWKSConfig{URL: "file://" + file, ExpectedAudience: []string{"kafka"}, ExpectedIssuer: "https://idp", SubClaimName: "azp"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	claims := func(mut func(map[string]any)) map[string]any {
		c := map[string]any{"azp": "svc", "iss": "https://idp", "aud": []string{"x", "kafka"}, "exp": now + 300, "iat": now}
		if mut != nil {
			mut(c)
		}
		return c
	}
	for _, alg := range []struct{ alg, kid string }{{"RS256", "r1"}, {"PS256", "r1"}, {"ES256", "e1"}, {"ES256", ""}} {
		res, err := run(t, oauth.Auth{Token: sign(alg.alg, alg.kid, claims(nil))}.AsMechanism(), NewOAuthBearerServer(v))
		if err != nil || res.Principal != "User:svc" || res.Expiry.Unix() != now+300 {
			t.Errorf("%s kid %q: %+v %v", alg.alg, alg.kid, res, err)
		}
	}
	bad := map[string]string{
		"wrong key":   sign("ES256", "r1", claims(nil)),
		"issuer":      sign("RS256", "r1", claims(func(c map[string]any) { c["iss"] = "https://evil" })),
		"audience":    sign("RS256", "r1", claims(func(c map[string]any) { c["aud"] = "other" })),
		"no iat":      sign("RS256", "r1", claims(func(c map[string]any) { delete(c, "iat") })),
		"expired":     sign("RS256", "r1", claims(func(c map[string]any) { c["exp"] = now - 60 })),
		"no subject":  sign("RS256", "r1", claims(func(c map[string]any) { delete(c, "azp") })),
		"unsecured":   unsecuredJWT(claims(nil)),
		"unknown kid": sign("RS256", "zz", claims(nil)),
	}
	for name, tok := range bad {
		if _, err := v.Validate(tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewJWKSValidator(JWKSConfig{URL: "file:///nonexistent/jwks.json"}); !errors.Is(err, ErrJWKS) {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseJAAS(t *testing.T) {
	es, err := ParseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required
		username="admin" password='admin-secret' /* comment */ user_admin="admin-secret"
		user_alice="al\"ice;=secret" // trailing
		user_bob=bob-secret;`)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].LoginModule != PlainLoginModule || es[0].Control != "required" {
		t.Fatalf("%+v", es)
	}
	users := es[0].PlainUsers()
	if len(users) != 3 || users["alice"] != `al"ice;=secret` || users["bob"] != "bob-secret" || users["admin"] != "admin-secret" || es[0].Options["username"] != "admin" {
		t.Errorf("users %v options %v", users, es[0].Options)
	}
	es, err = ParseJAAS("org.apache.kafka.common.security.scram.ScramLoginModule required;")
	if err != nil || len(es) != 1 || es[0].LoginModule != ScramLoginModule || len(es[0].Options) != 0 {
		t.Errorf("scram: %+v %v", es, err)
	}
	for _, bad := range []string{"", "X required a=1", "X maybe;", `X required a="1;`, "X required a=;", "X required =1;"} {
		if _, err := ParseJAAS(bad); !errors.Is(err, ErrJAAS) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	_, err = ParseJAAS(`X required user_a="secret-value" b;`)
	if err == nil || strings.Contains(err.Error(), "secret-value") {
		t.Errorf("error quotes a value: %v", err)
	}
}

// TestJWKSRefreshOverHTTP: keys come from an http:// endpoint; a token
// signed by a key the cached set lacks makes the validator fetch again
// (at most every minRefetch), and the set is refetched once Refresh passed.
func TestJWKSRefreshOverHTTP(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	jwk := func(kid string, k *rsa.PrivateKey) map[string]any {
		return map[string]any{"kty": "RSA", "kid": kid, "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	}
	var mu sync.Mutex
	keys := []map[string]any{jwk("k1", k1)}
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	defer srv.Close()
	now := time.Now()
	v, err := NewJWKSValidator(JWKSConfig{URL: srv.URL + "/jwks", Refresh: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(kid string, k *rsa.PrivateKey) string {
		h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": kid})
		c, _ := json.Marshal(map[string]any{"sub": "svc", "exp": now.Unix() + 3600, "iat": now.Unix()})
		in := b64(h) + "." + b64(c)
		d := crypto.SHA256.New()
		d.Write([]byte(in))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d.Sum(nil))
		return in + "." + b64(sig)
	}
	if _, err := v.Validate(sign("k1", k1)); err != nil {
		t.Fatalf("k1: %v", err)
	}
	mu.Lock()
	keys = append(keys, jwk("k2", k2))
	mu.Unlock()
	if _, err := v.Validate(sign("k2", k2)); err == nil {
		t.Error("k2 accepted before a refetch was allowed")
	}
	now = now.Add(minRefetch)
	if _, err := v.Validate(sign("k2", k2)); err != nil {
		t.Errorf("k2 after the key set changed: %v", err)
	}
	mu.Lock()
	keys = keys[1:] // k1 rotated out
	mu.Unlock()
	now = now.Add(time.Hour)
	if _, err := v.Validate(sign("k1", k1)); err == nil {
		t.Error("k1 accepted after it left the key set and Refresh passed")
	}
	mu.Lock()
	defer mu.Unlock()
	if fetches != 3 {
		t.Errorf("%d fetches, want 3", fetches)
	}
}

// TestScramLibrdkafkaNonce: librdkafka before 2.6.1 (Debian's kcat) sends
// its client nonce again in front of the whole server nonce in the
// client-final-message ("r=" cnonce + cnonce + snonce). Kafka 4.4 refuses
// it; Moldau accepts it on purpose (scram.go), so Debian's kcat logs in.
func TestScramLibrdkafkaNonce(t *testing.T) {
	const mech, user, password = ScramSHA512, "alice", "alice-secret"
	salt := []byte("0123456789abcdef")
	cred, err := NewScramCredential(mech, password, salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	for _, doubled := range []bool{false, true} {
		srv, err := NewScramServer(mech, func(m, u string, _ bool) (ScramCredential, string, bool) {
			return cred, "User:" + u, m == mech && u == user
		})
		if err != nil {
			t.Fatal(err)
		}
		const cnonce = "fyko+d2lbbFgONRv9qkxdawL=<|x"
		clientFirstBare := "n=" + user + ",r=" + cnonce
		serverFirst, done, err := srv.Step([]byte("n,," + clientFirstBare))
		if err != nil || done {
			t.Fatalf("client-first: %v %v", done, err)
		}
		var snonce string
		for _, a := range strings.Split(string(serverFirst), ",") {
			if v, ok := strings.CutPrefix(a, "r="); ok {
				snonce = v
			}
		}
		finalNonce := snonce
		if doubled {
			finalNonce = cnonce + snonce // librdkafka's form
		}
		withoutProof := "c=biws,r=" + finalNonce
		h := sha512.New
		salted := pbkdf2Key(t, h, password, salt, 4096)
		clientKey := hmacOf(h, salted, []byte("Client Key"))
		stored := h()
		stored.Write(clientKey)
		auth := []byte(clientFirstBare + "," + string(serverFirst) + "," + withoutProof)
		sig := hmacOf(h, stored.Sum(nil), auth)
		proof := make([]byte, len(clientKey))
		for i := range proof {
			proof[i] = clientKey[i] ^ sig[i]
		}
		final := withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
		if _, done, err := srv.Step([]byte(final)); err != nil || !done {
			t.Fatalf("doubled=%v: client-final refused: %v", doubled, err)
		}
		// A nonce that does not end with the server's is still refused.
		srv2, _ := NewScramServer(mech, func(string, string, bool) (ScramCredential, string, bool) { return cred, "User:alice", true })
		if _, _, err := srv2.Step([]byte("n,," + clientFirstBare)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := srv2.Step([]byte("c=biws,r=" + cnonce + "forged,p=" + base64.StdEncoding.EncodeToString(proof))); err == nil {
			t.Fatal("a final nonce not ending with the server nonce was accepted")
		}
	}
}

func pbkdf2Key(t *testing.T, h func() hash.Hash, password string, salt []byte, iter int) []byte {
	t.Helper()
	k, err := pbkdf2.Key(h, password, salt, iter, h().Size())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestJWKSSlowFetchDoesNotBlockLogins: a refetch that hangs (a token with an
// unknown key id triggers one) must not hold up tokens whose key is at hand.
func TestJWKSSlowFetchDoesNotBlockLogins(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	set := map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "k1", "n": b64(k1.N.Bytes()), "e": b64(big.NewInt(int64(k1.E)).Bytes())}}}
	release := make(chan struct{})
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) > 1 {
			<-release // every refetch hangs until the test ends
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	var clock atomic.Int64
	v, err := NewJWKSValidator(JWKSConfig{URL: srv.URL, Refresh: time.Hour, Now: func() time.Time { return start.Add(time.Duration(clock.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(kid string) string {
		h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": kid})
		c, _ := json.Marshal(map[string]any{"sub": "svc", "exp": start.Unix() + 3600, "iat": start.Unix()})
		in := b64(h) + "." + b64(c)
		d := crypto.SHA256.New()
		d.Write([]byte(in))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, k1, crypto.SHA256, d.Sum(nil))
		return in + "." + b64(sig)
	}
	clock.Store(int64(minRefetch))
	go func() { _, _ = v.Validate(sign("unknown")) }() // starts a refetch that hangs
	for fetches.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { _, err := v.Validate(sign("k1")); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("k1 during a hanging refetch: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a token with a known key waited on a hanging JWKS refetch")
	}
}
