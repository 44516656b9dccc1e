package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// runSchema runs `moldau schema ARGS... --registry URL` in process.
func runSchema(t *testing.T, url, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = runCLI("schema", append(args, "--registry", url), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// request is what the recording registry saw.
type request struct {
	Method, Path, Query, ContentType string
	Body                             map[string]any
}

// recordingRegistry answers every request with the canned reply for its
// "METHOD PATH" (404 40401 when there is none) and records it.
type recordingRegistry struct {
	mu      sync.Mutex
	seen    []request
	replies map[string]reply
}

type reply struct {
	status int
	body   string
}

func (r *recordingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	rec := request{Method: req.Method, Path: req.URL.EscapedPath(), Query: req.URL.RawQuery, ContentType: req.Header.Get("Content-Type")}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &rec.Body)
	}
	r.mu.Lock()
	r.seen = append(r.seen, rec)
	rep, ok := r.replies[req.Method+" "+rec.Path]
	r.mu.Unlock()
	if !ok {
		rep = reply{404, `{"error_code":40401,"message":"Subject 'x' not found."}`}
	}
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (r *recordingRegistry) take() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

// TestSchemaCLIRequests: each verb sends Confluent's method, path, query
// and body, and prints the answer; a registry error exits 1 with its
// error_code and message.
func TestSchemaCLIRequests(t *testing.T) {
	reg := &recordingRegistry{replies: map[string]reply{
		"POST /subjects/orders-value/versions":                      {200, `{"id":7}`},
		"POST /subjects/orders-value":                               {200, `{"subject":"orders-value","id":7,"version":3,"schema":"x"}`},
		"POST /compatibility/subjects/orders-value/versions/2":      {200, `{"is_compatible":false,"messages":["READER_FIELD_MISSING_DEFAULT_VALUE age"]}`},
		"POST /compatibility/subjects/orders-value/versions/latest": {200, `{"is_compatible":true}`},
		"PUT /config/orders-value":                                  {200, `{"compatibility":"FULL"}`},
		"GET /config":                                               {200, `{"compatibilityLevel":"BACKWARD"}`},
		"PUT /mode":                                                 {200, `{"mode":"IMPORT"}`},
		"DELETE /subjects/a%2Fb":                                    {404, `{"error_code":40404,"message":"Subject 'a/b' was soft deleted."}`},
		"GET /subjects/orders-value/versions/latest":                {404, `{"error_code":40401,"message":"Subject 'orders-value' not found."}`},
	}}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	dir := t.TempDir()
	proto := filepath.Join(dir, "order.proto")
	if err := os.WriteFile(proto, []byte(`syntax = "proto3"; import "customer.proto"; message Order { Customer c = 1; }`), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runSchema(t, srv.URL, "", "register", "orders-value", "--file", proto, "--ref", "customer.proto=customer-value:2", "--normalize")
	if code != 0 || out != "registered orders-value version 3, schema id 7\n" {
		t.Fatalf("register: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	seen := reg.take()
	if len(seen) != 2 || seen[0].Method != "POST" || seen[0].Path != "/subjects/orders-value/versions" || seen[0].Query != "normalize=true" ||
		seen[0].ContentType != "application/vnd.schemaregistry.v1+json" {
		t.Fatalf("register sent %+v", seen)
	}
	body, _ := json.Marshal(seen[0].Body)
	want := `{"references":[{"name":"customer.proto","subject":"customer-value","version":2}],"schema":"syntax = \"proto3\"; import \"customer.proto\"; message Order { Customer c = 1; }","schemaType":"PROTOBUF"}`
	if string(body) != want {
		t.Fatalf("register body %s\nwant %s", body, want)
	}

	// An Avro schema from stdin: no schemaType (Confluent's default).
	code, out, _ = runSchema(t, srv.URL, `{"type":"string"}`, "check", "orders-value", "--file", "-")
	if seen := reg.take(); code != 0 || out != "compatible with orders-value version latest\n" || seen[0].Query != "verbose=true" || seen[0].Body["schemaType"] != nil {
		t.Fatalf("check: exit %d, stdout %q, sent %+v", code, out, seen)
	}
	code, out, errOut = runSchema(t, srv.URL, `{"type":"string"}`, "check", "orders-value", "2", "--file", "-", "--type", "avro")
	if code != 1 || !strings.Contains(out, "NOT compatible with orders-value version 2\n  READER_FIELD_MISSING_DEFAULT_VALUE age\n") || !strings.Contains(errOut, "not compatible") {
		t.Fatalf("incompatible check: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	reg.take()

	code, out, _ = runSchema(t, srv.URL, "", "config", "orders-value", "--set", "full")
	if seen := reg.take(); code != 0 || out != "orders-value compatibility set to FULL\n" || seen[0].Method != "PUT" || seen[0].Body["compatibility"] != "FULL" {
		t.Fatalf("config --set: exit %d, stdout %q, sent %+v", code, out, seen)
	}
	// No subject-level level: the global one, said so.
	code, out, _ = runSchema(t, srv.URL, "", "config", "other-value")
	if seen := reg.take(); code != 0 || out != "BACKWARD (global; other-value has no compatibility of its own)\n" || len(seen) != 2 {
		t.Fatalf("config SUBJECT: exit %d, stdout %q, sent %+v", code, out, seen)
	}
	code, out, _ = runSchema(t, srv.URL, "", "mode", "--set", "IMPORT", "--force")
	if seen := reg.take(); code != 0 || out != "global mode set to IMPORT\n" || seen[0].Path != "/mode" || seen[0].Query != "force=true" || seen[0].Body["mode"] != "IMPORT" {
		t.Fatalf("mode --set: exit %d, stdout %q, sent %+v", code, out, seen)
	}

	// --permanent on a subject already soft-deleted goes on to the
	// permanent delete; the subject name is escaped.
	runSchema(t, srv.URL, "", "delete", "a/b", "--permanent")
	if seen := reg.take(); len(seen) != 2 || seen[0].Path != "/subjects/a%2Fb" || seen[1].Query != "permanent=true" {
		t.Fatalf("delete --permanent sent %+v", seen)
	}

	code, out, errOut = runSchema(t, srv.URL, "", "get", "orders-value")
	if code != 1 || out != "" || errOut != "moldau schema: error_code 40401: Subject 'orders-value' not found. (HTTP 404)\n" {
		t.Fatalf("get of a missing subject: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	reg.take()

	for _, bad := range [][]string{
		{"register", "orders-value"}, // no --file
		{"register", "orders-value", "--file", proto, "--type", "xml"},
		{"register", "orders-value", "--file", proto, "--ref", "customer.proto"},
		{"get"},
		{"get", "a", "1", "extra"},
		{"id", "seven"},
		{"bogus"},
	} {
		if code, _, errOut := runSchema(t, srv.URL, "", bad...); code != 2 || !strings.Contains(errOut, "moldau help schema") {
			t.Errorf("schema %q: exit %d, stderr %q; want a usage error", bad, code, errOut)
		}
	}
	if seen := reg.take(); len(seen) != 0 {
		t.Errorf("usage errors sent requests: %+v", seen)
	}
}

// TestSchemaCLIAgainstFake drives every verb against franz-go's fake
// Confluent registry (srfake).
func TestSchemaCLIAgainstFake(t *testing.T) {
	reg := srfake.New(srfake.WithGlobalCompat(sr.CompatBackward))
	defer reg.Close()
	dir := t.TempDir()
	v1 := filepath.Join(dir, "user.avsc")
	if err := os.WriteFile(v1, []byte(`{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runSchema(t, reg.URL(), "", args...)
		if code != 0 {
			t.Fatalf("schema %q: exit %d, stderr %q", args, code, errOut)
		}
		return out
	}
	if out := run("register", "users-value", "--file", v1); out != "registered users-value version 1, schema id 1\n" {
		t.Fatalf("register printed %q", out)
	}
	if out := run("subjects"); out != "users-value\n" {
		t.Fatalf("subjects printed %q", out)
	}
	out := run("get", "users-value")
	for _, want := range []string{"subject    users-value\n", "version    1 (of 1)\n", "id         1\n", "type       AVRO\n", `"name": "User"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("get printed %q, missing %q", out, want)
		}
	}
	if out := run("get", "users-value", "1", "--json"); !strings.Contains(out, `"version": 1`) {
		t.Fatalf("get --json printed %q", out)
	}
	if out := run("id", "1"); !strings.Contains(out, "used by    users-value:1\n") {
		t.Fatalf("id printed %q", out)
	}
	if out := run("config"); out != "BACKWARD\n" {
		t.Fatalf("config printed %q", out)
	}
	if out := run("config", "users-value", "--set", "NONE"); out != "users-value compatibility set to NONE\n" {
		t.Fatalf("config --set printed %q", out)
	}
	if out := run("config", "users-value"); out != "NONE\n" {
		t.Fatalf("config SUBJECT printed %q", out)
	}
	if out := run("mode"); out != "READWRITE\n" {
		t.Fatalf("mode printed %q", out)
	}
	if out := run("check", "users-value", "--file", v1); !strings.HasPrefix(out, "compatible") {
		t.Fatalf("check printed %q", out)
	}
	if out := run("delete", "users-value"); out != "soft-deleted users-value versions 1\n" {
		t.Fatalf("delete printed %q", out)
	}
	if out := run("subjects", "--deleted"); out != "users-value\n" {
		t.Fatalf("subjects --deleted printed %q", out)
	}
	if out := run("delete", "users-value", "--permanent"); out != "permanently deleted users-value versions 1\n" {
		t.Fatalf("delete --permanent printed %q", out)
	}
	if out := run("subjects", "--deleted"); out != "" {
		t.Fatalf("subjects after the permanent delete printed %q", out)
	}
}
