// Package protocol is Moldau's Kafka wire front end: it accepts TCP
// connections, reads size-prefixed frames, parses request headers v0–v2 and
// bodies with kmsg, hands each request to a Handler and writes the responses
// back in request order.
//
// Each connection has a reader goroutine and a writer goroutine. The reader
// parses frames and calls Handler.Handle sequentially, in the order the
// requests arrived, so a handler sees a connection's requests one at a time
// (pipelined idempotent produce requests are appended in order). A handler that
// must wait (acks=all durability, a fetch long poll) returns a Reply with a
// Wait function instead of blocking; the writer calls Wait functions in request
// order, so responses always leave in the order their requests came in, while
// the reader goes on decoding and handling the next requests.
//
// Bad input is answered as Kafka answers it: a size prefix that is negative or
// larger than the limit, an unknown API key, an unsupported version (other
// than ApiVersions) or a body that does not parse closes the connection
// without a response. The size limit is checked before anything is allocated.
//
// # Listeners and connection security
//
// A server serves any number of listeners (ServeListener), each with a name
// and a security protocol (ListenerConfig). Every connection carries a
// ConnInfo naming its listener, its protocol, its TLS state and its Session
// (who it authenticated as). On TLS listeners (SSL, SASL_SSL) the TLS
// handshake runs first, within ListenerConfig.HandshakeTimeout; a handshake
// that fails or times out closes the connection before any frame is read.
//
// The session is set at accept on PLAINTEXT listeners (User:ANONYMOUS) and
// after the handshake on SSL listeners (the client certificate's principal,
// else User:ANONYMOUS). On SASL listeners (SASL_PLAINTEXT, SASL_SSL) a
// connection starts without a session and goes through these states:
//
//	unauthenticated  session nil. Frames are capped at SASLMaxReceiveSize
//	                 (512 KiB, Kafka's sasl.server.max.receive.size); only
//	                 ApiVersions (18), SaslHandshake (17) and SaslAuthenticate
//	                 (36) reach the handler; any other key closes the
//	                 connection unanswered (Kafka: IllegalSaslState).
//	raw tokens       entered when the handler answers a SaslHandshake with
//	                 Reply.RawSASL (a v0 handshake: the client then sends
//	                 bare SASL tokens, no Kafka header). Each size-prefixed
//	                 frame (at most 512 KiB) is handed to the handler as a
//	                 SaslAuthenticate v0 request with RawSASL set and the
//	                 token as SASLAuthBytes; the reply's SaslAuthenticateResponse
//	                 goes back as a size prefix and SASLAuthBytes alone, and
//	                 a reply with a non-zero ErrorCode closes the connection.
//	                 Raw mode ends when the handler sets a new session.
//	authenticated    the handler called ConnInfo.SetSession (from Handle, not
//	                 from a Wait: the reader looks at the session right after
//	                 Handle returns). Every request is served, with the
//	                 ordinary frame limits.
//	expired          (KIP-368) Session.Expiry is set and has passed: a
//	                 SaslHandshake or SaslAuthenticate still reaches the
//	                 handler (re-authentication on the same connection: the
//	                 handler replaces the session), any other request closes
//	                 the connection.
//
// The handler keeps the SASL exchange's own state (which mechanism, which
// step); the server only gates what reaches it.
//
// # Idle connections
//
// With Limits.IdleTimeout (connections.max.idle.ms) set, a connection that
// has no request in flight and sends nothing for that long is closed, and a
// frame must arrive whole within that time of its first byte, so a client
// that sends a header and trickles (or never finishes) the body is closed
// too. A response the client does not read for that long closes the
// connection as well.
package protocol

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handler serves decoded requests. It is implemented by the broker.
type Handler interface {
	// Supported reports whether the handler serves key at version. The
	// server closes the connection for a request that is not supported,
	// except ApiVersions, which is always passed to Handle (with an
	// unparsed body when its version is unsupported) so that it can be
	// answered with UNSUPPORTED_VERSION.
	Supported(key, version int16) bool
	// Handle serves one request. It is called from the connection's reader
	// goroutine, one request at a time per connection, in arrival order.
	// It must not block for long: anything that waits goes in Reply.Wait.
	//
	// Byte slices in the decoded request alias the request's frame. A
	// Produce (key 0) frame is reused for a later request as soon as
	// Handle returns, so the produce handler, and any Reply.Wait it
	// returns, must keep no reference into the request's byte fields
	// (copy, or write them out, before returning). Frames of other APIs
	// are not reused.
	Handle(ctx context.Context, req *Request) Reply
}

