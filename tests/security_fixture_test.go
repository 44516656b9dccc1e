package tests

// The fixture of the real-client security tests (security_*_test.go): a
// certificate authority, a server certificate and client certificates made
// with crypto/x509, the same keys as PKCS12 and JKS stores (openssl and the
// JDK's keytool) for the Java client, and the real moldau binary started from
// a server.properties with Kafka's own keys and four listeners, PLAINTEXT,
// SASL_PLAINTEXT, SSL (client certificates required) and SASL_SSL, on free
// loopback ports. Each top-level test starts its own broker (a few
// milliseconds) and each case uses its own topic.
//
// Which clients cover which mechanism (each writes and reads records as the
// authenticated user, and a wrong password fails with an authentication
// error):
//
//	                 franz-go sarama kafka-go kcat confluent Java kafkajs suites
//	PLAIN               x       x       x      x      x       x     x     k
//	SCRAM-SHA-256       x       x       x      x      x       x     x     f k
//	SCRAM-SHA-512       x       x       x      x      x       x     x     f k
//	OAUTHBEARER         x                      x      x       x           f
//	SSL (client cert)   x                      x      x       x
//
// f: franz-go's TestSCRAMAuth, TestSCRAMAuthBadCredentials and TestOAuthAuth;
// k: kafka-go's sasl TestSASL (security_suites_test.go). Also: Kafka's CLI
// tools (security_cli_test.go), principals through the authorizer
// (security_principal_test.go), KIP-368 re-authentication
// (security_reauth_test.go), the server keystore formats
// (TestSecurityServerKeystores), and embed's options (embed/security_test.go).
// MOLDAU_SECURITY_REF=kafka runs all of them against Apache Kafka 4.4.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// The users every secured broker of these tests knows. alice has a PLAIN
// password and SCRAM-SHA-256 and SCRAM-SHA-512 credentials (the same
// password); admin is the super user when the authorizer is on.
const (
	secUser      = "alice"
	secPassword  = "alice-secret"
	secAdmin     = "admin"
	secAdminPass = "admin-secret"
	storePass    = "store-secret" // every PKCS12 and JKS store's password
)

// pkiFiles are the certificates and keys of one test process, in dir.
type pkiFiles struct {
	dir string
	// PEM files.
	CA, ServerCert, ServerKey string
	// ClientCert and ClientKey: a client certificate with the subject
	// CN=alice,OU=clients,O=Moldau (principal
	// User:CN=alice,OU=clients,O=Moldau); Bob's: CN=bob,OU=clients,O=Moldau.
	ClientCert, ClientKey string
	BobCert, BobKey       string
	// ServerChainKey is the server's key then certificate in one PEM file
	// (Kafka's ssl.keystore.type=PEM with ssl.keystore.location).
	ServerChainKey string
	// Stores for the Java client and the broker's PKCS12/JKS keystores,
	// all with password storePass.
	ServerP12, ServerJKS, ClientP12, ClientJKS, TrustP12, TrustJKS string

	caPool *x509.CertPool
	client tls.Certificate
	bob    tls.Certificate
}

// aliceDN is the subject of the client certificate, in Kafka's principal
// form (RFC 2253, most specific first).
const aliceDN = "CN=alice,OU=clients,O=Moldau"

var (
	pkiOnce sync.Once
	pki     *pkiFiles
	pkiErr  error
)

