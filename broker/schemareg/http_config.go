package schemareg

// /config and /mode paths (Confluent's ConfigResource and ModeResource).
// Reads answer compatibilityLevel, updates answer compatibility: that is
// how Confluent names them.

import (
	"net/http"
)

type configJSON struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
	Normalize          *bool  `json:"normalize,omitempty"`
}

// configUpdate is Confluent's ConfigUpdateRequest.
type configUpdate struct {
	Compatibility      string `json:"compatibility"`
	CompatibilityLevel string `json:"compatibilityLevel"` // accepted too
	Normalize          *bool  `json:"normalize,omitempty"`
}

// GET /config[/{subject}]?defaultToGlobal
func (r *Registry) handleGetConfig(w http.ResponseWriter, req *http.Request) (any, error) {
	subject := subjectOrGlobal(req)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subject != "" {
		if c, ok := r.st.config[subject]; ok {
			return configJSON{CompatibilityLevel: c.level, Normalize: c.normalize}, nil
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

// PUT /config[/{subject}]
func (r *Registry) handlePutConfig(w http.ResponseWriter, req *http.Request) (any, error) {
	var u configUpdate
	if err := decodeBody(req, &u); err != nil {
		return nil, err
	}
	level := u.Compatibility
	if level == "" {
		level = u.CompatibilityLevel
	}
	if err := r.setConfig(req.Context(), subjectOrGlobal(req), level, u.Normalize); err != nil {
		return nil, err
	}
	return struct {
		Compatibility string `json:"compatibility"`
		Normalize     *bool  `json:"normalize,omitempty"`
	}{upper(level), u.Normalize}, nil
}

// DELETE /config[/{subject}]
func (r *Registry) handleDeleteConfig(w http.ResponseWriter, req *http.Request) (any, error) {
	old, err := r.deleteConfig(req.Context(), subjectOrGlobal(req))
	if err != nil {
		return nil, err
	}
	return configJSON{CompatibilityLevel: old}, nil
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
	if err := decodeBody(req, &u); err != nil {
		return nil, err
	}
	if err := r.setMode(req.Context(), subjectOrGlobal(req), u.Mode, queryBool(req, "force")); err != nil {
		return nil, err
	}
	return modeJSON{upper(u.Mode)}, nil
}

// DELETE /mode[/{subject}]
func (r *Registry) handleDeleteMode(w http.ResponseWriter, req *http.Request) (any, error) {
	old, err := r.deleteMode(req.Context(), subjectOrGlobal(req))
	if err != nil {
		return nil, err
	}
	return modeJSON{old}, nil
}
