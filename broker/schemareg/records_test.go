package schemareg

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Moldau's writes on top of a topic written by Confluent keep the fields
// Moldau does not interpret, and undecodable or clashing records are
// counted as ignored.
func TestWritesOverConfluentRecords(t *testing.T) {
	l := newMemLog()
	l.put(t, `{"keytype":"NOOP","magic":0}`, ``)
	l.put(t, `{"keytype":"CONFIG","subject":null,"magic":0}`, `{"compatibilityLevel":"FULL"}`)
	l.put(t, `{"keytype":"SCHEMA","subject":"test","version":1,"magic":1}`, `{"subject":"test","version":1,"id":1,"schema":"\"string\"","deleted":false}`)
	l.put(t, `{"keytype":"SCHEMA","subject":"test","version":2,"magic":1}`, `{"subject":"test","version":2,"id":2,"schemaType":"JSON","schema":"{\"type\":\"record\",\"name\":\"r\"}","deleted":false,"metadata":{"properties":{"owner":"bob"}},"md5":"abc"}`)
	l.put(t, `{"keytype":"SCHEMA","subject":"gone","version":1,"magic":1}`, `{"subject":"gone","version":1,"id":3,"schema":"\"int\"","deleted":false}`)
	l.put(t, `{"keytype":"DELETE_SUBJECT","subject":"gone","magic":0}`, `{"subject":"gone","version":1}`)
	l.put(t, `{"keytype":"SCHEMA","subject":"gone","version":1,"magic":1}`, ``)
	l.put(t, `{"keytype":"MODE","subject":"ro","magic":0}`, `{"subject":"ro","mode":"READONLY"}`)
	l.put(t, `{"keytype":"CONFIG","subject":"test","magic":0}`, `{"subject":"test","compatibilityLevel":"NONE","alias":"x"}`)
	l.put(t, `{"keytype":"CONTEXT","tenant":"default","context":".ctx","magic":0}`, `{"tenant":"default","context":".ctx"}`)
	l.put(t, `not json`, `{}`)
	// A schema record reusing id 1 for another schema is rejected, as Confluent does.
	l.put(t, `{"keytype":"SCHEMA","subject":"dup","version":1,"magic":1}`, `{"subject":"dup","version":1,"id":1,"schema":"\"bytes\"","deleted":false}`)
	r := newRegistry(t, l)
	h := r.Handler()
	// (What a registry reads from these records: testdata/records/confluent.txt.)
	// A soft delete rewrites the value with deleted=true and keeps metadata and md5.
	mustCall(t, h, "DELETE", "/subjects/test/versions/2", "", 200)
	recs := l.snapshot()
	last := recs[len(recs)-1]
	var v map[string]any
	if err := json.Unmarshal(last.Value, &v); err != nil {
		t.Fatal(err)
	}
	if v["deleted"] != true || v["md5"] != "abc" || v["metadata"] == nil || v["schemaType"] != "JSON" || v["id"] != float64(2) {
		t.Fatalf("soft delete value %s", last.Value)
	}
	if !strings.HasPrefix(string(last.Key), `{"keytype":"SCHEMA","subject":"test","version":2,"magic":1,"seq":`) {
		t.Fatalf("soft delete key %s", last.Key)
	}
	r.mu.RLock()
	ignored := r.st.ignored
	r.mu.RUnlock()
	if ignored != 2 {
		t.Fatalf("ignored %d records, want 2 (undecodable key, duplicate id)", ignored)
	}
}

