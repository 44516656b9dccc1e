package replication

// TCPTransport: the Transport between nodes over TCP (DESIGN.md §6). One
// connection per pair of nodes carries both directions and every group's
// messages: the node with the lower id dials, the other accepts (and
// answers ErrUnreachable until the dialer has connected). Peers come and
// go (SetPeer, RemovePeer: the broker follows the cluster metadata). A
// joining node (TCPConfig.DialLower), whose address the others do not know
// yet, also dials lower ids; a node accepts a connection from a higher id
// only while it has none to that id, and a connection dialed by the lower
// id replaces one dialed by the higher, so the pair converges on one
// connection. Connections from ids not (yet) among the peers are accepted
// only when TCPConfig.AcceptPeer says so. Outgoing
// connections can be bound to this node's own address, so that firewall
// rules between node addresses on one machine (127.0.0.1, 127.0.0.2, ...)
// cut a node off as they would on separate machines.
//
// Wire format (big-endian):
//
//	handshake, each way: magic "MDRT", version uint8 1, from uint64, to uint64
//	frame: length uint32 (bytes after this field), CRC-32C uint32 of the
//	       rest, count uint32, then count envelopes:
//	       group uint64, flags uint8 (bit 0: quiesce, bit 1: liveness,
//	       no message), message length uint32, raftpb.Message protobuf
//
// A frame that fails its CRC or does not parse closes the connection (the
// dialer reconnects; Raft retransmits what was lost).

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

const (
	tcpMagic      = "MDRT"
	tcpVersion    = 1
	handshakeSize = 4 + 1 + 8 + 8
	// MaxFrameBytes bounds one frame (a batch of messages to one peer);
	// raft's MaxSizePerMsg (1 MiB) keeps single messages well below it.
	MaxFrameBytes = 64 << 20

	flagQuiesce  = 1
	flagLiveness = 2
)

// ErrBadFrame: a frame from a peer is damaged or malformed.
var ErrBadFrame = errors.New("replication: bad frame")

// TCPConfig configures a TCPTransport.
type TCPConfig struct {
	ID uint64
	// ListenAddr is this node's inter-broker listener (--peer-addr);
	// port 0 picks one (Addr tells which).
	ListenAddr string
	// BindOutgoing makes outgoing connections use ListenAddr's host as
	// their local address.
	BindOutgoing bool
	// DialTimeout and WriteTimeout (defaults 2 s and 5 s).
	DialTimeout, WriteTimeout time.Duration
	// RedialAfter: after a failed dial, Send answers ErrUnreachable
	// without dialing for this long (default 200 ms).
	RedialAfter time.Duration
	Logger      *slog.Logger
	// DialLower: dial peers with a lower id too, when no connection to
	// them exists (a node joining a running cluster: the others learn
	// its address only through it).
	DialLower bool
	// AcceptPeer decides whether a connection from id, which has no
	// address here (SetPeer), is accepted; nil: only known peers (each
	// accepted connection may hold a frame buffer of up to
	// MaxFrameBytes). The broker accepts any id: joiners introduce
	// themselves this way.
	AcceptPeer func(id uint64) bool
}

// TCPTransport implements Transport over TCP. Create it, create the Node
// with it, then Start(node). To shut down, Close the transport first, then
// Stop the node: Stop waits for the node's sends in progress, which a peer
// that stopped reading could hold for WriteTimeout; Close ends them at once.
type TCPTransport struct {
	cfg      TCPConfig
	ln       net.Listener
	logger   *slog.Logger
	recv     Receiver
	started  chan struct{} // closed by Start
	done     chan struct{} // closed by Close
	mu       sync.Mutex
	peers    map[uint64]string
	conns    map[uint64]*peerConn
	lastFail map[uint64]time.Time
	closed   bool
	wg       sync.WaitGroup
}

type peerConn struct {
	peer uint64
	// dialed: this node dialed the connection.
	dialed bool
	c      net.Conn
	wmu    sync.Mutex   // one writer at a time
	enc    frameEncoder // wmu
}

