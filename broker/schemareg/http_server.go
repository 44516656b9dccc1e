package schemareg

// The HTTP API's plumbing: routing (Go's ServeMux patterns, whose
// templates also label the metrics), content types, bounded bodies and
// Confluent's error bodies.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// contentType is what an answer carries unless the request's Accept
// prefers another of responseTypes (Confluent's default).
const contentType = "application/vnd.schemaregistry.v1+json"

// responseTypes are the types Confluent's resources produce, with their
// server-side qualities (Versions.java: v1 1.0, vnd.schemaregistry+json
// 0.9, application/json 0.5).
var responseTypes = []struct {
	name string
	qs   float64
}{
	{"application/vnd.schemaregistry.v1+json", 1},
	{"application/vnd.schemaregistry+json", 0.9},
	{"application/json", 0.5},
}

// negotiate picks the response type for an Accept header as Jersey does:
// the highest client quality first, then the highest server quality (the
// most specific matching range gives a type its client quality). ok is
// false when Accept admits none of them (Jersey's 406).
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return contentType, true
	}
	best, bestQ, bestQS := "", 0.0, 0.0
	for _, t := range responseTypes {
		q, specificity := -1.0, -1
		for _, part := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			spec := -1
			switch {
			case mt == t.name:
				spec = 2
			case mt == "application/*":
				spec = 1
			case mt == "*/*" || mt == "*":
				spec = 0
			}
			if spec < specificity || spec < 0 {
				continue
			}
			pq := 1.0
			if v, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					pq = f
				}
			}
			q, specificity = pq, spec
		}
		if q <= 0 {
			continue
		}
		if q > bestQ || (q == bestQ && t.qs > bestQS) {
			best, bestQ, bestQS = t.name, q, t.qs
		}
	}
	return best, best != ""
}

// maxBodyBytes bounds a request body.
const maxBodyBytes = 16 << 20

// requestTimeout bounds one request's waits on the schemas topic.
const requestTimeout = 30 * time.Second

// acceptedBodyTypes are the request content types Confluent accepts.
var acceptedBodyTypes = map[string]bool{
	"application/vnd.schemaregistry.v1+json": true,
	"application/vnd.schemaregistry+json":    true,
	"application/json":                       true,
	"application/octet-stream":               true,
}

// handlerFunc answers a request with a value to encode as JSON (status
// 200), a rawBody, or an error (*apiError or an internal one).
type handlerFunc func(w http.ResponseWriter, req *http.Request) (any, error)

// rawBody is answered as is (the /schema paths).
type rawBody string

