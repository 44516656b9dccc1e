package protocol

import (
	"net"
	"time"
)

// ConnLimiter decides whether a newly accepted connection is served (Kafka's
// ConnectionQuotas: max.connections, max.connections.per.ip and its
// overrides, max.connection.creation.rate and the per-IP
// connection_creation_rate quota). Set it with Server.SetConnLimiter before
// Serve.
type ConnLimiter interface {
	// Admit is called by the accept loop, one connection at a time, before
	// the connection is served. It may block to delay accepting (the
	// broker-wide creation rate, or max.connections reached: the kernel's
	// backlog holds further connections meanwhile); it gives up when
	// closing returns true (polled). ok=false closes the connection, after
	// closeDelay (Kafka closes a connection over its IP's creation rate
	// only once the throttle has passed). A connection admitted (ok) is
	// counted until Release.
	Admit(remote net.Addr, closing func() bool) (ok bool, closeDelay time.Duration)
	// Release is called once for every admitted connection when it closes.
	Release(remote net.Addr)
}

// SetConnLimiter installs l; call it before Serve.
func (s *Server) SetConnLimiter(l ConnLimiter) { s.connLimit = l }

// admit applies the ConnLimiter to an accepted connection: false means the
// connection was (or will be) closed and must not be served.
func (s *Server) admit(nc net.Conn) bool {
	if s.connLimit == nil {
		return true
	}
	ok, delay := s.connLimit.Admit(nc.RemoteAddr(), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closing
	})
	if ok {
		return true
	}
	s.logger.Debug("connection refused by connection limits", "remote", nc.RemoteAddr(), "close_delay", delay)
	if delay > 0 {
		time.AfterFunc(delay, func() { nc.Close() })
	} else {
		nc.Close()
	}
	return false
}

// released is called when a served connection closes.
func (s *Server) released(nc net.Conn) {
	if s.connLimit != nil {
		s.connLimit.Release(nc.RemoteAddr())
	}
}
