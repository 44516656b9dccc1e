// Package restproxy serves Confluent REST Proxy's HTTP API (v2 and v3) on
// --http-proxy-addr, as a Kafka client of the broker it runs in
// (broker/webclient: one client per HTTP principal, so the broker's
// authentication and ACLs apply to HTTP users as to Kafka clients).
//
// v3 lives in v3_*.go, v2 in v2_*.go; this file holds the server, its
// configuration and the routing both register into.
package restproxy

import (
	"log/slog"
	"net/http"
	"strings"
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
}

// Server is the REST Proxy API. Handler serves it; Close ends the v2
// consumer instances.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	v2      *v2State
}

// New builds the server.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.registerV3(s.mux)
	s.v2 = s.registerV2(s.mux)
	// Anything else: Confluent's JSON 404, not ServeMux's text one.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, http.StatusNotFound, msgHTTPNotFound)
	})
	s.handler = crossOriginGuard(s.mux)
	return s, nil
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
// no-cors fetch sends Sec-Fetch-Site).
func crossOriginGuard(h http.Handler) http.Handler {
	c := http.NewCrossOriginProtection()
	deny := func(w http.ResponseWriter) {
		writeError(w, http.StatusForbidden, 0, "Forbidden: cross-origin request refused (the request's Origin "+
			"or Sec-Fetch-Site says a web page of another site sent it)")
	}
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { deny(w) }))
	guarded := c.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/consumers/") && strings.HasSuffix(r.URL.Path, "/records") {
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
