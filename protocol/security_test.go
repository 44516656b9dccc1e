package protocol

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testcerts"
)

// saslHandler is a fake SASL handler: SaslHandshake answers with PLAIN
// (v0 switches to raw tokens); a SaslAuthenticate token "good"
// authenticates as User:alice (with expiry), "more" answers a challenge,
// anything else fails. Other requests are echoed; principals seen are
// recorded.
type saslHandler struct {
	echoHandler
	expiry time.Time

	pmu        sync.Mutex
	principals []string
	keys       []int16
}

func (h *saslHandler) Supported(key, version int16) bool {
	switch key {
	case 17:
		return version >= 0 && version <= 1
	case 36:
		return version >= 0 && version <= 2
	}
	return h.echoHandler.Supported(key, version)
}

func (h *saslHandler) Handle(ctx context.Context, req *Request) Reply {
	h.pmu.Lock()
	h.principals = append(h.principals, req.Conn.Principal())
	h.keys = append(h.keys, req.Key)
	h.pmu.Unlock()
	switch req.Key {
	case 17:
		resp := req.Body.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{"PLAIN"}
		return Reply{Resp: resp, RawSASL: req.Version == 0}
	case 36:
		r := req.Body.(*kmsg.SASLAuthenticateRequest)
		resp := req.Body.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		switch string(r.SASLAuthBytes) {
		case "good":
			req.Conn.SetSession(&Session{Principal: "User:alice", Mechanism: "PLAIN", Expiry: h.expiry})
			resp.SASLAuthBytes = []byte("ok")
		case "more":
			resp.SASLAuthBytes = []byte("challenge")
		default:
			resp.ErrorCode = 58
		}
		return Reply{Resp: resp}
	}
	return h.echoHandler.Handle(ctx, req)
}

func (h *saslHandler) seen() ([]int16, []string) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	return append([]int16(nil), h.keys...), append([]string(nil), h.principals...)
}

func startListener(t *testing.T, h Handler, limits Limits, lc ListenerConfig) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(h, limits, nil, NewMetrics(nil))
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ln, lc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("ServeListener: %v", err)
		}
	})
	return ln.Addr().String()
}

// roundTrip sends req with correlation id corr and decodes the response.
func roundTrip(t *testing.T, c net.Conn, req kmsg.Request, corr int32) kmsg.Response {
	t.Helper()
	var f kmsg.RequestFormatter
	if _, err := c.Write(f.AppendRequest(nil, req, corr)); err != nil {
		t.Fatal(err)
	}
	got, body := readResponse(t, c)
	if got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	resp := req.ResponseKind()
	if resp.IsFlexible() && req.Key() != 18 {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("response to key %d: %v", req.Key(), err)
	}
	return resp
}

func sendRequest(t *testing.T, c net.Conn, req kmsg.Request, corr int32) {
	t.Helper()
	var f kmsg.RequestFormatter
	if _, err := c.Write(f.AppendRequest(nil, req, corr)); err != nil {
		t.Fatal(err)
	}
}

func saslListener() ListenerConfig {
	return ListenerConfig{Name: "SASL_PLAINTEXT", Security: SASLPlaintext}
}

func handshake(v int16) *kmsg.SASLHandshakeRequest {
	r := kmsg.NewPtrSASLHandshakeRequest()
	r.SetVersion(v)
	r.Mechanism = "PLAIN"
	return r
}

func authenticate(token string) *kmsg.SASLAuthenticateRequest {
	r := kmsg.NewPtrSASLAuthenticateRequest()
	r.SetVersion(1)
	r.SASLAuthBytes = []byte(token)
	return r
}

