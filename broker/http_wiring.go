package broker

// Wiring of the HTTP front ends (issue #19): the web console
// (broker/console) on --console-addr and the Confluent REST Proxy API
// (broker/restproxy) on --http-proxy-addr. Their lifecycle follows the
// schema registry's (schemareg_wiring.go): recorded in New, bound and served
// from Start (next to the registry, once the client listeners are bound), a
// bind failure logged and the broker run without that front end, shut down
// in Close before the logs.
//
// Both are Kafka clients of this broker, sharing one webclient.Pool whose
// clients dial one of the broker's own client listeners on loopback, picked
// by frontEndListener:
//
//   - PLAINTEXT first: every HTTP request shares one anonymous client.
//   - else SASL_PLAINTEXT, then SSL / SASL_SSL (in listener order; one that
//     requires client certificates is skipped, the front ends having none of
//     their own). With SASL every HTTP request needs Basic credentials,
//     which become the client's SASL username and password (webMechanism:
//     PLAIN for a user of the listener's PLAIN JAAS config, else the
//     strongest SCRAM mechanism the user has a credential for), so the
//     broker authenticates and authorizes HTTP users as Kafka clients.
//   - With the authorizer on (authorizer.class.name), a usable SASL
//     listener (SASL_PLAINTEXT, then SASL_SSL) comes before PLAINTEXT: the
//     operator asked for ACLs per principal, and over PLAINTEXT every HTTP
//     user would act as User:ANONYMOUS (whatever ACLs or super.users grant
//     it, e.g. a PLAINTEXT listener kept for trusted local tools), without
//     credentials.
//   - TLS: the clients trust the listener's own certificate (and the CAs
//     of its truststore), whatever names it carries.
//   - A listener bound to a wildcard address (0.0.0.0, ::) is dialed on
//     127.0.0.1 at its port. The dialer also sends connections meant for
//     this node's advertised address of that listener (what Metadata answers)
//     to the bound one, so an advertised name that does not resolve here (a
//     container's external host name) does not matter; other nodes of a
//     cluster are dialed at their advertised addresses.
//
// The registry client is the built-in schema registry's when it serves
// (else nil: the front ends then refuse schema-backed formats); the
// console's metrics come from the broker's registerer when it is also a
// prometheus.Gatherer (the binary's prometheus.Registry).

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/restproxy"
	"github.com/moldau/moldau/broker/sasl"
	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/tlsconf"
	"github.com/moldau/moldau/broker/webclient"
)

// Timeouts and limits of the front ends' HTTP servers, as the schema
// registry's (schemareg.NewHTTPServer) against slow clients, with more
// room for a request's work: a message scan or a produce batch. A
// handler that streams (REST Proxy's streaming produce) extends its own
// deadlines with http.ResponseController.
const (
	frontEndReadHeaderTimeout = 10 * time.Second
	frontEndReadTimeout       = 60 * time.Second
	frontEndWriteTimeout      = 2 * time.Minute
	frontEndIdleTimeout       = 2 * time.Minute
	frontEndMaxHeader         = 64 << 10
	// frontEndShutdown bounds how long Close waits for both front ends
	// together (they shut down in parallel): until frontEndShutdown -
	// frontEndForceGrace requests in flight finish on their own; then the
	// servers close their connections and cancel the contexts of the
	// requests still running, which get the rest of the budget to return
	// before the front ends and their Kafka clients close.
	frontEndShutdown   = 5 * time.Second
	frontEndForceGrace = time.Second
	// frontEndDialTimeout bounds one dial of the broker's own listener.
	frontEndDialTimeout = 10 * time.Second
)

// httpFrontEnds is the web console and the REST Proxy API of this broker
// (nil when both addresses are empty). Set at Start, read-only after it
// until Close.
type httpFrontEnds struct {
	gatherer prometheus.Gatherer // nil: the console shows no throughput
	version  string

	clients *webclient.Pool
	console *httpFrontEnd
	proxy   *httpFrontEnd
}

// httpFrontEnd is one front end's listener, HTTP server and closer.
type httpFrontEnd struct {
	name  string // "console", "http proxy"
	ln    net.Listener
	srv   *http.Server
	close func() // the front end's own Close; nil before it is built

	// cancel ends the context every request's context derives from
	// (the server's BaseContext): a forced shutdown.
	cancel   context.CancelFunc
	inFlight requestTracker
}

