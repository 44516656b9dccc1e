// Package restproxy serves Confluent REST Proxy's HTTP API (v2 and v3) on
// --http-proxy-addr, as a Kafka client of the broker it runs in
// (broker/webclient: one client per HTTP principal, so the broker's
// authentication and ACLs apply to HTTP users as to Kafka clients).
//
// v3 lives in v3_*.go, v2 in v2_*.go; this file holds the server, its
// configuration and the routing both register into.
package restproxy

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
)

// Config configures a Server.
type Config struct {
	// Clients are the Kafka clients per principal (required).
	Clients *webclient.Pool
	// Serde encodes schema-registry-backed values (AVRO, PROTOBUF,
	// JSONSCHEMA); nil when the schema registry is off (those types are
	// then refused).
	Serde *serde.Serde
	// Registry is the same schema registry's client (optional): v3
	// produce learns from it the format and version of a schema named
	// by schema_id, schema_version or "latest" without a "type", as
	// kafka-rest does. Without it such requests must give the type.
	Registry *sr.Client
	Logger   *slog.Logger
	// ConsumerInstanceTimeout is kafka-rest's consumer.instance.timeout.ms:
	// a v2 consumer instance unused this long is closed (0: Confluent's
	// default, 300000 ms).
	ConsumerInstanceTimeout time.Duration
	// ConsumerRequestMaxBytes is kafka-rest's consumer.request.max.bytes:
	// the most key and value bytes a v2 records answer holds, whatever its
	// max_bytes (0: Confluent's default, 67108864).
	ConsumerRequestMaxBytes int64
	// MaxConsumerInstances bounds the v2 consumer instances alive at once
	// (each is a Kafka client with connections and a group membership):
	// in total (0: DefaultMaxConsumerInstances) and per principal, the
	// HTTP Basic user (0: DefaultMaxConsumerInstancesPerPrincipal). A
	// creation beyond either answers 429 (error_code 42901). kafka-rest has
	// no such limit.
	MaxConsumerInstances             int
	MaxConsumerInstancesPerPrincipal int
	// AllowedHosts are host names (a port, if given, is ignored) a
	// browser's request may name in Host besides localhost and loopback
	// addresses: see rebindingGuard. Empty: only requests on a loopback
	// connection are checked; non-empty: every connection's (a proxy bound
	// off loopback, e.g. in a container, is then protected too). Needed
	// when a reverse proxy forwards browsers' requests with their original
	// Host (--http-allowed-hosts).
	AllowedHosts []string
}

// Defaults of the v2 consumer instance limits.
const (
	DefaultMaxConsumerInstances             = 1000
	DefaultMaxConsumerInstancesPerPrincipal = 100
)

// Server is the REST Proxy API. Handler serves it; Close ends the v2
// consumer instances.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	v2      *v2State

	// creating counts the v2 consumer instance creations running, per
	// principal ("" without SASL), for the instance limits; guarded by
	// creatingMu.
	creatingMu sync.Mutex
	creating   map[string]int
}

// New builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.MaxConsumerInstances <= 0 {
		cfg.MaxConsumerInstances = DefaultMaxConsumerInstances
	}
	if cfg.MaxConsumerInstancesPerPrincipal <= 0 {
		cfg.MaxConsumerInstancesPerPrincipal = DefaultMaxConsumerInstancesPerPrincipal
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), creating: map[string]int{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.registerV3(s.mux)
	s.v2 = s.registerV2(s.mux)
	// Anything else: Confluent's JSON 404, not ServeMux's text one.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, http.StatusNotFound, msgHTTPNotFound)
	})
	s.handler = securityHeaders(rebindingGuard(cfg.AllowedHosts, crossOriginGuard(s.limitConsumerInstances(s.mux))))
	return s, nil
}