// byLower reports whether the lower id of the pair dialed pc (self is
// this node's id).
func (pc *peerConn) byLower(self uint64) bool { return pc.dialed == (self < pc.peer) }

// NewTCPTransport listens on cfg.ListenAddr.
func NewTCPTransport(cfg TCPConfig) (*TCPTransport, error) {
	if cfg.ID == 0 {
		return nil, errors.New("replication: transport needs a node id")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	if cfg.RedialAfter <= 0 {
		cfg.RedialAfter = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("replication: listen for peers: %w", err)
	}
	return &TCPTransport{
		cfg: cfg, ln: ln, logger: cfg.Logger.With("node", cfg.ID),
		started: make(chan struct{}), done: make(chan struct{}),
		peers: make(map[uint64]string), conns: make(map[uint64]*peerConn), lastFail: make(map[uint64]time.Time),
	}, nil
}

// Addr is the listener's address.
func (t *TCPTransport) Addr() net.Addr { return t.ln.Addr() }

// SetPeer records (or changes) peer id's address. A changed address
// closes the connection dialed to the old one (the next Send redials).
func (t *TCPTransport) SetPeer(id uint64, addr string) {
	t.mu.Lock()
	old, had := t.peers[id]
	t.peers[id] = addr
	var stale *peerConn
	if had && old != addr && id > t.cfg.ID {
		stale = t.conns[id]
	}
	delete(t.lastFail, id)
	t.mu.Unlock()
	if stale != nil {
		t.drop(stale)
	}
}

// RemovePeer forgets peer id's address and closes its connection (the
// node left the cluster).
func (t *TCPTransport) RemovePeer(id uint64) {
	t.mu.Lock()
	delete(t.peers, id)
	delete(t.lastFail, id)
	pc := t.conns[id]
	t.mu.Unlock()
	if pc != nil {
		t.drop(pc)
	}
}

// Peers returns the known peer addresses by id (a copy).
func (t *TCPTransport) Peers() map[uint64]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[uint64]string, len(t.peers))
	for id, a := range t.peers {
		out[id] = a
	}
	return out
}

// Start begins accepting connections and delivering what arrives to r.
func (t *TCPTransport) Start(r Receiver) {
	t.recv = r
	close(t.started)
	t.wg.Add(1)
	go t.acceptLoop()
}

// Close closes the listener and every connection and waits for the
// transport's goroutines.
func (t *TCPTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.done)
	conns := make([]*peerConn, 0, len(t.conns))
	for _, pc := range t.conns {
		conns = append(conns, pc)
	}
	t.mu.Unlock()
	err := t.ln.Close()
	for _, pc := range conns {
		pc.c.Close()
	}
	t.wg.Wait()
	return err
}

func (t *TCPTransport) acceptLoop() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return // closed
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.accept(c)
		}()
	}
}

