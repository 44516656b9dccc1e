// Package webclient gives Moldau's HTTP front ends (the web console,
// broker/console, and the Confluent REST Proxy API, broker/restproxy) Kafka
// clients of their own broker: one franz-go client per authenticated
// principal, over one of the broker's own client listeners on loopback.
//
// Authentication follows the Kafka listener the pool dials: when it needs
// SASL (AuthRequired), every HTTP request must carry HTTP Basic credentials,
// which become that client's SASL username and password (PLAIN or SCRAM,
// whichever the listener enables), so the broker authenticates and
// authorizes the HTTP user exactly as it would a Kafka client with those
// credentials (ACLs included). A request without credentials, or with
// credentials the broker refuses, gets ErrUnauthorized (the front end
// answers 401 with a WWW-Authenticate challenge). Without SASL every
// request shares one anonymous client.
//
// A login is the creation of a principal's client, checked with one
// Metadata request (so that wrong credentials fail the request, not a later
// one). Its client is cached by an HMAC of user and password (keyed with a
// random secret of the pool's), so a request can only reuse a client with
// exactly the user and password that logged it in. Against a flood of
// distinct credentials (each login is a client with connections):
//
//   - At most MaxClients clients are cached; a new login evicts the least
//     recently used one.
//   - Logins run at most LoginRate per second (burst LoginBurst) across all
//     principals; a login that would wait longer than LoginWait for its turn
//     fails with ErrBusy. Concurrent requests with the same new credentials
//     share one login.
//   - Refused credentials are remembered for FailedLoginTTL (at most
//     maxFailedLogins of them) and refused again without asking the broker,
//     so a browser resending a wrong password with every request does not
//     hammer it.
//   - A user or password with a NUL byte (PLAIN's separator) is refused
//     without asking the broker.
//
// Credential changes: a cached client keeps its authenticated connections
// (Kafka re-authenticates a connection only after connections.max.reauth.ms).
// So that a SCRAM credential changed or deleted on the broker, or a PLAIN
// user removed, takes effect for HTTP users, a client with credentials is
// handed out for at most MaxLifetime after its login (default 5 min): the
// next request logs in again. Clients are also closed after MaxIdle without
// use, and at Close.
//
// Lifetime of a handed-out Client: it stays open at least until the context
// of the request it was handed out for (Client: r.Context(); ClientFor: ctx)
// ends, even when the pool evicts it meanwhile; the pool closes it after
// that. Callers must not use it (its Kgo, Admin) beyond that context.
package webclient

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// ErrUnauthorized: the request carries no credentials while the listener
// needs them, or the broker refused them.
var ErrUnauthorized = errors.New("webclient: authentication required or refused")

// ErrClosed: the pool is closed (the broker is stopping).
var ErrClosed = errors.New("webclient: closed")

// ErrBusy: too many logins (new principals' clients) right now; the front
// ends answer 429 (or 503) and the caller may retry shortly.
var ErrBusy = errors.New("webclient: too many logins, try again later")

// Credentials are an HTTP request's Basic credentials.
type Credentials struct {
	User, Password string
}

// Defaults of Config's limits.
const (
	DefaultMaxIdle        = 2 * time.Minute
	DefaultMaxLifetime    = 5 * time.Minute
	DefaultMaxClients     = 100
	DefaultLoginRate      = 10.0
	DefaultLoginBurst     = 20
	DefaultLoginWait      = 2 * time.Second
	DefaultFailedLoginTTL = 10 * time.Second
	// maxFailedLogins bounds the refused credentials remembered.
	maxFailedLogins = 4096
	// loginTimeout bounds a login's Metadata check.
	loginTimeout = 10 * time.Second
)