// A permanent delete tombstones every key its (subject, version) was
// written under, so that nothing of it survives compaction, not even a
// record that lost a race (which a reader ignoring seq would apply).
func TestPermanentDeleteLeavesNothingAfterCompaction(t *testing.T) {
	l := newMemLog()
	b := newRegistry(t, l, withNode(2))
	intercept := &interceptLog{Log: l}
	a := newRegistry(t, intercept, withNode(1))
	mustCall(t, b.Handler(), "PUT", "/config", `{"compatibility":"NONE"}`, 200)
	intercept.before = func() {
		intercept.before = nil
		mustCall(t, b.Handler(), "POST", "/subjects/s/versions", registerBody(`"int"`), 200)
	}
	// a's first record (s, v1) loses to b's; a retries as v2.
	mustCall(t, a.Handler(), "POST", "/subjects/s/versions", registerBody(`"string"`), 200)
	if got := counterValue(a.metrics.writeConflicts); got != 1 {
		t.Fatalf("write conflicts %v, want 1", got)
	}
	h := a.Handler()
	mustCall(t, h, "PUT", "/config/s", `{"compatibility":"NONE"}`, 200)
	mustCall(t, h, "PUT", "/mode/s", `{"mode":"READWRITE"}`, 200)
	mustCall(t, h, "DELETE", "/subjects/s/versions/1", "", 200)
	mustCall(t, h, "DELETE", "/subjects/s", "", 200)
	mustCall(t, h, "DELETE", "/subjects/s?permanent=true", "", 200)
	// Compaction removes tombstones only after delete.retention.ms, by
	// which time both instances have read them.
	for _, reg := range []*Registry{a, b} {
		if err := reg.catchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	l.compact()
	recs := l.snapshot()
	for _, r := range recs {
		if strings.Contains(string(r.Key), `"subject":"s"`) {
			t.Errorf("survives compaction: %d %s = %s", r.Offset, r.Key, r.Value)
		}
	}
	if len(recs) != 1 { // the global config
		t.Fatalf("%d records survive compaction, want 1", len(recs))
	}
	for _, reg := range []*Registry{a, b} {
		if got := mustCall(t, reg.Handler(), "GET", "/subjects?deleted=true", "", 200); got != `[]` {
			t.Fatalf("subjects %s", got)
		}
	}
}

func TestSubjectHasID(t *testing.T) {
	r := newRegistry(t, newMemLog())
	h := r.Handler()
	mustCall(t, h, "POST", "/subjects/s/versions", registerBody(`"int"`), 200)
	ctx := context.Background()
	for _, c := range []struct {
		subject string
		id      int32
		want    bool
	}{{"s", 1, true}, {"s", 2, false}, {"t", 1, false}} {
		got, err := r.SubjectHasID(ctx, c.subject, c.id)
		if err != nil || got != c.want {
			t.Fatalf("SubjectHasID(%s, %d) = %v, %v", c.subject, c.id, got, err)
		}
	}
	mustCall(t, h, "DELETE", "/subjects/s", "", 200)
	if got, err := r.SubjectHasID(ctx, "s", 1); err != nil || got {
		t.Fatalf("after delete: %v %v", got, err)
	}
}

// Subject names with characters that need escaping; the default
// context's qualified names are the plain ones.
func TestSubjectNames(t *testing.T) {
	h := newRegistry(t, newMemLog()).Handler()
	mustCall(t, h, "POST", "/subjects/a%2Fb%20c/versions", registerBody(`"int"`), 200)
	if got := mustCall(t, h, "GET", "/subjects", "", 200); got != `["a/b c"]` {
		t.Fatalf("subjects %s", got)
	}
	mustCall(t, h, "GET", "/subjects/a%2Fb%20c/versions/1", "", 200)
	mustCall(t, h, "GET", "/subjects/:.:a%2Fb%20c/versions/1", "", 200)
}

func TestBodyLimit(t *testing.T) {
	h := newRegistry(t, newMemLog()).Handler()
	big := `{"schema":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	code, body := call(t, h, "POST", "/subjects/s/versions", big)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"error_code":413`) {
		t.Fatalf("oversized body: %d %.200s", code, body)
	}
}

// unavailableLog fails every operation, as a broker without a leader for
// the schemas topic does.
type unavailableLog struct{}

func (unavailableLog) Append(context.Context, []byte, []byte) (int64, error) {
	return 0, ErrLogUnavailable
}
func (unavailableLog) Read(ctx context.Context, _ int64, _ int) ([]Record, error) {
	return nil, ErrLogUnavailable
}
func (unavailableLog) End(context.Context) (int64, error) { return 0, ErrLogUnavailable }

func TestUnavailableAndClosed(t *testing.T) {
	r := newRegistry(t, unavailableLog{})
	code, body := call(t, r.Handler(), "GET", "/subjects", "")
	if code != 500 || !strings.Contains(body, `"error_code":50003`) {
		t.Fatalf("unavailable: %d %s", code, body)
	}
	if _, err := r.SubjectHasID(context.Background(), "s", 1); !errors.Is(err, ErrLogUnavailable) {
		t.Fatalf("SubjectHasID: %v", err)
	}
	l := newMemLog()
	r2 := newRegistry(t, l)
	mustCall(t, r2.Handler(), "GET", "/subjects", "", 200)
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	code, body = call(t, r2.Handler(), "GET", "/subjects", "")
	if code != 503 {
		t.Fatalf("after Close: %d %s", code, body)
	}
}

