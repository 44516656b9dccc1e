package restproxy

import "net/http"

// registerV3 adds the v3 API's routes (owned by the v3 work).
func (s *Server) registerV3(mux *http.ServeMux) {}
