package schemareg

import "net/http"

func (r *Registry) newRouter() http.Handler { return http.NewServeMux() }