func (r *Registry) newRouter() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h handlerFunc, write bool) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(pattern, r.serve(method, path, h, write))
	}
	// Root and metadata.
	route("GET /{$}", func(http.ResponseWriter, *http.Request) (any, error) { return struct{}{}, nil }, false)
	route("GET /v1/metadata/id", r.handleMetadataID, false)
	route("GET /contexts", func(http.ResponseWriter, *http.Request) (any, error) { return []string{"."}, nil }, false)
	// Subjects.
	route("GET /subjects", r.handleListSubjects, false)
	route("POST /subjects/{subject}", r.handleLookup, false)
	route("DELETE /subjects/{subject}", r.handleDeleteSubject, true)
	route("GET /subjects/{subject}/versions", r.handleListVersions, false)
	route("POST /subjects/{subject}/versions", r.handleRegister, true)
	route("GET /subjects/{subject}/versions/{version}", r.handleGetVersion, false)
	route("GET /subjects/{subject}/versions/{version}/schema", r.handleGetVersionSchema, false)
	route("GET /subjects/{subject}/versions/{version}/referencedby", r.handleReferencedBy, false)
	route("DELETE /subjects/{subject}/versions/{version}", r.handleDeleteVersion, true)
	// Schemas.
	route("GET /schemas", r.handleListSchemas, false)
	route("GET /schemas/types", r.handleTypes, false)
	route("GET /schemas/ids/{id}", r.handleSchemaByID, false)
	route("GET /schemas/ids/{id}/schema", r.handleSchemaByIDRaw, false)
	route("GET /schemas/ids/{id}/subjects", r.handleSubjectsByID, false)
	route("GET /schemas/ids/{id}/versions", r.handleVersionsByID, false)
	// Config and mode.
	route("GET /config", r.handleGetConfig, false)
	route("PUT /config", r.handlePutConfig, true)
	route("DELETE /config", r.handleDeleteConfig, true)
	route("GET /config/{subject}", r.handleGetConfig, false)
	route("PUT /config/{subject}", r.handlePutConfig, true)
	route("DELETE /config/{subject}", r.handleDeleteConfig, true)
	route("GET /mode", r.handleGetMode, false)
	route("PUT /mode", r.handlePutMode, true)
	route("DELETE /mode", r.handleDeleteMode, true)
	route("GET /mode/{subject}", r.handleGetMode, false)
	route("PUT /mode/{subject}", r.handlePutMode, true)
	route("DELETE /mode/{subject}", r.handleDeleteMode, true)
	// Compatibility.
	route("POST /compatibility/subjects/{subject}/versions", r.handleCompatibility, false)
	route("POST /compatibility/subjects/{subject}/versions/{version}", r.handleCompatibility, false)

	notFound := r.serve("", "other", func(http.ResponseWriter, *http.Request) (any, error) {
		return nil, &apiError{http.StatusNotFound, 404, "HTTP 404 Not Found", nil}
	}, false)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		collapseSlashes(req)
		if _, pattern := mux.Handler(req); pattern == "" {
			// Unknown path, or a known path with another method (Jersey
			// answers 405 for the latter; ServeMux's 405 has no JSON body).
			if allowed := methodsFor(mux, req); allowed != "" {
				w.Header().Set("Allow", allowed)
				writeError(w, &apiError{http.StatusMethodNotAllowed, 405, "HTTP 405 Method Not Allowed", nil})
				r.metrics.requests.WithLabelValues("other", methodLabel(req.Method), "405").Inc()
				return
			}
			notFound(w, req)
			return
		}
		mux.ServeHTTP(w, req)
	})
}

// collapseSlashes turns "//" into "/" in req's path: a client configured
// with a base URL ending in "/" asks for "//subjects", which ServeMux
// would answer with a redirect (that a POST does not follow).
// A trailing "/" is dropped too (Jersey matches "/subjects/" as "/subjects").
// It works on the escaped path, so an encoded "/" in a subject (%2F) stays.
func collapseSlashes(req *http.Request) {
	escaped := req.URL.EscapedPath()
	p := escaped
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if p == escaped {
		return
	}
	unescaped, err := url.PathUnescape(p)
	if err != nil {
		return
	}
	req.URL.Path, req.URL.RawPath = unescaped, p
}

// methodsFor lists the methods mux serves for req's path.
func methodsFor(mux *http.ServeMux, req *http.Request) string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		probe := req.Clone(req.Context())
		probe.Method = m
		if _, p := mux.Handler(probe); p != "" {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// serve wraps h: metrics, readiness, body checks, encoding.
func (r *Registry) serve(method, path string, h handlerFunc, write bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			r.metrics.requests.WithLabelValues(path, methodLabel(req.Method), strconv.Itoa(sw.status)).Inc()
			r.metrics.latency.WithLabelValues(path, methodLabel(req.Method)).Observe(time.Since(start).Seconds())
		}()
		ct, ok := negotiate(req.Header.Get("Accept"))
		if !ok {
			writeError(sw, &apiError{http.StatusNotAcceptable, 406, "HTTP 406 Not Acceptable", nil})
			return
		}
		sw.Header().Set("Content-Type", ct) // errors too
		if r.closed.Load() {
			writeError(sw, &apiError{http.StatusServiceUnavailable, 50003, "Schema registry is shutting down", nil})
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), requestTimeout)
		defer cancel()
		req = req.WithContext(ctx)
		if req.Body != nil && req.ContentLength != 0 && (req.Method == http.MethodPost || req.Method == http.MethodPut) {
			if ct := req.Header.Get("Content-Type"); ct != "" {
				mt, _, err := mime.ParseMediaType(ct)
				if err != nil || !acceptedBodyTypes[mt] {
					writeError(sw, &apiError{http.StatusUnsupportedMediaType, 415, "HTTP 415 Unsupported Media Type", nil})
					return
				}
			}
			req.Body = http.MaxBytesReader(sw, req.Body, maxBodyBytes)
		}
		if err := r.readBarrier(ctx); err != nil {
			writeError(sw, errFromInternal("Read", err))
			return
		}
		out, err := h(sw, req)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				r.logger.Warn("schemareg: request failed", "method", req.Method, "path", req.URL.Path, "err", err)
				ae = errFromInternal(opName(method, path), err)
			}
			writeError(sw, ae)
			return
		}
		if raw, ok := out.(rawBody); ok {
			sw.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(sw, string(raw))
			return
		}
		b, err := marshalJSON(out)
		if err != nil {
			writeError(sw, &apiError{http.StatusInternalServerError, 50001, err.Error(), nil})
			return
		}
		sw.WriteHeader(http.StatusOK)
		_, _ = sw.Write(b)
	}
}