// Config configures a Pool. Zero limits take the Default* values.
type Config struct {
	// Opts reach the broker: seed brokers (a client listener on loopback),
	// TLS dialer when the listener is SSL/SASL_SSL. Every client gets them,
	// then its own SASL mechanism and a client id.
	Opts []kgo.Opt
	// AuthRequired: the listener needs SASL; Mechanism then builds the
	// mechanism for a request's credentials.
	AuthRequired bool
	Mechanism    func(Credentials) sasl.Mechanism
	// ClientID is the client.id the broker sees (default "moldau-http").
	ClientID string
	// MaxIdle closes a principal's client unused this long.
	MaxIdle time.Duration
	// MaxLifetime: with AuthRequired, a client is handed out for at most
	// this long after its login; then the next request logs in again (see
	// the package comment).
	MaxLifetime time.Duration
	// MaxClients bounds the cached clients (least recently used evicted).
	MaxClients int
	// LoginRate and LoginBurst bound logins (per second, token bucket)
	// across all principals; LoginWait is the longest a login waits for
	// its turn before failing with ErrBusy.
	LoginRate  float64
	LoginBurst int
	LoginWait  time.Duration
	// FailedLoginTTL: refused credentials are refused again without asking
	// the broker for this long.
	FailedLoginTTL time.Duration
}

// Client is a principal's Kafka client and its admin view. Both are owned
// by the pool: callers never Close them, and use them only within the
// context they were handed out for (see the package comment).
type Client struct {
	Kgo   *kgo.Client
	Admin *kadm.Client
	// User is the authenticated user ("" without SASL).
	User string

	// Guarded by Pool.mu.
	key     [32]byte
	created time.Time
	lastUse time.Time
	refs    int  // contexts it was handed out for that have not ended
	retired bool // no longer cached: closed when refs falls to 0
}

// login is a login in progress; err is set before done is closed.
type login struct {
	done chan struct{}
	err  error
}

// Pool hands out clients per principal. Safe for concurrent use.
//
// mu guards every field below it and the Clients' bookkeeping fields. No
// Kafka call and no kgo.Client.Close runs under mu.
type Pool struct {
	cfg    Config
	secret []byte // HMAC key of the cache keys

	mu       sync.Mutex
	byKey    map[[32]byte]*Client
	logins   map[[32]byte]*login
	failed   map[[32]byte]time.Time // refused credentials: until when
	retiring map[*Client]struct{}   // retired, still in use
	bucket   tokenBucket
	closed   bool

	stop chan struct{}
	done chan struct{}
}

