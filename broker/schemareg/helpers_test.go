package schemareg

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memLog is an in-memory schemas partition (a test fixture).
type memLog struct {
	mu      sync.Mutex
	recs    []Record
	next    int64 // the next offset (compaction leaves gaps)
	changed chan struct{}
	// beforeAppend, if set, runs (without mu) before each Append.
	beforeAppend func(key []byte)
}

func newMemLog() *memLog { return &memLog{changed: make(chan struct{})} }

func (l *memLog) Append(ctx context.Context, key, value []byte) (int64, error) {
	if l.beforeAppend != nil {
		l.beforeAppend(key)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	off := l.next
	l.next++
	l.recs = append(l.recs, Record{Offset: off, Key: bytes.Clone(key), Value: bytes.Clone(value)})
	close(l.changed)
	l.changed = make(chan struct{})
	return off, nil
}

func (l *memLog) Read(ctx context.Context, from int64, maxBytes int) ([]Record, error) {
	for {
		l.mu.Lock()
		var out []Record
		size := 0
		for _, r := range l.recs {
			if r.Offset < from {
				continue
			}
			if len(out) > 0 && size+len(r.Key)+len(r.Value) > maxBytes {
				break
			}
			out = append(out, r)
			size += len(r.Key) + len(r.Value)
		}
		ch := l.changed
		l.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *memLog) End(ctx context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next, nil
}

// put appends a raw record (as another writer, e.g. Confluent, would).
func (l *memLog) put(t *testing.T, key, value string) {
	t.Helper()
	var v []byte
	if value != "" {
		v = []byte(value)
	}
	if _, err := l.Append(context.Background(), []byte(key), v); err != nil {
		t.Fatal(err)
	}
}

func (l *memLog) snapshot() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.recs...)
}

// compact keeps the last record of each key and drops tombstones, as
// log compaction eventually does.
func (l *memLog) compact() {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := map[string]int64{}
	for _, r := range l.recs {
		last[string(r.Key)] = r.Offset
	}
	var out []Record
	for _, r := range l.recs {
		if last[string(r.Key)] == r.Offset && r.Value != nil {
			out = append(out, r)
		}
	}
	l.recs = out
}

type regOpt func(*Config)

func withNode(id int32) regOpt { return func(c *Config) { c.NodeID = id } }
func withFormats(f ...schema.Format) regOpt {
	return func(c *Config) {
		c.Formats = map[string]schema.Format{}
		for _, x := range f {
			c.Formats[x.Type()] = x
		}
	}
}
func withRegisterer(r prometheus.Registerer) regOpt { return func(c *Config) { c.Registerer = r } }

// newRegistry starts a registry over l with the toy formats.
func newRegistry(t *testing.T, l Log, opts ...regOpt) *Registry {
	t.Helper()
	cfg := Config{Log: l, NodeID: 1, Formats: map[string]schema.Format{schema.Avro: toyFormat{schema.Avro}, schema.JSON: toyFormat{schema.JSON}}}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// call sends one request to h and returns status and body.
func call(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, strings.TrimSpace(w.Body.String())
}

// mustCall is call expecting status.
func mustCall(t *testing.T, h http.Handler, method, path, body string, status int) string {
	t.Helper()
	got, out := call(t, h, method, path, body)
	if got != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, status, out)
	}
	return out
}

