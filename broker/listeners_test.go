package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/tlsconf"
	"github.com/moldau/moldau/internal/testcerts"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/replication"
)

// logBuffer collects a broker's log lines (debug included) for tests that
// look for what the broker decided about a connection.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startWithProperties loads a config from Kafka properties (as a
// server.properties would give them), starts a broker on it and returns it
// with its log.
func startWithProperties(t *testing.T, props map[string]string) (*Broker, *logBuffer) {
	t.Helper()
	args := []string{"--memory", "--admin-addr", ""}
	for k, v := range props {
		args = append(args, "--set", k+"="+v)
	}
	cfg, err := config.Load(args, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	return b, logs
}

// tlsFixture is a CA, a broker certificate for 127.0.0.1 and a client
// certificate.
type tlsFixture struct {
	ca             *testcerts.CA
	server, client *testcerts.Leaf
}

func newTLSFixture(t *testing.T) tlsFixture {
	ca := testcerts.NewCA(t, "moldau-test-ca")
	return tlsFixture{ca: ca,
		server: ca.Issue(t, pkix.Name{CommonName: "broker"}, "127.0.0.1", "localhost"),
		client: ca.Issue(t, pkix.Name{CommonName: "Alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme"}}),
	}
}

func (f tlsFixture) clientTLS(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: f.ca.Pool()}
	if withCert {
		c.Certificates = []tls.Certificate{f.client.TLS}
	}
	return c
}