func opName(method, path string) string {
	switch {
	case method == "POST" && strings.HasSuffix(path, "/versions"):
		return "Register"
	case method == "DELETE":
		return "Delete"
	case method == "PUT":
		return "Update"
	}
	return "Read"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// writeError answers e in the content type already negotiated (the
// default when none was).
func writeError(w http.ResponseWriter, e *apiError) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(e.status)
	b, _ := marshalJSON(struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}{e.code, e.msg})
	_, _ = w.Write(b)
}

// marshalJSON encodes v as Jackson does: without Go's HTML escaping of
// <, > and & (a schema's "doc" keeps them as written), no trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeBody decodes req's JSON body into v: a syntax error or a type
// mismatch is Confluent's 400 with error code 400 (rest-utils'
// JsonParseExceptionMapper and JsonMappingExceptionMapper), an oversized
// body 413. Unknown fields are ignored (Confluent's request entities are
// ignoreUnknown). A missing body (empty, or JSON null) fails the
// resource method's @NotNull: Jersey's bean validation answers 422
// "<method>.arg<N> must not be null (was null)", param naming the Java
// method and the position of its request parameter (nullParam).
func decodeBody(req *http.Request, v any, nullParam string) error {
	missing := &apiError{http.StatusUnprocessableEntity, 422, nullParam + " must not be null (was null)", nil}
	if req.Body == nil {
		return missing
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{http.StatusRequestEntityTooLarge, 413, fmt.Sprintf("Request body larger than %d bytes", mbe.Limit), nil}
		}
		return &apiError{http.StatusBadRequest, 400, "Error reading the request body: " + err.Error(), nil}
	}
	if t := strings.TrimSpace(string(b)); t == "" || t == "null" {
		return missing
	}
	if err := json.Unmarshal(b, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &apiError{http.StatusBadRequest, 400, "Unexpected character in the request body at offset " + strconv.FormatInt(se.Offset, 10) + ": " + se.Error(), nil}
		}
		return &apiError{http.StatusBadRequest, 400, mismatchMessage(err), nil}
	}
	return nil
}

// mismatchMessage words a JSON type mismatch as Jackson does for the
// common case (an object or array where a string goes: "Cannot
// deserialize value of type `java.lang.String` from Object value (token
// `JsonToken.START_OBJECT`)", confluentinc/schema-registry#2729); other
// mismatches keep Go's wording.
func mismatchMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Type != nil && te.Type.Kind() == reflect.String {
		switch te.Value {
		case "object":
			return "Cannot deserialize value of type `java.lang.String` from Object value (token `JsonToken.START_OBJECT`)"
		case "array":
			return "Cannot deserialize value of type `java.lang.String` from Array value (token `JsonToken.START_ARRAY`)"
		}
	}
	return "Cannot deserialize the request body: " + err.Error()
}

// queryBool reads a boolean query parameter (absent: false).
func queryBool(req *http.Request, name string) bool {
	b, _ := strconv.ParseBool(req.URL.Query().Get(name))
	return b
}

// parseVersion parses a {version} path element: "latest" and -1 mean the
// latest (-1), otherwise 1..2^31-1.
// Like Confluent's VersionId it trims spaces, and names a rejected
// number as parsed ("00" is "0").
func parseVersion(s string) (int, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "latest") {
		return -1, nil
	}
	n, err := strconv.ParseInt(t, 10, 32)
	if err != nil {
		return 0, errInvalidVersion(s)
	}
	if n < 1 && n != -1 {
		return 0, errInvalidVersion(strconv.FormatInt(n, 10))
	}
	return int(n), nil
}

func upper(s string) string { return strings.ToUpper(s) }