// Request is one decoded request with its header.
type Request struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      string
	// Body is the decoded request. For ApiVersions at an unsupported
	// version it is an empty ApiVersionsRequest carrying that version.
	Body kmsg.Request
	// Parsed is false only for the unparsed ApiVersions case above.
	Parsed bool
	// RawSASL: a bare SASL token read in raw mode (after a SaslHandshake
	// v0, see the package doc): Key is 36, Body a SaslAuthenticateRequest
	// v0 whose SASLAuthBytes is the token, CorrelationID 0, no ClientID.
	RawSASL bool
	Conn    *ConnInfo
}

// ConnCloser is implemented by a Handler that must know when a connection
// it served has closed (Kafka's connection disconnect listeners: share
// sessions release their records). ConnClosed is called once per served
// connection, after its last reply, from the connection's goroutine.
type ConnCloser interface {
	ConnClosed(conn *ConnInfo)
}

// Reply is the handler's answer to one request.
type Reply struct {
	// Resp is a response that is ready now.
	Resp kmsg.Response
	// Wait, when set, is called by the writer goroutine (in request order)
	// to obtain the response; it may block. Its context is cancelled when
	// the connection or the server closes. A connection that dies drops
	// its queued replies without calling their Wait.
	//
	// Resp and Wait both set: Wait's response is sent, and Resp is only
	// released (a FileResponse's pins) once the reply is written or
	// dropped. A Wait that returns a response prepared before it runs
	// (a delayed reply) sets it as Resp too, so a dropped reply does not
	// leak what it pins.
	Wait func(ctx context.Context) kmsg.Response
	// NoResponse: nothing is written back (produce with acks=0). Wait, if
	// set, is still called so that ordering with later requests holds.
	NoResponse bool
	// Close closes the connection once every earlier response is written.
	Close bool
	// CloseAfterWait, when set, is asked by the writer goroutine right after
	// Wait returns: true closes the connection as Close does. It is for a
	// decision only Wait's outcome can make (a produce with acks=0 whose
	// fsync in Wait failed: Kafka closes the connection on a failed acks=0
	// produce). The reader may have read further requests meanwhile; they are
	// dropped unanswered, as after any close.
	CloseAfterWait func() bool
	// RawSASL, on the reply to a SaslHandshake (key 17), switches the
	// connection to raw SASL tokens once this reply is queued (see the
	// package doc): the next frames are bare tokens until the handler sets
	// a new session.
	RawSASL bool
	// MuteFor, when above zero, holds the connection's next requests back
	// for that long from when the handler returns the reply (throttle.go):
	// a throttled reply without a response. A response's own
	// throttle_time_ms mutes the connection too.
	MuteFor time.Duration
}

// Limits bounds what one connection may make the server allocate.
type Limits struct {
	// MaxRequestBytes is socket.request.max.bytes: the largest frame
	// accepted for a Produce request.
	MaxRequestBytes int32
	// MaxOtherRequestBytes caps frames of every other API. Decoding a
	// request allocates up to a few tens of bytes of structs per wire
	// byte, so the cap on non-data requests bounds memory per request.
	MaxOtherRequestBytes int32
	// MaxInFlight is how many requests per connection may be handled but
	// not yet answered before the reader stops reading.
	MaxInFlight int
	// MaxQueuedBytes bounds the request frames held in memory at once
	// across all connections (Kafka's queued.max.request.bytes); a reader
	// waits for room before allocating a frame. At least MaxRequestBytes.
	MaxQueuedBytes int64
	// IdleTimeout is connections.max.idle.ms: a connection with no request
	// in flight that sends nothing for this long is closed, and so is one
	// whose frame has not arrived whole this long after its first byte.
	// 0: never.
	IdleTimeout time.Duration
}

// DefaultLimits are Kafka's socket.request.max.bytes and Moldau's
// non-produce cap.
func DefaultLimits() Limits {
	return Limits{MaxRequestBytes: 100 << 20, MaxOtherRequestBytes: 8 << 20, MaxInFlight: 64, MaxQueuedBytes: 512 << 20}
}

// Server accepts connections and serves them with a Handler.
type Server struct {
	handler Handler
	limits  Limits
	logger  *slog.Logger
	metrics *Metrics
	budget  *byteBudget
	frames  *framePool
	// connLimit, when set, admits accepted connections (connlimit.go).
	connLimit ConnLimiter

	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[*conn]struct{}
	closing  bool
	connWG   sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	acceptWG sync.WaitGroup
}