// securityHeaders: every answer is JSON (or a stream of it) for programs,
// never a page; these keep a browser from sniffing it as one, framing it or
// leaking the URL. kafka-rest sends none of them; no client reads them.
// There is no CORS: no answer carries Access-Control-Allow-Origin, so a
// page of another origin cannot read any.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// rebindingGuard refuses DNS rebinding: a web page whose host name is made
// to resolve to 127.0.0.1 is same-origin with itself (so crossOriginGuard
// lets it through) yet talks to the proxy on the developer's machine,
// reading topics and records, producing, deleting. Its requests name its
// own host in Host. A request a browser sent (it carries Origin or a
// Sec-Fetch-* header, which every current browser sends) on a connection
// that arrived at a loopback address must name localhost (or a name under
// .localhost), a loopback IP literal, the connection's own address or one
// of allowed; else 403. Programs (curl, Kafka tools, clients), which send
// neither header, are not checked: a program reaching the proxy through a
// name that resolves to 127.0.0.1 (an /etc/hosts alias, a reverse proxy on
// the same host) keeps working. kafka-rest has no such check.
func rebindingGuard(allowed []string, next http.Handler) http.Handler {
	var hosts []string
	for _, h := range allowed {
		if h = normalizeHost(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fromBrowser(r) && !hostAllowed(r, hosts) {
			writeError(w, http.StatusForbidden, 0, "Forbidden: host "+fmt.Sprintf("%q", r.Host)+" refused: a browser's request "+
				"on a loopback connection must name localhost or a loopback address (DNS rebinding protection)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fromBrowser: r carries a header only browsers send.
func fromBrowser(r *http.Request) bool {
	h := r.Header
	return h.Get("Origin") != "" || h.Get("Sec-Fetch-Site") != "" || h.Get("Sec-Fetch-Mode") != "" || h.Get("Sec-Fetch-Dest") != ""
}

// hostAllowed: r did not arrive at a loopback address, or its Host is
// one a DNS rebinding page cannot have (see rebindingGuard).
func hostAllowed(r *http.Request, allowed []string) bool {
	var local netip.Addr
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && a != nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			local = ap.Addr().Unmap().WithZone("")
		}
	}
	if len(allowed) == 0 && (!local.IsValid() || !local.IsLoopback()) {
		// Off loopback (a container's published port) the proxy cannot
		// tell its own names without allowed: not checked.
		return true
	}
	h := normalizeHost(r.Host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || slices.Contains(allowed, h) {
		return true
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	return ip.IsLoopback() || ip == local
}

// normalizeHost is host without port and brackets, lower case, without a
// trailing dot.
func normalizeHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// limitConsumerInstances answers 429 to a v2 consumer instance creation
// (POST /consumers/{group}) when the instances alive plus the creations
// running reach Config.MaxConsumerInstances, or those of the request's
// principal reach MaxConsumerInstancesPerPrincipal. Counting the running
// creations makes the limits exact under concurrency: a creation adds at
// most its own instance once it returns. The principal is the Basic user
// the request names; a request whose credentials the broker refuses
// creates nothing.
func (s *Server) limitConsumerInstances(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if r.Method != http.MethodPost || len(segs) != 2 || segs[0] != "consumers" {
			next.ServeHTTP(w, r)
			return
		}
		var user string
		if s.cfg.Clients != nil && s.cfg.Clients.AuthRequired() {
			user, _, _ = r.BasicAuth()
		}
		s.creatingMu.Lock()
		total, mine := s.v2.instanceCounts(user)
		for u, n := range s.creating {
			total += n
			if u == user {
				mine += n
			}
		}
		if total >= s.cfg.MaxConsumerInstances || mine >= s.cfg.MaxConsumerInstancesPerPrincipal {
			s.creatingMu.Unlock()
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusTooManyRequests, codeTooManyInstances, fmt.Sprintf("Too many consumer instances: "+
				"at most %d in total and %d per principal; delete unused ones (DELETE .../instances/{instance}) "+
				"or let them expire", s.cfg.MaxConsumerInstances, s.cfg.MaxConsumerInstancesPerPrincipal))
			return
		}
		s.creating[user]++
		s.creatingMu.Unlock()
		defer func() {
			s.creatingMu.Lock()
			if s.creating[user]--; s.creating[user] == 0 {
				delete(s.creating, user)
			}
			s.creatingMu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// codeTooManyInstances is the error_code of the 429 answering a consumer
// instance creation beyond the limits (HTTP status and a sub code, as
// kafka-rest's codes are).
const codeTooManyInstances = 42901

// instanceCounts is the number of v2 consumer instances alive and of
// those owned by user.
func (v *v2State) instanceCounts(user string) (total, mine int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, in := range v.instances {
		total++
		if in.owner == user {
			mine++
		}
	}
	return total, mine
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.handler }

// crossOriginGuard refuses cross-site browser requests with unsafe
// methods (POST, PUT, PATCH, DELETE): a web page the developer visits could
// otherwise make the browser POST to http://127.0.0.1:8082 with a "simple"
// content type and no CORS preflight, producing records or deleting
// topics. A request is cross-site when its Sec-Fetch-Site says so (any
// value but same-origin and none), or, without that header, when its
// Origin's host:port is not the request's Host (net/http's
// CrossOriginProtection). Requests without either header (curl, Kafka
// tools, other programs) pass. kafka-rest has no such check; the refusal is
// 403 with Confluent's error body and error_code 403, the code kafka-rest
// gives a JAX-RS ForbiddenException, not 40301, which is its code for a
// Kafka authorization failure (an ACL denial), which this is not.
//
// One GET acts too: v2's GET .../records consumes (and auto-commits) the
// records it answers, so it is guarded as an unsafe method (a page's
// no-cors fetch sends Sec-Fetch-Site). So is HEAD on that path: ServeMux
// serves HEAD with the GET handler, and HEAD is a CORS-safelisted method a
// page can send without a preflight.
func crossOriginGuard(h http.Handler) http.Handler {
	c := http.NewCrossOriginProtection()
	deny := func(w http.ResponseWriter) {
		writeError(w, http.StatusForbidden, 0, "Forbidden: cross-origin request refused (the request's Origin "+
			"or Sec-Fetch-Site says a web page of another site sent it)")
	}
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { deny(w) }))
	guarded := c.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/consumers/") && strings.HasSuffix(r.URL.Path, "/records") {
			asUnsafe := r.Clone(r.Context())
			asUnsafe.Method = http.MethodPost
			if c.Check(asUnsafe) != nil {
				deny(w)
				return
			}
		}
		guarded.ServeHTTP(w, r)
	})
}

// Close ends every v2 consumer instance.
func (s *Server) Close() {
	s.v2.close()
}
