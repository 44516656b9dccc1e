package broker

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/moldau/moldau/broker/config"
)

// startSASLBroker starts a broker with a PLAINTEXT and a SASL_PLAINTEXT
// listener and the users of newSASLBroker; it returns the broker, the
// SASL_PLAINTEXT listener's address and its log (at debug level).
func startSASLBroker(t *testing.T, props ...string) (*Broker, string, *syncBuffer) {
	t.Helper()
	args := []string{"--memory", "--admin-addr", "", "--console-addr", "", "--http-proxy-addr", "",
		"--set", "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"--set", `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_admin="admin-secret";`,
		"--add-scram", "SCRAM-SHA-256=[name=alice,password=alice-secret]",
		"--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret,iterations=8192]"}
	for _, p := range props {
		args = append(args, "--set", p)
	}
	cfg, err := config.Load(args, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.ListenerAddr("SASL_PLAINTEXT")
	if addr == "" {
		addr = b.ListenerAddr("SASL_SSL")
	}
	if addr == "" {
		t.Fatal("no SASL listener")
	}
	return b, addr, logs
}

func saslClient(t *testing.T, addr string, m ksasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.SASL(m), kgo.DefaultProduceTopic("sasl-t"), kgo.AllowAutoTopicCreation(),
		kgo.RequestRetries(2), kgo.RetryTimeout(5 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestSASLWithKgo(t *testing.T) {
	_, addr, logs := startSASLBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		m    ksasl.Mechanism
	}{
		{"PLAIN", plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()},
		{"SCRAM-SHA-256", scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism()},
		{"SCRAM-SHA-512", scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()},
	} {
		cl := saslClient(t, addr, tc.m)
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(tc.name)}).FirstErr(); err != nil {
			t.Errorf("%s: produce: %v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		m    ksasl.Mechanism
	}{
		{"PLAIN", plain.Auth{User: "alice", Pass: "nope"}.AsMechanism()},
		{"SCRAM-SHA-256", scram.Auth{User: "alice", Pass: "nope"}.AsSha256Mechanism()},
		{"SCRAM-SHA-512", scram.Auth{User: "eve", Pass: "nope"}.AsSha512Mechanism()},
	} {
		cl := saslClient(t, addr, tc.m)
		err := cl.Ping(ctx)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("%s bad password: %v, want SASL_AUTHENTICATION_FAILED", tc.name, err)
		}
	}
	if n := strings.Count(logs.String(), `msg="SASL authentication failed"`); n < 3 {
		t.Errorf("%d failures logged, want at least 3", n)
	}
}

func TestSASLReauthenticationWithKgo(t *testing.T) {
	_, addr, logs := startSASLBroker(t, "connections.max.reauth.ms=1500")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := saslClient(t, addr, scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism())
	// kgo re-authenticates 1 s before the 1.5 s lifetime ends, on the next
	// request: produce until the broker saw two re-authentications.
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(logs.String(), "reauthentication=true") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no re-authentication in 20 s; log:\n%s", logs.String())
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // pace the producer, not a wait for a condition
	}
	if strings.Contains(logs.String(), "SASL authentication failed") {
		t.Errorf("a re-authentication failed:\n%s", logs.String())
	}
}

func TestScramAdminWithKadm(t *testing.T) {
	_, addr, _ := startSASLBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := kadm.NewClient(saslClient(t, addr, plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
	altered, err := admin.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "alice", Mechanism: kadm.ScramSha256}},
		[]kadm.UpsertSCRAM{{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := altered.Error(); err != nil {
		t.Fatal(err)
	}
	described, err := admin.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(described) != 2 || len(described["alice"].CredInfos) != 1 || described["alice"].CredInfos[0].Mechanism != kadm.ScramSha512 ||
		len(described["bob"].CredInfos) != 1 || described["bob"].CredInfos[0].Iterations != 4096 {
		t.Errorf("described: %+v", described)
	}
	bob := saslClient(t, addr, scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism())
	if err := bob.ProduceSync(ctx, &kgo.Record{Value: []byte("bob")}).FirstErr(); err != nil {
		t.Errorf("bob: %v", err)
	}
	alice := saslClient(t, addr, scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism())
	if err := alice.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("alice after her SHA-256 credential was deleted: %v", err)
	}
}

func TestOAuthBearerWithKgo(t *testing.T) {
	_, addr, _ := startSASLBroker(t,
		"listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredValidatorRequiredScope=\"kafka\";")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token := func(exp time.Time, scope string) ksasl.Mechanism {
		return oauth.Auth{Token: unsecuredToken(map[string]any{"sub": "svc", "exp": exp.Unix(), "scope": scope})}.AsMechanism()
	}
	cl := saslClient(t, addr, token(time.Now().Add(time.Hour), "kafka"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("oauth")}).FirstErr(); err != nil {
		t.Errorf("produce: %v", err)
	}
	for name, m := range map[string]ksasl.Mechanism{
		"expired":  token(time.Now().Add(-time.Minute), "kafka"),
		"no scope": token(time.Now().Add(time.Hour), "other"),
	} {
		err := saslClient(t, addr, m).Ping(ctx)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), `"status":"`) {
			t.Errorf("%s: %v, want SASL_AUTHENTICATION_FAILED with the JSON status", name, err)
		}
	}
}

