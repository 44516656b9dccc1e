package restproxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHostAllowedOffLoopback: without allowed names a connection that did
// not arrive at a loopback address is not checked (the proxy cannot know
// its own names); with --http-allowed-hosts every connection is, so a
// proxy published from a container is protected from DNS rebinding too.
func TestHostAllowedOffLoopback(t *testing.T) {
	req := func(host, local string) *http.Request {
		r := httptest.NewRequest("GET", "/topics", nil)
		r.Host = host
		addr, err := net.ResolveTCPAddr("tcp", local)
		if err != nil {
			t.Fatal(err)
		}
		return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
	}
	allowed := []string{normalizeHost("Kafka.Example")}
	for _, c := range []struct {
		host, local string
		allowed     []string
		want        bool
	}{
		{"evil.example:8082", "10.0.0.5:8082", nil, true},
		{"evil.example:8082", "127.0.0.1:8082", nil, false},
		{"evil.example:8082", "10.0.0.5:8082", allowed, false},
		{"kafka.example:8082", "10.0.0.5:8082", allowed, true},
		{"10.0.0.5:8082", "10.0.0.5:8082", allowed, true},
		{"localhost:8082", "10.0.0.5:8082", allowed, true},
		{"10.0.0.6:8082", "10.0.0.5:8082", allowed, false},
	} {
		if got := hostAllowed(req(c.host, c.local), c.allowed); got != c.want {
			t.Errorf("Host %s on a connection to %s, allowed %v: %v, want %v", c.host, c.local, c.allowed, got, c.want)
		}
	}
}
