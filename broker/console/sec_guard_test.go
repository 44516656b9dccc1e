package console

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestSecMessageRequestsBounded: message requests (each makes a Kafka
// client of its own) run at most maxMessageRequestsPerPrincipal per
// principal and maxMessageRequests in total; one beyond waits for a slot
// and gets 429 when none frees in time. Other requests are not counted,
// and a topic with an escaped slash is still a message request.
func TestSecMessageRequestsBounded(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var running, peak int
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	g := newGuard(nil, next)
	g.messages.wait = 200 * time.Millisecond
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	get := func(path, user string) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if user != "" {
			req.SetBasicAuth(user, "pw")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	statuses := make(chan int, 100)
	start := func(n int, path, user string) {
		for range n {
			wg.Go(func() { statuses <- get(path, user) })
		}
	}
	waitRunning := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			r := running
			mu.Unlock()
			if r == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d requests running, want %d", r, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	start(maxMessageRequestsPerPrincipal, "/api/topics/t/messages", "alice")
	waitRunning(maxMessageRequestsPerPrincipal)
	if st := get("/api/topics/a%2Fb/messages?limit=1", "alice"); st != http.StatusTooManyRequests {
		t.Errorf("alice's request beyond her limit: %d, want 429", st)
	}
	// Other principals fill up the total.
	users := []string{"", "bob", "carol", "dave"}
	for _, u := range users[:maxMessageRequests/maxMessageRequestsPerPrincipal-1] {
		start(maxMessageRequestsPerPrincipal, "/api/topics/t/messages", u)
	}
	waitRunning(maxMessageRequests)
	if st := get("/api/topics/t/messages", "erin"); st != http.StatusTooManyRequests {
		t.Errorf("a request beyond the total: %d, want 429", st)
	}
	// A waiting request gets the slot a finished one frees.
	start(1, "/api/topics/t/messages", "erin")
	release <- struct{}{}
	waitRunning(maxMessageRequests)
	close(release)
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusOK {
			t.Errorf("a request within the limits: %d", st)
		}
	}
	if peak != maxMessageRequests {
		t.Errorf("peak %d running, want %d", peak, maxMessageRequests)
	}
	if g.messages.running != 0 || len(g.messages.byUser) != 0 {
		t.Errorf("after all: %d running, %v", g.messages.running, g.messages.byUser)
	}
	// A canceled waiter gives up at once.
	l := messageLimiter{max: 0, maxPerPrincipal: 1, wait: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l.acquire(ctx, "") {
		t.Error("acquired beyond the limit")
	}
}

// TestSecGuardBypasses: Host and Origin spellings an attacker controls.
func TestSecGuardBypasses(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := httptest.NewServer(newGuard(nil, ok))
	t.Cleanup(srv.Close)
	self := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(self)
	for _, c := range []struct {
		method, host string
		header       map[string]string
		want         int
	}{
		{"GET", "0.0.0.0:" + port, nil, 403},
		{"GET", "evil.example.:" + port, nil, 403},
		{"GET", "127.0.0.1.evil.example:" + port, nil, 403},
		{"GET", "2130706433:" + port, nil, 403},
		{"GET", "[::ffff:127.0.0.1]:" + port, nil, 200},
		{"GET", "127.0.0.1.:" + port, nil, 200},
		// Origin must name this host and port exactly.
		{"POST", self, map[string]string{"Origin": "http://" + self + "."}, 403},
		{"POST", self, map[string]string{"Origin": "http://localhost:" + port}, 403},
		{"POST", self, map[string]string{"Origin": "http://127.0.0.1"}, 403},
		{"POST", self, map[string]string{"Origin": "http://evil.example@" + self}, 200}, // no browser sends userinfo; it names this host
		{"POST", self, map[string]string{"Origin": "HTTP://" + self}, 200},
		{"DELETE", self, map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"PATCH", self, map[string]string{"Origin": "http://evil.example"}, 403},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+"/api/topics", nil)
		req.Host = c.host
		if c.method == "POST" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s Host %s %v: %d, want %d", c.method, c.host, c.header, resp.StatusCode, c.want)
		}
	}
}
