package webclient_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.uber.org/goleak"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/webclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// saslBroker starts a broker whose only listener is SASL_PLAINTEXT with
// SCRAM-SHA-512 users user0..user<n-1> (password "<user>-secret") and
// returns its address.
func saslBroker(t *testing.T, users int) string {
	t.Helper()
	args := []string{"--memory", "--admin-addr", "", "--schema-registry-addr", "",
		"--listeners", "SASL_PLAINTEXT://127.0.0.1:0", "--set", "sasl.enabled.mechanisms=SCRAM-SHA-512"}
	for i := range users {
		args = append(args, "--add-scram", fmt.Sprintf("SCRAM-SHA-512=[name=user%d,password=user%d-secret]", i, i))
	}
	cfg, err := config.Load(args, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(cfg, broker.WithLogger(slog.New(slog.DiscardHandler)), broker.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	return b.Addr()
}

func newPool(t *testing.T, addr string, cfg webclient.Config) *webclient.Pool {
	t.Helper()
	cfg.Opts = []kgo.Opt{kgo.SeedBrokers(addr)}
	cfg.AuthRequired = true
	cfg.Mechanism = func(c webclient.Credentials) ksasl.Mechanism {
		return scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism()
	}
	p := webclient.New(cfg)
	t.Cleanup(p.Close)
	return p
}

func cred(i int) webclient.Credentials {
	return webclient.Credentials{User: fmt.Sprintf("user%d", i), Password: fmt.Sprintf("user%d-secret", i)}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestPoolCredentialsNeverShareAClient: a cached client is only handed
// out for exactly the user and password that logged it in; a wrong
// password, a user with a NUL byte (PLAIN's separator) or credentials that
// concatenate to the same bytes get ErrUnauthorized.
func TestPoolCredentialsNeverShareAClient(t *testing.T) {
	addr := saslBroker(t, 1)
	p := newPool(t, addr, webclient.Config{})
	ctx := testCtx(t)
	c, err := p.ClientFor(ctx, cred(0))
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "user0" {
		t.Errorf("user %q", c.User)
	}
	// A SCRAM user whose name holds a NUL: the old cache key
	// (user NUL password) made "x\x00y"/"z" and "x"/"y\x00z" one entry.
	if _, err := c.Admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "x\x00y", Mechanism: kadm.ScramSha512, Password: "z"}}); err != nil {
		t.Fatal(err)
	}
	_, _ = p.ClientFor(ctx, webclient.Credentials{User: "x\x00y", Password: "z"})
	for _, bad := range []webclient.Credentials{
		{User: "user0", Password: "wrong"},
		{User: "user0", Password: "user0-secret\x00"},
		{User: "user0\x00", Password: "user0-secret"},
		{User: "x", Password: "y\x00z"},
		{User: "user0", Password: ""},
		{User: "", Password: "user0-secret"},
	} {
		if got, err := p.ClientFor(ctx, bad); !errors.Is(err, webclient.ErrUnauthorized) {
			t.Errorf("%q/%q: client %v, err %v; want ErrUnauthorized", bad.User, bad.Password, got, err)
		}
	}
	again, err := p.ClientFor(ctx, cred(0))
	if err != nil || again != c {
		t.Errorf("the right credentials again: %v, same client %v", err, again == c)
	}
}