func registerBody(s string) string {
	b, _ := json.Marshal(map[string]string{"schema": s})
	return string(b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// ---- toyFormat: a test-only schema format ----
//
// Its schemas are a small subset of Avro so that Confluent's documented
// examples read the same: a primitive ("string", {"type":"int"}) or a
// record {"type":"record","name":N,"fields":[{"name":F,"type":T,"default":D}]}.
// Canonical: primitives as "int", records re-serialized compactly.
// CanRead: Avro's rules restricted to that subset. A schema text "bad..."
// or unparsable JSON is invalid. A reference's name makes a named type
// usable as a field type.
type toyFormat struct{ typ string }

func (f toyFormat) Type() string { return f.typ }

type toyField struct {
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Default json.RawMessage `json:"default,omitempty"`
}

type toySchema struct {
	Type   string     `json:"type"`
	Name   string     `json:"name,omitempty"`
	Fields []toyField `json:"fields,omitempty"`
}

type toyParsed struct {
	s     toySchema
	named map[string]bool
}

var toyPrimitives = map[string]bool{"null": true, "boolean": true, "int": true, "long": true, "float": true, "double": true, "bytes": true, "string": true}

func (f toyFormat) Parse(text string, refs []schema.Resolved) (schema.Parsed, error) {
	named := map[string]bool{}
	for _, r := range refs {
		named[r.Name] = true
	}
	var s toySchema
	var prim string
	if err := json.Unmarshal([]byte(text), &prim); err == nil {
		s.Type = prim
	} else if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, fmt.Errorf("%w: %v", schema.ErrInvalid, err)
	}
	switch {
	case toyPrimitives[s.Type]:
		if s.Name != "" || s.Fields != nil {
			return nil, fmt.Errorf("%w: a primitive has no name or fields", schema.ErrInvalid)
		}
	case s.Type == "record":
		if s.Name == "" {
			return nil, fmt.Errorf("%w: No name in schema: %s", schema.ErrInvalid, text)
		}
		for _, fl := range s.Fields {
			if !toyPrimitives[fl.Type] && !named[fl.Type] {
				return nil, fmt.Errorf("%w: \"%s\" is not a defined name. The type of the \"%s\" field must be a defined name or a {\"type\": ...} expression.", schema.ErrInvalid, fl.Type, fl.Name)
			}
		}
	default:
		return nil, fmt.Errorf("%w: Undefined name: \"%s\"", schema.ErrInvalid, s.Type)
	}
	return toyParsed{s: s, named: named}, nil
}

func (p toyParsed) Canonical() string {
	if p.s.Type != "record" {
		return `"` + p.s.Type + `"`
	}
	b, _ := json.Marshal(p.s)
	return string(b)
}

func (p toyParsed) Normalized() string {
	if p.s.Type != "record" {
		return p.Canonical()
	}
	s := p.s
	s.Fields = append([]toyField(nil), s.Fields...)
	sort.Slice(s.Fields, func(i, j int) bool { return s.Fields[i].Name < s.Fields[j].Name })
	b, _ := json.Marshal(s)
	return string(b)
}

func (p toyParsed) CanRead(writer schema.Parsed) []string {
	w := writer.(toyParsed)
	if p.s.Type != w.s.Type {
		return []string{fmt.Sprintf("{errorType:'TYPE_MISMATCH', description:'The type (path '/') of a field in the new schema does not match with the old schema', additionalInfo:'reader type: %s not compatible with writer type: %s'}", strings.ToUpper(p.s.Type), strings.ToUpper(w.s.Type))}
	}
	var msgs []string
	for i, rf := range p.s.Fields {
		found := false
		for _, wf := range w.s.Fields {
			if wf.Name == rf.Name {
				found = true
				if wf.Type != rf.Type {
					msgs = append(msgs, fmt.Sprintf("{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/%d/type') of a field in the new schema does not match with the old schema', additionalInfo:'reader type: %s not compatible with writer type: %s'}", i, strings.ToUpper(rf.Type), strings.ToUpper(wf.Type)))
				}
			}
		}
		if !found && rf.Default == nil {
			msgs = append(msgs, fmt.Sprintf("{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field '%s' at path '/fields/%d' in the new schema has no default value and is missing in the old schema', additionalInfo:'%s'}", rf.Name, i, rf.Name))
		}
	}
	return msgs
}

// idOf is the id of a registration's answer (0 if none).
func idOf(body string) int {
	var v struct {
		ID int `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &v)
	return v.ID
}

// Formatted renders "upper" as the canonical form upper-cased (to test
// the registry's ?format= plumbing); other formats are the canonical form.
func (p toyParsed) Formatted(format string) string {
	if format == "upper" {
		return strings.ToUpper(p.Canonical())
	}
	return p.Canonical()
}
