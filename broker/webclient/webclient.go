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
// Clients are created on first use, checked once with a Metadata request
// (so that wrong credentials fail the request, not a later one), cached by
// user and a hash of the password, and closed after MaxIdle without use
// and at Close.
package webclient

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
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

// Credentials are an HTTP request's Basic credentials.
type Credentials struct {
	User, Password string
}

// Config configures a Pool.
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
	// MaxIdle closes a principal's client unused this long (default 5 min).
	MaxIdle time.Duration
}

// Client is a principal's Kafka client and its admin view. Both are owned
// by the pool: callers never Close them.
type Client struct {
	Kgo   *kgo.Client
	Admin *kadm.Client
	// User is the authenticated user ("" without SASL).
	User string

	lastUse time.Time
}

// Pool hands out clients per principal. Safe for concurrent use.
type Pool struct {
	cfg    Config
	mu     sync.Mutex
	byKey  map[[32]byte]*Client
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// New starts a pool (and its idle sweeper).
func New(cfg Config) *Pool {
	if cfg.ClientID == "" {
		cfg.ClientID = "moldau-http"
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = 5 * time.Minute
	}
	p := &Pool{cfg: cfg, byKey: map[[32]byte]*Client{}, stop: make(chan struct{}), done: make(chan struct{})}
	go p.sweep()
	return p
}

// AuthRequired reports whether requests must carry Basic credentials.
func (p *Pool) AuthRequired() bool { return p.cfg.AuthRequired }

// Client returns the client for r's principal: ErrUnauthorized when
// credentials are needed and missing or refused, ErrClosed after Close,
// another error when the broker cannot be reached.
func (p *Pool) Client(r *http.Request) (*Client, error) {
	var cred Credentials
	if p.cfg.AuthRequired {
		u, pw, ok := r.BasicAuth()
		if !ok || u == "" || pw == "" {
			// Kafka's PLAIN and SCRAM refuse empty credentials: asking
			// the broker would only fail later, as a connection error.
			return nil, ErrUnauthorized
		}
		cred = Credentials{User: u, Password: pw}
	}
	return p.ClientFor(r.Context(), cred)
}

// ClientFor is Client for explicit credentials (ignored without SASL).
func (p *Pool) ClientFor(ctx context.Context, cred Credentials) (*Client, error) {
	if !p.cfg.AuthRequired {
		cred = Credentials{}
	} else if cred.User == "" || cred.Password == "" {
		return nil, ErrUnauthorized
	}
	key := sha256.Sum256([]byte(cred.User + "\x00" + cred.Password))
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if c, ok := p.byKey[key]; ok {
		c.lastUse = time.Now()
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()

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
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = adm.BrokerMetadata(cctx)
	cancel()
	if err != nil {
		kc.Close()
		if isAuthError(err) {
			return nil, ErrUnauthorized
		}
		return nil, fmt.Errorf("webclient: reaching the broker: %w", err)
	}
	c := &Client{Kgo: kc, Admin: adm, User: cred.User, lastUse: time.Now()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		kc.Close()
		return nil, ErrClosed
	}
	if old, ok := p.byKey[key]; ok { // raced with another request
		kc.Close()
		old.lastUse = time.Now()
		return old, nil
	}
	p.byKey[key] = c
	return c, nil
}

func isAuthError(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism)
}

// sweep closes idle clients.
func (p *Pool) sweep() {
	defer close(p.done)
	t := time.NewTicker(max(p.cfg.MaxIdle/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		var idle []*Client
		p.mu.Lock()
		for k, c := range p.byKey {
			if time.Since(c.lastUse) > p.cfg.MaxIdle {
				idle = append(idle, c)
				delete(p.byKey, k)
			}
		}
		p.mu.Unlock()
		for _, c := range idle {
			c.Kgo.Close()
		}
	}
}

// Close closes every client; later calls get ErrClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	cs := p.byKey
	p.byKey = nil
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	for _, c := range cs {
		c.Kgo.Close()
	}
}

// Unauthorized writes the 401 answer with a Basic challenge (realm
// "moldau") and the given JSON body.
func Unauthorized(w http.ResponseWriter, body string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="moldau"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(body))
}