func newListenerClient(t *testing.T, addr string, tc *tls.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append(opts, kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.RetryTimeout(5*time.Second))
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// metadataBroker asks for metadata and returns the one broker's address.
func metadataBroker(t *testing.T, cl *kgo.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(resp.Brokers) != 1 {
		t.Fatalf("metadata brokers %+v", resp.Brokers)
	}
	return net.JoinHostPort(resp.Brokers[0].Host, strconv.Itoa(int(resp.Brokers[0].Port)))
}

// TestMultiListenerEndpoints: a broker with a PLAINTEXT and an SSL
// listener answers Metadata, DescribeCluster and FindCoordinator with the
// endpoint of the listener the request came in on, and serves produce and
// fetch over TLS.
func TestMultiListenerEndpoints(t *testing.T) {
	f := newTLSFixture(t)
	b, _ := startWithProperties(t, map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"ssl.keystore.type":              "PEM",
		"ssl.keystore.certificate.chain": string(f.server.CertPEM),
		"ssl.keystore.key":               string(f.server.KeyPEM),
		"auto.create.topics.enable":      "true",
	})
	plainAddr, sslAddr := b.ListenerAddr("PLAINTEXT"), b.ListenerAddr("SSL")
	if plainAddr == "" || sslAddr == "" || plainAddr == sslAddr || b.Addr() != plainAddr {
		t.Fatalf("listener addresses %q %q (Addr %q)", plainAddr, sslAddr, b.Addr())
	}
	plain := newListenerClient(t, plainAddr, nil)
	if got := metadataBroker(t, plain); got != plainAddr {
		t.Errorf("metadata on PLAINTEXT gives %s, want %s", got, plainAddr)
	}
	ssl := newListenerClient(t, sslAddr, f.clientTLS(false), kgo.DefaultProduceTopic("tls-topic"), kgo.ConsumeTopics("tls-topic"), kgo.AllowAutoTopicCreation())
	if got := metadataBroker(t, ssl); got != sslAddr {
		t.Errorf("metadata on SSL gives %s, want %s", got, sslAddr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, ssl)
	if err != nil || len(dc.Brokers) != 1 || net.JoinHostPort(dc.Brokers[0].Host, strconv.Itoa(int(dc.Brokers[0].Port))) != sslAddr {
		t.Errorf("DescribeCluster on SSL: %+v, %v", dc, err)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	fcr, err := fc.RequestWith(ctx, ssl)
	if err != nil || fcr.ErrorCode != 0 || net.JoinHostPort(fcr.Host, strconv.Itoa(int(fcr.Port))) != sslAddr {
		t.Errorf("FindCoordinator on SSL: %+v, %v", fcr, err)
	}
	if err := ssl.ProduceSync(ctx, &kgo.Record{Value: []byte("over tls")}).FirstErr(); err != nil {
		t.Fatalf("produce over TLS: %v", err)
	}
	fs := ssl.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatalf("fetch over TLS: %v", err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "over tls" {
		t.Fatalf("fetched %+v", recs)
	}

	// Plain TCP on the SSL port gets nothing served.
	c, err := net.DialTimeout("tcp", sslAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rf kmsg.RequestFormatter
	_, _ = c.Write(rf.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1))
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, _ := io.ReadAll(c)
	if len(got) > 0 && got[0] != 0x15 { // a TLS alert record is all it may get
		t.Fatalf("a plaintext client on the SSL listener read %x", got)
	}
}

// TestMutualTLSPrincipal: with ssl.client.auth=required a client must
// present a certificate the truststore verifies; its principal is the
// certificate's DN mapped by ssl.principal.mapping.rules.
func TestMutualTLSPrincipal(t *testing.T) {
	f := newTLSFixture(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b, logs := startWithProperties(t, map[string]string{
		"listeners":                      "SSL://127.0.0.1:0",
		"listener.security.protocol.map": "SSL:SSL",
		"ssl.keystore.type":              "PEM",
		"ssl.keystore.location":          write("broker.pem", append(append([]byte{}, f.server.CertPEM...), f.server.KeyPEM...)),
		"ssl.truststore.type":            "PEM",
		"ssl.truststore.location":        write("ca.pem", f.ca.CertPEM),
		"ssl.client.auth":                "required",
		"ssl.principal.mapping.rules":    "RULE:^CN=([^,]*),OU=eng,.*$/$1/L,DEFAULT",
	})
	addr := b.ListenerAddr("SSL")
	cl := newListenerClient(t, addr, f.clientTLS(true))
	if got := metadataBroker(t, cl); got != addr {
		t.Fatalf("metadata gives %s", got)
	}
	testenv.WaitFor(t, 5*time.Second, "the mapped principal in the broker's log", func() bool {
		return strings.Contains(logs.String(), "principal=User:alice")
	})

	// No certificate: refused.
	anon := newListenerClient(t, addr, f.clientTLS(false))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, anon); err == nil {
		t.Fatal("a client without a certificate was served with ssl.client.auth=required")
	}
	// A certificate from another CA: refused.
	other := testcerts.NewCA(t, "other").Issue(t, pkix.Name{CommonName: "mallory"})
	bad := newListenerClient(t, addr, &tls.Config{RootCAs: f.ca.Pool(), Certificates: []tls.Certificate{other.TLS}})
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, bad); err == nil {
		t.Fatal("a certificate from an unknown CA was accepted")
	}
}

// TestKeystoreFiles: PKCS12 and JKS keystores (and truststores) from
// files serve TLS; a wrong password stops Start with an error naming the
// key.
func TestKeystoreFiles(t *testing.T) {
	f := newTLSFixture(t)
	dir := t.TempDir()
	p12, err := pkcs12.Modern.Encode(f.server.Key, f.server.Cert, []*x509.Certificate{f.ca.Cert}, "p12pass")
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.New()
	if err := ks.SetPrivateKeyEntry("broker", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: f.server.KeyDER,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: f.server.Cert.Raw}}}, []byte("keypass")); err != nil {
		t.Fatal(err)
	}
	var jks bytes.Buffer
	if err := ks.Store(&jks, []byte("jkspass")); err != nil {
		t.Fatal(err)
	}
	ts := keystore.New()
	if err := ts.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X509", Content: f.ca.Cert.Raw}}); err != nil {
		t.Fatal(err)
	}
	var jksTrust bytes.Buffer
	if err := ts.Store(&jksTrust, []byte("trustpass")); err != nil {
		t.Fatal(err)
	}
	p12Path, jksPath, trustPath := filepath.Join(dir, "broker.p12"), filepath.Join(dir, "broker.jks"), filepath.Join(dir, "trust.jks")
	for p, data := range map[string][]byte{p12Path: p12, jksPath: jks.Bytes(), trustPath: jksTrust.Bytes()} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, props := range map[string]map[string]string{
		"PKCS12": {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12Path, "ssl.keystore.password": "p12pass"},
		"JKS": {"ssl.keystore.type": "JKS", "ssl.keystore.location": jksPath, "ssl.keystore.password": "jkspass", "ssl.key.password": "keypass",
			"ssl.truststore.type": "JKS", "ssl.truststore.location": trustPath, "ssl.truststore.password": "trustpass", "ssl.client.auth": "requested"},
	} {
		t.Run(name, func(t *testing.T) {
			props["listeners"] = "SSL://127.0.0.1:0"
			b, logs := startWithProperties(t, props)
			cl := newListenerClient(t, b.Addr(), f.clientTLS(true))
			if got := metadataBroker(t, cl); got != b.Addr() {
				t.Fatalf("metadata gives %s", got)
			}
			if props["ssl.client.auth"] == "requested" {
				testenv.WaitFor(t, 5*time.Second, "the DN principal in the log", func() bool {
					return strings.Contains(logs.String(), `principal="User:CN=Alice,OU=eng,O=Acme"`)
				})
			}
		})
	}
	cfg, err := config.Load([]string{"--memory", "--admin-addr", "", "--listeners", "SSL://127.0.0.1:0", "--set", "ssl.keystore.location=" + p12Path,
		"--set", "ssl.keystore.password=wrong"}, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	if err := b.Start(); err == nil || !strings.Contains(err.Error(), "ssl.keystore.location") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("Start with a wrong keystore password: %v", err)
	}
}