// NewServer returns a server; call Serve with a listener.
func NewServer(h Handler, limits Limits, logger *slog.Logger, metrics *Metrics) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	if limits.MaxRequestBytes <= 0 {
		limits.MaxRequestBytes = DefaultLimits().MaxRequestBytes
	}
	if limits.MaxOtherRequestBytes <= 0 || limits.MaxOtherRequestBytes > limits.MaxRequestBytes {
		limits.MaxOtherRequestBytes = min(DefaultLimits().MaxOtherRequestBytes, limits.MaxRequestBytes)
	}
	if limits.MaxInFlight <= 0 {
		limits.MaxInFlight = DefaultLimits().MaxInFlight
	}
	if limits.MaxQueuedBytes < int64(limits.MaxRequestBytes) {
		limits.MaxQueuedBytes = max(DefaultLimits().MaxQueuedBytes, int64(limits.MaxRequestBytes))
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{handler: h, limits: limits, logger: logger, metrics: metrics, conns: make(map[*conn]struct{}), lns: make(map[net.Listener]struct{}), ctx: ctx, cancel: cancel,
		budget: newByteBudget(limits.MaxQueuedBytes), frames: newFramePool(min(limits.MaxQueuedBytes/8, maxIdleFrameBytes))}
}

// maxIdleFrameBytes caps the recycled Produce frames kept while unused.
const maxIdleFrameBytes = 32 << 20

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("protocol: server closed")

// Serve accepts connections on ln as a PLAINTEXT listener named PLAINTEXT
// until Shutdown. It always returns a non-nil error; after Shutdown it is
// ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	return s.ServeListener(ln, ListenerConfig{Name: "PLAINTEXT", Security: Plaintext})
}

// ErrNoTLSConfig is returned by ServeListener for a TLS listener without a
// TLS config.
var ErrNoTLSConfig = errors.New("protocol: TLS listener without a TLS config")

