package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/console"
	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
)

// newGuardedConsole is a console without a broker (its pool's seed is
// nothing), with the schema registry off: GET /api/schemas answers 200 and
// POST /api/schemas/{s}/versions 404 without touching a broker, so a
// request the guard lets through is told from one it refuses.
func newGuardedConsole(t *testing.T, allowedHosts ...string) *httptest.Server {
	t.Helper()
	pool := webclient.New(webclient.Config{Opts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}})
	t.Cleanup(pool.Close)
	s, err := console.New(console.Config{Clients: pool, Serde: serde.New(nil), AllowedHosts: allowedHosts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler()) // 127.0.0.1: a loopback connection
	t.Cleanup(srv.Close)
	return srv
}

type guardCase struct {
	name    string
	method  string
	path    string
	host    string            // "": the server's own 127.0.0.1:port
	headers map[string]string // Content-Type defaults to application/json on a body
	body    string
	status  int
}

func runGuardCases(t *testing.T, srv *httptest.Server, cases []guardCase) {
	t.Helper()
	for _, tc := range cases {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range tc.headers {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s: status %d, want %d: %s", tc.name, tc.method, tc.path, resp.StatusCode, tc.status, out)
			continue
		}
		if tc.status == http.StatusForbidden || tc.status == http.StatusUnsupportedMediaType {
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(out, &e) != nil || e.Error == "" {
				t.Errorf("%s: answer %s is not {\"error\": text}", tc.name, out)
			}
		}
	}
}

func TestCrossSiteRequestsRefused(t *testing.T) {
	srv := newGuardedConsole(t)
	self := strings.TrimPrefix(srv.URL, "http://")
	const post = "/api/schemas/s/versions" // 404 (registry off) once past the guard
	runGuardCases(t, srv, []guardCase{
		{name: "same origin", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, status: 404},
		{name: "no browser headers (curl)", method: "POST", path: post, body: `{"schema":"x"}`, status: 404},
		{name: "foreign Origin", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Origin": "http://evil.example"}, status: 403},
		{name: "other port of localhost", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Origin": "http://127.0.0.1:3000"}, status: 403},
		{name: "null Origin (sandboxed frame)", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Origin": "null"}, status: 403},
		{name: "cross-site fetch", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "same-site fetch (another port)", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Sec-Fetch-Site": "same-site"}, status: 403},
		{name: "cross-site DELETE", method: "DELETE", path: "/api/topics/t",
			headers: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "cross-site PUT", method: "PUT", path: "/api/topics/t/configs", body: `{}`,
			headers: map[string]string{"Origin": "http://evil.example"}, status: 403},
		// A simple request (no preflight): text/plain with a JSON body.
		{name: "text/plain body", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Content-Type": "text/plain", "Origin": srv.URL}, status: 415},
		{name: "form body", method: "POST", path: post, body: `a=b`,
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415},
		{name: "no Content-Type", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Content-Type": ""}, status: 415},
		{name: "no body, no Content-Type", method: "POST", path: post, status: 415},
		{name: "JSON with charset", method: "POST", path: post, body: `{"schema":"x"}`,
			headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, status: 404},
		// Reads are safe methods: a cross-origin page cannot read the answer.
		{name: "cross-site GET", method: "GET", path: "/api/schemas",
			headers: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, status: 200},
		{name: "own Host spelled in upper case", method: "POST", path: post, body: `{"schema":"x"}`, host: strings.ToUpper(self),
			headers: map[string]string{"Origin": srv.URL}, status: 404},
	})
}

func TestDNSRebindingRefused(t *testing.T) {
	srv := newGuardedConsole(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	runGuardCases(t, srv, []guardCase{
		{name: "own address", method: "GET", path: "/api/schemas", status: 200},
		{name: "localhost", method: "GET", path: "/api/schemas", host: "localhost:" + port, status: 200},
		{name: "localhost without port", method: "GET", path: "/api/schemas", host: "localhost", status: 200},
		{name: "LOCALHOST.", method: "GET", path: "/api/schemas", host: "LOCALHOST.:" + port, status: 200},
		{name: "name under .localhost", method: "GET", path: "/api/schemas", host: "console.localhost:" + port, status: 200},
		{name: "other loopback address", method: "GET", path: "/api/schemas", host: "127.0.0.2:" + port, status: 200},
		{name: "IPv6 loopback", method: "GET", path: "/api/schemas", host: "[::1]:" + port, status: 200},
		// A rebound name: the browser thinks it talks to its own origin.
		{name: "rebound name, read", method: "GET", path: "/api/schemas", host: "evil.example:" + port, status: 403},
		{name: "rebound name, UI", method: "GET", path: "/", host: "evil.example:" + port, status: 403},
		{name: "rebound name, write", method: "POST", path: "/api/schemas/s/versions", body: `{"schema":"x"}`,
			host: "evil.example:" + port, headers: map[string]string{"Origin": "http://evil.example:" + port,
				"Sec-Fetch-Site": "same-origin"}, status: 403},
		{name: "rebound name looking local", method: "GET", path: "/api/schemas", host: "localhost.evil.example:" + port, status: 403},
		{name: "other address", method: "GET", path: "/api/schemas", host: "192.168.1.10:" + port, status: 403},
	})
}

func TestAllowedHosts(t *testing.T) {
	srv := newGuardedConsole(t, "Console.Example:8080")
	runGuardCases(t, srv, []guardCase{
		{name: "allowed name", method: "GET", path: "/api/schemas", host: "console.example", status: 200},
		{name: "allowed name, other port", method: "GET", path: "/api/schemas", host: "console.example:9", status: 200},
		{name: "allowed name, write", method: "POST", path: "/api/schemas/s/versions", body: `{"schema":"x"}`,
			host: "console.example", headers: map[string]string{"Origin": "http://console.example"}, status: 404},
		{name: "loopback still", method: "GET", path: "/api/schemas", host: "localhost", status: 200},
		{name: "other name", method: "GET", path: "/api/schemas", host: "evil.example", status: 403},
	})
}

// TestHostNotCheckedOffLoopback: with no AllowedHosts, a console reached at
// a non-loopback address (bound to 0.0.0.0 in a container) answers to any
// name.
func TestHostNotCheckedOffLoopback(t *testing.T) {
	pool := webclient.New(webclient.Config{Opts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}})
	t.Cleanup(pool.Close)
	s, err := console.New(console.Config{Clients: pool, Serde: serde.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	req := httptest.NewRequest("GET", "/api/schemas", nil)
	req.Host = "kafka-console.internal:8080"
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("172.17.0.2"), Port: 8080}))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}