// requestTracker counts the handlers running, so that Close can wait for
// them after http.Server.Close (which does not) and before the front end
// and the Kafka clients the handlers use are closed.
//
// mu guards n, draining and idle. Once draining, a request that reaches
// the handler (a connection's read raced with Close) is refused with 503
// instead of counted, so the count only falls.
type requestTracker struct {
	mu       sync.Mutex
	n        int
	draining bool
	idle     chan struct{} // closed when n falls to 0 while draining
}

// wrap counts h's requests.
func (t *requestTracker) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		if t.draining {
			t.mu.Unlock()
			w.Header().Set("Connection", "close")
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		t.n++
		t.mu.Unlock()
		defer t.done()
		h.ServeHTTP(w, r)
	})
}

func (t *requestTracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// drain stops counting new requests and returns a channel closed once no
// handler runs.
func (t *requestTracker) drain() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.draining = true
	ch := make(chan struct{})
	if t.n == 0 {
		close(ch)
	} else {
		t.idle = ch
	}
	return ch
}

// running is the number of handlers running (tests).
func (t *requestTracker) running() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// newHTTPFrontEnds records what Start needs (at New) when either front
// end is configured.
func (b *Broker) newHTTPFrontEnds(o options) {
	if b.cfg.ConsoleAddr == "" && b.cfg.HTTPProxyAddr == "" {
		return
	}
	h := &httpFrontEnds{version: o.version}
	if g, ok := o.registerer.(prometheus.Gatherer); ok {
		h.gatherer = g
	}
	b.frontEnds = h
}

// startHTTPFrontEnds binds --console-addr and --http-proxy-addr and serves
// both (Start, after the schema registry, with the client listeners bound).
// Nothing here fails the broker: an address that cannot be bound, no
// client listener the front ends can use, or a front end that does not
// build is logged and the broker runs without it.
func (b *Broker) startHTTPFrontEnds() {
	h := b.frontEnds
	if h == nil {
		return
	}
	bl, mechs := b.frontEndListener()
	if bl == nil {
		b.logger.Warn("web console and http proxy disabled: no client listener they can use (PLAINTEXT, SASL_PLAINTEXT or SASL_SSL with PLAIN or SCRAM, SSL without required client certificates)")
		b.frontEnds = nil
		return
	}
	if b.cfg.ConsoleAddr != "" {
		h.console = b.listenFrontEnd("console", b.cfg.ConsoleAddr)
	}
	if b.cfg.HTTPProxyAddr != "" {
		h.proxy = b.listenFrontEnd("http proxy", b.cfg.HTTPProxyAddr)
	}
	if h.console == nil && h.proxy == nil {
		b.frontEnds = nil
		return
	}
	h.clients = webclient.New(b.webClientConfig(bl, mechs))
	var registry *sr.Client
	if addr := b.SchemaRegistryAddr(); addr != "" {
		c, err := sr.NewClient(sr.URLs("http://" + dialAddr(addr)))
		if err != nil {
			b.logger.Warn("web console and http proxy run without the schema registry", "err", err)
		} else {
			registry = c
		}
	}
	codec := serde.New(registry)
	if h.console != nil {
		handler, closeFn, err := b.newConsole(h, registry, codec)
		h.serve(b, h.console, handler, closeFn, err)
	}
	if h.proxy != nil {
		s, err := restproxy.New(restproxy.Config{Clients: h.clients, Serde: codec, Registry: registry, AllowedHosts: b.cfg.HTTPAllowedHosts, Logger: b.logger.With("component", "restproxy")})
		var handler http.Handler
		var closeFn func()
		if err == nil {
			handler, closeFn = s.Handler(), s.Close
		}
		h.serve(b, h.proxy, handler, closeFn, err)
	}
	if h.console == nil && h.proxy == nil {
		h.clients.Close()
		b.frontEnds = nil
	}
}

// listenFrontEnd binds addr; nil (logged) when it cannot be bound.
func (b *Broker) listenFrontEnd(name, addr string) *httpFrontEnd {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		b.logger.Warn(name+" disabled", "addr", addr, "err", err)
		return nil
	}
	return &httpFrontEnd{name: name, ln: ln}
}

