package schemareg

// /subjects paths (Confluent's SubjectsResource and
// SubjectVersionsResource).

import (
	"net/http"
	"strings"
)

// GET /subjects?deleted&deletedOnly&subjectPrefix&offset&limit
func (r *Registry) handleListSubjects(w http.ResponseWriter, req *http.Request) (any, error) {
	q := req.URL.Query()
	deleted, deletedOnly := queryBool(req, "deleted"), queryBool(req, "deletedOnly")
	r.mu.RLock()
	defer r.mu.RUnlock()
	all := r.st.subjectNames(deleted || deletedOnly, q.Get("subjectPrefix"))
	if !deletedOnly {
		return page(all, req, subjectSearchLimit), nil
	}
	out := []string{}
	for _, s := range all {
		if !r.st.hasSubject(s, false) {
			out = append(out, s)
		}
	}
	return page(out, req, subjectSearchLimit), nil
}

// GET /subjects/{subject}/versions?deleted&deletedOnly
func (r *Registry) handleListVersions(w http.ResponseWriter, req *http.Request) (any, error) {
	subject := subjectParam(req)
	deleted, deletedOnly := queryBool(req, "deleted"), queryBool(req, "deletedOnly")
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.st.versionList(subject, deleted || deletedOnly)
	if len(vs) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	out := []int{}
	for _, e := range vs {
		if deletedOnly && !e.value.Deleted {
			continue
		}
		out = append(out, e.value.Version)
	}
	return out, nil
}

// getVersion finds {subject}/{version} (?deleted) with Confluent's errors.
func (r *Registry) getVersion(req *http.Request) (schemaValue, error) {
	return r.getVersionDeleted(req, queryBool(req, "deleted"))
}

// getVersionDeleted is getVersion with deleted given.
func (r *Registry) getVersionDeleted(req *http.Request, deleted bool) (schemaValue, error) {
	subject := subjectParam(req)
	version, err := parseVersion(req.PathValue("version"))
	if err != nil {
		return schemaValue{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	// "latest" is the latest live version even with ?deleted=true
	// (Confluent's get(subject, -1, true) is getLatestVersion); deleted
	// still decides 40401 against 40402 below.
	e := r.st.lookupVersion(subject, version, deleted && version != -1)
	if e == nil {
		if !r.st.hasSubject(subject, deleted) {
			return schemaValue{}, errSubjectNotFound(subject)
		}
		return schemaValue{}, errVersionNotFound(version)
	}
	return e.value, nil
}

// GET /subjects/{subject}/versions/{version}?deleted&format
func (r *Registry) handleGetVersion(w http.ResponseWriter, req *http.Request) (any, error) {
	v, err := r.getVersion(req)
	if err != nil {
		return nil, err
	}
	v.Schema = r.formatted(v.schemaTypeOrAvro(), v.Schema, v.References, req.URL.Query().Get("format"))
	return entityOf(v), nil
}

// GET /subjects/{subject}/versions/{version}/schema?deleted&format
func (r *Registry) handleGetVersionSchema(w http.ResponseWriter, req *http.Request) (any, error) {
	v, err := r.getVersion(req)
	if err != nil {
		return nil, err
	}
	return rawBody(r.formatted(v.schemaTypeOrAvro(), v.Schema, v.References, req.URL.Query().Get("format"))), nil
}

// GET /subjects/{subject}/versions/{version}/referencedby: the version
// is found soft-deleted or not, the referrers are the live ones (Confluent
// takes no ?deleted here; a soft delete drops a referrer from its
// referencedBy index).
func (r *Registry) handleReferencedBy(w http.ResponseWriter, req *http.Request) (any, error) {
	v, err := r.getVersionDeleted(req, true)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := r.st.referencedBy(v.Subject, v.Version, false)
	if ids == nil {
		ids = []int{}
	}
	return ids, nil
}

// POST /subjects/{subject}/versions?normalize (Confluent has no ?force
// here: a registration is always checked outside IMPORT mode)
func (r *Registry) handleRegister(w http.ResponseWriter, req *http.Request) (any, error) {
	var q registerRequest
	if err := decodeBody(req, &q, "register.arg5"); err != nil { // 7.9's register(asyncResponse, headers, subject, normalize, format, request)
		return nil, err
	}
	v, idOnly, err := r.register(req.Context(), subjectParam(req), q, queryBool(req, "normalize"))
	if err != nil {
		return nil, err
	}
	if idOnly {
		return registerResponse{ID: v.ID}, nil
	}
	// Confluent 7.6+'s RegisterSchemaResponse: id first, then the
	// Schema's fields without its subject (7.5 and older answered only
	// the id; clients read only it).
	e := entityOf(v)
	return registerResponse{ID: e.ID, Version: e.Version, SchemaType: e.SchemaType, References: e.References, Schema: e.Schema}, nil
}

// registerResponse is Confluent's RegisterSchemaResponse (7.9: id,
// version, schemaType, references, metadata, ruleSet, schema; empty ones
// left out).
type registerResponse struct {
	ID         int         `json:"id"`
	Version    int         `json:"version,omitempty"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema,omitempty"`
}

// POST /subjects/{subject}?normalize&deleted (lookup)
func (r *Registry) handleLookup(w http.ResponseWriter, req *http.Request) (any, error) {
	var q registerRequest
	if err := decodeBody(req, &q, "lookUpSchemaUnderSubject.arg5"); err != nil { // (asyncResponse, subject, normalize, format, deleted, request)
		return nil, err
	}
	return r.lookup(subjectParam(req), q, queryBool(req, "normalize"), queryBool(req, "deleted"))
}

// DELETE /subjects/{subject}?permanent
func (r *Registry) handleDeleteSubject(w http.ResponseWriter, req *http.Request) (any, error) {
	return r.deleteSubject(req.Context(), subjectParam(req), queryBool(req, "permanent"))
}

// DELETE /subjects/{subject}/versions/{version}?permanent
func (r *Registry) handleDeleteVersion(w http.ResponseWriter, req *http.Request) (any, error) {
	version, err := parseVersion(req.PathValue("version"))
	if err != nil {
		return nil, err
	}
	return r.deleteVersion(req.Context(), subjectParam(req), version, queryBool(req, "permanent"))
}

// POST /compatibility/subjects/{subject}/versions[/{version}]?verbose&normalize
func (r *Registry) handleCompatibility(w http.ResponseWriter, req *http.Request) (any, error) {
	version := 0
	if s := req.PathValue("version"); s != "" {
		v, err := parseVersion(s)
		if err != nil {
			return nil, err
		}
		version = v
	}
	var q registerRequest
	// testCompatibilityBySubjectName(asyncResponse, subject, version,
	// normalize, request, verbose) and testCompatibilityForSubject
	// (asyncResponse, subject, normalize, request, verbose).
	nullParam := "testCompatibilityForSubject.arg3"
	if req.PathValue("version") != "" {
		nullParam = "testCompatibilityBySubjectName.arg4"
	}
	if err := decodeBody(req, &q, nullParam); err != nil {
		return nil, err
	}
	msgs, err := r.compatibility(subjectParam(req), version, q, queryBool(req, "normalize"))
	if ae, ok := err.(*apiError); ok && ae.code == 42201 && queryBool(req, "verbose") {
		msgs, err = []string{ae.msg}, nil // Confluent answers an invalid schema as incompatible when verbose
	}
	if err != nil {
		return nil, err
	}
	type answer struct {
		IsCompatible bool      `json:"is_compatible"`
		Messages     *[]string `json:"messages,omitempty"` // present (maybe empty) when verbose
	}
	a := answer{IsCompatible: len(msgs) == 0}
	if queryBool(req, "verbose") {
		if msgs == nil {
			msgs = []string{}
		}
		a.Messages = &msgs
	}
	return a, nil
}

// GET /v1/metadata/id
func (r *Registry) handleMetadataID(w http.ResponseWriter, req *http.Request) (any, error) {
	type scope struct {
		Path     []string          `json:"path"`
		Clusters map[string]string `json:"clusters"`
	}
	return struct {
		Scope scope `json:"scope"`
	}{scope{Path: []string{}, Clusters: map[string]string{"schema-registry-cluster": "schema-registry"}}}, nil
}

// subjectParam is the {subject} path element; the default context's
// qualified form ":.:name" is name (contexts are not otherwise
// supported: ":.ctx:name" is a plain subject name here).
func subjectParam(req *http.Request) string {
	return strings.TrimPrefix(req.PathValue("subject"), ":.:")
}

// subjectOrGlobal is {subject} of /config/{subject} and /mode/{subject}
// ("" for the global paths and for Confluent's default context ":.:").
func subjectOrGlobal(req *http.Request) string {
	s := subjectParam(req)
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}
