package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/protocol"
)

// sessionFromClientID serves a broker as if every connection had
// authenticated over SASL as User:<client id>: a test stand-in for the SASL
// listener, so that a real client (kadm) exercises the token APIs over the
// wire. A client id "token:<principal>:<id>" is a session made with
// delegation token <id>.
type sessionFromClientID struct{ b *Broker }

func (h sessionFromClientID) Supported(key, version int16) bool { return h.b.Supported(key, version) }

func (h sessionFromClientID) Handle(ctx context.Context, req *protocol.Request) protocol.Reply {
	conn := &protocol.ConnInfo{Listener: "SASL_PLAINTEXT", Security: protocol.SASLPlaintext}
	if req.Conn != nil {
		conn.Remote, conn.Local = req.Conn.Remote, req.Conn.Local
	}
	s := &protocol.Session{Principal: "User:" + req.ClientID, Mechanism: "SCRAM-SHA-256"}
	if rest, ok := strings.CutPrefix(req.ClientID, "token:"); ok {
		i := strings.LastIndex(rest, ":")
		s = &protocol.Session{Principal: rest[:i], Mechanism: "SCRAM-SHA-256", TokenID: rest[i+1:]}
	}
	conn.SetSession(s)
	r := *req
	r.Conn = conn
	return h.b.Handle(ctx, &r)
}

// newSessionBroker starts a token-enabled broker behind sessionFromClientID
// and returns the address clients use (the broker advertises it).
func newSessionBroker(t *testing.T, clk *testClock) (*Broker, string) {
	t.Helper()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := newTokenBroker(t, clk, func(c *config.Config) {
		c.Addr = "127.0.0.1:0"
		c.AdvertiseAddr = front.Addr().String()
	})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := protocol.NewServer(sessionFromClientID{b}, protocol.DefaultLimits(), logger, protocol.NewMetrics(nil))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(front)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return b, front.Addr().String()
}

func adminAs(t *testing.T, addr, clientID string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(clientID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestDelegationTokensKadm(t *testing.T) {
	clk := newTestClock()
	_, addr := newSessionBroker(t, clk)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, bob, carol := adminAs(t, addr, "alice"), adminAs(t, addr, "bob"), adminAs(t, addr, "carol")

	tok, err := alice.CreateDelegationToken(ctx, kadm.CreateDelegationToken{
		Renewers:    []kadm.Principal{{Type: "User", Name: "bob"}},
		MaxLifetime: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.now()
	if tok.Owner.Name != "alice" || tok.TokenRequesterPrincipal.Name != "alice" || tok.TokenID == "" ||
		!tok.MaxTimestamp.Equal(now.Add(time.Hour)) || !tok.ExpiryTimestamp.Equal(now.Add(time.Hour)) ||
		!bytes.Equal(tok.HMAC, kafkaHMAC(tok.TokenID)) {
		t.Fatalf("created %+v", tok)
	}

	// v3's owner field: admin creates a token owned by carol.
	forCarol, err := adminAs(t, addr, "admin").CreateDelegationToken(ctx, kadm.CreateDelegationToken{
		Owner: &kadm.Principal{Type: "User", Name: "carol"},
	})
	if err != nil || forCarol.Owner.Name != "carol" || forCarol.TokenRequesterPrincipal.Name != "admin" {
		t.Fatalf("owner carol: %+v, %v", forCarol, err)
	}

	all, err := bob.DescribeDelegationTokens(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("describe all: %+v, %v", all, err)
	}
	mine, err := bob.DescribeDelegationTokens(ctx, kadm.Principal{Type: "User", Name: "carol"})
	if err != nil || len(mine) != 1 || mine[0].TokenID != forCarol.TokenID {
		t.Fatalf("describe carol's: %+v, %v", mine, err)
	}

	clk.advance(time.Minute)
	exp, err := bob.RenewDelegationToken(ctx, tok.HMAC, 10*time.Minute)
	if err != nil || !exp.Equal(clk.now().Add(10*time.Minute)) {
		t.Fatalf("renew by renewer bob: %v, %v", exp, err)
	}
	if _, err := carol.RenewDelegationToken(ctx, tok.HMAC, time.Minute); !errors.Is(err, kerr.DelegationTokenOwnerMismatch) {
		t.Errorf("renew by carol: %v, want DELEGATION_TOKEN_OWNER_MISMATCH", err)
	}
	if _, err := alice.ExpireDelegationToken(ctx, []byte("wrong"), -time.Millisecond); !errors.Is(err, kerr.DelegationTokenNotFound) {
		t.Errorf("expire with a wrong HMAC: %v, want DELEGATION_TOKEN_NOT_FOUND", err)
	}

	// A session made with a token may not create, renew or describe tokens.
	viaToken := adminAs(t, addr, "token:User:alice:"+tok.TokenID)
	if _, err := viaToken.CreateDelegationToken(ctx, kadm.CreateDelegationToken{}); !errors.Is(err, kerr.DelegationTokenRequestNotAllowed) {
		t.Errorf("create from a token session: %v, want DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", err)
	}

	// kadm sends the period in milliseconds: a negative one removes the
	// token at once.
	if _, err := alice.ExpireDelegationToken(ctx, tok.HMAC, -time.Millisecond); err != nil {
		t.Fatalf("expire now: %v", err)
	}
	left, err := alice.DescribeDelegationTokens(ctx)
	if err != nil || len(left) != 1 || left[0].TokenID != forCarol.TokenID {
		t.Fatalf("after expiring alice's token: %+v, %v", left, err)
	}
}