// New starts a pool (and its sweeper).
func New(cfg Config) *Pool {
	if cfg.ClientID == "" {
		cfg.ClientID = "moldau-http"
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = DefaultMaxIdle
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = DefaultLoginRate
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = DefaultLoginBurst
	}
	if cfg.LoginWait <= 0 {
		cfg.LoginWait = DefaultLoginWait
	}
	if cfg.FailedLoginTTL <= 0 {
		cfg.FailedLoginTTL = DefaultFailedLoginTTL
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	p := &Pool{
		cfg:      cfg,
		secret:   secret,
		byKey:    map[[32]byte]*Client{},
		logins:   map[[32]byte]*login{},
		failed:   map[[32]byte]time.Time{},
		retiring: map[*Client]struct{}{},
		bucket:   tokenBucket{rate: cfg.LoginRate, burst: float64(cfg.LoginBurst), tokens: float64(cfg.LoginBurst), last: time.Now()},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go p.sweep()
	return p
}

// AuthRequired reports whether requests must carry Basic credentials.
func (p *Pool) AuthRequired() bool { return p.cfg.AuthRequired }

// Client returns the client for r's principal, valid until r's context
// ends: ErrUnauthorized when credentials are needed and missing or
// refused, ErrBusy when too many logins run, ErrClosed after Close,
// another error when the broker cannot be reached.
func (p *Pool) Client(r *http.Request) (*Client, error) {
	var cred Credentials
	if p.cfg.AuthRequired {
		u, pw, ok := r.BasicAuth()
		if !ok {
			return nil, ErrUnauthorized
		}
		cred = Credentials{User: u, Password: pw}
	}
	return p.ClientFor(r.Context(), cred)
}

// ClientFor is Client for explicit credentials (ignored without SASL); the
// client is valid until ctx ends.
func (p *Pool) ClientFor(ctx context.Context, cred Credentials) (*Client, error) {
	if !p.cfg.AuthRequired {
		cred = Credentials{}
	} else if !acceptable(cred) {
		return nil, ErrUnauthorized
	}
	key := p.key(cred)
	for {
		var toClose []*Client
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		now := time.Now()
		if c, ok := p.byKey[key]; ok {
			if !p.expiredLocked(c, now) {
				c.lastUse = now
				p.acquireLocked(ctx, c)
				p.mu.Unlock()
				return c, nil
			}
			toClose = p.retireLocked(c, toClose)
		}
		if until, ok := p.failed[key]; ok {
			if now.Before(until) {
				p.mu.Unlock()
				closeAll(toClose)
				return nil, ErrUnauthorized
			}
			delete(p.failed, key)
		}
		if l, ok := p.logins[key]; ok {
			// Someone logs in with these credentials: share the outcome.
			p.mu.Unlock()
			closeAll(toClose)
			select {
			case <-l.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("webclient: waiting for a login: %w", ctx.Err())
			}
			if errors.Is(l.err, ErrUnauthorized) {
				return nil, ErrUnauthorized
			}
			continue // its client is cached now, or it failed otherwise: try ourselves
		}
		wait, ok := p.bucket.reserve(now, p.cfg.LoginWait)
		if !ok {
			p.mu.Unlock()
			closeAll(toClose)
			return nil, ErrBusy
		}
		l := &login{done: make(chan struct{})}
		p.logins[key] = l
		p.mu.Unlock()
		closeAll(toClose)

		c, err := p.login(ctx, cred, key, wait)

		p.mu.Lock()
		delete(p.logins, key)
		l.err = err
		close(l.done)
		switch {
		case err != nil:
			if errors.Is(err, ErrUnauthorized) {
				p.rememberFailureLocked(key, time.Now())
			}
			p.mu.Unlock()
			return nil, err
		case p.closed:
			p.mu.Unlock()
			c.Kgo.Close()
			return nil, ErrClosed
		}
		toClose = p.insertLocked(c, nil)
		p.acquireLocked(ctx, c)
		p.mu.Unlock()
		closeAll(toClose)
		return c, nil
	}
}

// acceptable: credentials a Kafka SASL login can carry. Kafka's PLAIN and
// SCRAM refuse empty ones; a NUL byte is PLAIN's separator (a user "a\x00b"
// would log in as "a" with the rest as password).
func acceptable(c Credentials) bool {
	return c.User != "" && c.Password != "" && !strings.ContainsRune(c.User, 0) && !strings.ContainsRune(c.Password, 0)
}

// key is the cache key of cred: an HMAC of the length-prefixed user and
// the password, so no two credentials share a key and the pool keeps no
// password (nor an unsalted hash of one).
func (p *Pool) key(cred Credentials) [32]byte {
	m := hmac.New(sha256.New, p.secret)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(cred.User)))
	m.Write(n[:])
	m.Write([]byte(cred.User))
	m.Write([]byte(cred.Password))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

// login creates and checks cred's client after waiting wait (its turn in
// the login rate).
func (p *Pool) login(ctx context.Context, cred Credentials, key [32]byte, wait time.Duration) (*Client, error) {
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("webclient: waiting for a login: %w", ctx.Err())
		}
	}
	opts := append([]kgo.Opt{kgo.ClientID(p.cfg.ClientID)}, p.cfg.Opts...)
	if p.cfg.AuthRequired && p.cfg.Mechanism != nil {
		opts = append(opts, kgo.SASL(p.cfg.Mechanism(cred)))
	}
	kc, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("webclient: %w", err)
	}
	adm := kadm.NewClient(kc)
	// One Metadata request: wrong credentials fail here.
	cctx, cancel := context.WithTimeout(ctx, loginTimeout)
	_, err = adm.BrokerMetadata(cctx)
	cancel()
	if err != nil {
		kc.Close()
		if isAuthError(err) {
			return nil, ErrUnauthorized
		}
		return nil, fmt.Errorf("webclient: reaching the broker: %w", err)
	}
	now := time.Now()
	return &Client{Kgo: kc, Admin: adm, User: cred.User, key: key, created: now, lastUse: now}, nil
}

func isAuthError(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism)
}

// expiredLocked: c is idle too long, or (with credentials) logged in too
// long ago.
func (p *Pool) expiredLocked(c *Client, now time.Time) bool {
	return now.Sub(c.lastUse) > p.cfg.MaxIdle || p.cfg.AuthRequired && now.Sub(c.created) > p.cfg.MaxLifetime
}