// ServeListener accepts connections on ln as the listener lc until Shutdown;
// a server serves any number of listeners at once, each with its own
// ServeListener call. It always returns a non-nil error; after Shutdown it
// is ErrServerClosed.
func (s *Server) ServeListener(ln net.Listener, lc ListenerConfig) error {
	if lc.Security.IsTLS() && lc.TLS == nil {
		return fmt.Errorf("%w: %s", ErrNoTLSConfig, lc.Name)
	}
	if lc.HandshakeTimeout <= 0 {
		lc.HandshakeTimeout = 10 * time.Second
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.acceptWG.Add(1)
	s.mu.Unlock()
	defer s.acceptWG.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.admit(nc) {
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		c := &conn{srv: s, nc: nc, lc: &lc, info: &ConnInfo{Remote: nc.RemoteAddr(), Local: nc.LocalAddr(), Listener: lc.Name, Security: lc.Security}}
		if !lc.Security.IsSASL() {
			c.info.session.Store(&Session{Principal: AnonymousPrincipal})
		}
		if tc, ok := nc.(*net.TCPConn); ok && canSendfile && !lc.Security.IsTLS() {
			c.raw, _ = tc.SyscallConn()
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			s.released(nc)
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, stops reading new requests, lets requests already
// read finish and their responses be written (waits are cut short by
// cancelling their context), then closes every connection. It returns when
// all connections are closed or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()
	s.acceptWG.Wait()
	// Give in-flight waits (fetch long polls) a moment, then cut them short.
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
	s.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

// pending is one handled request waiting for its response to be written. It
// keeps only the header fields, not the request, so a request's frame can be
// freed once the handler returns.
type pending struct {
	key, version  int16
	correlationID int32
	reply         Reply
	start         time.Time
	// rawSASL: write the SaslAuthenticateResponse as a bare token.
	rawSASL bool
}

type conn struct {
	srv *Server
	nc  net.Conn
	lc  *ListenerConfig // nil: a plaintext connection (tests)
	// rw is what frames are read from and written to: nc, or the TLS
	// connection over it. nc itself is only closed and given deadlines
	// (from other goroutines too), which affects rw the same.
	rw   net.Conn
	info *ConnInfo
	raw  syscall.RawConn // nc's socket, for sendfile; nil: copy file ranges

	// inflight counts requests queued for the writer and not yet written
	// or dropped: the idle timeout does not run while there are any.
	inflight atomic.Int32

	// deadlineMu orders the reader's read deadlines (idle timeout) with
	// stopReading's, so that a deadline set by the reader never undoes a
	// stop: stopped is set, and read only, under it.
	deadlineMu sync.Mutex
	stopped    bool

	// mutedUntil: unix nanos until which the reader holds requests back
	// (quota throttling, throttle.go).
	mutedUntil atomic.Int64
}

func (c *conn) stopReading() {
	// Called with srv.mu held. A read deadline in the past makes the
	// reader's pending read fail, so it stops taking new requests.
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if !c.stopped {
		c.stopped = true
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// setReadDeadline sets the read deadline unless the reader was stopped;
// false means stop reading.
func (c *conn) setReadDeadline(t time.Time) bool {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if c.stopped {
		return false
	}
	_ = c.nc.SetReadDeadline(t)
	return true
}

// handshake runs the TLS handshake of a TLS listener's connection and sets
// the connection's TLS state and, on SSL listeners, its session. false:
// close the connection.
func (c *conn) handshake() bool {
	c.rw = c.nc
	if c.lc == nil || !c.lc.Security.IsTLS() {
		return true
	}
	tc := tls.Server(c.nc, c.lc.TLS)
	c.rw = tc
	ctx, cancel := context.WithTimeout(c.srv.ctx, c.lc.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.srv.logger.Info("failed authentication: TLS handshake failed", "remote", c.info.Remote, "listener", c.info.Listener, "err", err)
		return false
	}
	st := tc.ConnectionState()
	c.info.TLS = &st
	if c.lc.Security != SSL {
		return true
	}
	principal := AnonymousPrincipal
	if len(st.PeerCertificates) > 0 {
		if c.lc.Principal != nil {
			p, err := c.lc.Principal(st.PeerCertificates)
			if err != nil {
				c.srv.logger.Info("closing connection: no principal for the client certificate", "remote", c.info.Remote, "listener", c.info.Listener, "err", err)
				return false
			}
			principal = p
		} else {
			principal = "User:" + SubjectDN(st.PeerCertificates[0])
		}
	}
	c.info.SetSession(&Session{Principal: principal})
	c.srv.logger.Debug("TLS connection authenticated", "remote", c.info.Remote, "listener", c.info.Listener, "principal", principal)
	return true
}

func (c *conn) serve() {
	s := c.srv
	if !c.handshake() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.released(c.nc)
		s.connWG.Done()
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	queue := make(chan pending, s.limits.MaxInFlight)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(ctx, queue)
		// The writer stopped (error or close): unblock the reader.
		cancel()
		c.nc.Close()
	}()
	c.readLoop(ctx, queue)
	close(queue)
	<-writerDone
	cancel()
	c.nc.Close()
	if cc, ok := s.handler.(ConnCloser); ok {
		cc.ConnClosed(c.info)
	}
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.released(c.nc)
	if s.metrics != nil {
		s.metrics.connClosed()
	}
	s.connWG.Done()
}

// readLoop reads frames until EOF, an error or a request that closes the
// connection, handing each request to the handler in order. It runs the
// SASL states of the package doc.
func (c *conn) readLoop(ctx context.Context, queue chan<- pending) {
	s := c.srv
	if s.metrics != nil {
		s.metrics.connOpened()
	}
	br := bufio.NewReaderSize(c.rw, 64<<10)
	var head [6]byte
	var (
		raw     bool     // reading bare SASL tokens (after SaslHandshake v0)
		rawFrom *Session // the session when raw mode began
	)
	for {
		if ctx.Err() != nil {
			return
		}
		if !c.awaitFrame(br) {
			return
		}
		if _, err := io.ReadFull(br, head[:4]); err != nil {
			c.debugReadErr(err)
			return
		}
		size := int32(binary.BigEndian.Uint32(head[:4]))
		if raw {
			reply, ok := c.readRawToken(ctx, br, size)
			if !ok {
				return
			}
			if !c.enqueue(ctx, queue, pending{key: 36, reply: reply, start: time.Now(), rawSASL: true}) || reply.Close {
				return
			}
			if c.info.Session() != rawFrom {
				raw = false
			}
			continue
		}
		sess := c.info.Session()
		preAuth := sess == nil && c.info.Security.IsSASL()
		limit := s.limits.MaxRequestBytes
		if preAuth {
			limit = min(limit, SASLMaxReceiveSize)
		}
		if size < 8 || size > limit {
			// Kafka closes on a negative or oversized prefix; anything
			// shorter than key+version+correlation id cannot be a request.
			s.logger.Debug("closing connection: bad frame size", "remote", c.info.Remote, "size", size, "limit", limit)
			return
		}
		// Read the API key before allocating the body so that non-data
		// requests get the smaller cap.
		if _, err := io.ReadFull(br, head[4:6]); err != nil {
			return
		}
		key := int16(binary.BigEndian.Uint16(head[4:6]))
		if key != 0 && size > s.limits.MaxOtherRequestBytes {
			s.logger.Debug("closing connection: frame too large for api", "remote", c.info.Remote, "key", key, "size", size)
			return
		}
		saslKey := key == 17 || key == 36
		if preAuth && !saslKey && key != 18 {
			s.logger.Debug("closing connection: request before SASL authentication", "remote", c.info.Remote, "listener", c.info.Listener, "key", key)
			return
		}
		if sess != nil && !saslKey && !sess.Expiry.IsZero() && time.Now().After(sess.Expiry) {
			s.logger.Debug("closing connection: SASL session expired", "remote", c.info.Remote, "listener", c.info.Listener, "principal", sess.Principal, "key", key)
			return
		}
		// Produce frames come from the frame pool (see framepool.go) and
		// count against the budget at their class size.
		cost := int64(size)
		recycle := key == 0 && frameCost(int(size)) <= s.limits.MaxQueuedBytes
		if recycle {
			cost = frameCost(int(size))
		}
		var frame []byte
		if size > largeFrameBytes {
			var ok bool
			if frame, ok = c.readLargeFrame(ctx, br, size, recycle, cost, head[4:6]); !ok {
				return
			}
		} else {
			if !s.budget.acquire(ctx, cost) {
				return
			}
			if !c.rearm() {
				s.budget.release(cost)
				return
			}
			if recycle {
				frame = s.frames.get(int(size))
			} else {
				frame = make([]byte, size)
			}
			copy(frame, head[4:6])
			if _, err := io.ReadFull(br, frame[2:]); err != nil {
				c.debugReadErr(err)
				s.freeFrame(frame, recycle, cost)
				return
			}
		}
		c.waitMuted(ctx)
		start := time.Now()
		req, ok := c.parse(frame)
		if !ok {
			s.freeFrame(frame, recycle, cost)
			c.enqueue(ctx, queue, pending{reply: Reply{Close: true}})
			return
		}
		reply := c.handle(ctx, req) // s.handler.Handle, then quota muting (throttle.go)
		// The handler is done with the frame (handlers copy what they
		// keep), so it no longer counts against the budget, and a
		// Produce frame goes back to the pool.
		s.freeFrame(frame, recycle, cost)
		if !c.enqueue(ctx, queue, pending{key: req.Key, version: req.Version, correlationID: req.CorrelationID, reply: reply, start: start}) {
			return
		}
		if reply.Close {
			return
		}
		if reply.RawSASL && req.Key == 17 {
			raw, rawFrom = true, c.info.Session()
		}
	}
}

// enqueue hands p to the writer; false when the connection is closing (p's
// response is released).
func (c *conn) enqueue(ctx context.Context, queue chan<- pending, p pending) bool {
	c.inflight.Add(1)
	select {
	case queue <- p:
		return true
	case <-ctx.Done():
		c.inflight.Add(-1)
		releaseResponse(p.reply.Resp)
		return false
	}
}

// readRawToken reads one bare SASL token of size bytes (raw mode) and hands
// it to the handler as a SaslAuthenticate v0 request. ok=false: close.
func (c *conn) readRawToken(ctx context.Context, br *bufio.Reader, size int32) (Reply, bool) {
	s := c.srv
	if size < 0 || size > SASLMaxReceiveSize {
		s.logger.Debug("closing connection: bad SASL token size", "remote", c.info.Remote, "size", size)
		return Reply{}, false
	}
	if !s.budget.acquire(ctx, int64(size)) {
		return Reply{}, false
	}
	defer s.budget.release(int64(size))
	token := make([]byte, size)
	if _, err := io.ReadFull(br, token); err != nil {
		c.debugReadErr(err)
		return Reply{}, false
	}
	body := kmsg.NewPtrSASLAuthenticateRequest()
	body.SASLAuthBytes = token
	req := &Request{Key: 36, Version: 0, Body: body, Parsed: true, RawSASL: true, Conn: c.info}
	return s.handler.Handle(ctx, req), true
}

// awaitFrame waits for the first byte of the next frame. With an idle
// timeout it gives up after that long with no request in flight, then
// gives the whole frame that long to arrive. false: close.
func (c *conn) awaitFrame(br *bufio.Reader) bool {
	idle := c.srv.limits.IdleTimeout
	if idle <= 0 {
		return true
	}
	for br.Buffered() == 0 {
		if !c.setReadDeadline(time.Now().Add(idle)) {
			return false
		}
		_, err := br.Peek(1)
		if err == nil {
			break
		}
		if !isTimeout(err) {
			c.debugReadErr(err)
			return false
		}
		if c.inflight.Load() == 0 {
			c.srv.logger.Debug("closing idle connection", "remote", c.info.Remote, "listener", c.info.Listener, "idle", idle)
			return false
		}
		// A response is still due (a long poll): not idle.
	}
	return c.rearm()
}

// rearm gives the frame being read the idle timeout from now (after the
// header, and again once the budget granted its bytes).
func (c *conn) rearm() bool {
	idle := c.srv.limits.IdleTimeout
	if idle <= 0 {
		return true
	}
	return c.setReadDeadline(time.Now().Add(idle))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// largeFrameBytes: a frame declaring more than this is read in chunks of
// this size, each taken from the budget only when the one before has
// arrived (readLargeFrame). Smaller frames take their whole size from the
// budget before their body is read.
const largeFrameBytes = 8 << 20

// largeFrameWait bounds how long reading one large frame may wait for
// budget (readLargeFrame).
const largeFrameWait = 30 * time.Second

// readLargeFrame reads the body of a frame of size bytes (the two key bytes
// already read) in chunks of largeFrameBytes, taking each chunk's bytes from
// the budget only once the chunk before it has arrived, then copies them
// into the frame (recycled when recycle) and holds cost for it, as the
// small-frame path does. A client that declares a large frame and stalls
// holds at most one chunk more than it actually sent: without this, a few
// connections each declaring 100 MiB and sending nothing held the whole
// queued-bytes budget and every other connection's reads waited behind them
// until connections.max.idle.ms. The price is one copy of frames over
// largeFrameBytes, which no Kafka client's defaults produce
// (max.request.size is 1 MiB). ok=false: close (the budget is returned).
func (c *conn) readLargeFrame(ctx context.Context, br *bufio.Reader, size int32, recycle bool, cost int64, key []byte) ([]byte, bool) {
	s := c.srv
	if !c.rearm() {
		return nil, false
	}
	var (
		chunks [][]byte
		held   int64
	)
	// Holding some chunks while waiting for more could deadlock with
	// another large frame doing the same: a wait that holds budget gives
	// up after largeFrameWait and the connection closes (the client
	// retries), releasing what it held.
	wctx, cancel := context.WithTimeout(ctx, largeFrameWait)
	defer cancel()
	for left := int64(size) - 2; left > 0; {
		n := min(left, largeFrameBytes)
		if !s.budget.acquire(wctx, n) {
			s.budget.release(held)
			return nil, false
		}
		held += n
		chunk := make([]byte, n)
		if _, err := io.ReadFull(br, chunk); err != nil {
			c.debugReadErr(err)
			s.budget.release(held)
			return nil, false
		}
		chunks = append(chunks, chunk)
		left -= n
	}
	// Swap the chunks' budget for the frame's: cost covers at least the
	// body (a recycled frame's class size is larger).
	if extra := cost - held; extra > 0 {
		if !s.budget.acquire(wctx, extra) {
			s.budget.release(held)
			return nil, false
		}
	} else if extra < 0 {
		s.budget.release(-extra)
	}
	var frame []byte
	if recycle {
		frame = s.frames.get(int(size))
	} else {
		frame = make([]byte, size)
	}
	off := copy(frame, key)
	for i, chunk := range chunks {
		off += copy(frame[off:], chunk)
		chunks[i] = nil
	}
	return frame, true
}

// freeFrame returns a request frame's budget and, if it is recycled, the
// frame to the pool.
func (s *Server) freeFrame(frame []byte, recycle bool, cost int64) {
	if recycle {
		s.frames.put(frame)
	}
	s.budget.release(cost)
}

func (c *conn) debugReadErr(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return
	}
	if isTimeout(err) {
		if c.srv.limits.IdleTimeout > 0 {
			c.srv.logger.Debug("closing connection: frame not received in time", "remote", c.info.Remote, "timeout", c.srv.limits.IdleTimeout)
		}
		return
	}
	c.srv.logger.Debug("connection read error", "remote", c.info.Remote, "err", err)
}

// parse decodes the request header and body. ok=false means close the
// connection.
func (c *conn) parse(frame []byte) (*Request, bool) {
	s := c.srv
	key := int16(binary.BigEndian.Uint16(frame[0:2]))
	version := int16(binary.BigEndian.Uint16(frame[2:4]))
	corr := int32(binary.BigEndian.Uint32(frame[4:8]))
	req := &Request{Key: key, Version: version, CorrelationID: corr, Conn: c.info}
	body := kmsg.RequestForKey(key)
	if body == nil {
		s.logger.Debug("closing connection: unknown api key", "remote", c.info.Remote, "key", key)
		return nil, false
	}
	body.SetVersion(version)
	req.Body = body
	supported := s.handler.Supported(key, version)
	if !supported && key != 18 {
		s.logger.Debug("closing connection: unsupported version", "remote", c.info.Remote, "key", key, "version", version)
		return nil, false
	}
	rest := frame[8:]
	// Client id: a nullable int16-length string in header v1 and v2.
	if len(rest) < 2 {
		return nil, false
	}
	idLen := int16(binary.BigEndian.Uint16(rest[:2]))
	rest = rest[2:]
	if idLen > 0 {
		if int(idLen) > len(rest) {
			return nil, false
		}
		req.ClientID = string(rest[:idLen])
		rest = rest[idLen:]
	} else if idLen < -1 {
		return nil, false
	}
	if !supported {
		// ApiVersions at a version we do not serve: Kafka does not parse
		// the body and answers v0 with UNSUPPORTED_VERSION.
		return req, true
	}
	if body.IsFlexible() {
		var ok bool
		if rest, ok = skipTags(rest); !ok {
			return nil, false
		}
	}
	if err := body.ReadFrom(rest); err != nil {
		s.logger.Debug("closing connection: unparseable request", "remote", c.info.Remote, "key", key, "version", version, "err", err)
		return nil, false
	}
	req.Parsed = true
	return req, true
}

// skipTags skips a tagged-field section: an uvarint count, then per field an
// uvarint tag, an uvarint size and the bytes.
func skipTags(b []byte) ([]byte, bool) {
	n, l := binary.Uvarint(b)
	if l <= 0 || n > uint64(len(b)) {
		return nil, false
	}
	b = b[l:]
	for range n {
		_, l = binary.Uvarint(b)
		if l <= 0 {
			return nil, false
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || size > uint64(len(b)-l) {
			return nil, false
		}
		b = b[l+int(size):]
	}
	return b, true
}

// writeLoop writes responses in request order until the queue closes or a
// write fails.
func (c *conn) writeLoop(ctx context.Context, queue <-chan pending) {
	s := c.srv
	bw := bufio.NewWriterSize(c.rw, 64<<10)
	var (
		buf   []byte
		files fileEncoder
	)
	idle := s.limits.IdleTimeout
	for p := range queue {
		c.inflight.Add(-1)
		resp := p.reply.Resp
		if p.reply.Wait != nil {
			resp = p.reply.Wait(ctx)
		}
		c.throttle(ctx, p.reply, resp)
		closeConn := p.reply.Close || (p.reply.CloseAfterWait != nil && p.reply.CloseAfterWait())
		if p.rawSASL && !p.reply.NoResponse && !closeConn {
			// Raw mode: a failed step closes the connection (Kafka
			// has no way to say why without SaslAuthenticate).
			if sa, ok := resp.(*kmsg.SASLAuthenticateResponse); !ok || sa.ErrorCode != 0 {
				releaseResponse(resp)
				resp, closeConn = nil, true
			}
		}
		if idle > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(idle))
		}
		if closeConn && resp == nil {
			_ = bw.Flush()
			c.drain(queue)
			return
		}
		if p.reply.Wait != nil && p.reply.Resp != nil && p.reply.Resp != resp {
			releaseResponse(p.reply.Resp)
		}
		if !p.reply.NoResponse && resp != nil {
			var err error
			if fr, ok := resp.(*FileResponse); ok {
				err = c.writeFiles(bw, &files, p.correlationID, fr)
			} else if p.rawSASL {
				token := resp.(*kmsg.SASLAuthenticateResponse).SASLAuthBytes
				buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(token)))
				buf = append(buf, token...)
				_, err = bw.Write(buf)
			} else {
				buf, err = writeResponse(bw, buf, p.correlationID, resp)
			}
			if err != nil {
				releaseResponse(resp)
				s.logger.Debug("connection write error", "remote", c.info.Remote, "err", err)
				c.drain(queue)
				return
			}
		}
		releaseResponse(resp)
		if s.metrics != nil && !p.start.IsZero() {
			s.metrics.observe(p.key, p.version, time.Since(p.start))
		}
		if closeConn {
			_ = bw.Flush()
			c.drain(queue)
			return
		}
		if len(queue) == 0 {
			if err := bw.Flush(); err != nil {
				c.drain(queue)
				return
			}
		}
	}
	_ = bw.Flush()
}

// writeResponse encodes resp into buf (reused across responses) and writes
// it to bw; it returns the buffer to keep.
func writeResponse(bw *bufio.Writer, buf []byte, correlationID int32, resp kmsg.Response) ([]byte, error) {
	// A large (fetch) response is encoded into a buffer from largeBufs,
	// grown once to its size: growing from empty while encoding copied it
	// several times over and zeroed fresh memory each time. The pool is
	// shared, so an idle connection pins nothing.
	var large *[]byte
	out := buf[:0]
	if hint := sizeHint(resp); hint > 1<<20 {
		large = largeBufs.Get().(*[]byte)
		out = slices.Grow((*large)[:0], hint)
	}
	out = appendResponse(out, correlationID, resp)
	_, err := bw.Write(out) // copies or writes out before returning
	if large != nil {
		*large = out[:0]
		largeBufs.Put(large)
	} else if cap(out) <= 1<<20 {
		buf = out // do not pin a large buffer per connection
	}
	return buf, err
}

// sendfileMin is the smallest file range sent with sendfile(2): below it,
// flushing the buffer and a sendfile call cost more than copying the bytes
// through the buffer.
const sendfileMin = 32 << 10

// writeFiles writes a FileResponse (see files.go): file ranges go out with
// sendfile when the connection is a TCP socket and the range an OS file of
// at least sendfileMin bytes, and are copied through bw otherwise.
func (c *conn) writeFiles(bw *bufio.Writer, e *fileEncoder, correlationID int32, fr *FileResponse) error {
	enc0, cuts, ok := e.prepare(correlationID, fr)
	if !ok {
		// Never expected: kmsg encoded the fields in a shape files.go does
		// not recognise. Send the response the slow way rather than wrong.
		c.srv.logger.Warn("file response layout not recognised; copying it whole", "key", fr.Key(), "version", fr.GetVersion())
		out, err := inlineFileResponse(nil, correlationID, fr)
		if err != nil {
			return err
		}
		_, err = bw.Write(out)
		return err
	}
	m := c.srv.metrics
	send := func(bw *bufio.Writer, r FileRange) error {
		if c.raw != nil && r.F != nil && r.Len >= sendfileMin {
			if err := bw.Flush(); err != nil {
				return err
			}
			src, err := r.F.SyscallConn()
			if err != nil {
				return err
			}
			if err := sendFile(c.raw, src, r.Off, r.Len); err != nil {
				return err
			}
			if m != nil {
				m.fileSent.Add(r.Len)
			}
			return nil
		}
		if err := copyRange(bw, r); err != nil {
			return err
		}
		if m != nil {
			m.fileCopied.Add(r.Len)
		}
		return nil
	}
	return writeFileResponse(bw, enc0, cuts, fr, fr.IsFlexible(), send)
}

// drain discards what is left after the writer gave up, so the reader never
// blocks on a full queue, and releases the files ready responses pin.
func (c *conn) drain(queue <-chan pending) {
	c.nc.Close()
	go func() {
		for p := range queue {
			releaseResponse(p.reply.Resp)
		}
	}()
}

// largeBufs recycles encode buffers of responses over 1 MiB across connections.
var largeBufs = sync.Pool{New: func() any { return new([]byte) }}

// sizeHint estimates the encoded size of a fetch response from its record
// bytes, slightly high; other responses return 0 (they are small).
func sizeHint(resp kmsg.Response) int {
	f, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 64
	for i := range f.Topics {
		t := &f.Topics[i]
		n += 64 + len(t.Topic)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			n += 96 + len(p.RecordBatches) + 24*len(p.AbortedTransactions)
		}
	}
	return n
}

// appendResponse frames resp: size, correlation id, the response header's
// tagged fields when flexible (never for ApiVersions, whose response header is
// always v0), then the body.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != 18 {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[:4], uint32(len(dst)-4))
	return dst
}
