package broker

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/sasl"
	"github.com/moldau/moldau/protocol"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newSASLBroker starts a broker with PLAIN users alice and admin on every
// listener, SCRAM users alice (both mechanisms) from --add-scram, and the
// extra properties given; logs go to the returned buffer.
func newSASLBroker(t *testing.T, props ...string) (*Broker, *syncBuffer) {
	t.Helper()
	return newSASLBrokerWith(t, nil, props...)
}

func newSASLBrokerWith(t *testing.T, opts []Option, props ...string) (*Broker, *syncBuffer) {
	t.Helper()
	args := []string{"--memory", "--addr", "127.0.0.1:0", "--admin-addr", "", "--console-addr", "", "--http-proxy-addr", "",
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
	b, err := New(cfg, append([]Option{WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b, logs
}

func saslConn() *protocol.ConnInfo {
	return &protocol.ConnInfo{Listener: "SASL_PLAINTEXT", Security: protocol.SASLPlaintext,
		Remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 4242}}
}

// call sends req through Handle on conn, encoding and decoding both ways.
func call[R kmsg.Response](t *testing.T, b *Broker, conn *protocol.ConnInfo, version int16, req kmsg.Request) (R, protocol.Reply) {
	t.Helper()
	req.SetVersion(version)
	wire := kmsg.RequestForKey(req.Key())
	wire.SetVersion(version)
	if err := wire.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("decode request: %v", err)
	}
	reply := b.Handle(context.Background(), &protocol.Request{Key: req.Key(), Version: version, Body: wire, Parsed: true, Conn: conn})
	if reply.Resp == nil {
		t.Fatalf("key %d: no response", req.Key())
	}
	out := kmsg.ResponseForKey(req.Key())
	out.SetVersion(version)
	if err := out.ReadFrom(reply.Resp.AppendTo(nil)); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return out.(R), reply
}

// login runs a whole exchange with a franz-go client mechanism through
// SaslHandshake v1 and SaslAuthenticate at version; it returns the last
// SaslAuthenticate response and whether the connection was to be closed.
func login(t *testing.T, b *Broker, conn *protocol.ConnInfo, m ksasl.Mechanism, version int16) (*kmsg.SASLAuthenticateResponse, bool) {
	resp, reply := loginReply(t, b, conn, m, version)
	return resp, reply.Close
}

func loginReply(t *testing.T, b *Broker, conn *protocol.ConnInfo, m ksasl.Mechanism, version int16) (*kmsg.SASLAuthenticateResponse, protocol.Reply) {
	t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = m.Name()
	hresp, reply := call[*kmsg.SASLHandshakeResponse](t, b, conn, 1, hs)
	if hresp.ErrorCode != 0 {
		t.Fatalf("handshake %s: %v (close %v)", m.Name(), kerr.ErrorForCode(hresp.ErrorCode), reply.Close)
	}
	sess, msg, err := m.Authenticate(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		ar := kmsg.NewPtrSASLAuthenticateRequest()
		ar.SASLAuthBytes = msg
		resp, reply := call[*kmsg.SASLAuthenticateResponse](t, b, conn, version, ar)
		if resp.ErrorCode != 0 {
			return resp, reply
		}
		done, next, err := sess.Challenge(resp.SASLAuthBytes)
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if done {
			if conn.Session() == nil {
				t.Fatal("client done, no session")
			}
			return resp, reply
		}
		msg = next
	}
	t.Fatal("exchange did not end")
	return nil, protocol.Reply{}
}

func TestSaslHandshakeAndAuthenticate(t *testing.T) {
	reg := prometheus.NewRegistry()
	b, logs := newSASLBrokerWith(t, []Option{WithRegisterer(reg)})

	// The enabled list: PLAIN (a PlainLoginModule is configured) and SCRAM.
	conn := saslConn()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "GSSAPI"
	hresp, reply := call[*kmsg.SASLHandshakeResponse](t, b, conn, 1, hs)
	if hresp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || !reply.Close || strings.Join(hresp.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" {
		t.Errorf("GSSAPI: %+v close %v", hresp, reply.Close)
	}

	for _, tc := range []struct {
		name string
		m    ksasl.Mechanism
	}{
		{"plain", plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()},
		{"scram-256", scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism()},
		{"scram-512", scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()},
	} {
		for _, v := range []int16{0, 1, 2} {
			conn := saslConn()
			resp, closed := login(t, b, conn, tc.m, v)
			if resp.ErrorCode != 0 || closed || conn.Principal() != "User:alice" || conn.Session().Mechanism != tc.m.Name() || !conn.Session().Expiry.IsZero() || resp.SessionLifetimeMillis != 0 {
				t.Errorf("%s v%d: %+v closed %v session %+v", tc.name, v, resp, closed, conn.Session())
			}
			// After authentication: SaslAuthenticate reaches KafkaApis.
			again, reply := call[*kmsg.SASLAuthenticateResponse](t, b, conn, v, kmsg.NewPtrSASLAuthenticateRequest())
			if again.ErrorCode != kerr.IllegalSaslState.Code || reply.Close {
				t.Errorf("%s v%d: authenticate after login: %+v", tc.name, v, again)
			}
			// A handshake without an expiring session is not a re-authentication.
			h, reply := call[*kmsg.SASLHandshakeResponse](t, b, conn, 1, &kmsg.SASLHandshakeRequest{Mechanism: tc.m.Name()})
			if h.ErrorCode != kerr.IllegalSaslState.Code || reply.Close {
				t.Errorf("%s: handshake after login: %+v", tc.name, h)
			}
		}
	}

	for _, tc := range []struct {
		name, want string
		m          ksasl.Mechanism
	}{
		{"plain", "Authentication failed: Invalid username or password", plain.Auth{User: "alice", Pass: "wrong-pw-1"}.AsMechanism()},
		{"scram-256", "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256", scram.Auth{User: "alice", Pass: "wrong-pw-2"}.AsSha256Mechanism()},
		{"scram-512 unknown user", "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512", scram.Auth{User: "mallory", Pass: "wrong-pw-3"}.AsSha512Mechanism()},
	} {
		conn := saslConn()
		resp, reply := loginReply(t, b, conn, tc.m, 1)
		if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil || *resp.ErrorMessage != tc.want || !reply.Close || conn.Session() != nil {
			t.Errorf("%s: %+v closed %v", tc.name, resp, reply.Close)
		}
		// The answer is held back connection.failed.authentication.delay.ms.
		start := time.Now()
		if reply.Wait == nil || reply.Wait(context.Background()) != reply.Resp || time.Since(start) < 100*time.Millisecond {
			t.Errorf("%s: failure not delayed 100 ms (%v)", tc.name, time.Since(start))
		}
	}
	for _, c := range []struct {
		mech, result string
		want         float64
	}{{"PLAIN", "success", 3}, {"SCRAM-SHA-256", "success", 3}, {"SCRAM-SHA-512", "success", 3}, {"PLAIN", "failure", 1}, {"SCRAM-SHA-512", "failure", 1}} {
		if got := saslAuthCount(t, reg, c.mech, c.result); got != c.want {
			t.Errorf("moldau_sasl_authentications_total %s %s = %v, want %v", c.mech, c.result, got, c.want)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "SASL authentication failed"); n != 3 || !strings.Contains(out, "remote=127.0.0.9:4242") || strings.Contains(out, "wrong-pw") {
		t.Errorf("failure logs (%d):\n%s", n, out)
	}

	// SaslAuthenticate before a handshake closes; on a PLAINTEXT listener
	// both APIs are ILLEGAL_SASL_STATE.
	a, reply := call[*kmsg.SASLAuthenticateResponse](t, b, saslConn(), 1, kmsg.NewPtrSASLAuthenticateRequest())
	if a.ErrorCode != kerr.IllegalSaslState.Code || !reply.Close {
		t.Errorf("authenticate first: %+v", a)
	}
	plainConn := &protocol.ConnInfo{Listener: "PLAINTEXT"}
	h, _ := call[*kmsg.SASLHandshakeResponse](t, b, plainConn, 1, &kmsg.SASLHandshakeRequest{Mechanism: "PLAIN"})
	if h.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("handshake on PLAINTEXT: %+v", h)
	}
	// Two handshakes in a row.
	conn = saslConn()
	call[*kmsg.SASLHandshakeResponse](t, b, conn, 1, &kmsg.SASLHandshakeRequest{Mechanism: "PLAIN"})
	h, reply = call[*kmsg.SASLHandshakeResponse](t, b, conn, 1, &kmsg.SASLHandshakeRequest{Mechanism: "PLAIN"})
	if h.ErrorCode != kerr.IllegalSaslState.Code || !reply.Close {
		t.Errorf("second handshake: %+v", h)
	}
}

func TestSaslListenerMechanismsAndReauth(t *testing.T) {
	var clock atomic.Int64 // the broker's clock, in ns; the test moves it
	clock.Store(time.Unix(1_800_000_000, 0).UnixNano())
	b, logs := newSASLBrokerWith(t, []Option{WithClock(func() time.Time { return time.Unix(0, clock.Load()) })},
		"listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512,OAUTHBEARER",
		"connections.max.reauth.ms=60000",
		"listener.name.sasl_plaintext.oauthbearer.connections.max.reauth.ms=600000")
	now := time.Unix(0, clock.Load())

	conn := saslConn()
	h, reply := call[*kmsg.SASLHandshakeResponse](t, b, conn, 1, &kmsg.SASLHandshakeRequest{Mechanism: "PLAIN"})
	if h.ErrorCode != kerr.UnsupportedSaslMechanism.Code || !reply.Close || strings.Join(h.SupportedMechanisms, ",") != "SCRAM-SHA-512,OAUTHBEARER" {
		t.Errorf("PLAIN on a SCRAM-SHA-512/OAUTHBEARER listener: %+v", h)
	}
	// Another listener still serves PLAIN.
	other := &protocol.ConnInfo{Listener: "SASL_SSL", Security: protocol.SASLSSL}
	if resp, _ := login(t, b, other, plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism(), 2); resp.ErrorCode != 0 || other.Principal() != "User:admin" {
		t.Errorf("PLAIN on SASL_SSL: %+v", resp)
	}

	// connections.max.reauth.ms: v1+ reports the lifetime; the session expires.
	m := scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()
	resp, _ := login(t, b, conn, m, 1)
	if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 60000 || !conn.Session().Expiry.Equal(now.Add(time.Minute)) {
		t.Fatalf("login: %+v session %+v", resp, conn.Session())
	}
	first := conn.Session()
	// Re-authentication (KIP-368) with the same user replaces the session.
	now = now.Add(50 * time.Second)
	clock.Store(now.UnixNano())
	resp, closed := login(t, b, conn, m, 2)
	if resp.ErrorCode != 0 || closed || conn.Session() == first || !conn.Session().Expiry.Equal(now.Add(time.Minute)) {
		t.Fatalf("re-authentication: %+v closed %v", resp, closed)
	}
	// Another mechanism on re-authentication is refused.
	h, reply = call[*kmsg.SASLHandshakeResponse](t, b, conn, 1, &kmsg.SASLHandshakeRequest{Mechanism: "OAUTHBEARER"})
	if h.ErrorCode != kerr.IllegalSaslState.Code || !reply.Close {
		t.Errorf("mechanism change: %+v", h)
	}
	// Another principal on re-authentication fails and closes.
	bob, _ := sasl.NewScramCredential(sasl.ScramSHA512, "bob-secret", nil, 4096)
	v, _ := bob.MarshalBinary()
	if err := b.entities.Apply(context.Background(), entityScram, []Entity{{Key: "SCRAM-SHA-512/bob", Value: v}}, nil); err != nil {
		t.Fatal(err)
	}
	conn.Auth = nil
	resp, closed = login(t, b, conn, scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism(), 2)
	if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || !closed || *resp.ErrorMessage != "Cannot change principals during re-authentication from User.alice: User.bob" {
		t.Errorf("principal change: %+v", resp)
	}

	// OAUTHBEARER (the unsecured validator): the session ends with the
	// token even though the listener's reauth maximum is longer.
	tok := unsecuredToken(map[string]any{"sub": "carol", "exp": now.Unix() + 30, "iat": now.Unix()})
	conn = saslConn()
	resp, _ = login(t, b, conn, oauth.Auth{Token: tok}.AsMechanism(), 1)
	if resp.ErrorCode != 0 || conn.Principal() != "User:carol" || resp.SessionLifetimeMillis != 30000 {
		t.Errorf("oauth: %+v session %+v", resp, conn.Session())
	}
	expired := unsecuredToken(map[string]any{"sub": "carol", "exp": now.Unix() - 1})
	conn = saslConn()
	resp, closed = login(t, b, conn, oauth.Auth{Token: expired}.AsMechanism(), 1)
	if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || !closed || *resp.ErrorMessage != `{"status":"invalid_token"}` {
		t.Errorf("expired oauth token: %+v", resp)
	}
	if !strings.Contains(logs.String(), "expired") {
		t.Errorf("the log does not say why the token was refused:\n%s", logs.String())
	}
}

func TestSessionLifetime(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		max    time.Duration
		expiry time.Time
		want   time.Duration
		ok     bool
	}{
		{0, time.Time{}, 0, false},
		{time.Minute, time.Time{}, time.Minute, true},
		{0, now.Add(time.Hour), time.Hour, true},
		{time.Minute, now.Add(time.Hour), time.Minute, true},
		{time.Hour, now.Add(time.Minute), time.Minute, true},
		{time.Hour, now.Add(-time.Minute), 0, true},
	} {
		got, ok := sessionLifetime(tc.max, tc.expiry, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("max %v expiry %v: %v %v, want %v %v", tc.max, tc.expiry, got, ok, tc.want, tc.ok)
		}
	}
}

func unsecuredToken(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "none"})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// TestSaslHandshakeV0RawFailure: after a v0 handshake the exchange runs on
// bare tokens; a failure has no answer, only the close.
func TestSaslHandshakeV0RawFailure(t *testing.T) {
	b, _ := newSASLBroker(t, "connection.failed.authentication.delay.ms=0")
	conn := saslConn()
	h, _ := call[*kmsg.SASLHandshakeResponse](t, b, conn, 0, &kmsg.SASLHandshakeRequest{Mechanism: "PLAIN"})
	if h.ErrorCode != 0 {
		t.Fatalf("handshake v0: %+v", h)
	}
	ar := kmsg.NewPtrSASLAuthenticateRequest()
	ar.SASLAuthBytes = []byte("\x00alice\x00wrong")
	ar.SetVersion(0)
	reply := b.Handle(context.Background(), &protocol.Request{Key: 36, Version: 0, Body: ar, Parsed: true, Conn: conn})
	if reply.Resp != nil || !reply.Close || reply.Wait != nil {
		t.Errorf("raw failure: %+v", reply)
	}
	conn = saslConn()
	call[*kmsg.SASLHandshakeResponse](t, b, conn, 0, &kmsg.SASLHandshakeRequest{Mechanism: "PLAIN"})
	ar.SASLAuthBytes = []byte("\x00alice\x00alice-secret")
	reply = b.Handle(context.Background(), &protocol.Request{Key: 36, Version: 0, Body: ar, Parsed: true, Conn: conn})
	if resp, ok := reply.Resp.(*kmsg.SASLAuthenticateResponse); !ok || resp.ErrorCode != 0 || reply.Close || conn.Principal() != "User:alice" {
		t.Errorf("raw success: %+v", reply)
	}
}

// saslAuthCount reads moldau_sasl_authentications_total for a first
// authentication on SASL_PLAINTEXT with mechanism and result.
func saslAuthCount(t *testing.T, reg *prometheus.Registry, mechanism, result string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "moldau_sasl_authentications_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["listener"] == "SASL_PLAINTEXT" && labels["mechanism"] == mechanism && labels["result"] == result && labels["reauthentication"] == "false" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