// TestSaslHandshakeV0RawTokens speaks SaslHandshake v0 over TCP: the
// client then sends the PLAIN token bare (Kafka's pre-KIP-152 framing) and
// gets a bare answer; afterwards Kafka requests are served. A wrong
// password closes the connection without an answer.
func TestSaslHandshakeV0RawTokens(t *testing.T) {
	_, addr, _ := startSASLBroker(t, "connection.failed.authentication.delay.ms=0")
	frame := func(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }
	request := func(corr int32, req kmsg.Request) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
		b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
		b = binary.BigEndian.AppendUint32(b, uint32(corr))
		b = binary.BigEndian.AppendUint16(b, 1)
		b = append(b, 't')
		return frame(req.AppendTo(b))
	}
	readFrame := func(c net.Conn) ([]byte, error) {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var n [4]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return nil, err
		}
		b := make([]byte, binary.BigEndian.Uint32(n[:]))
		_, err := io.ReadFull(c, b)
		return b, err
	}
	dial := func(pw string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.SetVersion(0)
		hs.Mechanism = "PLAIN"
		if _, err := c.Write(request(1, hs)); err != nil {
			t.Fatal(err)
		}
		b, err := readFrame(c)
		if err != nil {
			t.Fatal(err)
		}
		hr := kmsg.NewPtrSASLHandshakeResponse()
		hr.SetVersion(0)
		if err := hr.ReadFrom(b[4:]); err != nil || hr.ErrorCode != 0 {
			t.Fatalf("handshake v0: %+v %v", hr, err)
		}
		if _, err := c.Write(frame([]byte("\x00alice\x00" + pw))); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial("alice-secret")
	if tok, err := readFrame(c); err != nil || len(tok) != 0 {
		t.Fatalf("bare answer to the PLAIN token: %q %v", tok, err)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(1)
	if _, err := c.Write(request(2, md)); err != nil {
		t.Fatal(err)
	}
	b, err := readFrame(c)
	if err != nil || binary.BigEndian.Uint32(b) != 2 {
		t.Fatalf("metadata after raw authentication: %v", err)
	}
	mr := kmsg.NewPtrMetadataResponse()
	mr.SetVersion(1)
	if err := mr.ReadFrom(b[4:]); err != nil || len(mr.Brokers) != 1 {
		t.Fatalf("metadata: %+v %v", mr, err)
	}

	c = dial("wrong")
	if b, err := readFrame(c); err == nil {
		t.Fatalf("answer to a wrong raw PLAIN token: %q", b)
	}
}

// TestSASLSSLWithKgo: SCRAM-SHA-512 and PLAIN over a SASL_SSL listener
// (TLS first, then SASL), the production setup.
func TestSASLSSLWithKgo(t *testing.T) {
	f := newTLSFixture(t)
	_, addr, _ := startSASLBroker(t,
		"listeners=PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"ssl.keystore.type=PEM",
		"ssl.keystore.certificate.chain="+string(f.server.CertPEM),
		"ssl.keystore.key="+string(f.server.KeyPEM),
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, m := range map[string]ksasl.Mechanism{
		"SCRAM-SHA-512": scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism(),
		"PLAIN":         plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism(),
	} {
		cl := saslClient(t, addr, m, kgo.DialTLSConfig(f.clientTLS(false)))
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(name)}).FirstErr(); err != nil {
			t.Errorf("%s over SASL_SSL: %v", name, err)
		}
	}
	bad := saslClient(t, addr, scram.Auth{User: "alice", Pass: "nope"}.AsSha512Mechanism(), kgo.DialTLSConfig(f.clientTLS(false)))
	if err := bad.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("bad password over SASL_SSL: %v", err)
	}
}

// TestOAuthBearerJWKSWithKgo: with a JWKS endpoint (Kafka's
// OAuthBearerValidatorCallbackHandler keys) signed tokens authenticate and
// unsecured ones do not.
func TestOAuthBearerJWKSWithKgo(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "k1", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	_, addr, _ := startSASLBroker(t,
		"listener.name.sasl_plaintext.sasl.enabled.mechanisms=OAUTHBEARER",
		"listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
		"listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
		"sasl.oauthbearer.jwks.endpoint.url=file://"+file,
		"sasl.oauthbearer.expected.audience=kafka",
		"sasl.oauthbearer.expected.issuer=https://idp.example")
	sign := func(claims map[string]any) string {
		h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "k1"})
		c, _ := json.Marshal(claims)
		in := b64(h) + "." + b64(c)
		sum := sha256.Sum256([]byte(in))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + b64(sig)
	}
	now := time.Now().Unix()
	good := map[string]any{"sub": "svc", "aud": "kafka", "iss": "https://idp.example", "iat": now, "exp": now + 600}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := saslClient(t, addr, oauth.Auth{Token: sign(good)}.AsMechanism())
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("jwks")}).FirstErr(); err != nil {
		t.Fatalf("signed token: %v", err)
	}
	wrongAud := maps.Clone(good)
	wrongAud["aud"] = "other"
	for name, tok := range map[string]string{
		"unsecured":      unsecuredToken(good),
		"wrong audience": sign(wrongAud),
	} {
		err := saslClient(t, addr, oauth.Auth{Token: tok}.AsMechanism()).Ping(ctx)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), "invalid_token") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