// TestIdleConnectionsClosed: connections.max.idle.ms closes an idle
// connection and one whose frame never finishes.
func TestIdleConnectionsClosed(t *testing.T) {
	b, _ := startWithProperties(t, map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "connections.max.idle.ms": "300"})
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := c.Read(make([]byte, 1))
		ne, ok := err.(net.Error)
		return err != nil && !(ok && ne.Timeout())
	}
	idle, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if !closedWithin(idle, 10*time.Second) {
		t.Fatal("idle connection not closed")
	}
	slow, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// A header announcing 100 bytes, then nothing.
	_, _ = slow.Write(binary.BigEndian.AppendUint32(nil, 100))
	_, _ = slow.Write([]byte{0, 3, 0, 1})
	if !closedWithin(slow, 10*time.Second) {
		t.Fatal("unfinished frame not closed")
	}
}

// TestKcatSSL: librdkafka (kcat) lists metadata over an SSL listener and
// sees the SSL endpoint.
func TestKcatSSL(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		testenv.Unavailable(t, "kcat not installed (Debian package kcat)")
	}
	f := newTLSFixture(t)
	b, _ := startWithProperties(t, map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"ssl.keystore.certificate.chain": string(f.server.CertPEM),
		"ssl.keystore.key":               string(f.server.KeyPEM),
	})
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, f.ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kcat", "-b", b.ListenerAddr("SSL"), "-L", "-m", "10",
		"-X", "security.protocol=ssl", "-X", "ssl.ca.location="+caPath, "-X", "ssl.endpoint.identification.algorithm=https").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "at "+b.ListenerAddr("SSL")) {
		t.Fatalf("kcat metadata does not show the SSL endpoint %s:\n%s", b.ListenerAddr("SSL"), out)
	}
}