// A write waits for its own record (read-your-writes) and a reader on
// another instance catches up with what was committed when it asked.
func TestReadYourWritesAcrossInstances(t *testing.T) {
	l := newMemLog()
	a, b := newRegistry(t, l, withNode(1)), newRegistry(t, l, withNode(2))
	for i := 0; i < 20; i++ {
		mustCall(t, a.Handler(), "PUT", "/config/s", `{"compatibility":"FULL"}`, 200)
		if got := mustCall(t, a.Handler(), "GET", "/config/s", "", 200); got != `{"compatibilityLevel":"FULL"}` {
			t.Fatalf("a reads %s", got)
		}
		mustCall(t, a.Handler(), "DELETE", "/config/s", "", 200)
		mustCall(t, a.Handler(), "GET", "/config/s", "", 404)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	mustCall(t, b.Handler(), "GET", "/config/s", "", 404)
}

// A permanent delete and a registration referencing the deleted version,
// on two instances at the same moment: whichever order the records land
// in, no registered schema is left referencing a deleted version.
func TestPermanentDeleteRacesReference(t *testing.T) {
	const addr = `{"type":"record","name":"Address","fields":[{"name":"street","type":"string"}]}`
	customer := `{"schema":"{\"type\":\"record\",\"name\":\"Customer\",\"fields\":[{\"name\":\"a\",\"type\":\"Address\"}]}","references":[{"name":"Address","subject":"addr","version":1}]}`
	setup := func(t *testing.T) (*memLog, *Registry, *Registry, *interceptLog, *interceptLog) {
		l := newMemLog()
		ia, ib := &interceptLog{Log: l}, &interceptLog{Log: l}
		a, b := newRegistry(t, ia, withNode(1)), newRegistry(t, ib, withNode(2))
		mustCall(t, a.Handler(), "POST", "/subjects/addr/versions", registerBody(addr), 200)
		mustCall(t, a.Handler(), "DELETE", "/subjects/addr/versions/1", "", 200)
		return l, a, b, ia, ib
	}
	t.Run("registration lands first", func(t *testing.T) {
		_, a, b, ia, _ := setup(t)
		ia.before = func() {
			ia.before = nil
			mustCall(t, b.Handler(), "POST", "/subjects/customer/versions", customer, 200)
		}
		// a's fence loses; its retry sees the reference.
		code, body := call(t, a.Handler(), "DELETE", "/subjects/addr/versions/1?permanent=true", "")
		if code != 422 || !strings.Contains(body, "42206") {
			t.Fatalf("delete: %d %s", code, body)
		}
		mustCall(t, a.Handler(), "GET", "/subjects/addr/versions/1?deleted=true", "", 200)
	})
	t.Run("delete lands first", func(t *testing.T) {
		_, a, b, _, ib := setup(t)
		ib.before = func() {
			ib.before = nil
			mustCall(t, a.Handler(), "DELETE", "/subjects/addr/versions/1?permanent=true", "", 200)
		}
		// b's registration loses to the fence; its retry finds no reference.
		code, body := call(t, b.Handler(), "POST", "/subjects/customer/versions", customer)
		if code != 422 || !strings.Contains(body, "No schema reference found") {
			t.Fatalf("register: %d %s", code, body)
		}
		for _, r := range []*Registry{a, b} {
			if got := mustCall(t, r.Handler(), "GET", "/subjects?deleted=true", "", 200); got != `[]` {
				t.Fatalf("subjects: %s", got)
			}
		}
	})
}

// When compaction has removed the last records of the topic, a new
// instance still catches up: it writes Confluent's NOOP and waits for it.
func TestCatchUpOverCompactedEnd(t *testing.T) {
	l := newMemLog()
	a := newRegistry(t, l)
	mustCall(t, a.Handler(), "POST", "/subjects/s/versions", registerBody(`"int"`), 200)
	mustCall(t, a.Handler(), "POST", "/subjects/u/versions", registerBody(`"long"`), 200)
	mustCall(t, a.Handler(), "DELETE", "/subjects/u", "", 200)
	mustCall(t, a.Handler(), "DELETE", "/subjects/u?permanent=true", "", 200)
	l.compact()
	recs := l.snapshot()
	end, _ := l.End(context.Background())
	if last := recs[len(recs)-1].Offset; last >= end-1 {
		t.Fatalf("no gap at the end: last record %d, end %d", last, end)
	}
	b := newRegistry(t, l)
	if got := mustCall(t, b.Handler(), "GET", "/subjects?deleted=true", "", 200); got != `["s"]` {
		t.Fatalf("subjects %s", got)
	}
	recs = l.snapshot()
	if last := recs[len(recs)-1]; string(last.Key) != `{"keytype":"NOOP","magic":0}` || last.Value != nil || last.Offset != end {
		t.Fatalf("last record %d %s = %q, want a NOOP tombstone at %d", last.Offset, last.Key, last.Value, end)
	}
}

func TestSubjectWithEncodedSlashes(t *testing.T) {
	h := newRegistry(t, newMemLog()).Handler()
	mustCall(t, h, "POST", "/subjects/a%2F%2F/versions", registerBody(`"int"`), 200)
	if got := mustCall(t, h, "GET", "/subjects/", "", 200); got != `["a//"]` {
		t.Fatalf("subjects %s", got)
	}
	mustCall(t, h, "GET", "//subjects/a%2F%2F/versions/1/", "", 200)
}
