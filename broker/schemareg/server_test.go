package schemareg

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestNewHTTPServerLimits: the server has every timeout and a header
// limit set, and a client that never finishes its headers (slowloris) is
// disconnected after ReadHeaderTimeout.
func TestNewHTTPServerLimits(t *testing.T) {
	srv := NewHTTPServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 ||
		srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Fatalf("server limits not set: %+v", srv)
	}
	srv.ReadHeaderTimeout = 200 * time.Millisecond // the behaviour, faster
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /subjects HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn) // returns when the server closes the connection
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	t.Logf("slow client closed after %v", time.Since(start))
}

// TestMetricsMethodLabel: request metrics are labelled by path template
// and a bounded set of methods, never by raw paths or method tokens.
func TestMetricsMethodLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newRegistry(t, newMemLog(), withRegisterer(reg)).Handler()
	for i := 0; i < 50; i++ {
		call(t, h, "FOO"+strings.Repeat("X", i), "/subjects", "")
		call(t, h, "GET", "/subjects/s"+strings.Repeat("x", i)+"/versions", "")
		call(t, h, "GET", "/no/such/path/"+strings.Repeat("x", i), "")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "moldau_schema_registry_request") {
			continue
		}
		if n := len(mf.GetMetric()); n > 10 {
			t.Errorf("%s has %d series", mf.GetName(), n)
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "FOO") || strings.Contains(l.GetValue(), "xx") {
					t.Errorf("%s has label %s=%q", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}
