package schemareg

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

const (
	recV1 = `{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}`
	recV2 = `{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}`
	recV3 = `{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"c","type":"string"}]}`
)

func TestRegisterAndRead(t *testing.T) {
	l := newMemLog()
	h := newRegistry(t, l).Handler()
	if got := idOf(mustCall(t, h, "POST", "/subjects/s/versions", registerBody(recV1), 200)); got != 1 {
		t.Fatalf("register: %d", got)
	}
	// Re-registering answers the same id and writes nothing.
	n := len(l.snapshot())
	if got := idOf(mustCall(t, h, "POST", "/subjects/s/versions", registerBody(recV1), 200)); got != 1 {
		t.Fatalf("re-register: %d", got)
	}
	if len(l.snapshot()) != n {
		t.Fatalf("re-register wrote %d records", len(l.snapshot())-n)
	}
	// The same schema under another subject reuses the id.
	if got := idOf(mustCall(t, h, "POST", "/subjects/t/versions", registerBody(recV1), 200)); got != 1 {
		t.Fatalf("other subject: %d", got)
	}
	if got := idOf(mustCall(t, h, "POST", "/subjects/s/versions", registerBody(recV2), 200)); got != 2 {
		t.Fatalf("v2: %d", got)
	}
	// BACKWARD (the default) refuses a new field without a default.
	code, body := call(t, h, "POST", "/subjects/s/versions", registerBody(recV3))
	if code != 409 || !strings.Contains(body, `"error_code":409`) || !strings.Contains(body, `incompatible with an earlier schema for subject \"s\"`) || !strings.Contains(body, "READER_FIELD_MISSING_DEFAULT_VALUE") || !strings.Contains(body, "{oldSchemaVersion: 2}") {
		t.Fatalf("incompatible: %d %s", code, body)
	}
	if got := mustCall(t, h, "GET", "/subjects/s/versions", "", 200); got != `[1,2]` {
		t.Fatalf("versions: %s", got)
	}
	if got := mustCall(t, h, "GET", "/subjects/s/versions/latest", "", 200); got != `{"subject":"s","version":2,"id":2,"schema":`+mustQuote(recV2)+`}` {
		t.Fatalf("latest: %s", got)
	}
	if got := mustCall(t, h, "GET", "/subjects", "", 200); got != `["s","t"]` {
		t.Fatalf("subjects: %s", got)
	}
	if got := mustCall(t, h, "GET", "/schemas/ids/1/versions", "", 200); got != `[{"subject":"s","version":1},{"subject":"t","version":1}]` {
		t.Fatalf("id versions: %s", got)
	}
	if got := mustCall(t, h, "POST", "/subjects/s", registerBody(recV1), 200); got != `{"subject":"s","version":1,"id":1,"schema":`+mustQuote(recV1)+`}` {
		t.Fatalf("lookup: %s", got)
	}
	// Every record written carries seq = its offset and the node id.
	for _, rec := range l.snapshot() {
		k, err := decodeKey(rec.Key)
		if err != nil || k.Seq == nil || *k.Seq != rec.Offset || k.Node == nil || *k.Node != 1 {
			t.Fatalf("record %d key %s", rec.Offset, rec.Key)
		}
	}
}

func mustQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// A second instance over the same log sees the first one's writes, and a
// fresh instance replaying the log (also after compaction) builds the same
// state.
func TestTwoInstancesAndReplay(t *testing.T) {
	l := newMemLog()
	a := newRegistry(t, l, withNode(1)).Handler()
	b := newRegistry(t, l, withNode(2)).Handler()
	mustCall(t, a, "POST", "/subjects/s/versions", registerBody(recV1), 200)
	if got := idOf(mustCall(t, b, "POST", "/subjects/s/versions", registerBody(recV2), 200)); got != 2 {
		t.Fatalf("b: %d", got)
	}
	mustCall(t, a, "PUT", "/config/s", `{"compatibility":"NONE"}`, 200)
	mustCall(t, b, "POST", "/subjects/s/versions", registerBody(recV3), 200)
	mustCall(t, a, "DELETE", "/subjects/s/versions/1", "", 200)
	mustCall(t, b, "DELETE", "/subjects/s/versions/1?permanent=true", "", 200)
	mustCall(t, a, "POST", "/subjects/u/versions", registerBody(`"string"`), 200)
	mustCall(t, a, "DELETE", "/subjects/u", "", 200)
	mustCall(t, b, "DELETE", "/subjects/u?permanent=true", "", 200)
	want := dump(t, a)
	if got := dump(t, b); got != want {
		t.Fatalf("instances differ:\n%s\n%s", want, got)
	}
	if !strings.Contains(want, `"s":[2,3]`) || strings.Contains(want, `"u"`) {
		t.Fatalf("unexpected state %s", want)
	}
	c := newRegistry(t, l, withNode(3)).Handler()
	if got := dump(t, c); got != want {
		t.Fatalf("replay differs:\n%s\n%s", want, got)
	}
	l.compact()
	d := newRegistry(t, l, withNode(4)).Handler()
	if got := dump(t, d); got != want {
		t.Fatalf("replay after compaction differs:\n%s\n%s", want, got)
	}
}

