// Package console serves Moldau's web console on --console-addr: the UI
// (ui/, built with esbuild into ui/dist and embedded) and its JSON API
// (API.md), as a Kafka client of the broker it runs in
// (broker/webclient).
//
// Every API request gets its principal's client from the pool
// (webclient.Pool.Client), so the broker authenticates and authorizes the
// HTTP user as it would any Kafka client. The only state of the server's own
// is the throughput sampler (throughput.go), a goroutine reading the
// broker's metrics every 2 s until Close.
package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
)

// Config configures a Server.
type Config struct {
	// Clients gives each request its principal's Kafka client (required).
	Clients *webclient.Pool
	// Serde decodes record keys and values for the message browser and
	// encodes the schema formats on produce (required).
	Serde *serde.Serde
	// Registry is the schema registry's client for the schema pages; nil
	// when the broker's registry is off.
	Registry *sr.Client
	// Gatherer is the broker's metrics registry, sampled for throughput;
	// nil: no throughput.
	Gatherer prometheus.Gatherer
	// Version is the broker's version, shown on the overview.
	Version string
	// Logger logs failures the browser only sees as a status (default:
	// discarded).
	Logger *slog.Logger
	// AllowedHosts are host names (a port, if given, is ignored) the
	// console answers to besides localhost and loopback addresses, against
	// DNS rebinding (guard.go). Empty: the Host header is checked only on
	// connections that arrived at a loopback address (so a console bound to
	// 0.0.0.0 in a container answers to any name it is reached by);
	// non-empty: on every connection.
	AllowedHosts []string
}

// Errors New returns.
var (
	ErrNoClients = errors.New("console: Config.Clients is required")
	ErrNoSerde   = errors.New("console: Config.Serde is required")
)

// Server is the console's HTTP handler. Safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	static  *staticFiles
	tp      *throughput

	closeOnce sync.Once
}

// requestTimeout bounds one API request's Kafka and registry calls.
const requestTimeout = 15 * time.Second

// maxBody bounds a request body.
const maxBody = 1 << 20

// New returns a Server; its throughput sampler runs until Close.
func New(cfg Config) (*Server, error) {
	if cfg.Clients == nil {
		return nil, ErrNoClients
	}
	if cfg.Serde == nil {
		return nil, ErrNoSerde
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st, err := newStaticFiles(Assets())
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, static: st}
	s.tp = newThroughput(cfg.Gatherer, throughputInterval, throughputPoints, cfg.Logger)
	s.handler = s.routes()
	return s, nil
}

// Handler serves the UI and the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the throughput sampler. The pool is the caller's.
func (s *Server) Close() {
	s.closeOnce.Do(s.tp.close)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, s.apiHandler(h))
	}
	api("GET /api/overview", s.getOverview)

	api("GET /api/topics", s.listTopics)
	api("POST /api/topics", s.createTopic)
	api("GET /api/topics/{topic}", s.getTopic)
	api("DELETE /api/topics/{topic}", s.deleteTopic)
	api("PUT /api/topics/{topic}/configs", s.putTopicConfigs)
	api("GET /api/topics/{topic}/throughput", s.getThroughput)
	api("GET /api/topics/{topic}/messages", s.browseMessages)
	api("POST /api/topics/{topic}/messages", s.produceMessage)

	api("GET /api/groups", s.listGroups)
	api("GET /api/groups/{group}", s.getGroup)
	api("POST /api/groups/{group}/reset-offsets", s.resetOffsets)
	api("DELETE /api/groups/{group}", s.deleteGroup)

	api("GET /api/schemas", s.listSchemas)
	api("GET /api/schemas/{subject}", s.getSubject)
	api("PUT /api/schemas/{subject}/config", s.putSubjectConfig)
	api("POST /api/schemas/{subject}/versions", s.registerSchema)

	api("GET /api/acls", s.listACLs)
	api("GET /api/users", s.listUsers)

	// Anything else under /api/ is unknown (or a known path with another
	// method: the mux's 405 would be text, so answer JSON ourselves).
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	mux.Handle("/", s.static)
	return securityHeaders(newGuard(s.cfg.AllowedHosts, mux))
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// apiHandler runs h with a bounded context and body, and turns its error
// into the JSON error answer.
func (s *Server) apiHandler(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r); err != nil {
			s.writeErr(w, r, err)
		}
	}
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "console: encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// writeError writes {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	if status == http.StatusUnauthorized {
		webclient.Unauthorized(w, string(b))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := classify(err)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if status >= 500 {
		s.log.Warn("console: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeError(w, status, msg)
}

// httpError is an error with the HTTP status it is answered with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &httpError{status: http.StatusConflict, msg: fmt.Sprintf(format, args...)}
}

// client is r's principal's client.
func (s *Server) client(r *http.Request) (*webclient.Client, error) {
	return s.cfg.Clients.Client(r)
}
