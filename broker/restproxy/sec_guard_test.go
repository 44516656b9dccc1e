package restproxy_test

// Security review (issue #19): attacks a browser page can make on the
// proxy on 127.0.0.1, and its resource limits.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/restproxy"
)

// secRequest sends method path with host as Host and header pairs.
func (p *proxy) secRequest(t *testing.T, method, host, path, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// secConsumer creates a v2 binary consumer instance of group reading
// topic from the earliest offset, subscribed; returns its path.
func (p *proxy) secConsumer(t *testing.T, group, topic string) string {
	t.Helper()
	wantStatus(t, p.do(t, "POST", "/consumers/"+group, `{"name":"i","format":"binary","auto.offset.reset":"earliest"}`,
		"Content-Type", "application/vnd.kafka.v2+json"), http.StatusOK)
	base := "/consumers/" + group + "/instances/i"
	wantStatus(t, p.do(t, "POST", base+"/subscription", `{"topics":["`+topic+`"]}`,
		"Content-Type", "application/vnd.kafka.v2+json"), http.StatusNoContent)
	return base
}

// TestSecHeadRecordsRefused: ServeMux serves HEAD with a GET handler, so a
// cross-site HEAD (a CORS-safelisted method: no preflight) of v2's GET
// records would consume and auto-commit a consumer instance's records.
func TestSecHeadRecordsRefused(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "head", 1, nil)
	cl, _ := p.kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "head", Value: []byte("a")}, &kgo.Record{Topic: "head", Value: []byte("b")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	base := p.secConsumer(t, "head-g", "head")
	const binary = "application/vnd.kafka.binary.v2+json"
	for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "http://evil.example"}} {
		for range 3 { // the first fetches may come back empty while the group joins
			if st, _, body := p.secRequest(t, "HEAD", "", base+"/records?timeout=1000", "", append([]string{"Accept", binary}, h...)...); st != http.StatusForbidden {
				t.Fatalf("cross-site HEAD records %v: %d %s, want 403", h, st, body)
			}
		}
	}
	var got int
	deadline := time.Now().Add(15 * time.Second)
	for got < 2 && time.Now().Before(deadline) {
		r := p.do(t, "GET", base+"/records?timeout=500", nil, "Accept", binary)
		wantStatus(t, r, http.StatusOK)
		got += len(r.JSON(t).([]any))
	}
	if got != 2 {
		t.Fatalf("read %d of the 2 records after the refused HEADs", got)
	}
}

// TestSecDNSRebinding: a page whose name resolves to 127.0.0.1 is
// same-origin with itself, so Origin and Sec-Fetch-Site pass; its Host
// gives it away. Programs without browser headers are not checked.
func TestSecDNSRebinding(t *testing.T) {
	p := newProxy(t, withConfig(func(c *restproxy.Config) { c.AllowedHosts = []string{"Kafka-REST.example.:443"} }))
	cid := clusterID(t, p)
	port := p.URL[strings.LastIndex(p.URL, ":")+1:]
	topics := "/v3/clusters/" + cid + "/topics"
	for _, host := range []string{"evil.example:" + port, "evil.example.:" + port, "localhost.evil.example:" + port,
		"0.0.0.0:" + port, "127.0.0.1.nip.io:" + port, "2130706433:" + port, "10.0.0.1:" + port} {
		origin := "http://" + host
		// Reads: a same-origin fetch sends Sec-Fetch-Site, no Origin.
		for _, get := range []string{"/topics", topics} {
			if st, _, body := p.secRequest(t, "GET", host, get, "", "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"); st != http.StatusForbidden {
				t.Errorf("GET %s from a page at %s: %d %s, want 403", get, host, st, body)
			}
		}
		if st, _, body := p.secRequest(t, "POST", host, topics, `{"topic_name":"rebound","partitions_count":1}`,
			"Content-Type", "application/json", "Origin", origin); st != http.StatusForbidden {
			t.Errorf("POST from a page at %s: %d %s, want 403", host, st, body)
		}
		// curl with any Host: not a browser.
		if st, _, body := p.secRequest(t, "GET", host, "/topics", ""); st != http.StatusOK {
			t.Errorf("a program's GET with Host %s: %d %s", host, st, body)
		}
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST.:" + port, "app.localhost:" + port, "127.0.0.1:" + port,
		"127.0.0.2:" + port, "[::1]:" + port, "[::ffff:127.0.0.1]:" + port, "kafka-rest.example", "kafka-rest.example:" + port} {
		if st, _, body := p.secRequest(t, "GET", host, "/topics", "", "Sec-Fetch-Site", "same-origin"); st != http.StatusOK {
			t.Errorf("a page at %s: %d %s, want 200", host, st, body)
		}
	}
	_, adm := p.kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if tds, err := adm.ListTopics(ctx); err != nil || tds.Has("rebound") {
		t.Fatalf("a rebound page created a topic (%v)", err)
	}
}

// TestSecNoCORSAndFramingHeaders: no answer (a preflight included) allows
// another origin to read it, and every answer forbids framing and
// sniffing.
func TestSecNoCORSAndFramingHeaders(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	for _, c := range []struct{ method, path string }{
		{"OPTIONS", "/v3/clusters/" + cid + "/topics"}, {"GET", "/topics"}, {"GET", "/v3/clusters"}, {"GET", "/nope"},
		{"POST", "/topics/x"},
	} {
		_, h, _ := p.secRequest(t, c.method, "", c.path, "", "Origin", "http://evil.example",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("%s %s answers %s: %q", c.method, c.path, k, h.Get(k))
			}
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s %s: headers %v", c.method, c.path, h)
		}
	}
}

// TestSecConsumerInstanceLimits: v2 consumer instances are bounded per
// principal and in total, exactly under concurrent creations; deleting
// one makes room.
func TestSecConsumerInstanceLimits(t *testing.T) {
	p := newProxy(t, withConfig(func(c *restproxy.Config) {
		c.MaxConsumerInstancesPerPrincipal = 3
		c.MaxConsumerInstances = 5
	}))
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", p.URL+"/consumers/limit-g", strings.NewReader(fmt.Sprintf(`{"name":"c%d"}`, i)))
			req.Header.Set("Content-Type", "application/vnd.kafka.v2+json")
			resp, err := p.client.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	var ok, limited int
	var created string
	for i, st := range statuses {
		switch st {
		case http.StatusOK:
			ok++
			created = fmt.Sprint("c", i)
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Errorf("creation %d: %d", i, st)
		}
	}
	if ok != 3 || limited != 7 {
		t.Fatalf("%d created, %d refused with 429; want 3 and 7 (statuses %v)", ok, limited, statuses)
	}
	r := p.do(t, "POST", "/consumers/limit-g", `{"name":"more"}`, "Content-Type", "application/vnd.kafka.v2+json")
	wantError(t, r, http.StatusTooManyRequests, 42901)
	wantStatus(t, p.do(t, "DELETE", "/consumers/limit-g/instances/"+created, nil, "Content-Type", "application/vnd.kafka.v2+json"), http.StatusNoContent)
	wantStatus(t, p.do(t, "POST", "/consumers/limit-g", `{"name":"more"}`, "Content-Type", "application/vnd.kafka.v2+json"), http.StatusOK)
}
