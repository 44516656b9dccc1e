package schemareg

import (
	"net/http"
	"time"
)

// Timeouts and limits of the registry's HTTP server (NewHTTPServer): a
// client that sends its headers or body a byte at a time (slowloris), or
// never reads the response, holds a connection and a goroutine only this
// long; headers are bounded as Jetty's default (8 KiB) bounds Confluent's,
// with room for long subject names. A request's own work is bounded by
// requestTimeout and its body by maxBodyBytes.
const (
	serverReadHeaderTimeout = 10 * time.Second
	// serverReadTimeout covers the whole request: 16 MiB at ~1 MB/s.
	serverReadTimeout  = 30 * time.Second
	serverWriteTimeout = 60 * time.Second
	serverIdleTimeout  = 2 * time.Minute
	serverMaxHeader    = 64 << 10
)

// NewHTTPServer returns the http.Server to serve h (the registry's
// Handler) with: timeouts against slow clients and bounded headers. The
// caller sets Addr (or calls Serve with its listener) and shuts it down.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serverReadHeaderTimeout,
		ReadTimeout:       serverReadTimeout,
		WriteTimeout:      serverWriteTimeout,
		IdleTimeout:       serverIdleTimeout,
		MaxHeaderBytes:    serverMaxHeader,
	}
}