// securityPKI makes the certificates once per test process (the stores need
// openssl and keytool: under CI their absence fails the test).
func securityPKI(t *testing.T) *pkiFiles {
	t.Helper()
	testenv.RequireTool(t, "openssl", "make deps (apt-get install openssl)")
	testenv.RequireTool(t, "keytool", "make deps (apt-get install default-jdk-headless)")
	pkiOnce.Do(func() { pki, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

func makePKI() (*pkiFiles, error) {
	dir, err := os.MkdirTemp("", "moldau-pki-")
	if err != nil {
		return nil, err
	}
	p := &pkiFiles{dir: dir}
	path := func(name string) string { return filepath.Join(dir, name) }

	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Moldau test CA", Organization: []string{"Moldau"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(caCert)
	p.CA = path("ca.pem")
	if err := writePEM(p.CA, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}

	// leaf issues a certificate signed by the CA and writes its PEM files.
	serial := int64(2)
	leaf := func(name string, subject pkix.Name, server bool) (certPath, keyPath string, pair tls.Certificate, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", pair, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      subject,
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		serial++
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return "", "", pair, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", "", pair, err
		}
		certPath, keyPath = path(name+".pem"), path(name+"-key.pem")
		if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
			return "", "", pair, err
		}
		if err := writePEM(keyPath, "PRIVATE KEY", keyDER); err != nil {
			return "", "", pair, err
		}
		pair, err = tls.LoadX509KeyPair(certPath, keyPath)
		return certPath, keyPath, pair, err
	}
	if p.ServerCert, p.ServerKey, _, err = leaf("server", pkix.Name{CommonName: "localhost", Organization: []string{"Moldau"}}, true); err != nil {
		return nil, err
	}
	if p.ClientCert, p.ClientKey, p.client, err = leaf("alice", pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"clients"}, Organization: []string{"Moldau"}}, false); err != nil {
		return nil, err
	}
	if p.BobCert, p.BobKey, p.bob, err = leaf("bob", pkix.Name{CommonName: "bob", OrganizationalUnit: []string{"clients"}, Organization: []string{"Moldau"}}, false); err != nil {
		return nil, err
	}
	// Kafka's PEM keystore file: the private key and the certificate chain.
	p.ServerChainKey = path("server-chain-key.pem")
	if err := concatFiles(p.ServerChainKey, p.ServerKey, p.ServerCert, p.CA); err != nil {
		return nil, err
	}

	// PKCS12 keystores with openssl (Go's standard library writes none),
	// JKS ones and the truststores with keytool.
	run := func(name string, args ...string) error {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	p12 := func(out, cert, key, alias string) error {
		return run("openssl", "pkcs12", "-export", "-in", cert, "-inkey", key, "-certfile", p.CA,
			"-name", alias, "-out", out, "-passout", "pass:"+storePass)
	}
	jks := func(out, fromP12 string) error {
		return run("keytool", "-importkeystore", "-noprompt", "-srckeystore", fromP12, "-srcstoretype", "PKCS12",
			"-srcstorepass", storePass, "-destkeystore", out, "-deststoretype", "JKS", "-deststorepass", storePass,
			"-destkeypass", storePass)
	}
	trust := func(out, storeType string) error {
		return run("keytool", "-importcert", "-noprompt", "-alias", "moldau-ca", "-file", p.CA,
			"-keystore", out, "-storetype", storeType, "-storepass", storePass)
	}
	p.ServerP12, p.ServerJKS = path("server.p12"), path("server.jks")
	p.ClientP12, p.ClientJKS = path("alice.p12"), path("alice.jks")
	p.TrustP12, p.TrustJKS = path("truststore.p12"), path("truststore.jks")
	for _, step := range []func() error{
		func() error { return p12(p.ServerP12, p.ServerCert, p.ServerKey, "server") },
		func() error { return p12(p.ClientP12, p.ClientCert, p.ClientKey, "alice") },
		func() error { return jks(p.ServerJKS, p.ServerP12) },
		func() error { return jks(p.ClientJKS, p.ClientP12) },
		func() error { return trust(p.TrustP12, "PKCS12") },
		func() error { return trust(p.TrustJKS, "JKS") },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func concatFiles(out string, in ...string) error {
	var b bytes.Buffer
	for _, f := range in {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		b.Write(data)
	}
	return os.WriteFile(out, b.Bytes(), 0o600)
}

// serverTLS is the TLS config of a client that checks the server's
// certificate against the test CA, without a client certificate.
func (p *pkiFiles) serverTLS() *tls.Config {
	return &tls.Config{RootCAs: p.caPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// mutualTLS is serverTLS with alice's client certificate.
func (p *pkiFiles) mutualTLS() *tls.Config {
	c := p.serverTLS()
	c.Certificates = []tls.Certificate{p.client}
	return c
}

// secureListeners are the addresses of a secured broker's listeners.
type secureListeners struct {
	Plaintext, SASLPlaintext, SSL, SASLSSL string
}

// secureProc is a moldau binary started with TLS and SASL listeners (or,
// with MOLDAU_SECURITY_REF=kafka, Apache Kafka started from the same
// server.properties: a check of the tests themselves).
type secureProc struct {
	secureListeners
	pki *pkiFiles
}

// secureSetup says how startSecureBroker configures the broker.
type secureSetup struct {
	// keystoreType of the broker's server certificate: "PEM" (the
	// default: a key-and-chain file), "PEM-inline"
	// (ssl.keystore.certificate.chain and ssl.keystore.key), "PKCS12" or
	// "JKS".
	keystoreType string
	// extra properties, appended last (they override).
	extra []string
	// extra command-line arguments.
	args []string
	// fixed listener addresses instead of free ports (the empty ones get
	// free ports).
	fixed secureListeners
}

// freeLoopbackPorts returns n distinct free 127.0.0.1 addresses, reserved
// for this test binary (testenv.FreePorts) for the broker to bind.
func freeLoopbackPorts(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for _, p := range testenv.Ports(t, n) {
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	return addrs
}

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	return freeLoopbackPorts(t, 1)[0]
}

// startSecureBroker starts the moldau binary with the four listeners, the
// test PKI, the PLAIN users alice and admin in Kafka's JAAS syntax,
// SCRAM-SHA-256 and -512 credentials for both from --add-scram, and
// OAUTHBEARER with unsecured JWS, and waits until every listener accepts
// connections.
func startSecureBroker(t *testing.T, s secureSetup) *secureProc {
	t.Helper()
	p := securityPKI(t)
	l := s.fixed
	free := freeLoopbackPorts(t, 4)
	for i, a := range []*string{&l.Plaintext, &l.SASLPlaintext, &l.SSL, &l.SASLSSL} {
		if *a == "" {
			*a = free[i]
		}
	}
	mechs := "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
	listenersValue := fmt.Sprintf("PLAINTEXT://%s,SASL_PLAINTEXT://%s,SSL://%s,SASL_SSL://%s", l.Plaintext, l.SASLPlaintext, l.SSL, l.SASLSSL)
	props := []string{
		"listeners=" + listenersValue,
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL",
		"inter.broker.listener.name=PLAINTEXT",
		"sasl.enabled.mechanisms=" + mechs,
		// On SSL listeners a client certificate is required; Kafka
		// applies ssl.client.auth to SASL_SSL only when it carries the
		// listener prefix (KIP-684), so SASL_SSL clients need none.
		"ssl.client.auth=required",
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + p.CA,
		"ssl.endpoint.identification.algorithm=",
	}
	switch s.keystoreType {
	case "", "PEM":
		props = append(props, "ssl.keystore.type=PEM", "ssl.keystore.location="+p.ServerChainKey)
	case "PEM-inline":
		chain, err := os.ReadFile(p.ServerCert)
		if err != nil {
			t.Fatal(err)
		}
		key, err := os.ReadFile(p.ServerKey)
		if err != nil {
			t.Fatal(err)
		}
		props = append(props, "ssl.keystore.type=PEM",
			"ssl.keystore.certificate.chain="+propertiesMultiline(string(chain)),
			"ssl.keystore.key="+propertiesMultiline(string(key)))
	case "PKCS12":
		props = append(props, "ssl.keystore.type=PKCS12", "ssl.keystore.location="+p.ServerP12,
			"ssl.keystore.password="+storePass, "ssl.key.password="+storePass)
	case "JKS":
		props = append(props, "ssl.keystore.type=JKS", "ssl.keystore.location="+p.ServerJKS,
			"ssl.keystore.password="+storePass, "ssl.key.password="+storePass)
	default:
		t.Fatalf("unknown keystore type %q", s.keystoreType)
	}
	plainJAAS := fmt.Sprintf(`org.apache.kafka.common.security.plain.PlainLoginModule required username="%s" password="%s" user_%s="%s" user_%s="%s";`,
		secAdmin, secAdminPass, secAdmin, secAdminPass, secUser, secPassword)
	for _, ln := range []string{"sasl_plaintext", "sasl_ssl"} {
		props = append(props,
			"listener.name."+ln+".sasl.enabled.mechanisms="+mechs,
			"listener.name."+ln+".plain.sasl.jaas.config="+plainJAAS,
			"listener.name."+ln+".scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
			"listener.name."+ln+".scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
			"listener.name."+ln+".oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
		)
	}
	props = append(props, s.extra...)
	text := strings.Join(props, "\n") + "\n"
	file := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// --listeners repeats the file's listeners: the harness adds --addr
	// (one PLAINTEXT listener) unless given, and a later flag wins.
	args := []string{"--config", file, "--listeners", listenersValue}
	for _, user := range []struct{ name, pass string }{{secUser, secPassword}, {secAdmin, secAdminPass}} {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", mech, user.name, user.pass))
		}
	}
	args = append(args, s.args...)
	sp := &secureProc{secureListeners: l, pki: p}
	if os.Getenv("MOLDAU_SECURITY_REF") == "kafka" {
		startKafkaRef(t, file, l, args)
	} else {
		harness.Start(t, args...)
	}
	for _, a := range []string{l.Plaintext, l.SASLPlaintext, l.SSL, l.SASLSSL} {
		testenv.WaitFor(t, 20*time.Second, "listener "+a+" to accept connections", func() bool {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	return sp
}

// propertiesMultiline writes a multi-line value in Java properties syntax:
// each line break escaped, continued on the next line.
func propertiesMultiline(v string) string {
	return strings.ReplaceAll(strings.TrimSpace(v), "\n", "\\n\\\n")
}

// secureBroker starts a broker with the default setup for one top-level
// test (the process belongs to the test that started it).
func secureBroker(t *testing.T) *secureProc {
	t.Helper()
	return startSecureBroker(t, secureSetup{})
}

// secTopic creates topic (one partition) through the PLAINTEXT listener.
func (sp *secureProc) secTopic(t *testing.T, topic string) string {
	t.Helper()
	createTopic(t, sp.Plaintext, topic, 1, nil)
	return topic
}

// secRecords is the n values a client test writes and expects back.
func secRecords(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// readBack reads topic from the PLAINTEXT listener and fails unless it holds
// exactly want, in order: a record a secured client reported as written must
// be there.
func (sp *secureProc) readBack(t *testing.T, topic string, want []string) {
	t.Helper()
	got := consumeValues(t, sp.Plaintext, topic, len(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("topic %s holds %q, want %q", topic, got, want)
	}
}

// consumeValues reads n values from the start of partition 0 of topic with
// franz-go and the options given (TLS, SASL).
func consumeValues(t *testing.T, addr, topic string, n int, opts ...kgo.Opt) []string {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(got), n, topic, err)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("fetch %s: %v", topic, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// assertEmpty fails unless partition 0 of topic holds no record: what a
// client that failed to authenticate tried to write is not there.
func (sp *secureProc) assertEmpty(t *testing.T, topic string) {
	t.Helper()
	ends, err := kadm.NewClient(newClient(t, sp.Plaintext)).ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := ends.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("end offset of %s: %v", topic, o.Err)
	}
	if o.Offset != 0 {
		t.Fatalf("%s holds %d records written without authentication", topic, o.Offset)
	}
}

// startKafkaRef runs Apache Kafka 4.4 (the jars tests/compat/setup.sh
// caches) as a single KRaft node from the test's server.properties, with the
// --add-scram credentials of args given to its storage format: with
// MOLDAU_SECURITY_REF=kafka every security test runs against Kafka, which
// checks the tests' client settings and expectations.
func startKafkaRef(t *testing.T, propsFile string, l secureListeners, args []string) {
	t.Helper()
	compatClients(t, "java")
	dir := t.TempDir()
	cport := freeLoopbackPort(t)
	text, err := os.ReadFile(propsFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(text), "\n") {
		switch {
		case strings.HasPrefix(line, "listeners="):
			line += ",CONTROLLER://" + cport
		case strings.HasPrefix(line, "listener.security.protocol.map="):
			line += ",CONTROLLER:PLAINTEXT"
		}
		lines = append(lines, line)
	}
	lines = append(lines, "process.roles=broker,controller", "node.id=1", "controller.quorum.voters=1@"+cport,
		"controller.listener.names=CONTROLLER", "log.dirs="+filepath.Join(dir, "data"),
		"offsets.topic.replication.factor=1", "offsets.topic.num.partitions=1", "transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1", "group.initial.rebalance.delay.ms=0",
		"advertised.listeners="+fmt.Sprintf("PLAINTEXT://%s,SASL_PLAINTEXT://%s,SSL://%s,SASL_SSL://%s", l.Plaintext, l.SASLPlaintext, l.SSL, l.SASLSSL))
	kprops := filepath.Join(dir, "kafka.properties")
	if err := os.WriteFile(kprops, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(compatCache(), "kafka-4.4.0", "libs", "*")
	format := []string{"-cp", cp, "kafka.tools.StorageTool", "format", "-t", "bW9sZGF1LXNlY3VyaXR5", "-c", kprops}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--add-scram" {
			format = append(format, "--add-scram", args[i+1])
		}
	}
	if out, err := exec.Command("java", format...).CombinedOutput(); err != nil {
		t.Fatalf("kafka-storage format: %v\n%s", err, out)
	}
	cmd := exec.Command("java", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-cp", cp, "kafka.Kafka", kprops)
	var log harness.LockedBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	testenv.WaitFor(t, 60*time.Second, "Kafka to start", func() bool {
		select {
		case <-exited:
			t.Fatalf("kafka exited:\n%s", log.Tail(4000))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(l.Plaintext))
		if err != nil {
			return false
		}
		defer cl.Close()
		brokers, err := kadm.NewClient(cl).ListBrokers(ctx)
		return err == nil && len(brokers) == 1
	})
}