// dump summarises the state through the API.
func dump(t *testing.T, h http.Handler) string {
	t.Helper()
	var subjects []string
	_ = json.Unmarshal([]byte(mustCall(t, h, "GET", "/subjects?deleted=true", "", 200)), &subjects)
	var b strings.Builder
	for _, s := range subjects {
		fmt.Fprintf(&b, "%q:%s ", s, mustCall(t, h, "GET", "/subjects/"+s+"/versions?deleted=true", "", 200))
		code, cfg := call(t, h, "GET", "/config/"+s, "")
		fmt.Fprintf(&b, "config %d %s ", code, cfg)
	}
	b.WriteString(mustCall(t, h, "GET", "/schemas?deleted=true", "", 200))
	return b.String()
}

// A write that loses its offset to another instance is ignored by both
// and retried: ids and versions never clash.
func TestWriteRaceDeterministic(t *testing.T) {
	l := newMemLog()
	b := newRegistry(t, l, withNode(2))
	intercept := &interceptLog{Log: l}
	a := newRegistry(t, intercept, withNode(1))
	intercept.before = func() {
		intercept.before = nil // once
		mustCall(t, b.Handler(), "POST", "/subjects/s/versions", registerBody(recV1), 200)
	}
	if got := idOf(mustCall(t, a.Handler(), "POST", "/subjects/s/versions", registerBody(recV2), 200)); got != 2 {
		t.Fatalf("a after losing the race: %d", got)
	}
	if got := counterValue(a.metrics.writeConflicts); got != 1 {
		t.Fatalf("write conflicts %v, want 1", got)
	}
	for _, h := range []http.Handler{a.Handler(), b.Handler()} {
		if got := mustCall(t, h, "GET", "/subjects/s/versions/1", "", 200); !strings.Contains(got, `"id":1,`) || !strings.Contains(got, `\"name\":\"a\",\"type\":\"int\"}]`) {
			t.Fatalf("v1: %s", got)
		}
		if got := mustCall(t, h, "GET", "/subjects/s/versions/2", "", 200); !strings.Contains(got, `"id":2,`) {
			t.Fatalf("v2: %s", got)
		}
	}
	recs := l.snapshot()
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3 (b's, a's lost one, a's retry)", len(recs))
	}
	k, _ := decodeKey(recs[1].Key)
	if *k.Seq != 0 || *k.Node != 1 {
		t.Fatalf("lost record key %s", recs[1].Key)
	}
}

type interceptLog struct {
	Log
	before func()
}

func (l *interceptLog) Append(ctx context.Context, key, value []byte) (int64, error) {
	if f := l.before; f != nil {
		f()
	}
	return l.Log.Append(ctx, key, value)
}