// accept runs the handshake for an incoming connection and, if it comes
// from a known lower-id peer (or a higher-id one this node has no
// connection to, see the file comment), reads from it until it fails.
func (t *TCPTransport) accept(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	from, err := readHandshake(c, t.cfg.ID)
	if err == nil && from == t.cfg.ID {
		err = fmt.Errorf("peer %d has this node's id", from)
	}
	if err == nil {
		// Only configured peers (unless AcceptPeer says otherwise):
		// every accepted connection may hold a frame buffer of up to
		// MaxFrameBytes, so connections claiming arbitrary ids would
		// make memory unbounded.
		t.mu.Lock()
		_, known := t.peers[from]
		_, connected := t.conns[from]
		t.mu.Unlock()
		switch {
		case !known && (t.cfg.AcceptPeer == nil || !t.cfg.AcceptPeer(from)):
			err = fmt.Errorf("node %d is not a configured peer", from)
		case from > t.cfg.ID && connected:
			err = fmt.Errorf("peer %d must be dialed, not dial", from)
		}
	}
	if err == nil {
		err = writeHandshake(c, t.cfg.ID, from)
	}
	if err != nil {
		t.logger.Warn("refused peer connection", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	pc := &peerConn{peer: from, c: c}
	if !t.install(pc) {
		return
	}
	t.readLoop(pc)
}

// install makes pc the connection to its peer, closing an older one (the
// peer restarted), except that a connection dialed by the higher id of
// the pair never replaces one dialed by the lower. False if the transport
// is closed or pc was not installed.
func (t *TCPTransport) install(pc *peerConn) bool {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		pc.c.Close()
		return false
	}
	old := t.conns[pc.peer]
	if old != nil && old.byLower(t.cfg.ID) && !pc.byLower(t.cfg.ID) {
		t.mu.Unlock()
		pc.c.Close()
		return false
	}
	t.conns[pc.peer] = pc
	t.mu.Unlock()
	if old != nil {
		old.c.Close()
	}
	return true
}

func (t *TCPTransport) drop(pc *peerConn) {
	t.mu.Lock()
	current := t.conns[pc.peer] == pc
	if current {
		delete(t.conns, pc.peer)
	}
	closed := t.closed
	t.mu.Unlock()
	pc.c.Close()
	if d, ok := t.recv.(DisconnectReceiver); ok && current && !closed {
		d.PeerDisconnected(pc.peer)
	}
}

// PeerHungUp reports whether the connection to peer has been closed by
// the peer (a crashed process's sockets are closed by its kernel) though
// its reader has not seen it yet, and then tells the receiver
// (DisconnectReceiver) at once. False when no connection exists: the
// receiver heard of that when it was dropped. The broker asks before it
// answers Metadata for a partition led by peer, as the client that saw its
// own connection to the crashed leader reset may be faster than the
// reader here.
func (t *TCPTransport) PeerHungUp(peer uint64) bool {
	t.mu.Lock()
	pc := t.conns[peer]
	t.mu.Unlock()
	if pc == nil || !hungUp(pc.c) {
		return false
	}
	if d, ok := t.recv.(DisconnectReceiver); ok {
		d.PeerDisconnected(peer)
	}
	return true
}

func (t *TCPTransport) readLoop(pc *peerConn) {
	defer t.drop(pc)
	select {
	case <-t.started:
	case <-t.done:
		return
	}
	r := bufio.NewReaderSize(pc.c, 64<<10)
	var dec frameDecoder
	for {
		batch, err := dec.decode(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				t.logger.Debug("peer connection closed", "peer", pc.peer, "err", err)
			}
			return
		}
		t.recv.Receive(pc.peer, batch)
	}
}

// conn returns the connection to peer, dialing it if this node is the
// dialer of the pair.
func (t *TCPTransport) conn(to uint64) (*peerConn, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: transport closed", ErrUnreachable)
	}
	if pc := t.conns[to]; pc != nil {
		t.mu.Unlock()
		return pc, nil
	}
	addr, known := t.peers[to]
	recent := time.Since(t.lastFail[to]) < t.cfg.RedialAfter
	t.mu.Unlock()
	switch {
	case !known:
		return nil, fmt.Errorf("%w: no address for node %d", ErrUnreachable, to)
	case to < t.cfg.ID && !t.cfg.DialLower:
		return nil, fmt.Errorf("%w: waiting for node %d to connect", ErrUnreachable, to)
	case recent:
		return nil, fmt.Errorf("%w: node %d: recent dial failed", ErrUnreachable, to)
	}
	pc, err := t.dial(to, addr)
	if err != nil {
		t.mu.Lock()
		t.lastFail[to] = time.Now()
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: node %d at %s: %w", ErrUnreachable, to, addr, err)
	}
	if !t.install(pc) {
		t.mu.Lock()
		existing := t.conns[to]
		t.mu.Unlock()
		if existing != nil {
			return existing, nil // the lower id connected meanwhile
		}
		return nil, fmt.Errorf("%w: transport closed", ErrUnreachable)
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.readLoop(pc)
	}()
	return pc, nil
}

