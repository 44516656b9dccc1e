package console_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/console"
)

func TestStaticAndHeaders(t *testing.T) {
	f := newFixture(t)
	index, err := fs.ReadFile(console.Assets(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/index.html"} {
		code, h, body := f.do("GET", path, nil)
		if code != 200 || string(body) != string(index) {
			t.Fatalf("GET %s: %d, body %.60q", path, code, body)
		}
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("GET %s: Content-Type %q", path, ct)
		}
		if cc := h.Get("Cache-Control"); cc != "no-cache" {
			t.Fatalf("GET %s: Cache-Control %q", path, cc)
		}
	}
	// Every other embedded file is served with its type.
	err = fs.WalkDir(console.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		code, h, _ := f.do("GET", "/"+p, nil)
		if code != 200 || h.Get("Content-Type") == "" || h.Get("Cache-Control") == "" {
			t.Errorf("GET /%s: %d, Content-Type %q, Cache-Control %q", p, code, h.Get("Content-Type"), h.Get("Cache-Control"))
		}
		if strings.HasSuffix(p, ".js") && !strings.Contains(h.Get("Content-Type"), "javascript") {
			t.Errorf("GET /%s: Content-Type %q", p, h.Get("Content-Type"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Security headers on the UI, the API and errors alike.
	for _, path := range []string{"/", "/api/overview", "/api/nope", "/missing.js"} {
		_, h, _ := f.do("GET", path, nil)
		if h.Get("Content-Security-Policy") != "default-src 'self'" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("GET %s: security headers %v", path, h)
		}
	}
	if code, _, _ := f.do("GET", "/missing.js", nil); code != 404 {
		t.Fatalf("GET /missing.js: %d", code)
	}
	if code, _, _ := f.do("GET", "/../../etc/passwd", nil); code != 404 {
		t.Fatalf("path traversal: %d", code)
	}
	if code, _, _ := f.do("POST", "/", "x"); code != 405 {
		t.Fatalf("POST /: %d", code)
	}
	f.call("GET", "/api/nope", nil, 404, nil)
	f.call("GET", "/api", nil, 404, nil)
	f.call("PATCH", "/api/topics", map[string]any{}, 404, nil)
	_, h, _ := f.do("GET", "/api/topics", nil)
	if h.Get("Cache-Control") != "no-store" {
		t.Fatalf("API Cache-Control %q", h.Get("Cache-Control"))
	}
}

// TestThroughput reads the broker's own metrics: producing shows up as
// bytes and records in, consuming as bytes out.
func TestThroughput(t *testing.T) {
	f := newFixture(t)
	f.createTopic("busy", 1)
	var tp struct {
		IntervalMS int64 `json:"interval_ms"`
		Points     []struct {
			T               int64   `json:"t"`
			BytesInPerSec   float64 `json:"bytes_in_per_sec"`
			RecordsInPerSec float64 `json:"records_in_per_sec"`
			BytesOutPerSec  float64 `json:"bytes_out_per_sec"`
		} `json:"points"`
	}
	f.call("GET", "/api/topics/nope/throughput", nil, 404, nil)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		f.call("POST", "/api/topics/busy/messages", map[string]any{"value": fmt.Sprint("payload ", i)}, 200, nil)
		f.browse("busy", url.Values{"limit": {"1"}})
		f.call("GET", "/api/topics/busy/throughput", nil, 200, &tp)
		var in, rec, out bool
		for _, p := range tp.Points {
			in = in || p.BytesInPerSec > 0
			rec = rec || p.RecordsInPerSec > 0
			out = out || p.BytesOutPerSec > 0
		}
		if in && rec && out {
			break
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(tp)
			t.Fatalf("no throughput after 20 s: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if tp.IntervalMS != 2000 || tp.Points[len(tp.Points)-1].T <= 0 {
		t.Fatalf("throughput %+v", tp)
	}
}