// acquireLocked counts ctx as a user of c until ctx ends.
func (p *Pool) acquireLocked(ctx context.Context, c *Client) {
	c.refs++
	context.AfterFunc(ctx, func() { p.release(c) })
}

// release ends one use of c; a retired client's last use closes it.
func (p *Pool) release(c *Client) {
	p.mu.Lock()
	c.refs--
	closeNow := c.retired && c.refs == 0
	if closeNow {
		delete(p.retiring, c)
	}
	p.mu.Unlock()
	if closeNow {
		c.Kgo.Close()
	}
}

// retireLocked takes c out of the cache; it is appended to toClose when no
// request uses it, else closed by its last release.
func (p *Pool) retireLocked(c *Client, toClose []*Client) []*Client {
	if p.byKey[c.key] == c {
		delete(p.byKey, c.key)
	}
	c.retired = true
	if c.refs == 0 {
		return append(toClose, c)
	}
	p.retiring[c] = struct{}{}
	return toClose
}

// insertLocked caches c, evicting the least recently used clients beyond
// MaxClients.
func (p *Pool) insertLocked(c *Client, toClose []*Client) []*Client {
	if old, ok := p.byKey[c.key]; ok {
		toClose = p.retireLocked(old, toClose)
	}
	for len(p.byKey) >= p.cfg.MaxClients {
		var lru *Client
		for _, o := range p.byKey {
			if lru == nil || o.lastUse.Before(lru.lastUse) {
				lru = o
			}
		}
		toClose = p.retireLocked(lru, toClose)
	}
	p.byKey[c.key] = c
	return toClose
}

// rememberFailureLocked records refused credentials, dropping expired
// records (or, when none is, an arbitrary one) when maxFailedLogins are
// remembered.
func (p *Pool) rememberFailureLocked(key [32]byte, now time.Time) {
	if len(p.failed) >= maxFailedLogins {
		for k, until := range p.failed {
			if !now.Before(until) {
				delete(p.failed, k)
			}
		}
		for k := range p.failed {
			if len(p.failed) < maxFailedLogins {
				break
			}
			delete(p.failed, k)
		}
	}
	p.failed[key] = now.Add(p.cfg.FailedLoginTTL)
}

func closeAll(cs []*Client) {
	for _, c := range cs {
		c.Kgo.Close()
	}
}

// sweep retires expired clients and forgets expired refusals.
func (p *Pool) sweep() {
	defer close(p.done)
	every := min(p.cfg.MaxIdle, p.cfg.MaxLifetime, p.cfg.FailedLoginTTL) / 4
	t := time.NewTicker(min(max(every, 100*time.Millisecond), 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		var toClose []*Client
		now := time.Now()
		p.mu.Lock()
		for _, c := range p.byKey {
			if p.expiredLocked(c, now) {
				toClose = p.retireLocked(c, toClose)
			}
		}
		for k, until := range p.failed {
			if !now.Before(until) {
				delete(p.failed, k)
			}
		}
		p.mu.Unlock()
		closeAll(toClose)
	}
}

// Close closes every client, those still in use included; later calls get
// ErrClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var cs []*Client
	for _, c := range p.byKey {
		cs = append(cs, c)
	}
	for c := range p.retiring {
		cs = append(cs, c)
	}
	p.byKey, p.retiring = nil, nil
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	closeAll(cs)
}

// Stats are the pool's counts (tests, diagnostics).
type Stats struct {
	Cached, Retiring, Failed, LoggingIn int
}

// Stats returns the pool's current counts.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Cached: len(p.byKey), Retiring: len(p.retiring), Failed: len(p.failed), LoggingIn: len(p.logins)}
}

// tokenBucket paces logins: rate tokens a second, at most burst saved.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// reserve takes a token, returning how long its taker must wait for it;
// false (nothing taken) when that is longer than maxWait.
func (b *tokenBucket) reserve(now time.Time, maxWait time.Duration) (time.Duration, bool) {
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	if wait > maxWait {
		return 0, false
	}
	b.tokens--
	return wait, true
}

// Unauthorized writes the 401 answer with a Basic challenge (realm
// "moldau") and the given JSON body.
func Unauthorized(w http.ResponseWriter, body string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="moldau"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(body))
}