func (t *TCPTransport) dial(to uint64, addr string) (*peerConn, error) {
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	if t.cfg.BindOutgoing {
		if host, _, err := net.SplitHostPort(t.ln.Addr().String()); err == nil {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(host)}
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	if err := writeHandshake(c, t.cfg.ID, to); err != nil {
		c.Close()
		return nil, err
	}
	from, err := readHandshake(c, t.cfg.ID)
	if err == nil && from != to {
		err = fmt.Errorf("dialed node %d, answered by %d", to, from)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return &peerConn{peer: to, dialed: true, c: c}, nil
}

// Send implements Transport: one frame per call, written whole.
func (t *TCPTransport) Send(to uint64, batch []Envelope) error {
	pc, err := t.conn(to)
	if err != nil {
		return err
	}
	pc.wmu.Lock()
	// A batch larger than a frame (the queue of a busy peer after a slow
	// write, or many groups' 1 MiB appends at once) goes as several
	// frames: as one, it failed to encode every time, so the peer got
	// nothing at all while the queue stayed large.
	for len(batch) > 0 && err == nil {
		var n int
		var frame []byte
		frame, n, err = pc.enc.encode(batch, MaxFrameBytes)
		if err == nil {
			_ = pc.c.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
			_, err = pc.c.Write(frame)
		}
		batch = batch[n:]
	}
	pc.enc.release()
	pc.wmu.Unlock()
	if err != nil {
		t.drop(pc)
		return fmt.Errorf("%w: node %d: %w", ErrUnreachable, to, err)
	}
	return nil
}

func writeHandshake(w io.Writer, from, to uint64) error {
	b := make([]byte, 0, handshakeSize)
	b = append(b, tcpMagic...)
	b = append(b, tcpVersion)
	b = binary.BigEndian.AppendUint64(b, from)
	b = binary.BigEndian.AppendUint64(b, to)
	_, err := w.Write(b)
	return err
}

// readHandshake reads the peer's handshake, which must be addressed to
// self, and returns the peer's id.
func readHandshake(r io.Reader, self uint64) (uint64, error) {
	var b [handshakeSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	if string(b[:4]) != tcpMagic || b[4] != tcpVersion {
		return 0, fmt.Errorf("%w: bad handshake", ErrBadFrame)
	}
	from, to := binary.BigEndian.Uint64(b[5:]), binary.BigEndian.Uint64(b[13:])
	if to != self || from == 0 {
		return 0, fmt.Errorf("%w: handshake from %d for node %d (this is %d)", ErrBadFrame, from, to, self)
	}
	return from, nil
}

// appendFrame encodes batch as one frame.
func appendFrame(b []byte, batch []Envelope) ([]byte, error) {
	b, n, err := appendFrameMax(b, batch, MaxFrameBytes)
	if err == nil && n < len(batch) {
		err = fmt.Errorf("%w: %d envelopes do not fit one frame", ErrBadFrame, len(batch))
	}
	return b, err
}

// keptFrameBytes bounds the frame buffers a connection keeps between frames
// (frameEncoder, frameDecoder): large enough for a busy peer's appends, so
// that frames are neither re-grown nor zeroed anew each time.
const keptFrameBytes = 8 << 20

// frameEncoder encodes frames into a buffer it reuses.
type frameEncoder struct{ buf []byte }

// encode is appendFrameMax into the encoder's buffer; the frame is valid
// until the next encode or release.
func (e *frameEncoder) encode(batch []Envelope, max int) ([]byte, int, error) {
	var n int
	var err error
	e.buf, n, err = appendFrameMax(e.buf[:0], batch, max)
	return e.buf, n, err
}

// release drops the buffer if it grew beyond keptFrameBytes.
func (e *frameEncoder) release() {
	if cap(e.buf) > keptFrameBytes {
		e.buf = nil
	}
}

// envelopeHeader is an envelope's bytes before its message: group, flags,
// message length.
const envelopeHeader = 8 + 1 + 4

// appendFrameMax encodes as many envelopes of batch as fit one frame of at
// most max bytes (after its length field) and returns how many it took:
// at least one, or an error if that one alone is too large. The messages'
// sizes are computed first, so that b grows once to the frame's size and
// each message is marshalled in place (proto.MarshalAppend otherwise grows
// and copies the frame for each message that does not fit its capacity).
func appendFrameMax(b []byte, batch []Envelope, max int) ([]byte, int, error) {
	start := len(b)
	total, taken := 8, 0 // CRC, count
	for _, env := range batch {
		n := envelopeHeader
		if env.Msg != nil {
			n += proto.Size(env.Msg)
		}
		if total+n > max {
			if taken == 0 {
				return b, 0, fmt.Errorf("%w: message of %d bytes", ErrBadFrame, n)
			}
			break
		}
		total += n
		taken++
	}
	b = slices.Grow(b, 4+total)
	b = append(b, make([]byte, 12)...) // length, CRC, count: filled below
	for _, env := range batch[:taken] {
		b = binary.BigEndian.AppendUint64(b, env.Group)
		var flags byte
		if env.Quiesce {
			flags |= flagQuiesce
		}
		if env.Msg == nil {
			b = append(b, flags|flagLiveness)
			b = binary.BigEndian.AppendUint32(b, 0)
			continue
		}
		b = append(b, flags)
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		var err error
		// The size proto.Size cached above (sizes are cached atomically
		// in each message; the messages do not change after Send).
		if b, err = (proto.MarshalOptions{UseCachedSize: true}).MarshalAppend(b, env.Msg); err != nil {
			return b, 0, fmt.Errorf("replication: encode message: %w", err)
		}
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	if len(b)-start != 4+total {
		return b, 0, fmt.Errorf("replication: encode frame: %d bytes, sized %d", len(b)-start, 4+total)
	}
	f := b[start:]
	binary.BigEndian.PutUint32(f[0:], uint32(len(f)-4))
	binary.BigEndian.PutUint32(f[8:], uint32(taken))
	binary.BigEndian.PutUint32(f[4:], crc32.Checksum(f[8:], castagnoli))
	return b, taken, nil
}

// readFrame reads and decodes one frame.
func readFrame(r io.Reader) ([]Envelope, error) {
	var d frameDecoder
	return d.decode(r)
}

// frameDecoder reads frames into a buffer it reuses (up to
// keptFrameBytes). That is safe because decoding copies what it keeps:
// proto.Unmarshal copies bytes fields (entries' Data, which raft keeps),
// it never aliases its input (TestFrameDecodeDoesNotAlias).
type frameDecoder struct{ buf []byte }

// decode reads and decodes one frame.
func (d *frameDecoder) decode(r io.Reader) ([]Envelope, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 8 || n > MaxFrameBytes {
		return nil, fmt.Errorf("%w: frame length %d", ErrBadFrame, n)
	}
	b := d.buf
	if uint32(cap(b)) < n {
		b = make([]byte, n)
	}
	b = b[:n]
	if n <= keptFrameBytes {
		d.buf = b
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return decodeFrame(b)
}

// decodeFrame decodes a frame's body (after its length field).
func decodeFrame(b []byte) ([]Envelope, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: short frame", ErrBadFrame)
	}
	if binary.BigEndian.Uint32(b) != crc32.Checksum(b[4:], castagnoli) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadFrame)
	}
	count := binary.BigEndian.Uint32(b[4:])
	p := b[8:]
	if uint64(count)*13 > uint64(len(p)) {
		return nil, fmt.Errorf("%w: %d envelopes in %d bytes", ErrBadFrame, count, len(p))
	}
	out := make([]Envelope, 0, count)
	for range count {
		if len(p) < 13 {
			return nil, fmt.Errorf("%w: short envelope", ErrBadFrame)
		}
		env := Envelope{Group: binary.BigEndian.Uint64(p), Quiesce: p[8]&flagQuiesce != 0}
		liveness := p[8]&flagLiveness != 0
		ml := binary.BigEndian.Uint32(p[9:])
		p = p[13:]
		if uint64(ml) > uint64(len(p)) || (liveness && ml != 0) {
			return nil, fmt.Errorf("%w: message length %d", ErrBadFrame, ml)
		}
		if !liveness {
			m := &raftpb.Message{}
			if err := proto.Unmarshal(p[:ml], m); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadFrame, err)
			}
			env.Msg = m
		}
		p = p[ml:]
		out = append(out, env)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the envelopes", ErrBadFrame, len(p))
	}
	return out, nil
}