// serve serves handler on f's listener; err (the front end did not
// build) closes the listener instead and turns f off.
func (h *httpFrontEnds) serve(b *Broker, f *httpFrontEnd, handler http.Handler, closeFn func(), err error) {
	if err != nil {
		b.logger.Error("the "+f.name+" did not start; serving Kafka without it", "err", err)
		f.ln.Close()
		if f == h.console {
			h.console = nil
		} else {
			h.proxy = nil
		}
		return
	}
	f.close = closeFn
	base, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.srv = &http.Server{
		Handler:           f.inFlight.wrap(handler),
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: frontEndReadHeaderTimeout,
		ReadTimeout:       frontEndReadTimeout,
		WriteTimeout:      frontEndWriteTimeout,
		IdleTimeout:       frontEndIdleTimeout,
		MaxHeaderBytes:    frontEndMaxHeader,
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		if err := f.srv.Serve(f.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.logger.Error(f.name, "err", err)
		}
	}()
	b.logger.Info(f.name+" listening", "addr", f.ln.Addr().String())
}

// closeHTTPFrontEnds stops serving both front ends in parallel within
// frontEndShutdown (see there: requests in flight first finish, then are
// cut off), then closes both front ends (REST Proxy's v2 consumer
// instances leave their groups) and then their Kafka clients, once no
// handler uses them (Close, before the broker's connections drain and the
// logs close). ctx can only shorten the budget.
func (b *Broker) closeHTTPFrontEnds(ctx context.Context) {
	h := b.frontEnds
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, frontEndShutdown)
	defer cancel()
	d, _ := ctx.Deadline()
	graceful, cancelGraceful := context.WithDeadline(ctx, d.Add(-frontEndForceGrace))
	defer cancelGraceful()
	var wg sync.WaitGroup
	for _, f := range []*httpFrontEnd{h.console, h.proxy} {
		if f == nil || f.srv == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.shutdown(ctx, graceful, b.logger)
		}()
	}
	wg.Wait()
	for _, f := range []*httpFrontEnd{h.console, h.proxy} {
		if f != nil && f.close != nil {
			f.close()
		}
	}
	if h.clients != nil {
		h.clients.Close()
	}
}

// shutdown stops f's server: gracefully until graceful ends; then its
// connections are closed and its requests' contexts canceled, and the
// handlers still running get until ctx ends to return.
func (f *httpFrontEnd) shutdown(ctx, graceful context.Context, logger *slog.Logger) {
	err := f.srv.Shutdown(graceful)
	if err != nil {
		f.cancel()
		f.srv.Close()
	}
	idle := f.inFlight.drain()
	select {
	case <-idle:
	case <-ctx.Done():
		logger.Warn(f.name+": requests still running at shutdown; closing under them", "running", f.inFlight.running())
	}
	f.cancel()
}

// ConsoleAddr is the address the web console listens on, "" when it is
// off (or before Start).
func (b *Broker) ConsoleAddr() string {
	if b.frontEnds == nil || b.frontEnds.console == nil {
		return ""
	}
	return b.frontEnds.console.ln.Addr().String()
}

// HTTPProxyAddr is the address the REST Proxy API listens on, "" when it
// is off (or before Start).
func (b *Broker) HTTPProxyAddr() string {
	if b.frontEnds == nil || b.frontEnds.proxy == nil {
		return ""
	}
	return b.frontEnds.proxy.ln.Addr().String()
}

// frontEndListener picks the client listener the front ends dial (see the
// file's comment) and, with SASL, the mechanisms it enables that they can
// use (PLAIN, SCRAM-SHA-512, SCRAM-SHA-256, in that order of preference).
func (b *Broker) frontEndListener() (*boundListener, []string) {
	usable := func(l *boundListener) ([]string, bool) {
		if l.cfg.IsTLS() && (l.tls == nil || l.tls.Options().ClientAuth == tlsconf.ClientAuthRequired) {
			return nil, false
		}
		if l.cfg.Security != "SASL_PLAINTEXT" && l.cfg.Security != "SASL_SSL" {
			return nil, true
		}
		enabled := b.saslMechanisms(l.cfg.Name)
		var ms []string
		for _, m := range []string{sasl.Plain, sasl.ScramSHA512, sasl.ScramSHA256} {
			if slices.Contains(enabled, m) {
				ms = append(ms, m)
			}
		}
		return ms, len(ms) > 0
	}
	order := []string{"PLAINTEXT", "SASL_PLAINTEXT", ""}
	if b.cfg.Security.Authz.Enabled {
		order = []string{"SASL_PLAINTEXT", "SASL_SSL", "PLAINTEXT", ""}
	}
	for _, sec := range order {
		for _, l := range b.listeners {
			if sec == "" && !l.cfg.IsTLS() || sec != "" && l.cfg.Security != sec {
				continue
			}
			if ms, ok := usable(l); ok {
				return l, ms
			}
		}
	}
	return nil, nil
}

