package schemareg

// /config and /mode paths (Confluent's ConfigResource and ModeResource).
// Reads answer compatibilityLevel, updates answer compatibility: that is
// how Confluent names them.

import (
	"net/http"
)

// configJSON is Confluent's Config entity in its field order (the
// @JsonCreator's: normalize before compatibilityLevel).
type configJSON struct {
	Normalize          *bool  `json:"normalize,omitempty"`
	CompatibilityLevel string `json:"compatibilityLevel,omitempty"`
}

// configUpdate is Confluent's ConfigUpdateRequest (answered as sent, in
// its field order). "compatibilityLevel" is not one of its fields
// (Confluent ignores it); it is accepted here as well.
type configUpdate struct {
	Normalize          *bool   `json:"normalize,omitempty"`
	Compatibility      *string `json:"compatibility,omitempty"`
	CompatibilityLevel *string `json:"compatibilityLevel,omitempty"`
}

// GET /config[/{subject}]?defaultToGlobal
func (r *Registry) handleGetConfig(w http.ResponseWriter, req *http.Request) (any, error) {
	subject := subjectOrGlobal(req)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subject != "" {
		if c, ok := r.st.config[subject]; ok {
			return configJSON{Normalize: c.normalize, CompatibilityLevel: r.st.compatibility(subject)}, nil
		}
		if !queryBool(req, "defaultToGlobal") {
			return nil, errSubjectCompatibilityNotConfigured(subject)
		}
	}
	c := configJSON{CompatibilityLevel: r.st.compatibility("")}
	if g, ok := r.st.config[""]; ok {
		c.Normalize = g.normalize
	}
	return c, nil
}

// PUT /config[/{subject}]: answers the request as sent (ConfigResource
// returns its ConfigUpdateRequest), so {"compatibility":"full"} is
// answered in lower case.
func (r *Registry) handlePutConfig(w http.ResponseWriter, req *http.Request) (any, error) {
	var u configUpdate
	// updateSubjectLevelConfig(subject, headers, request),
	// updateTopLevelConfig(headers, request)
	nullParam := "updateTopLevelConfig.arg1"
	if req.PathValue("subject") != "" {
		nullParam = "updateSubjectLevelConfig.arg2"
	}
	if err := decodeBody(req, &u, nullParam); err != nil {
		return nil, err
	}
	level := u.Compatibility
	if level == nil {
		level = u.CompatibilityLevel
	}
	if err := r.setConfig(req.Context(), subjectOrGlobal(req), level, u.Normalize); err != nil {
		return nil, err
	}
	return struct {
		Normalize     *bool   `json:"normalize,omitempty"`
		Compatibility *string `json:"compatibility,omitempty"`
	}{u.Normalize, u.Compatibility}, nil
}

// DELETE /config[/{subject}]: the removed config.
func (r *Registry) handleDeleteConfig(w http.ResponseWriter, req *http.Request) (any, error) {
	return r.deleteConfig(req.Context(), subjectOrGlobal(req))
}

type modeJSON struct {
	Mode string `json:"mode"`
}

// GET /mode[/{subject}]?defaultToGlobal
func (r *Registry) handleGetMode(w http.ResponseWriter, req *http.Request) (any, error) {
	subject := subjectOrGlobal(req)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subject != "" {
		// Confluent's getMode: a global READONLY_OVERRIDE wins.
		if g, ok := r.st.mode[""]; ok && g.mode == "READONLY_OVERRIDE" {
			return modeJSON{g.mode}, nil
		}
		if m, ok := r.st.mode[subject]; ok {
			return modeJSON{m.mode}, nil
		}
		if !queryBool(req, "defaultToGlobal") {
			return nil, errSubjectModeNotConfigured(subject)
		}
	}
	return modeJSON{r.st.modeOf("")}, nil
}

// PUT /mode[/{subject}]?force
func (r *Registry) handlePutMode(w http.ResponseWriter, req *http.Request) (any, error) {
	var u modeJSON
	// updateMode(subject, headers, request, force),
	// updateTopLevelMode(headers, request, force)
	nullParam := "updateTopLevelMode.arg1"
	if req.PathValue("subject") != "" {
		nullParam = "updateMode.arg2"
	}
	if err := decodeBody(req, &u, nullParam); err != nil {
		return nil, err
	}
	if err := r.setMode(req.Context(), subjectOrGlobal(req), u.Mode, queryBool(req, "force")); err != nil {
		return nil, err
	}
	return u, nil // ModeResource answers its request as sent
}

// DELETE /mode[/{subject}]. DELETE /mode (global) is not one of
// Confluent's paths (7.9 and 8.x answer 405); it is served for clients
// such as franz-go's ResetMode without subjects.
func (r *Registry) handleDeleteMode(w http.ResponseWriter, req *http.Request) (any, error) {
	old, err := r.deleteMode(req.Context(), subjectOrGlobal(req))
	if err != nil {
		return nil, err
	}
	return modeJSON{old}, nil
}
