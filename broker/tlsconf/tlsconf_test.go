package tlsconf

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/moldau/moldau/internal/testcerts"
	"github.com/moldau/moldau/internal/testenv"
)

func TestParseListenerOverrideAndErrors(t *testing.T) {
	props := map[string]string{
		"ssl.keystore.location":                              "/global.jks",
		"listener.name.internal.ssl.keystore.location":       "/internal.p12",
		"listener.name.INTERNAL.ssl.keystore.type":           "pkcs12",
		"ssl.client.auth":                                    "required",
		"ssl.enabled.protocols":                              "TLSv1.3",
		"ssl.cipher.suites":                                  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,SSL_RSA_WITH_AES_128_CBC_SHA,TLS_AES_128_GCM_SHA256",
		"ssl.endpoint.identification.algorithm":              "https",
		"listener.name.sasl_ssl.ssl.principal.mapping.rules": "RULE:^CN=(.*?),.*$/$1/L,DEFAULT",
	}
	o, err := Parse(props, "INTERNAL", false)
	if err != nil {
		t.Fatal(err)
	}
	if o.KeystoreLocation != "/internal.p12" || o.KeystoreType != "PKCS12" {
		t.Fatalf("override not applied: %q %q", o.KeystoreLocation, o.KeystoreType)
	}
	if o.ClientAuth != ClientAuthRequired || o.MinVersion != tls.VersionTLS13 || o.MaxVersion != tls.VersionTLS13 {
		t.Fatalf("client auth %v, versions %x-%x", o.ClientAuth, o.MinVersion, o.MaxVersion)
	}
	if len(o.CipherSuites) != 2 || o.CipherSuites[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 || o.CipherSuites[1] != tls.TLS_RSA_WITH_AES_128_CBC_SHA {
		t.Fatalf("cipher suites %x", o.CipherSuites)
	}
	// KIP-684: on SASL_SSL only a listener-prefixed ssl.client.auth counts.
	s, err := Parse(props, "SASL_SSL", true)
	if err != nil {
		t.Fatal(err)
	}
	if s.ClientAuth != ClientAuthNone || s.KeystoreLocation != "/global.jks" {
		t.Fatalf("SASL_SSL: client auth %v keystore %q", s.ClientAuth, s.KeystoreLocation)
	}
	if name, _ := MapDN(s.Rules, "CN=Bob,O=x"); name != "bob" {
		t.Fatalf("listener's mapping rules not applied: %q", name)
	}

	bad := map[string]map[string]string{
		"ssl.client.auth":                         {"ssl.client.auth": "maybe"},
		"listener.name.ssl.ssl.enabled.protocols": {"listener.name.ssl.ssl.enabled.protocols": "SSLv3"},
		"ssl.cipher.suites":                       {"ssl.cipher.suites": "TLS_NOPE"},
		"ssl.keystore.type":                       {"ssl.keystore.type": "JCEKS"},
		"ssl.principal.mapping.rules":             {"ssl.principal.mapping.rules": "RULE:abc"},
		"ssl.keystore.key":                        {"ssl.keystore.certificate.chain": "x"},
		"ssl.keystore.location":                   {"ssl.keystore.certificate.chain": "x", "ssl.keystore.key": "y", "ssl.keystore.location": "/z"},
	}
	for key, p := range bad {
		_, err := Parse(p, "SSL", false)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != key || !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: error %v, want one naming %s", p, err, key)
		}
	}
	if err := CheckKey("listener.name.ssl.ssl.keystore.locaton"); err == nil {
		t.Error("a misspelt key passed CheckKey")
	}
	if err := CheckKey("ssl.endpoint.identification.algorithm"); err != nil {
		t.Error(err)
	}
}

