package schemareg

// /schemas paths (Confluent's SchemasResource).

import (
	"net/http"
	"sort"
	"strconv"
)

// GET /schemas/types
func (r *Registry) handleTypes(w http.ResponseWriter, req *http.Request) (any, error) {
	out := []string{}
	for _, t := range []string{"JSON", "PROTOBUF", "AVRO"} { // Confluent's order
		if r.formats[t] != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// GET /schemas?subjectPrefix&deleted&latestOnly&offset&limit
func (r *Registry) handleListSchemas(w http.ResponseWriter, req *http.Request) (any, error) {
	q := req.URL.Query()
	deleted, latestOnly := queryBool(req, "deleted"), queryBool(req, "latestOnly")
	r.mu.RLock()
	var out []schemaJSON
	for _, subject := range r.st.subjectNames(deleted, q.Get("subjectPrefix")) {
		vs := r.st.versionList(subject, deleted)
		if latestOnly && len(vs) > 0 {
			vs = vs[len(vs)-1:]
		}
		for _, e := range vs {
			out = append(out, entityOf(e.value))
		}
	}
	r.mu.RUnlock()
	out = page(out, req, schemaSearchLimit)
	if out == nil {
		out = []schemaJSON{}
	}
	return out, nil
}

// Confluent's default and maximum page sizes (schema.search.*.limit and
// subject.search.*.limit): a limit outside 1..max is the default.
const (
	schemaSearchLimit  = 1000
	subjectSearchLimit = 20000
)

// page applies ?offset and ?limit the way Confluent's resources do:
// skip offset, then at most normalizeLimit(limit) entries.
func page[T any](all []T, req *http.Request, maxLimit int) []T {
	q := req.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > maxLimit {
		limit = maxLimit
	}
	if offset < 0 {
		offset = 0
	}
	if offset > len(all) {
		offset = len(all)
	}
	all = all[offset:]
	if limit < len(all) {
		all = all[:limit]
	}
	return all
}

// schemaByID finds {id} with Confluent's errors: "Schema {id} not found"
// for the schema itself, plain "Schema not found" (notFoundWithID false)
// for its /subjects and /versions, as SchemasResource answers them.
func (r *Registry) schemaByID(req *http.Request, notFoundWithID bool) (int, *idEntry, error) {
	s := req.PathValue("id")
	id, err := strconv.Atoi(s)
	if err != nil {
		return 0, nil, &apiError{http.StatusNotFound, 404, "HTTP 404 Not Found", nil}
	}
	r.mu.RLock()
	e := r.st.ids[id]
	r.mu.RUnlock()
	if e == nil {
		if !notFoundWithID {
			return 0, nil, errSchemaNotFound()
		}
		return 0, nil, errSchemaIDNotFound(id)
	}
	return id, e, nil
}

// GET /schemas/ids/{id}?subject&format&fetchMaxId (subject only picks a
// context in Confluent; format as the schema's format renders it)
func (r *Registry) handleSchemaByID(w http.ResponseWriter, req *http.Request) (any, error) {
	_, e, err := r.schemaByID(req, true)
	if err != nil {
		return nil, err
	}
	t := e.schemaType
	if t == "AVRO" {
		t = ""
	}
	out := struct {
		SchemaType string      `json:"schemaType,omitempty"`
		Schema     string      `json:"schema"`
		References []Reference `json:"references,omitempty"`
		MaxID      *int        `json:"maxId,omitempty"`
	}{SchemaType: t, Schema: r.formatted(e.schemaType, e.schema, e.refs, req.URL.Query().Get("format")), References: e.refs}
	if queryBool(req, "fetchMaxId") {
		r.mu.RLock()
		maxID := r.st.maxID
		r.mu.RUnlock()
		out.MaxID = &maxID
	}
	return out, nil
}

// GET /schemas/ids/{id}/schema
func (r *Registry) handleSchemaByIDRaw(w http.ResponseWriter, req *http.Request) (any, error) {
	_, e, err := r.schemaByID(req, true)
	if err != nil {
		return nil, err
	}
	return rawBody(r.formatted(e.schemaType, e.schema, e.refs, req.URL.Query().Get("format"))), nil
}

// GET /schemas/ids/{id}/subjects?deleted
func (r *Registry) handleSubjectsByID(w http.ResponseWriter, req *http.Request) (any, error) {
	id, _, err := r.schemaByID(req, false)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	users := r.st.usersOf(id, queryBool(req, "deleted"))
	r.mu.RUnlock()
	// ?subject only picks the context to look the id up in (Confluent's
	// getSchemaKeyUsingContexts); it does not filter the answer.
	set := map[string]bool{}
	for _, sv := range users {
		set[sv.subject] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// GET /schemas/ids/{id}/versions?deleted
func (r *Registry) handleVersionsByID(w http.ResponseWriter, req *http.Request) (any, error) {
	id, _, err := r.schemaByID(req, false)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	users := r.st.usersOf(id, queryBool(req, "deleted"))
	r.mu.RUnlock()
	out := make([]subjectVersionJSON, 0, len(users))
	for _, sv := range users {
		out = append(out, subjectVersionJSON{sv.subject, sv.version})
	}
	return out, nil
}
