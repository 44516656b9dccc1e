package restproxy

import "net/http"

// v2State holds the v2 consumer instances (owned by the v2 work).
type v2State struct{}

func (v *v2State) close() {}

// registerV2 adds the v2 API's routes (owned by the v2 work).
func (s *Server) registerV2(mux *http.ServeMux) *v2State { return &v2State{} }