// TestClusterListeners: each node of a cluster registers every client
// listener, and every node answers a client with the endpoints of the
// listener the client came in on.
func TestClusterListeners(t *testing.T) {
	f := newTLSFixture(t)
	tlsOpts, err := tlsconf.Parse(map[string]string{"ssl.keystore.certificate.chain": string(f.server.CertPEM), "ssl.keystore.key": string(f.server.KeyPEM)}, "SSL", false)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{t: t, nw: replication.NewLocalNetwork()}
	var peers []config.Peer
	for i := 1; i <= 3; i++ {
		peers = append(peers, config.Peer{NodeID: int32(i), Addr: fmt.Sprintf("local:%d", i)})
	}
	for i := 1; i <= 3; i++ {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.NodeID = int32(i)
		cfg.Peers = peers
		cfg.Addr = "127.0.0.1:0"
		cfg.Security.Listeners.Listeners = []config.Listener{
			{Name: "PLAINTEXT", Security: "PLAINTEXT", Addr: "127.0.0.1:0"},
			{Name: "SSL", Security: "SSL", Addr: "127.0.0.1:0", TLS: &tlsOpts},
		}
		tc.cfgs = append(tc.cfgs, cfg)
		tc.brokers = append(tc.brokers, nil)
		tc.start(i - 1)
	}
	t.Cleanup(func() {
		for _, b := range tc.brokers {
			_ = b.Close(context.Background())
		}
	})
	want := func(listener string) map[int32]string {
		m := map[int32]string{}
		for i, b := range tc.brokers {
			m[int32(i+1)] = b.ListenerAddr(listener)
		}
		return m
	}
	check := func(cl *kgo.Client, listener string) {
		t.Helper()
		w := want(listener)
		tc.waitFor("metadata with every broker's "+listener+" endpoint", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if err != nil || len(resp.Brokers) != len(w) {
				return false
			}
			for _, br := range resp.Brokers {
				if net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))) != w[br.NodeID] {
					return false
				}
			}
			return true
		})
	}
	for i, b := range tc.brokers {
		check(newListenerClient(t, b.ListenerAddr("PLAINTEXT"), nil), "PLAINTEXT")
		check(newListenerClient(t, b.ListenerAddr("SSL"), f.clientTLS(false)), "SSL")
		self := b.cluster.selfNode()
		if len(self.endpoints) != 2 || self.host != "127.0.0.1" || net.JoinHostPort(self.host, strconv.Itoa(int(self.port))) != b.ListenerAddr("PLAINTEXT") {
			t.Errorf("node %d endpoints %+v", i+1, self)
		}
	}
}

// TestCertificateReload: replacing the keystore file changes the
// certificate new connections get, without a restart; an established
// connection keeps working.
func TestCertificateReload(t *testing.T) {
	f := newTLSFixture(t)
	renewed := f.ca.Issue(t, pkix.Name{CommonName: "broker-renewed"}, "127.0.0.1")
	dir := t.TempDir()
	path := filepath.Join(dir, "broker.pem")
	if err := os.WriteFile(path, append(append([]byte{}, f.server.CertPEM...), f.server.KeyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := startWithProperties(t, map[string]string{"listeners": "SSL://127.0.0.1:0", "ssl.keystore.type": "PEM", "ssl.keystore.location": path})
	serverCN := func() string {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", b.Addr(), f.clientTLS(false))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := serverCN(); cn != "broker" {
		t.Fatalf("CN %q", cn)
	}
	cl := newListenerClient(t, b.Addr(), f.clientTLS(false))
	metadataBroker(t, cl)
	tmp := filepath.Join(dir, "new.pem")
	if err := os.WriteFile(tmp, append(append([]byte{}, renewed.CertPEM...), renewed.KeyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 3*tlsconf.DefaultReloadInterval, "the renewed certificate on new connections", func() bool { return serverCN() == "broker-renewed" })
	metadataBroker(t, cl) // the old connection still serves
}
