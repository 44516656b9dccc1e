package schemareg

// Limits on what one request may make the registry do, beyond the body
// limit (maxBodyBytes) and the formats' own (nesting depth, size: see
// schema.MaxJSONNestingDepth and each format's Parse). Confluent's registry
// has none of these; here every schema comes from any client and is parsed
// inside the broker, so each request's work and memory are bounded.

import (
	"fmt"
	"net/http"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

const (
	// maxReferences bounds the schemas one schema's references resolve
	// to, transitively. Every parse compiles all of them, so a chain of
	// n subjects each referencing the previous would cost n parses of
	// everything before it.
	maxReferences = 1_000
	// maxResolvedBytes bounds the total text of those schemas: a 16 MiB
	// body can name ~280,000 references, each to a large registered
	// schema, and the parse cache key and the parsers hold all the texts
	// (280,000 references to one 1 MiB schema under distinct names would
	// be 280 GB).
	maxResolvedBytes = 32 << 20
)

// errTooManyReferences is the 42201 when resolving refs reaches maxReferences.
func errTooManyReferences() *apiError {
	return errInvalidSchema(fmt.Sprintf("Invalid schema: its references resolve to more than %d schemas", maxReferences))
}

// checkResolved bounds the total size of resolved references.
func checkResolved(resolved []schema.Resolved) *apiError {
	total := 0
	for _, r := range resolved {
		if total += len(r.Schema) + len(r.Name); total > maxResolvedBytes {
			return errInvalidSchema(fmt.Sprintf("Invalid schema: its references resolve to more than %d bytes of schemas", maxResolvedBytes))
		}
	}
	return nil
}

// methodLabel is the method as a metrics label: a client can send any
// token as a method, and a label value per token would grow the metrics
// without bound.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodOptions, http.MethodPatch:
		return m
	}
	return "other"
}