// TestSASLGatingBeforeAuthentication: before a session only ApiVersions,
// SaslHandshake and SaslAuthenticate reach the handler; Metadata closes
// the connection unanswered.
func TestSASLGatingBeforeAuthentication(t *testing.T) {
	h := &saslHandler{}
	addr := startListener(t, h, DefaultLimits(), saslListener())
	c := dial(t, addr)
	roundTrip(t, c, kmsg.NewPtrApiVersionsRequest(), 1)
	roundTrip(t, c, handshake(1), 2)
	if r := roundTrip(t, c, authenticate("more"), 3).(*kmsg.SASLAuthenticateResponse); string(r.SASLAuthBytes) != "challenge" {
		t.Fatalf("challenge %q", r.SASLAuthBytes)
	}
	sendRequest(t, c, kmsg.NewPtrMetadataRequest(), 4)
	expectClosed(t, c)
	keys, principals := h.seen()
	if len(keys) != 3 || keys[0] != 18 || keys[1] != 17 || keys[2] != 36 {
		t.Fatalf("handler saw keys %v, want [18 17 36]", keys)
	}
	for _, p := range principals {
		if p != AnonymousPrincipal {
			t.Fatalf("principal before authentication %q", p)
		}
	}
}

// TestSASLAuthenticatedServes: after SaslAuthenticate sets a session every
// request is served, under the session's principal.
func TestSASLAuthenticatedServes(t *testing.T) {
	h := &saslHandler{}
	addr := startListener(t, h, DefaultLimits(), saslListener())
	c := dial(t, addr)
	roundTrip(t, c, handshake(1), 1)
	if r := roundTrip(t, c, authenticate("good"), 2).(*kmsg.SASLAuthenticateResponse); r.ErrorCode != 0 {
		t.Fatalf("authenticate: error %d", r.ErrorCode)
	}
	roundTrip(t, c, kmsg.NewPtrMetadataRequest(), 3)
	_, principals := h.seen()
	if got := principals[len(principals)-1]; got != "User:alice" {
		t.Fatalf("metadata principal %q, want User:alice", got)
	}
}

// TestSASLPreAuthFrameCap: before authentication a frame larger than
// 512 KiB closes the connection, even for an allowed key.
func TestSASLPreAuthFrameCap(t *testing.T) {
	addr := startListener(t, &saslHandler{}, DefaultLimits(), saslListener())
	c := dial(t, addr)
	frame := binary.BigEndian.AppendUint32(nil, SASLMaxReceiveSize+1)
	frame = append(frame, 0, 18, 0, 0, 0, 0, 0, 1)
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)

	// The same size is read on a PLAINTEXT listener (it then fails to
	// parse and closes, but only once the whole frame has arrived).
	plain := startListener(t, &saslHandler{}, DefaultLimits(), ListenerConfig{Name: "PLAINTEXT"})
	p := dial(t, plain)
	if _, err := p.Write(frame); err != nil {
		t.Fatal(err)
	}
	_ = p.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var b [1]byte
	if _, err := p.Read(b[:]); !isTimeout(err) {
		t.Fatalf("plaintext listener closed a frame under its limit: %v", err)
	}
}

// writeRaw writes a bare SASL token; readRaw reads one.
func writeRaw(t *testing.T, c net.Conn, token string) {
	t.Helper()
	if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(token))), token...)); err != nil {
		t.Fatal(err)
	}
}