// TestPrincipalRules: Kafka's SslPrincipalMapperTest cases.
func TestPrincipalRules(t *testing.T) {
	rules, err := ParseRules("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,\n RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,RULE:^OU=(.*?),O=x$/\\$$1/U, DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	for dn, want := range map[string]string{
		"CN=Duke,OU=ServiceUsers,O=Org,C=US":        "Duke",
		"CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US": "duke@sme",
		"cn=duke,ou=sme,dc=mycp,dc=com":             "duke",
		"cN=duke,OU=JavaSoft,O=Sun Microsystems":    "duke",
		"OU=JavaSoft,O=Sun Microsystems,C=US":       "OU=JavaSoft,O=Sun Microsystems,C=US",
		"OU=ops,O=x":                                "$OPS",
	} {
		if got, err := MapDN(rules, dn); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", dn, got, err, want)
		}
	}
	only, err := ParseRules("RULE:^CN=(.*)$/$1/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MapDN(only, "O=x,CN=y"); !errors.Is(err, ErrNoRule) {
		t.Fatalf("no rule applies: %v", err)
	}
	for _, bad := range []string{"", "RULE:a/b", "DEFAULT DEFAULT", "RULE:(/x/"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// handshakeCert connects a TLS client (trusting ca, presenting client if
// not nil) to a listener built from s and returns the server's leaf and
// the error of a request round trip.
func handshakeCert(t *testing.T, s *Server, ca *testcerts.CA, client *tls.Certificate) (*x509.Certificate, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		srv := tls.Server(c, s.Config())
		if err := srv.Handshake(); err != nil {
			errc <- err
			return
		}
		// Answer one byte, so that the client sees a refusal that TLS
		// 1.3 reports after its own handshake returned.
		var b [1]byte
		if _, err := srv.Read(b[:]); err != nil {
			errc <- err
			return
		}
		_, err = srv.Write(b[:])
		errc <- err
	}()
	cc := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	if client != nil {
		cc.Certificates = []tls.Certificate{*client}
	}
	cl, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cc)
	if err != nil {
		<-errc
		return nil, err
	}
	defer cl.Close()
	_ = cl.SetDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := cl.Write([]byte{1}); err != nil {
		<-errc
		return nil, err
	}
	if _, err := cl.Read(b[:]); err != nil {
		<-errc
		return nil, err
	}
	if err := <-errc; err != nil {
		return nil, err
	}
	return cl.ConnectionState().PeerCertificates[0], nil
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeystoreFormats(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	leaf := ca.Issue(t, pkix.Name{CommonName: "broker"}, "localhost")
	dir := t.TempDir()
	chainPEM := append(append([]byte{}, leaf.CertPEM...), ca.CertPEM...)

	p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, []*x509.Certificate{ca.Cert}, "storepw")
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.New()
	if err := ks.SetPrivateKeyEntry("broker", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: leaf.KeyDER,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: leaf.Cert.Raw}, {Type: "X509", Content: ca.Cert.Raw}}}, []byte("keypw123")); err != nil {
		t.Fatal(err)
	}
	var jks bytes.Buffer
	if err := ks.Store(&jks, []byte("storepw")); err != nil {
		t.Fatal(err)
	}
	encKey := encryptedKeyPEM(t, leaf.KeyPEM, "keypw")

	cases := map[string]map[string]string{
		"pem file":          {"ssl.keystore.type": "PEM", "ssl.keystore.location": writeFile(t, dir, "ks.pem", append(append([]byte{}, chainPEM...), leaf.KeyPEM...))},
		"pem encrypted key": {"ssl.keystore.type": "PEM", "ssl.keystore.location": writeFile(t, dir, "enc.pem", append(append([]byte{}, chainPEM...), encKey...)), "ssl.key.password": "keypw"},
		"pem inline":        {"ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": string(chainPEM), "ssl.keystore.key": string(encKey), "ssl.key.password": "keypw"},
		"pkcs12":            {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": writeFile(t, dir, "ks.p12", p12), "ssl.keystore.password": "storepw"},
		"pkcs12 detected":   {"ssl.keystore.location": filepath.Join(dir, "ks.p12"), "ssl.keystore.password": "storepw"},
		"jks":               {"ssl.keystore.type": "JKS", "ssl.keystore.location": writeFile(t, dir, "ks.jks", jks.Bytes()), "ssl.keystore.password": "storepw", "ssl.key.password": "keypw123"},
	}
	for name, props := range cases {
		t.Run(name, func(t *testing.T) {
			o, err := Parse(props, "SSL", false)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(o, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := handshakeCert(t, s, ca, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(leaf.Cert) {
				t.Fatalf("server presented %v", got.Subject)
			}
		})
	}

	wrong := map[string]map[string]string{
		"ssl.keystore.location": {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": filepath.Join(dir, "ks.p12"), "ssl.keystore.password": "nope"},
		"ssl.key.password":      {"ssl.keystore.type": "PEM", "ssl.keystore.location": filepath.Join(dir, "enc.pem"), "ssl.key.password": "nope"},
	}
	for key, props := range wrong {
		o, err := Parse(props, "SSL", false)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(o, nil)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != key {
			t.Errorf("wrong password: %v, want an error naming %s", err, key)
		}
		if strings.Contains(err.Error(), "nope") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	o, _ := Parse(map[string]string{"ssl.keystore.location": filepath.Join(dir, "missing.jks")}, "SSL", false)
	if _, err := New(o, nil); err == nil || !strings.Contains(err.Error(), "ssl.keystore.location") {
		t.Errorf("missing keystore: %v", err)
	}
}

// encryptedKeyPEM encrypts a PKCS#8 key with openssl (PBES2, AES-256-CBC,
// HMAC-SHA256), as Kafka's docs make them.
func encryptedKeyPEM(t *testing.T, keyPEM []byte, password string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		testenv.Unavailable(t, "openssl not installed (Debian package openssl)")
	}
	cmd := exec.Command("openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256", "-passout", "pass:"+password)
	cmd.Stdin = bytes.NewReader(keyPEM)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	if b, _ := pem.Decode(out); b == nil || b.Type != "ENCRYPTED PRIVATE KEY" {
		t.Fatalf("openssl output %q", out)
	}
	return out
}

// TestKeytoolStores: JKS and PKCS12 stores made by the JDK's keytool (RSA
// keys, a key password different from the store's in JKS) load.
func TestKeytoolStores(t *testing.T) {
	if _, err := exec.LookPath("keytool"); err != nil {
		testenv.Unavailable(t, "keytool not installed (a JDK: Debian package default-jdk-headless)")
	}
	dir := t.TempDir()
	for _, typ := range []string{"JKS", "PKCS12"} {
		path := filepath.Join(dir, "ks."+strings.ToLower(typ))
		keypass := "keypass1"
		if typ == "PKCS12" {
			keypass = "storepass" // keytool makes them equal for PKCS12
		}
		out, err := exec.Command("keytool", "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
			"-dname", "CN=localhost,OU=test", "-ext", "SAN=dns:localhost", "-validity", "2",
			"-storetype", typ, "-keystore", path, "-storepass", "storepass", "-keypass", keypass).CombinedOutput()
		if err != nil {
			t.Fatalf("keytool: %v: %s", err, out)
		}
		o, err := Parse(map[string]string{"ssl.keystore.type": typ, "ssl.keystore.location": path,
			"ssl.keystore.password": "storepass", "ssl.key.password": keypass}, "SSL", false)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(o, nil)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if cn := s.current().Certificates[0].Leaf.Subject.CommonName; cn != "localhost" {
			t.Fatalf("%s: leaf CN %q", typ, cn)
		}
	}
}

// TestTruststoresAndClientAuth: a client certificate is verified against
// each kind of truststore; with ssl.client.auth=required a client without
// one is refused.
func TestTruststoresAndClientAuth(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	leaf := ca.Issue(t, pkix.Name{CommonName: "broker"}, "localhost")
	client := ca.Issue(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}})
	dir := t.TempDir()
	p12, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert}, "trustpw")
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.New()
	if err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X509", Content: ca.Cert.Raw}}); err != nil {
		t.Fatal(err)
	}
	var jks bytes.Buffer
	if err := ks.Store(&jks, []byte("trustpw")); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"ssl.keystore.certificate.chain": string(leaf.CertPEM), "ssl.keystore.key": string(leaf.KeyPEM),
		"ssl.client.auth": "required", "ssl.principal.mapping.rules": "RULE:^CN=([^,]*),OU=eng$/$1/U"}
	for name, extra := range map[string]map[string]string{
		"pem inline": {"ssl.truststore.certificates": string(ca.CertPEM)},
		"pem file":   {"ssl.truststore.type": "PEM", "ssl.truststore.location": writeFile(t, dir, "ts.pem", ca.CertPEM)},
		"pkcs12":     {"ssl.truststore.type": "PKCS12", "ssl.truststore.location": writeFile(t, dir, "ts.p12", p12), "ssl.truststore.password": "trustpw"},
		"jks":        {"ssl.truststore.type": "JKS", "ssl.truststore.location": writeFile(t, dir, "ts.jks", jks.Bytes()), "ssl.truststore.password": "trustpw"},
	} {
		t.Run(name, func(t *testing.T) {
			props := map[string]string{}
			for k, v := range base {
				props[k] = v
			}
			for k, v := range extra {
				props[k] = v
			}
			o, err := Parse(props, "SSL", false)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := handshakeCert(t, s, ca, &client.TLS); err != nil {
				t.Fatalf("with a client certificate: %v", err)
			}
			if _, err := handshakeCert(t, s, ca, nil); err == nil {
				t.Fatal("a client without a certificate was accepted with ssl.client.auth=required")
			}
			p, err := s.Principal([]*x509.Certificate{client.Cert})
			if err != nil || p != "User:ALICE" {
				t.Fatalf("principal %q, %v", p, err)
			}
		})
	}
}