// webClientConfig is the pool's configuration for listener l.
func (b *Broker) webClientConfig(l *boundListener, mechs []string) webclient.Config {
	target := dialAddr(l.ln.Addr().String())
	redirect := map[string]bool{target: true, l.ln.Addr().String(): true}
	if ep, err := b.advertisedEndpoint(l); err == nil {
		redirect[net.JoinHostPort(ep.host, strconv.Itoa(int(ep.port)))] = true
	}
	var tlsFor func(host string) *tls.Config
	if l.tls != nil {
		tlsFor = frontEndTLS(l.tls)
	}
	dialer := &net.Dialer{Timeout: frontEndDialTimeout}
	dial := func(ctx context.Context, network, host string) (net.Conn, error) {
		addr := host
		if redirect[host] {
			addr = target
		}
		conn, err := dialer.DialContext(ctx, network, addr)
		if err != nil || tlsFor == nil {
			return conn, err
		}
		name, _, _ := net.SplitHostPort(host)
		tc := tls.Client(conn, tlsFor(name))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
	cfg := webclient.Config{
		// The REST proxy's partitioner: a v3 produce's partition_id is
		// honoured (refused without it), else Kafka's default.
		Opts:     []kgo.Opt{kgo.SeedBrokers(target), kgo.Dialer(dial), kgo.RecordPartitioner(restproxy.Partitioner())},
		ClientID: "moldau-http",
	}
	if len(mechs) > 0 {
		cfg.AuthRequired = true
		cfg.Mechanism = b.webMechanism(l.cfg.Name, mechs)
	}
	return cfg
}

// webMechanism builds an HTTP user's SASL mechanism on listener: PLAIN
// when the user is one of the listener's PLAIN users, else the strongest
// SCRAM mechanism the user has a credential for, else the first of mechs
// (the broker then refuses the credentials, and the request gets a 401).
func (b *Broker) webMechanism(listener string, mechs []string) func(webclient.Credentials) ksasl.Mechanism {
	return func(c webclient.Credentials) ksasl.Mechanism {
		pick := mechs[0]
		for _, m := range mechs {
			if m == sasl.Plain {
				if _, ok := b.cfg.Security.SASL.PlainUsers(listener)[c.User]; ok {
					pick = m
					break
				}
			} else if _, ok := b.scramCredential(m, c.User); ok {
				pick = m
				break
			}
		}
		switch pick {
		case sasl.Plain:
			return plain.Auth{User: c.User, Pass: c.Password}.AsMechanism()
		case sasl.ScramSHA512:
			return scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism()
		}
		return scram.Auth{User: c.User, Pass: c.Password}.AsSha256Mechanism()
	}
}

// frontEndTLS returns the client TLS config for a connection to host: it
// trusts the listener's own certificate (compared byte for byte, whatever
// names it carries) and, for other nodes of a cluster, chains to the
// listener's certificate chain or truststore verified for host. The
// listener's current certificate is read at each handshake, so a reloaded
// keystore is followed.
func frontEndTLS(s *tlsconf.Server) func(host string) *tls.Config {
	serverConfig := s.Config()
	return func(host string) *tls.Config {
		return &tls.Config{
			ServerName: host,
			MinVersion: tls.VersionTLS12,
			// The chain is checked in VerifyConnection instead.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("broker: the listener sent no certificate")
				}
				cur, err := serverConfig.GetConfigForClient(nil)
				if err != nil || cur == nil || len(cur.Certificates) == 0 {
					return fmt.Errorf("broker: the listener's own certificate: %v", err)
				}
				own := cur.Certificates[0].Certificate
				if len(own) > 0 && bytes.Equal(own[0], cs.PeerCertificates[0].Raw) {
					return nil
				}
				roots := x509.NewCertPool()
				if cur.ClientCAs != nil {
					roots = cur.ClientCAs.Clone()
				}
				for _, der := range own {
					if c, err := x509.ParseCertificate(der); err == nil {
						roots.AddCert(c)
					}
				}
				inter := x509.NewCertPool()
				for _, c := range cs.PeerCertificates[1:] {
					inter.AddCert(c)
				}
				_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
				return err
			},
		}
	}
}

// dialAddr is addr with a wildcard host (0.0.0.0, ::, none) replaced by
// 127.0.0.1, to dial a listener bound to every interface.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
