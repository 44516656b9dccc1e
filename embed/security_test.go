package embed_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/moldau/moldau/embed"
)

// testPKI is a CA, a server certificate for 127.0.0.1 and a client
// certificate, in PEM.
type testPKI struct {
	caPEM, serverPEM, serverKeyPEM []byte
	pool                           *x509.CertPool
	client                         tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	now := time.Now()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "embed test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, server bool) (certPEM, keyPEM []byte) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Embed"}},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	}
	p := &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.serverPEM, p.serverKeyPEM = leaf(2, "localhost", true)
	cc, ck := leaf(3, "app", false)
	if p.client, err = tls.X509KeyPair(cc, ck); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *testPKI) clientTLS(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{p.client}
	}
	return c
}

// roundTrip produces three records to topic through the client built from
// opts and reads them back; the PLAINTEXT listener creates the topic.
func roundTrip(t *testing.T, ctx context.Context, b *embed.Broker, addr, topic string, opts ...kgo.Opt) error {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for i := range 3 {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint(i))).FirstErr(); err != nil {
			return err
		}
	}
	n := 0
	for n < 3 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %d of 3: %w", n, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return errs[0].Err
		}
		n += fs.NumRecords()
	}
	return nil
}

// ping connects to addr with opts and sends ApiVersions: the error of the
// TLS handshake or the SASL exchange, within 15 s.
func ping(ctx context.Context, addr string, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

func TestSecureListeners(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := embed.Start(ctx,
		embed.WithTLS(p.serverPEM, p.serverKeyPEM, "required", p.caPEM),
		embed.WithListeners(
			embed.Listener{Name: "SASL_SSL"},
			embed.Listener{Name: "SSL"},
			embed.Listener{Name: "APPS", Protocol: "SASL_PLAINTEXT"},
		),
		embed.WithSASLUser(embed.MechanismScramSHA512, "alice", "alice-secret"),
		embed.WithSASLUser(embed.MechanismScramSHA256, "alice", "alice-secret"),
		embed.WithSASLUser(embed.MechanismPlain, "bob", "bob-secret"),
		embed.WithUnsecuredOAuthBearer(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, name := range []string{"PLAINTEXT", "SASL_SSL", "SSL", "APPS"} {
		if b.ListenerAddr(name) == "" {
			t.Fatalf("no address for listener %s", name)
		}
	}
	if b.ListenerAddr("PLAINTEXT") != b.Addr() || b.ListenerAddr("nope") != "" {
		t.Fatalf("ListenerAddr: PLAINTEXT %q (Addr %q), nope %q", b.ListenerAddr("PLAINTEXT"), b.Addr(), b.ListenerAddr("nope"))
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	if _, err := kadm.NewClient(admCl).CreateTopic(ctx, 1, 1, nil, "embed-secure"); err != nil {
		t.Fatal(err)
	}
	alice512 := scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()
	jws := func(sub string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"none"}`)) + "." + enc(fmt.Appendf(nil, `{"sub":%q,"exp":%d}`, sub, time.Now().Add(time.Hour).Unix())) + "."
	}
	for _, tc := range []struct {
		name, listener string
		opts           []kgo.Opt
	}{
		{"SASL_SSL SCRAM-SHA-512", "SASL_SSL", []kgo.Opt{kgo.DialTLSConfig(p.clientTLS(false)), kgo.SASL(alice512)}},
		{"SSL client certificate", "SSL", []kgo.Opt{kgo.DialTLSConfig(p.clientTLS(true))}},
		{"custom listener SCRAM-SHA-256", "APPS", []kgo.Opt{kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism())}},
		{"custom listener PLAIN", "APPS", []kgo.Opt{kgo.SASL(plain.Auth{User: "bob", Pass: "bob-secret"}.AsMechanism())}},
		{"custom listener OAUTHBEARER", "APPS", []kgo.Opt{kgo.SASL(oauth.Auth{Token: jws("carol")}.AsMechanism())}},
	} {
		if err := roundTrip(t, ctx, b, b.ListenerAddr(tc.listener), "embed-secure", tc.opts...); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Wrong credentials fail with an authentication error.
	for _, tc := range []struct {
		name, listener string
		opts           []kgo.Opt
	}{
		{"SASL_SSL wrong password", "SASL_SSL", []kgo.Opt{kgo.DialTLSConfig(p.clientTLS(false)), kgo.SASL(scram.Auth{User: "alice", Pass: "nope"}.AsSha512Mechanism())}},
		{"PLAIN wrong password", "APPS", []kgo.Opt{kgo.SASL(plain.Auth{User: "bob", Pass: "nope"}.AsMechanism())}},
	} {
		if err := ping(ctx, b.ListenerAddr(tc.listener), tc.opts...); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("%s: %v, want SASL_AUTHENTICATION_FAILED", tc.name, err)
		}
	}
	if err := ping(ctx, b.ListenerAddr("SSL"), kgo.DialTLSConfig(p.clientTLS(false))); err == nil {
		t.Error("SSL without a client certificate: no error, want the required certificate to be missing")
	}
}

func TestSecurityOptionErrors(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t)
	// An SSL listener without WithTLS fails in the loader (no keystore).
	if b, err := embed.Start(context.Background(), embed.WithListeners(embed.Listener{Name: "SSL"})); err == nil {
		b.Close()
		t.Error("an SSL listener without a certificate started")
	}
	for _, tc := range []struct {
		name string
		opts []embed.Option
	}{
		{"unknown protocol", []embed.Option{embed.WithListeners(embed.Listener{Name: "X", Protocol: "TLS"})}},
		{"custom name without protocol", []embed.Option{embed.WithListeners(embed.Listener{Name: "CLIENTS"})}},
		{"listed twice", []embed.Option{embed.WithListeners(embed.Listener{Name: "SASL_SSL"}, embed.Listener{Name: "sasl_ssl"})}},
		{"SASL user without a SASL listener", []embed.Option{embed.WithSASLUser(embed.MechanismScramSHA256, "alice", "x")}},
		{"SASL user with only an SSL listener", []embed.Option{embed.WithTLS(p.serverPEM, p.serverKeyPEM, "", nil),
			embed.WithListeners(embed.Listener{Name: "SSL"}), embed.WithSASLUser(embed.MechanismPlain, "alice", "x")}},
		{"GSSAPI user", []embed.Option{embed.WithSASLUser("GSSAPI", "alice", "x")}},
		{"quote in password", []embed.Option{embed.WithSASLUser(embed.MechanismPlain, "alice", `a"b`)}},
	} {
		b, err := embed.Start(context.Background(), tc.opts...)
		if err == nil {
			b.Close()
			t.Errorf("%s: started", tc.name)
		} else if !errors.Is(err, embed.ErrBadSecurityOption) {
			t.Errorf("%s: %v, want ErrBadSecurityOption", tc.name, err)
		}
	}
}
