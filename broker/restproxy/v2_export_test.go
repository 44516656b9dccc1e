package restproxy

import "time"

// SetV2InstanceIdle sets consumer.instance.timeout.ms for a test.
func SetV2InstanceIdle(s *Server, d time.Duration) {
	s.v2.mu.Lock()
	defer s.v2.mu.Unlock()
	s.v2.idle = d
}