// Two instances registering concurrently never clash and converge.
func TestConcurrentInstances(t *testing.T) {
	l := newMemLog()
	regs := []*Registry{newRegistry(t, l, withNode(1)), newRegistry(t, l, withNode(2))}
	mustCall(t, regs[0].Handler(), "PUT", "/config", `{"compatibility":"NONE"}`, 200)
	const perWorker = 15
	type result struct{ subject, schema, id string }
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	for i, r := range regs {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < perWorker; n++ {
					subject := []string{"shared", fmt.Sprintf("own-%d-%d", i, w)}[n%2]
					// Half the schemas are the same on every worker (same id expected).
					field := fmt.Sprintf("f%d_%d_%d", i, w, n)
					if n%3 == 0 {
						field = fmt.Sprintf("common%d", n)
					}
					s := fmt.Sprintf(`{"type":"record","name":"r","fields":[{"name":%q,"type":"int"}]}`, field)
					code, body := call(t, r.Handler(), "POST", "/subjects/"+subject+"/versions", registerBody(s))
					if code != 200 {
						t.Errorf("register: %d %s", code, body)
						return
					}
					mu.Lock()
					results = append(results, result{subject, s, body})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	a, b := dump(t, regs[0].Handler()), dump(t, regs[1].Handler())
	if a != b {
		t.Fatalf("instances differ:\n%s\n%s", a, b)
	}
	// Each answered id maps to the schema registered; one schema, one id.
	ids := map[string]int{}
	for _, res := range results {
		id := idOf(res.id)
		got := mustCall(t, regs[1].Handler(), "GET", fmt.Sprintf("/schemas/ids/%d", id), "", 200)
		if !strings.Contains(got, mustQuote(res.schema)) {
			t.Fatalf("id %d is %s, registered %s", id, got, res.schema)
		}
		if prev, ok := ids[res.schema]; ok && prev != id {
			t.Fatalf("schema %s got ids %d and %d", res.schema, prev, id)
		}
		ids[res.schema] = id
		// And the subject holds it.
		mustCall(t, regs[0].Handler(), "POST", "/subjects/"+res.subject, registerBody(res.schema), 200)
	}
	t.Logf("write conflicts: node1 %v, node2 %v", counterValue(regs[0].metrics.writeConflicts), counterValue(regs[1].metrics.writeConflicts))
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newRegistry(t, newMemLog(), withRegisterer(reg)).Handler()
	mustCall(t, h, "POST", "/subjects/s/versions", registerBody(recV1), 200)
	call(t, h, "POST", "/subjects/s/versions", registerBody(recV3))
	call(t, h, "GET", "/subjects/nope/versions", "")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, n := range []string{"moldau_schema_registry_requests_total", "moldau_schema_registry_request_duration_seconds",
		"moldau_schema_registry_registered_schemas", "moldau_schema_registry_subjects", "moldau_schema_registry_schemas_by_type",
		"moldau_schema_registry_compatibility_checks_total"} {
		if !seen[n] {
			t.Errorf("metric %s missing", n)
		}
	}
	// A second registry on the same Registerer (a restart) reuses the collectors.
	newRegistry(t, newMemLog(), withRegisterer(reg))
	r := newRegistryMetricsProbe(t, reg)
	if r["requests_total{method=GET,path=/subjects/{subject}/versions,status=404}"] != 1 {
		t.Errorf("404 not counted: %v", r)
	}
	if r["compatibility_checks_total{result=incompatible}"] != 1 {
		t.Errorf("incompatible check not counted: %v", r)
	}
	if r["registered_schemas{}"] != 1 {
		t.Errorf("registered_schemas: %v", r)
	}
}

// newRegistryMetricsProbe flattens the registry's metrics.
func newRegistryMetricsProbe(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, _ := reg.Gather()
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			name := strings.TrimPrefix(mf.GetName(), "moldau_schema_registry_") + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

func BenchmarkSubjectHasID(b *testing.B) {
	l := newMemLog()
	r, err := New(Config{Log: l, Formats: map[string]schema.Format{schema.Avro: toyFormat{schema.Avro}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	mustCallB(b, r.Handler(), "POST", "/subjects/s/versions", registerBody(`"int"`))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, err := r.SubjectHasID(ctx, "s", 1); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func mustCallB(b *testing.B, h http.Handler, method, path, body string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
}

func BenchmarkRegister(b *testing.B) {
	r, err := New(Config{Log: newMemLog(), Formats: map[string]schema.Format{schema.Avro: toyFormat{schema.Avro}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	h := r.Handler()
	mustCallB(b, h, "PUT", "/config", `{"compatibility":"NONE"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := fmt.Sprintf(`{"type":"record","name":"r","fields":[{"name":"f%d","type":"int"}]}`, i)
		mustCallB(b, h, "POST", fmt.Sprintf("/subjects/s%d/versions", i%100), registerBody(s))
	}
}
