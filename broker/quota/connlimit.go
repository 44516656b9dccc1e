package quota

import (
	"math"
	"net"
	"sync"
	"time"
)

// ConnLimits are Kafka's connection limits (broker config).
type ConnLimits struct {
	// MaxPerIP is max.connections.per.ip: a connection from an IP that
	// already has this many is closed at once.
	MaxPerIP int
	// PerIPOverrides is max.connections.per.ip.overrides, by IP address
	// (host names are resolved when the config is read).
	PerIPOverrides map[string]int
	// MaxConnections is max.connections: at that many, accepting waits for
	// a connection to close.
	MaxConnections int
	// MaxCreationRate is max.connection.creation.rate, broker-wide
	// connections per second: above it accepting is delayed.
	MaxCreationRate int
	// Window shapes the creation-rate measurements (quota.window.*).
	Window Window
}

// ConnLimiter implements Kafka's ConnectionQuotas for one broker: per-IP
// counts and overrides, a broker-wide maximum, a broker-wide creation rate
// (accepting is delayed, at most one window) and the per-IP
// connection_creation_rate quota from the quota table (a connection over it
// is closed once the throttle has passed, and is not counted).
//
// Locking: mu guards counts, total and the rates; Admit waits for a slot by
// polling (it runs on the accept goroutine only).
type ConnLimiter struct {
	limits ConnLimits
	table  func() *Table // nil: no per-IP rate quotas
	now    func() time.Time

	mu      sync.Mutex
	counts  map[string]int
	total   int
	broker  *Rate
	ipRates map[string]*Rate
}

// NewConnLimiter returns a limiter; table (optional) gives the current
// quota table for per-IP creation rates.
func NewConnLimiter(l ConnLimits, table func() *Table, now func() time.Time) *ConnLimiter {
	if l.MaxPerIP <= 0 && len(l.PerIPOverrides) == 0 {
		l.MaxPerIP = math.MaxInt32
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = math.MaxInt32
	}
	if l.MaxCreationRate <= 0 {
		l.MaxCreationRate = math.MaxInt32
	}
	l.Window = l.Window.normalized()
	if now == nil {
		now = time.Now
	}
	return &ConnLimiter{limits: l, table: table, now: now, counts: map[string]int{}, broker: NewRate(l.Window), ipRates: map[string]*Rate{}}
}

// pollInterval is how often a waiting Admit checks for a free slot and for
// the server closing.
const pollInterval = 20 * time.Millisecond

func ipOf(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// Admit implements protocol.ConnLimiter, in Kafka's order: wait out the
// broker-wide creation rate and for a free slot under max.connections, then
// the IP's creation rate (over it: closed after the throttle), then the IP's
// count (at its maximum: closed at once).
func (l *ConnLimiter) Admit(remote net.Addr, closing func() bool) (bool, time.Duration) {
	ip := ipOf(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var delay time.Duration
	if l.limits.MaxCreationRate < math.MaxInt32 {
		delay = l.broker.RecordAndThrottle(1, float64(l.limits.MaxCreationRate), now.UnixMilli(), l.limits.Window.Size)
	}
	end := now.Add(delay)
	for delay > 0 || l.total >= l.limits.MaxConnections {
		if closing != nil && closing() {
			return false, 0
		}
		wait := pollInterval
		if delay > 0 {
			wait = min(wait, delay)
		}
		l.mu.Unlock()
		time.Sleep(wait)
		l.mu.Lock()
		delay = max(0, end.Sub(l.now()))
	}
	if t := l.table; t != nil {
		if rate, ok := t().IPRate(net.ParseIP(ip)); ok {
			r := l.ipRates[ip]
			if r == nil {
				l.dropIdleRatesLocked(l.now().UnixMilli())
				r = NewRate(l.limits.Window)
				l.ipRates[ip] = r
			}
			nowMs := l.now().UnixMilli()
			if d := r.RecordAndThrottle(1, rate, nowMs, l.limits.Window.Size); d > 0 {
				r.Record(-1, nowMs) // not accepted: not counted
				l.undoBroker(nowMs)
				return false, d
			}
		}
	}
	max := l.limits.MaxPerIP
	if o, ok := l.limits.PerIPOverrides[ip]; ok {
		max = o
	}
	if l.counts[ip] >= max {
		return false, 0
	}
	l.counts[ip]++
	l.total++
	return true, 0
}

// maxIdleIPRates is how many per-IP rates are kept before idle ones (no
// connection for a whole window) are dropped.
const maxIdleIPRates = 1024

func (l *ConnLimiter) dropIdleRatesLocked(nowMs int64) {
	if len(l.ipRates) < maxIdleIPRates {
		return
	}
	for ip, r := range l.ipRates {
		if r.Idle(nowMs) {
			delete(l.ipRates, ip)
		}
	}
}

func (l *ConnLimiter) undoBroker(nowMs int64) {
	if l.limits.MaxCreationRate < math.MaxInt32 {
		l.broker.Record(-1, nowMs)
	}
}

// Release implements protocol.ConnLimiter.
func (l *ConnLimiter) Release(remote net.Addr) {
	ip := ipOf(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts[ip] <= 1 {
		delete(l.counts, ip)
	} else {
		l.counts[ip]--
	}
	l.total--
}

// Count is how many admitted connections ip has open.
func (l *ConnLimiter) Count(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[ip]
}
