package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
)

type subjectSummary struct {
	Subject       string `json:"subject"`
	LatestVersion int    `json:"latest_version"`
	ID            int    `json:"id"`
	Type          string `json:"type"`
	Compatibility string `json:"compatibility"`
}

type schemaVersion struct {
	Version    int                  `json:"version"`
	ID         int                  `json:"id"`
	Type       string               `json:"type"`
	Schema     string               `json:"schema"`
	References []sr.SchemaReference `json:"references"`
}

// errNoRegistry answers schema requests while the registry is off.
var errNoRegistry = &httpError{status: http.StatusNotFound, msg: "the schema registry is off"}

// Schema registry error codes the console treats specially (Confluent's).
const (
	srSubjectNotFound            = 40401
	srSubjectCompatNotConfigured = 40408
)

// schemaTypeName is the type as the registry names it (AVRO, PROTOBUF,
// JSON).
func schemaTypeName(t sr.SchemaType) string { return t.String() }

func (s *Server) listSchemas(w http.ResponseWriter, r *http.Request) error {
	reg := s.cfg.Registry
	if reg == nil {
		writeJSON(w, http.StatusOK, map[string]any{"enabled": false, "compatibility": "", "mode": "",
			"subjects": []subjectSummary{}})
		return nil
	}
	ctx := r.Context()
	global := reg.Compatibility(ctx)
	if len(global) != 1 || global[0].Err != nil {
		if len(global) == 1 {
			return global[0].Err
		}
		return errors.New("console: no global compatibility from the registry")
	}
	mode := ""
	if m := reg.Mode(ctx); len(m) == 1 && m[0].Err == nil {
		mode = m[0].Mode.String()
	}
	subjects, err := reg.Subjects(ctx)
	if err != nil {
		return err
	}
	slices.Sort(subjects)
	out := make([]subjectSummary, 0, len(subjects))
	if len(subjects) > 0 {
		compat := map[string]string{}
		for _, c := range reg.Compatibility(ctx, subjects...) {
			if c.Err == nil {
				compat[c.Subject] = c.Level.String()
			}
		}
		for _, subj := range subjects {
			latest, err := reg.SchemaByVersion(ctx, subj, -1)
			if err != nil {
				if re, ok := errors.AsType[*sr.ResponseError](err); ok && re.StatusCode == http.StatusNotFound {
					continue // deleted between the two requests
				}
				return err
			}
			c, ok := compat[subj]
			if !ok {
				c = global[0].Level.String()
			}
			out = append(out, subjectSummary{Subject: subj, LatestVersion: latest.Version, ID: latest.ID,
				Type: schemaTypeName(latest.Type), Compatibility: c})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "compatibility": global[0].Level.String(),
		"mode": mode, "subjects": out})
	return nil
}

func (s *Server) getSubject(w http.ResponseWriter, r *http.Request) error {
	reg := s.cfg.Registry
	if reg == nil {
		return errNoRegistry
	}
	subject := r.PathValue("subject")
	ctx := r.Context()
	versions, err := reg.Schemas(ctx, subject)
	if err != nil {
		return err
	}
	compat := ""
	if c := reg.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), subject); len(c) == 1 && c[0].Err == nil {
		compat = c[0].Level.String()
	}
	out := make([]schemaVersion, 0, len(versions))
	for _, v := range versions {
		out = append(out, schemaVersion{Version: v.Version, ID: v.ID, Type: schemaTypeName(v.Type), Schema: v.Schema.Schema,
			References: orEmpty(v.References)})
	}
	slices.SortFunc(out, func(a, b schemaVersion) int { return a.Version - b.Version })
	writeJSON(w, http.StatusOK, map[string]any{"subject": subject, "compatibility": compat, "versions": out})
	return nil
}

func (s *Server) putSubjectConfig(w http.ResponseWriter, r *http.Request) error {
	reg := s.cfg.Registry
	if reg == nil {
		return errNoRegistry
	}
	subject := r.PathValue("subject")
	var req struct {
		Compatibility *string `json:"compatibility"`
	}
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	var results []sr.CompatibilityResult
	if req.Compatibility == nil {
		results = reg.ResetCompatibility(r.Context(), subject)
	} else {
		var level sr.CompatibilityLevel
		if err := level.UnmarshalText([]byte(*req.Compatibility)); err != nil {
			return badRequest("compatibility %q: one of %s expected", *req.Compatibility,
				"BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE")
		}
		results = reg.SetCompatibility(r.Context(), sr.SetCompatibility{Level: level}, subject)
	}
	for _, res := range results {
		if res.Err == nil {
			continue
		}
		if re, ok := errors.AsType[*sr.ResponseError](res.Err); ok && req.Compatibility == nil &&
			(re.ErrorCode == srSubjectCompatNotConfigured || re.ErrorCode == srSubjectNotFound) {
			continue // no override to remove: already at the global level
		}
		return res.Err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) registerSchema(w http.ResponseWriter, r *http.Request) error {
	reg := s.cfg.Registry
	if reg == nil {
		return errNoRegistry
	}
	subject := r.PathValue("subject")
	var req struct {
		Schema     string               `json:"schema"`
		SchemaType string               `json:"schema_type"`
		References []sr.SchemaReference `json:"references"`
	}
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Schema) == "" {
		return badRequest("schema is empty")
	}
	var typ sr.SchemaType
	switch t := strings.ToUpper(req.SchemaType); t {
	case "", "AVRO":
		typ = sr.TypeAvro
	case "PROTOBUF":
		typ = sr.TypeProtobuf
	case "JSON", "JSONSCHEMA":
		typ = sr.TypeJSON
	default:
		return badRequest("schema_type %q: AVRO, PROTOBUF or JSON expected", req.SchemaType)
	}
	ss, err := reg.CreateSchema(r.Context(), subject, sr.Schema{Schema: req.Schema, Type: typ, References: req.References})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": ss.ID, "version": ss.Version})
	return nil
}
