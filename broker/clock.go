package broker

import "time"

// WithClock makes the broker read the time from now instead of time.Now:
// segment.ms rolls, retention and compaction horizons, producer and
// transaction expiry, offset-commit expiry and LogAppendTime. Timers (the
// retention and cleaner checks, fetch waits, group sessions) still run on
// the wall clock; a test advances now to make time-based work due, and the
// next check does it. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }
