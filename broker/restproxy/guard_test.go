package restproxy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCrossSiteRequestsRefused: a web page of another site can make the
// browser send "simple" requests (text/plain, no preflight) to the proxy on
// 127.0.0.1; unsafe methods from another origin are refused with 403
// before anything happens, safe ones and non-browser requests pass.
func TestCrossSiteRequestsRefused(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	topics := "/v3/clusters/" + cid + "/topics"
	create := func(name string) string { return `{"topic_name":"` + name + `","partitions_count":1}` }

	for _, h := range [][]string{
		{"Origin", "http://evil.example", "Content-Type", "text/plain"},
		{"Origin", "http://evil.example"}, // application/json
		{"Origin", "http://localhost:1234"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"},
		{"Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:1"},
	} {
		wantError(t, p.do(t, "POST", topics, create("csrf"), h...), http.StatusForbidden, http.StatusForbidden)
	}
	// v2 produce and consumer creation, v3 delete alike.
	wantError(t, p.do(t, "POST", "/topics/csrf", `{"records":[{"value":"eA=="}]}`,
		"Content-Type", "application/vnd.kafka.binary.v2+json", "Origin", "http://evil.example"), 403, 403)
	wantError(t, p.do(t, "POST", "/consumers/g", `{}`, "Content-Type", "application/vnd.kafka.v2+json",
		"Sec-Fetch-Site", "cross-site"), 403, 403)
	p.createTopic(t, "keep", 1, nil)
	wantError(t, p.do(t, "DELETE", topics+"/keep", nil, "Origin", "http://evil.example"), 403, 403)

	_, adm := p.kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tds.Has("csrf") || !tds.Has("keep") {
		t.Fatalf("a refused request acted: topics %v", tds.Names())
	}

	// The proxy's own origin, same-origin fetches, and safe methods pass.
	origin := p.URL // http://127.0.0.1:port
	wantStatus(t, p.do(t, "POST", topics, create("same-origin"), "Origin", origin), http.StatusCreated)
	wantStatus(t, p.do(t, "POST", topics, create("fetch-same"), "Sec-Fetch-Site", "same-origin"), http.StatusCreated)
	wantStatus(t, p.do(t, "POST", topics, create("no-origin")), http.StatusCreated)
	wantStatus(t, p.do(t, "GET", topics, nil, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"), http.StatusOK)
	if !strings.HasPrefix(origin, "http://127.0.0.1:") {
		t.Fatalf("proxy URL %s", origin)
	}
}

// TestBodiesOnlyAsJSON: a body is parsed only when its Content-Type is one
// the endpoint consumes (kafka-rest's @Consumes: v3 application/json; v2
// the vnd.kafka types, and here application/json too); others answer 415
// before anything happens. Without a Content-Type a body is taken as JSON
// (curl, scripts).
func TestBodiesOnlyAsJSON(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	p.createTopic(t, "ct", 1, nil)
	v3 := "/v3/clusters/" + cid
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/octet-stream", "application/vnd.kafka.v2+json"} {
		wantError(t, p.do(t, "POST", v3+"/topics", `{"topic_name":"ct-new","partitions_count":1}`, "Content-Type", ct), 415, 415)
		wantError(t, p.do(t, "POST", v3+"/topics/ct/records", `{"value":{"type":"STRING","data":"x"}}`, "Content-Type", ct), 415, 415)
		wantError(t, p.do(t, "PUT", v3+"/topics/ct/configs/retention.ms", `{"value":"1000"}`, "Content-Type", ct), 415, 415)
		wantError(t, p.do(t, "POST", v3+"/topics/ct/configs:alter", `{"data":[{"name":"retention.ms","value":"1000"}]}`, "Content-Type", ct), 415, 415)
		if ct != "application/vnd.kafka.v2+json" {
			wantError(t, p.do(t, "POST", "/consumers/g", `{"name":"x"}`, "Content-Type", ct), 415, 415)
		}
	}
	_, adm := p.kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, "ct")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("ct", 0); o.Offset != 0 {
		t.Fatalf("a refused produce produced: end offset %d", o.Offset)
	}
	// Accepted: application/json with parameters, and no Content-Type.
	wantStatus(t, p.do(t, "POST", v3+"/topics/ct/records", `{"value":{"type":"STRING","data":"x"}}`,
		"Content-Type", "application/json; charset=utf-8"), 200)
	r := p.do(t, "PUT", v3+"/topics/ct/configs/retention.ms", `{"value":"100000"}`, "Content-Type", "")
	wantStatus(t, r, http.StatusNoContent)
	wantStatus(t, p.do(t, "POST", "/consumers/g", `{"name":"y"}`, "Content-Type", "application/vnd.kafka.v2+json"), 200)
	// A v3 admin body is bounded.
	big := `{"topic_name":"big","partitions_count":1,"configs":[{"name":"x","value":"` + strings.Repeat("y", 2<<20) + `"}]}`
	wantError(t, p.do(t, "POST", v3+"/topics", big), http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge)
}

// TestCrossSiteRecordsReadRefused: v2's GET records consumes what it
// answers (and auto-commits it): a page of another site must not drain a
// consumer instance with a no-cors fetch.
func TestCrossSiteRecordsReadRefused(t *testing.T) {
	p := newProxy(t)
	p.createTopic(t, "drain", 1, nil)
	p.produceN(t, "drain", 3, 5)
	base := p.v2Consumer(t, "drain-g", "drain", "")
	const binary = "application/vnd.kafka.binary.v2+json"
	wantError(t, p.do(t, "GET", base+"/records?timeout=500", nil, "Accept", binary, "Sec-Fetch-Site", "cross-site"), 403, 403)
	wantError(t, p.do(t, "GET", base+"/records?timeout=500", nil, "Accept", binary, "Origin", "http://evil.example"), 403, 403)
	if got := p.readRecords(t, base, binary, 3, "Sec-Fetch-Site", "same-origin"); len(got) != 3 {
		t.Fatalf("%d records", len(got))
	}
	// Other GETs are safe and pass.
	wantStatus(t, p.do(t, "GET", base+"/subscription", nil, "Sec-Fetch-Site", "cross-site"), 200)
}