// TestReload: a new keystore file is picked up by new handshakes without
// a restart; a broken file keeps the old certificate.
func TestReload(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	first := ca.Issue(t, pkix.Name{CommonName: "first"}, "localhost")
	second := ca.Issue(t, pkix.Name{CommonName: "second"}, "localhost")
	dir := t.TempDir()
	path := writeFile(t, dir, "ks.pem", append(append([]byte{}, first.CertPEM...), first.KeyPEM...))
	o, err := Parse(map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": path}, "SSL", false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetReloadInterval(10 * time.Millisecond)
	serverCN := func() string {
		c, err := handshakeCert(t, s, ca, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Subject.CommonName
	}
	if cn := serverCN(); cn != "first" {
		t.Fatalf("CN %q", cn)
	}
	// A half-written file: the old certificate stays.
	writeFile(t, dir, "ks.pem", first.CertPEM[:40])
	testenv.WaitFor(t, 5*time.Second, "a reload attempt of the broken file", func() bool {
		return serverCN() == "first" && func() bool { s.mu.Lock(); defer s.mu.Unlock(); return time.Since(s.checked) < time.Second }()
	})
	tmp := writeFile(t, dir, "new.pem", append(append([]byte{}, second.CertPEM...), second.KeyPEM...))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the new certificate to be served", func() bool { return serverCN() == "second" })
}

func init() { _ = rand.Reader }
