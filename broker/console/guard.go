package console

// The console has no authentication of its own on a PLAINTEXT broker and
// listens on 127.0.0.1 by default: any web page the developer has open can
// make the browser send it requests. guard refuses the two ways a page can
// act through the console:
//
//   - Cross-site request forgery: a form or fetch from another origin with a
//     "simple" content type (text/plain, form encodings: no CORS preflight)
//     that changes something. Requests with an unsafe method are refused
//     (403) when the browser says they are not same-origin (Sec-Fetch-Site
//     other than same-origin or none) or their Origin header names another
//     host than the request's Host; and a body must be declared
//     application/json (415), which no cross-origin page can send without a
//     preflight the console never answers.
//   - DNS rebinding: a page whose host name is made to resolve to 127.0.0.1
//     is same-origin with itself yet talks to the console, reading as well
//     as writing. Its requests carry its own host name in Host. On a
//     connection that arrived at a loopback address (the default bind, or
//     a wildcard bind reached over loopback), and on every connection when
//     Config.AllowedHosts is set, a Host other than a loopback IP literal,
//     "localhost" (or a name under .localhost), the connection's own local
//     address or one of Config.AllowedHosts is refused (403).
//
// Requests without Origin or Sec-Fetch-Site (curl, scripts) are not
// browsers' and pass the cross-origin checks; the Host check still applies.
//
// The guard also bounds the message requests running at once (see
// messageLimiter): each makes a Kafka client of its own.

import (
	"context"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

type guard struct {
	allowedHosts []string // lower case, without port
	next         http.Handler
	messages     messageLimiter
}

func newGuard(allowedHosts []string, next http.Handler) *guard {
	g := &guard{next: next, messages: messageLimiter{
		max: maxMessageRequests, maxPerPrincipal: maxMessageRequestsPerPrincipal, wait: messageRequestWait,
	}}
	for _, h := range allowedHosts {
		if h = normalizeHost(h); h != "" {
			g.allowedHosts = append(g.allowedHosts, h)
		}
	}
	return g
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if msg := g.hostRefusal(r); msg != "" {
		writeError(w, http.StatusForbidden, msg)
		return
	}
	if !safeMethod(r.Method) {
		if msg := crossOriginRefusal(r); msg != "" {
			writeError(w, http.StatusForbidden, msg)
			return
		}
		if hasBody(r) {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType,
					"request body: Content-Type application/json required, got "+quoteOrNone(r.Header.Get("Content-Type")))
				return
			}
		}
	}
	if isMessagesPath(r) {
		user, _, _ := r.BasicAuth()
		if !g.messages.acquire(r.Context(), user) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "too many message requests running at once; try again")
			return
		}
		defer g.messages.release(user)
	}
	g.next.ServeHTTP(w, r)
}

// Bounds of the message requests running at once (GET and POST
// /api/topics/{topic}/messages: a browse makes a consumer of its own, a
// produce to a chosen partition a producer, each with its connections, for
// up to requestTimeout): in total and per principal (the Basic user, ""
// without SASL). A request beyond them waits up to messageRequestWait for
// a slot, then gets 429 with Retry-After.
const (
	maxMessageRequests             = 32
	maxMessageRequestsPerPrincipal = 8
	messageRequestWait             = 5 * time.Second
)

// isMessagesPath: r is for /api/topics/{topic}/messages (split on the
// escaped path, as ServeMux matches: a topic with an escaped slash is one
// segment).
func isMessagesPath(r *http.Request) bool {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	return len(segs) == 4 && segs[0] == "api" && segs[1] == "topics" && segs[3] == "messages"
}

// messageLimiter counts requests running, in total and per principal.
// mu guards running, byUser and freed; freed is closed (and replaced)
// whenever a request ends, waking the waiters.
type messageLimiter struct {
	max, maxPerPrincipal int
	wait                 time.Duration

	mu      sync.Mutex
	running int
	byUser  map[string]int
	freed   chan struct{}
}

// acquire takes a slot for user, waiting up to l.wait (or until ctx
// ends); false when none was free.
func (l *messageLimiter) acquire(ctx context.Context, user string) bool {
	timer := time.NewTimer(l.wait)
	defer timer.Stop()
	for {
		l.mu.Lock()
		if l.byUser == nil {
			l.byUser = map[string]int{}
		}
		if l.running < l.max && l.byUser[user] < l.maxPerPrincipal {
			l.running++
			l.byUser[user]++
			l.mu.Unlock()
			return true
		}
		if l.freed == nil {
			l.freed = make(chan struct{})
		}
		freed := l.freed
		l.mu.Unlock()
		select {
		case <-freed:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (l *messageLimiter) release(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running--
	if l.byUser[user]--; l.byUser[user] == 0 {
		delete(l.byUser, user)
	}
	if l.freed != nil {
		close(l.freed)
		l.freed = nil
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// hasBody: a request that has (or may have: unknown length) a body, and
// every POST, PUT and PATCH (each of the console's takes a JSON body).
func hasBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return r.ContentLength != 0
}

func quoteOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return `"` + s + `"`
}

// crossOriginRefusal says why r, an unsafe request, looks cross-origin
// ("" when it does not).
func crossOriginRefusal(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return "cross-origin request refused (Sec-Fetch-Site: " + site + ")"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	return "cross-origin request refused (Origin " + origin + " is not this console's)"
}

// hostRefusal says why r's Host is refused ("" when it is not): see the
// file comment.
func (g *guard) hostRefusal(r *http.Request) string {
	local := localIP(r)
	if len(g.allowedHosts) == 0 && (!local.IsValid() || !local.IsLoopback()) {
		return ""
	}
	if r.Host == "" {
		return "" // HTTP/1.0 without Host: no browser sends that
	}
	h := normalizeHost(r.Host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || slices.Contains(g.allowedHosts, h) {
		return ""
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		ip = ip.Unmap().WithZone("")
		if ip.IsLoopback() || local.IsValid() && ip == local {
			return ""
		}
	}
	return "host " + quoteOrNone(r.Host) + " refused: the console answers to localhost, loopback addresses and its own " +
		"address only (DNS rebinding protection); reach it by one of those or allow the name (Config.AllowedHosts)"
}

// normalizeHost is host without port and brackets, lower case, without a
// trailing dot.
func normalizeHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// localIP is the address r's connection arrived at (invalid when unknown).
func localIP(r *http.Request) netip.Addr {
	a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}
