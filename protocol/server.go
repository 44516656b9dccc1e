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
package protocol

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
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
	Conn   *ConnInfo
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

	mu       sync.Mutex
	ln       net.Listener
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
	return &Server{handler: h, limits: limits, logger: logger, metrics: metrics, conns: make(map[*conn]struct{}), ctx: ctx, cancel: cancel,
		budget: newByteBudget(limits.MaxQueuedBytes), frames: newFramePool(min(limits.MaxQueuedBytes/8, maxIdleFrameBytes))}
}

// maxIdleFrameBytes caps the recycled Produce frames kept while unused.
const maxIdleFrameBytes = 32 << 20

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("protocol: server closed")

// Serve accepts connections on ln until Shutdown. It always returns a
// non-nil error; after Shutdown it is ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.ln = ln
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
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		c := &conn{srv: s, nc: nc, info: &ConnInfo{Remote: nc.RemoteAddr(), Local: nc.LocalAddr(), Listener: "PLAINTEXT", Security: Plaintext}}
		c.info.session = &Session{Principal: AnonymousPrincipal}
		if tc, ok := nc.(*net.TCPConn); ok && canSendfile {
			c.raw, _ = tc.SyscallConn()
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
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
	if s.ln != nil {
		s.ln.Close()
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
}

type conn struct {
	srv  *Server
	nc   net.Conn
	info *ConnInfo
	raw  syscall.RawConn // nc's socket, for sendfile; nil: copy file ranges

	stopOnce sync.Once
}

func (c *conn) stopReading() {
	// Called with srv.mu held. A read deadline in the past makes the
	// reader's pending read fail, so it stops taking new requests.
	c.stopOnce.Do(func() {
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	})
}

func (c *conn) serve() {
	s := c.srv
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
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if s.metrics != nil {
		s.metrics.connClosed()
	}
	s.connWG.Done()
}

// readLoop reads frames until EOF, an error or a request that closes the
// connection, handing each request to the handler in order.
func (c *conn) readLoop(ctx context.Context, queue chan<- pending) {
	s := c.srv
	if s.metrics != nil {
		s.metrics.connOpened()
	}
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var head [6]byte
	for {
		if ctx.Err() != nil {
			return
		}
		if _, err := io.ReadFull(br, head[:4]); err != nil {
			c.debugReadErr(err)
			return
		}
		size := int32(binary.BigEndian.Uint32(head[:4]))
		if size < 8 || size > s.limits.MaxRequestBytes {
			// Kafka closes on a negative or oversized prefix; anything
			// shorter than key+version+correlation id cannot be a request.
			s.logger.Debug("closing connection: bad frame size", "remote", c.info.Remote, "size", size)
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
		// Produce frames come from the frame pool (see framepool.go) and
		// count against the budget at their class size.
		cost := int64(size)
		recycle := key == 0 && frameCost(int(size)) <= s.limits.MaxQueuedBytes
		if recycle {
			cost = frameCost(int(size))
		}
		if !s.budget.acquire(ctx, cost) {
			return
		}
		var frame []byte
		if recycle {
			frame = s.frames.get(int(size))
		} else {
			frame = make([]byte, size)
		}
		copy(frame, head[4:6])
		if _, err := io.ReadFull(br, frame[2:]); err != nil {
			s.freeFrame(frame, recycle, cost)
			return
		}
		start := time.Now()
		req, ok := c.parse(frame)
		if !ok {
			s.freeFrame(frame, recycle, cost)
			queue <- pending{reply: Reply{Close: true}}
			return
		}
		reply := s.handler.Handle(ctx, req)
		// The handler is done with the frame (handlers copy what they
		// keep), so it no longer counts against the budget, and a
		// Produce frame goes back to the pool.
		s.freeFrame(frame, recycle, cost)
		select {
		case queue <- pending{key: req.Key, version: req.Version, correlationID: req.CorrelationID, reply: reply, start: start}:
		case <-ctx.Done():
			releaseResponse(reply.Resp)
			return
		}
		if reply.Close {
			return
		}
	}
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
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
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
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var (
		buf   []byte
		files fileEncoder
	)
	for p := range queue {
		resp := p.reply.Resp
		if p.reply.Wait != nil {
			resp = p.reply.Wait(ctx)
		}
		closeConn := p.reply.Close || (p.reply.CloseAfterWait != nil && p.reply.CloseAfterWait())
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
