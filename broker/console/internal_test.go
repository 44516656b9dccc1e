package console

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moldau/moldau/broker/webclient"
)

func TestStaticCacheHeaders(t *testing.T) {
	st, err := newStaticFiles(fstest.MapFS{
		"index.html":               {Data: []byte("<!doctype html><title>x</title>")},
		"assets/main-5WQ7V2DL.js":  {Data: []byte("console.log(1)")},
		"assets/main-ABCD1234.css": {Data: []byte("body{}")},
		"favicon.svg":              {Data: []byte("<svg/>")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, ctype, cache string }{
		{"/", "text/html; charset=utf-8", "no-cache"},
		{"/assets/main-5WQ7V2DL.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/assets/main-ABCD1234.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/favicon.svg", "image/svg+xml", "no-cache"},
	} {
		rec := httptest.NewRecorder()
		st.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != tc.ctype || rec.Header().Get("Cache-Control") != tc.cache {
			t.Errorf("%s: %d %q %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
		}
	}
	for _, p := range []string{"/assets", "/assets/", "/nope.html"} {
		rec := httptest.NewRecorder()
		st.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
	if _, err := newStaticFiles(fstest.MapFS{}); err == nil {
		t.Fatal("a UI without index.html was accepted")
	}
}

func TestThroughputSampler(t *testing.T) {
	reg := prometheus.NewRegistry()
	bytesIn := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricBytesIn}, []string{"topic"})
	recordsIn := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricRecordsIn}, []string{"topic"})
	bytesOut := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricBytesOut}, []string{"topic"})
	reg.MustRegister(bytesIn, recordsIn, bytesOut)
	bytesIn.WithLabelValues("a").Add(0)

	// Driven by hand (sample) to control time; capacity 3.
	tp := newThroughput(nil, time.Second, 3, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tp.g = reg
	t0 := time.UnixMilli(1_000_000)
	tp.sample(t0)
	if len(tp.points("a")) != 0 {
		t.Fatal("a point from the baseline sample")
	}
	for i := 1; i <= 5; i++ {
		bytesIn.WithLabelValues("a").Add(float64(100 * i))
		recordsIn.WithLabelValues("a").Add(float64(i))
		bytesOut.WithLabelValues("a").Add(50)
		tp.sample(t0.Add(time.Duration(i) * 2 * time.Second))
	}
	ps := tp.points("a")
	if len(ps) != 3 {
		t.Fatalf("%d points, want the ring's 3", len(ps))
	}
	for j, p := range ps {
		i := j + 3 // samples 3, 4, 5 remain
		if p.T != t0.Add(time.Duration(i)*2*time.Second).UnixMilli() || p.BytesInPerSec != float64(100*i)/2 ||
			p.RecordsInPerSec != float64(i)/2 || p.BytesOutPerSec != 25 {
			t.Fatalf("point %d: %+v", j, p)
		}
	}
	if l := tp.latest("a"); l != ps[2] {
		t.Fatalf("latest %+v, want %+v", l, ps[2])
	}
	if tot := tp.total(); tot.BytesInPerSec != 250 {
		t.Fatalf("total %+v", tot)
	}
	// A deleted topic's series goes, and its ring with it; a counter that
	// restarts counts from zero.
	bytesIn.DeleteLabelValues("a")
	recordsIn.DeleteLabelValues("a")
	bytesOut.DeleteLabelValues("a")
	tp.sample(t0.Add(12 * time.Second))
	if len(tp.points("a")) != 0 {
		t.Fatal("points of a deleted topic")
	}
	bytesIn.WithLabelValues("a").Add(10)
	tp.sample(t0.Add(14 * time.Second))
	if p := tp.points("a"); len(p) != 1 || p[0].BytesInPerSec != 5 {
		t.Fatalf("after re-creation: %+v", p)
	}

	// An idle topic keeps no ring but still answers a zero point per
	// sample of the window; once it moves, its earlier zeros come first,
	// and after a whole window of zeros it drops its ring again.
	recordsIn.WithLabelValues("idle").Add(0)
	at := t0.Add(14 * time.Second)
	for i := 1; i <= 4; i++ {
		at = at.Add(2 * time.Second)
		tp.sample(at)
	}
	if s := tp.series["idle"]; s == nil || s.ring != nil {
		t.Fatalf("idle topic series %+v: want one without a ring", s)
	}
	ps = tp.points("idle")
	if len(ps) != 3 || ps[2].T != at.UnixMilli() || ps[0].T != at.Add(-4*time.Second).UnixMilli() || ps[2].RecordsInPerSec != 0 {
		t.Fatalf("idle points %+v", ps)
	}
	if l := tp.latest("idle"); l.T != at.UnixMilli() || l.RecordsInPerSec != 0 {
		t.Fatalf("idle latest %+v", l)
	}
	recordsIn.WithLabelValues("idle").Add(8)
	at = at.Add(2 * time.Second)
	tp.sample(at)
	ps = tp.points("idle")
	if len(ps) != 3 || ps[0].RecordsInPerSec != 0 || ps[1].RecordsInPerSec != 0 || ps[2].RecordsInPerSec != 4 ||
		ps[0].T != at.Add(-4*time.Second).UnixMilli() || ps[1].T != at.Add(-2*time.Second).UnixMilli() || ps[2].T != at.UnixMilli() {
		t.Fatalf("points after the idle topic moved: %+v", ps)
	}
	if tot := tp.total(); tot.RecordsInPerSec != 4 {
		t.Fatalf("total %+v", tot)
	}
	for i := 1; i <= 3; i++ {
		at = at.Add(2 * time.Second)
		tp.sample(at)
	}
	if s := tp.series["idle"]; s == nil || s.ring != nil {
		t.Fatalf("after a window of zeros %+v: want the ring dropped", s)
	}
	if ps = tp.points("idle"); len(ps) != 3 || ps[2].T != at.UnixMilli() {
		t.Fatalf("points after the ring was dropped: %+v", ps)
	}

	// The goroutine: started by newThroughput, stopped by close.
	live := newThroughput(reg, 10*time.Millisecond, 5, slog.New(slog.NewTextHandler(io.Discard, nil)))
	deadline := time.Now().Add(5 * time.Second)
	for len(live.points("a")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the sampler goroutine made no points")
		}
		time.Sleep(5 * time.Millisecond)
	}
	live.close()
}

// TestClassifyPoolErrors: the client pool's refusals keep their meaning at
// the HTTP edge (a busy login limiter is 429, not 503).
func TestClassifyPoolErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("x: %w", webclient.ErrBusy), http.StatusTooManyRequests},
		{webclient.ErrUnauthorized, http.StatusUnauthorized},
		{webclient.ErrClosed, http.StatusServiceUnavailable},
	} {
		if got, _ := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
