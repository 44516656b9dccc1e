package schemareg

// Golden API tests: each testdata/golden/*.json file is a sequence of
// requests against a fresh registry with the status and body Confluent
// answers (from its API reference and its source: rest/resources,
// rest/exceptions). They run with the test-only toy format
// (helpers_test.go) unless the file names other format sets ("formats":
// ["toy", "avro"], as the modes files name them).

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type goldenFile struct {
	Description string       `json:"description"`
	Source      string       `json:"source"`
	Formats     []string     `json:"formats,omitempty"` // default ["toy"]
	Steps       []goldenStep `json:"steps"`
}

type goldenStep struct {
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	Body        json.RawMessage `json:"body,omitempty"`        // a JSON body
	RawBody     *string         `json:"rawBody,omitempty"`     // a body sent as is
	ContentType string          `json:"contentType,omitempty"` // default application/vnd.schemaregistry.v1+json
	Accept      string          `json:"accept,omitempty"`      // the request's Accept header
	Status      int             `json:"status"`
	// Response is compared byte for byte with the body once compacted
	// (field order included, as Jackson writes it); RawResponse as text.
	// Every step has one of them.
	Response            json.RawMessage `json:"response,omitempty"`
	RawResponse         *string         `json:"rawResponse,omitempty"`
	ResponseContentType string          `json:"responseContentType,omitempty"` // default application/vnd.schemaregistry.v1+json
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var g goldenFile
			d := json.NewDecoder(bytes.NewReader(b))
			d.DisallowUnknownFields()
			if err := d.Decode(&g); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(g.Steps) == 0 {
				t.Fatalf("%s has no steps", file)
			}
			if len(g.Formats) == 0 {
				g.Formats = []string{"toy"}
			}
			for _, name := range g.Formats {
				formats, ok := modeFormats(name)
				if !ok {
					t.Fatalf("%s: no format set %q", file, name)
				}
				t.Run(name, func(t *testing.T) {
					runGolden(t, g, newRegistry(t, newMemLog(), withFormats(formats...)).Handler())
				})
			}
		})
	}
}

func runGolden(t *testing.T, g goldenFile, h http.Handler) {
	for i, s := range g.Steps {
		var body string
		switch {
		case s.RawBody != nil:
			body = *s.RawBody
		case len(s.Body) > 0:
			body = string(s.Body)
		}
		req := httptest.NewRequest(s.Method, s.Path, strings.NewReader(body))
		if s.Accept != "" {
			req.Header.Set("Accept", s.Accept)
		}
		if body != "" {
			ct := s.ContentType
			if ct == "" {
				ct = "application/vnd.schemaregistry.v1+json"
			}
			req.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		got := w.Body.String()
		where := s.Method + " " + s.Path + " (step " + strconv.Itoa(i+1) + ")"
		if w.Code != s.Status {
			t.Fatalf("%s: status %d, want %d; body %s", where, w.Code, s.Status, got)
		}
		wantCT := s.ResponseContentType
		if wantCT == "" {
			wantCT = contentType
		}
		if ct := w.Header().Get("Content-Type"); ct != wantCT {
			t.Errorf("%s: content type %q, want %q", where, ct, wantCT)
		}
		switch {
		case s.RawResponse != nil:
			if got != *s.RawResponse {
				t.Fatalf("%s: body %q, want %q", where, got, *s.RawResponse)
			}
		case len(s.Response) > 0:
			var want bytes.Buffer
			if err := json.Compact(&want, s.Response); err != nil {
				t.Fatalf("%s: golden response: %v", where, err)
			}
			if got != want.String() {
				t.Fatalf("%s:\n got  %s\n want %s", where, got, want.String())
			}
		default:
			t.Fatalf("%s: the golden step has no response to compare", where)
		}
	}
}