// TestPoolBounded: at most MaxClients clients are cached, the least
// recently used evicted; an evicted client a request still uses stays
// open until that request's context ends, then closes.
func TestPoolBounded(t *testing.T) {
	addr := saslBroker(t, 5)
	p := newPool(t, addr, webclient.Config{MaxClients: 2})
	ctx := testCtx(t)
	inUse, cancelInUse := context.WithCancel(ctx)
	defer cancelInUse()
	first, err := p.ClientFor(inUse, cred(0))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 5; i++ {
		reqCtx, cancel := context.WithCancel(ctx)
		if _, err := p.ClientFor(reqCtx, cred(i)); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	st := p.Stats()
	if st.Cached != 2 {
		t.Errorf("cached %d clients, want MaxClients 2", st.Cached)
	}
	if st.Retiring != 1 {
		t.Errorf("%d evicted clients still open, want 1 (the one in use)", st.Retiring)
	}
	if _, err := first.Admin.ListBrokers(inUse); err != nil {
		t.Errorf("an evicted client in use: %v", err)
	}
	cancelInUse()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Retiring != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := p.Stats(); st.Retiring != 0 {
		t.Errorf("after its request ended the evicted client is still open: %+v", st)
	}
	if first.Kgo.Context().Err() == nil {
		t.Error("the evicted client is not closed after its request")
	}
	// Evicted credentials log in again.
	if _, err := p.ClientFor(ctx, cred(0)); err != nil {
		t.Error(err)
	}
}

// TestPoolLoginRate: logins beyond the rate fail with ErrBusy instead of
// creating clients; refused credentials are remembered and refused again
// without a login (so without a token: the bucket is empty).
func TestPoolLoginRate(t *testing.T) {
	addr := saslBroker(t, 1)
	p := newPool(t, addr, webclient.Config{LoginRate: 0.01, LoginBurst: 2, LoginWait: 50 * time.Millisecond})
	ctx := testCtx(t)
	for i := range 2 {
		if _, err := p.ClientFor(ctx, webclient.Credentials{User: "mallory", Password: fmt.Sprint("guess", i)}); !errors.Is(err, webclient.ErrUnauthorized) {
			t.Fatalf("guess %d: %v, want ErrUnauthorized", i, err)
		}
	}
	if _, err := p.ClientFor(ctx, webclient.Credentials{User: "mallory", Password: "guess2"}); !errors.Is(err, webclient.ErrBusy) {
		t.Errorf("a third login at once: %v, want ErrBusy", err)
	}
	if _, err := p.ClientFor(ctx, cred(0)); !errors.Is(err, webclient.ErrBusy) {
		t.Errorf("valid credentials while the logins are used up: %v, want ErrBusy", err)
	}
	if _, err := p.ClientFor(ctx, webclient.Credentials{User: "mallory", Password: "guess0"}); !errors.Is(err, webclient.ErrUnauthorized) {
		t.Errorf("refused credentials again: %v, want ErrUnauthorized from the pool's memory", err)
	}
	if st := p.Stats(); st.Cached != 0 || st.Failed != 2 {
		t.Errorf("stats %+v, want nothing cached and 2 refusals remembered", st)
	}
}

// TestPoolConcurrentLoginsShareOne: many concurrent requests with the
// same new credentials log in once (a burst of 1 admits one login).
func TestPoolConcurrentLoginsShareOne(t *testing.T) {
	addr := saslBroker(t, 1)
	p := newPool(t, addr, webclient.Config{LoginRate: 0.01, LoginBurst: 1, LoginWait: time.Millisecond})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	clients := make([]*webclient.Client, 8)
	for i := range errs {
		wg.Go(func() { clients[i], errs[i] = p.ClientFor(ctx, cred(0)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		} else if clients[i] != clients[0] {
			t.Errorf("request %d got another client", i)
		}
	}
}

// TestPoolCredentialChange: a SCRAM credential changed or deleted on the
// broker stops working for HTTP users within MaxLifetime, although their
// cached client's connection stays authenticated.
func TestPoolCredentialChange(t *testing.T) {
	addr := saslBroker(t, 3)
	const lifetime = 300 * time.Millisecond
	p := newPool(t, addr, webclient.Config{MaxLifetime: lifetime})
	ctx := testCtx(t)
	admin, err := p.ClientFor(ctx, cred(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		if _, err := p.ClientFor(ctx, cred(i)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := admin.Admin.AlterUserSCRAMs(ctx,
		[]kadm.DeleteSCRAM{{User: "user2", Mechanism: kadm.ScramSha512}},
		[]kadm.UpsertSCRAM{{User: "user1", Mechanism: kadm.ScramSha512, Password: "new-secret"}})
	if err != nil || res.Error() != nil {
		t.Fatal(err, res.Error())
	}
	time.Sleep(lifetime + 100*time.Millisecond)
	for _, i := range []int{1, 2} {
		if _, err := p.ClientFor(ctx, cred(i)); !errors.Is(err, webclient.ErrUnauthorized) {
			t.Errorf("user%d's old password after MaxLifetime: %v, want ErrUnauthorized", i, err)
		}
	}
	if _, err := p.ClientFor(ctx, webclient.Credentials{User: "user1", Password: "new-secret"}); err != nil {
		t.Errorf("user1's new password: %v", err)
	}
}