func readRaw(t *testing.T, c net.Conn) string {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read raw token size: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSASLRawTokens: after a v0 SaslHandshake the client sends bare tokens;
// each goes to the handler as a raw SaslAuthenticate and its answer comes
// back bare, until the session is set; then Kafka framing resumes.
func TestSASLRawTokens(t *testing.T) {
	h := &saslHandler{}
	addr := startListener(t, h, DefaultLimits(), saslListener())
	c := dial(t, addr)
	roundTrip(t, c, handshake(0), 1)
	writeRaw(t, c, "more")
	if got := readRaw(t, c); got != "challenge" {
		t.Fatalf("raw challenge %q", got)
	}
	writeRaw(t, c, "good")
	if got := readRaw(t, c); got != "ok" {
		t.Fatalf("raw final %q", got)
	}
	roundTrip(t, c, kmsg.NewPtrMetadataRequest(), 2)
	keys, principals := h.seen()
	if want := []int16{17, 36, 36, 3}; len(keys) != 4 || keys[1] != 36 || keys[3] != 3 {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if principals[3] != "User:alice" {
		t.Fatalf("principal after raw authentication %q", principals[3])
	}

	// A failed raw step closes the connection.
	c2 := dial(t, addr)
	roundTrip(t, c2, handshake(0), 1)
	writeRaw(t, c2, "bad")
	expectClosed(t, c2)

	// A raw token over 512 KiB closes it too.
	c3 := dial(t, addr)
	roundTrip(t, c3, handshake(0), 1)
	if _, err := c3.Write(binary.BigEndian.AppendUint32(nil, SASLMaxReceiveSize+1)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c3)
}

// TestSASLSessionExpiry (KIP-368): once the session's expiry has passed a
// request other than SaslHandshake/SaslAuthenticate closes the connection;
// re-authenticating first replaces the session and serving goes on.
func TestSASLSessionExpiry(t *testing.T) {
	h := &saslHandler{expiry: time.Now().Add(-time.Second)}
	addr := startListener(t, h, DefaultLimits(), saslListener())

	c := dial(t, addr)
	roundTrip(t, c, handshake(1), 1)
	roundTrip(t, c, authenticate("good"), 2)
	sendRequest(t, c, kmsg.NewPtrMetadataRequest(), 3)
	expectClosed(t, c)

	c2 := dial(t, addr)
	roundTrip(t, c2, handshake(1), 1)
	roundTrip(t, c2, authenticate("good"), 2)
	h.pmu.Lock()
	h.expiry = time.Time{} // the re-authenticated session does not expire
	h.pmu.Unlock()
	roundTrip(t, c2, handshake(1), 3)
	roundTrip(t, c2, authenticate("good"), 4)
	roundTrip(t, c2, kmsg.NewPtrMetadataRequest(), 5)
}

// TestIdleTimeout: a connection with nothing in flight is closed after
// the idle timeout; one waiting for a slow response is not.
func TestIdleTimeout(t *testing.T) {
	idle := 300 * time.Millisecond
	h := &echoHandler{delay: 3 * idle}
	addr := startServer(t, h, Limits{IdleTimeout: idle})
	c := dial(t, addr)
	start := time.Now()
	expectClosed(t, c)
	if d := time.Since(start); d < idle {
		t.Fatalf("closed after %v, before the idle timeout %v", d, idle)
	}

	// Correlation id 0 is delayed by the handler (even ids): the
	// connection waits for it past the idle timeout.
	c2 := dial(t, addr)
	start = time.Now()
	roundTrip(t, c2, kmsg.NewPtrMetadataRequest(), 0)
	if d := time.Since(start); d < 3*idle {
		t.Fatalf("response after %v: the handler's delay did not apply", d)
	}
	// Then idle again: closed.
	expectClosed(t, c2)
}

// TestSlowLorisFrame: a frame whose body never arrives whole is closed
// after the idle timeout, even while bytes keep trickling in.
func TestSlowLorisFrame(t *testing.T) {
	idle := 300 * time.Millisecond
	addr := startServer(t, &echoHandler{}, Limits{IdleTimeout: idle})
	c := dial(t, addr)
	start := time.Now()
	if _, err := c.Write([]byte{0, 0, 1, 0, 0, 3, 0, 1}); err != nil {
		t.Fatal(err)
	}
	// Trickle a byte every idle/3 until the server gives up.
	var err error
	for time.Since(start) < 20*idle {
		time.Sleep(idle / 3)
		if _, err = c.Write([]byte{0}); err != nil {
			break
		}
	}
	expectClosed(t, c)
	if d := time.Since(start); d > 10*idle {
		t.Fatalf("slow frame closed after %v", d)
	}
}

// TestTLSListenerPrincipal: an SSL listener runs the handshake before any
// frame and sets the session from the client certificate's DN (RFC 2253,
// most specific first), or a mapped name through ListenerConfig.Principal;
// a client without a certificate is User:ANONYMOUS when the certificate is
// optional.
func TestTLSListenerPrincipal(t *testing.T) {
	ca := testcerts.NewCA(t, "test-ca")
	server := ca.Issue(t, pkix.Name{CommonName: "broker"}, "127.0.0.1")
	client := ca.Issue(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme, Inc"}, Country: []string{"US"}})
	serverTLS := &tls.Config{Certificates: []tls.Certificate{server.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven}

	dialTLS := func(addr string, certs ...tls.Certificate) net.Conn {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.Pool(), Certificates: certs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	lastPrincipal := func(h *saslHandler) string {
		_, ps := h.seen()
		return ps[len(ps)-1]
	}

	h := &saslHandler{}
	addr := startListener(t, h, DefaultLimits(), ListenerConfig{Name: "SSL", Security: SSL, TLS: serverTLS})
	roundTrip(t, dialTLS(addr, client.TLS), kmsg.NewPtrMetadataRequest(), 1)
	if got, want := lastPrincipal(h), `User:CN=alice,OU=eng,O=Acme\, Inc,C=US`; got != want {
		t.Fatalf("principal %q, want %q", got, want)
	}
	roundTrip(t, dialTLS(addr), kmsg.NewPtrMetadataRequest(), 1)
	if got := lastPrincipal(h); got != AnonymousPrincipal {
		t.Fatalf("principal without a certificate %q", got)
	}

	// A mapping function; one that fails closes the connection.
	h2 := &saslHandler{}
	addr2 := startListener(t, h2, DefaultLimits(), ListenerConfig{Name: "INTERNAL", Security: SSL, TLS: serverTLS,
		Principal: func(chain []*x509.Certificate) (string, error) {
			if chain[0].Subject.CommonName == "mallory" {
				return "", errors.New("no rule applies")
			}
			return "User:" + strings.ToUpper(chain[0].Subject.CommonName), nil
		}})
	roundTrip(t, dialTLS(addr2, client.TLS), kmsg.NewPtrMetadataRequest(), 1)
	if got := lastPrincipal(h2); got != "User:ALICE" {
		t.Fatalf("mapped principal %q", got)
	}
	mallory := ca.Issue(t, pkix.Name{CommonName: "mallory"})
	m := dialTLS(addr2, mallory.TLS)
	// TLS 1.3: the server's verdict on the client certificate arrives
	// after the client's handshake returned.
	sendRequest(t, m, kmsg.NewPtrMetadataRequest(), 1)
	expectClosed(t, m)

	// Plain TCP to a TLS listener: the handshake fails, nothing is served.
	p := dial(t, addr)
	sendRequest(t, p, kmsg.NewPtrApiVersionsRequest(), 1)
	expectClosed(t, p)
}

// TestTLSHandshakeTimeout: a client that connects and never starts the
// handshake is closed after HandshakeTimeout.
func TestTLSHandshakeTimeout(t *testing.T) {
	ca := testcerts.NewCA(t, "test-ca")
	server := ca.Issue(t, pkix.Name{CommonName: "broker"}, "127.0.0.1")
	addr := startListener(t, &saslHandler{}, DefaultLimits(), ListenerConfig{Name: "SSL", Security: SSL,
		TLS: &tls.Config{Certificates: []tls.Certificate{server.TLS}}, HandshakeTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	start := time.Now()
	expectClosed(t, c)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

// TestSubjectDN: attribute types without an RFC 2253 keyword are written
// as OID=#hex of the DER value, as Java prints them.
func TestSubjectDN(t *testing.T) {
	email := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	ca := testcerts.NewCA(t, "test-ca")
	leaf := ca.Issue(t, pkix.Name{CommonName: "bob", ExtraNames: []pkix.AttributeTypeAndValue{{Type: email, Value: "b@x.io"}}})
	got := SubjectDN(leaf.Cert)
	// Go encodes the value as a UTF8String (tag 0x0c) of 6 bytes.
	if want := "1.2.840.113549.1.9.1=#0c066240782e696f,CN=bob"; got != want {
		t.Fatalf("DN %q, want %q", got, want)
	}
	if got := escapeDNValue(" a+b "); got != `\ a\+b\ ` {
		t.Fatalf("escape %q", got)
	}
}
