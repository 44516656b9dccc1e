package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func sampleBatch() []Envelope {
	return []Envelope{
		{Group: 7, Msg: &raftpb.Message{
			Type: raftpb.MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(3)),
			Index: new(uint64(10)), LogTerm: new(uint64(3)), Commit: new(uint64(9)),
			Entries: []*raftpb.Entry{{Term: new(uint64(3)), Index: new(uint64(11)), Data: []byte("batch")}},
		}},
		{}, // liveness
		{Group: 8, Quiesce: true, Msg: &raftpb.Message{Type: raftpb.MsgHeartbeat.Enum(), To: new(uint64(2)), From: new(uint64(1)), Commit: new(uint64(4))}},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	in := sampleBatch()
	b, err := appendFrame(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := readFrame(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d envelopes, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Group != in[i].Group || out[i].Quiesce != in[i].Quiesce || (out[i].Msg == nil) != (in[i].Msg == nil) ||
			(in[i].Msg != nil && !proto.Equal(out[i].Msg, in[i].Msg)) {
			t.Fatalf("envelope %d: %+v, want %+v", i, out[i], in[i])
		}
	}
	// Any flipped byte after the length is caught (the CRC covers it).
	for i := 4; i < len(b); i++ {
		bad := bytes.Clone(b)
		bad[i] ^= 0x40
		if _, err := readFrame(bytes.NewReader(bad)); !errors.Is(err, ErrBadFrame) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	b, _ := appendFrame(nil, sampleBatch())
	f.Add(b[4:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		envs, err := decodeFrame(body)
		if err != nil {
			return
		}
		// What decodes re-encodes to a frame that decodes the same.
		again, err := appendFrame(nil, envs)
		if err != nil {
			t.Fatal(err)
		}
		envs2, err := decodeFrame(again[4:])
		if err != nil || len(envs2) != len(envs) {
			t.Fatalf("re-decode: %d envelopes, %v", len(envs2), err)
		}
	})
}

// A cluster over real TCP connections on loopback, with the nodes' own
// tickers: leaders are elected, proposals commit everywhere, and when a
// node goes away the others take over its groups.
func TestTCPCluster(t *testing.T) {
	const groups = 5
	ids := []uint64{1, 2, 3}
	transports := map[uint64]*TCPTransport{}
	addrs := map[uint64]string{}
	nodes := map[uint64]*Node{}
	sms := map[[2]uint64]*testSM{}
	storages := map[[2]uint64]*MemStorage{}
	for _, id := range ids {
		for g := uint64(1); g <= groups; g++ {
			sms[[2]uint64{id, g}] = &testSM{}
			storages[[2]uint64{id, g}] = NewMemStorage(ids...)
		}
	}
	listen := func(id uint64, addr string) {
		tr, err := NewTCPTransport(TCPConfig{ID: id, ListenAddr: addr, Logger: quietLogger, RedialAfter: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		transports[id], addrs[id] = tr, tr.Addr().String()
	}
	// start runs node id on its transport, storages and state machines
	// (kept across a restart, as a disk would keep them).
	start := func(id uint64) {
		for _, p := range ids {
			if p != id {
				transports[id].SetPeer(p, addrs[p])
			}
		}
		n, err := NewNode(Config{ID: id, Transport: transports[id], TickInterval: 5 * time.Millisecond, Peers: ids, Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		for g := uint64(1); g <= groups; g++ {
			sm := sms[[2]uint64{id, g}]
			applied, _ := sm.snapshot()
			if err := n.AddGroup(GroupConfig{ID: g, Storage: storages[[2]uint64{id, g}], StateMachine: sm, Applied: applied}); err != nil {
				t.Fatal(err)
			}
		}
		nodes[id] = n
		transports[id].Start(n)
	}
	for _, id := range ids {
		listen(id, "127.0.0.1:0")
	}
	for _, id := range ids {
		start(id)
	}
	stop := func(id uint64) {
		_ = transports[id].Close()
		_ = nodes[id].Stop()
		delete(nodes, id)
	}
	t.Cleanup(func() {
		for id := range nodes {
			stop(id)
		}
	})
	leaderOf := func(g uint64) *Node {
		for _, n := range nodes {
			if st, _ := n.Status(g); st.IsLeader {
				return n
			}
		}
		return nil
	}
	proposeSomewhere := func(g uint64, v string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if n := leaderOf(g); n != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := n.Propose(ctx, g, []byte(v))
				cancel()
				if err == nil {
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Fatalf("group %d: %q not committed", g, v)
	}
	waitApplied := func(g uint64, want []string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok := true
			for id := range nodes {
				if !slices.Equal(sms[[2]uint64{id, g}].values(), want) {
					ok = false
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("group %d not applied everywhere", g)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for g := uint64(1); g <= groups; g++ {
		proposeSomewhere(g, fmt.Sprintf("a%d", g))
	}
	for g := uint64(1); g <= groups; g++ {
		waitApplied(g, []string{fmt.Sprintf("a%d", g)})
	}
	// Node 2 restarts on the same address: node 1 (the dialer of that
	// pair) finds its connection broken and dials the new process; node 3
	// is dialed by the new node 2.
	stop(2)
	listen(2, addrs[2])
	start(2)
	for g := uint64(1); g <= groups; g++ {
		proposeSomewhere(g, fmt.Sprintf("r%d", g))
	}
	for g := uint64(1); g <= groups; g++ {
		waitApplied(g, []string{fmt.Sprintf("a%d", g), fmt.Sprintf("r%d", g)})
	}
	stop(1) // the lowest id: it dialed both others
	for g := uint64(1); g <= groups; g++ {
		proposeSomewhere(g, fmt.Sprintf("b%d", g))
	}
	for g := uint64(1); g <= groups; g++ {
		waitApplied(g, []string{fmt.Sprintf("a%d", g), fmt.Sprintf("r%d", g), fmt.Sprintf("b%d", g)})
	}
}

// Only the lower id of a pair dials; a higher-id node answers
// ErrUnreachable until it is connected to, and a node refuses a handshake
// that is not addressed to it.
func TestTCPDialRules(t *testing.T) {
	a, err := NewTCPTransport(TCPConfig{ID: 1, ListenAddr: "127.0.0.1:0", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewTCPTransport(TCPConfig{ID: 2, ListenAddr: "127.0.0.1:0", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.SetPeer(2, b.Addr().String())
	b.SetPeer(1, a.Addr().String())
	got := make(chan []Envelope, 4)
	a.Start(ReceiverFunc(func(from uint64, batch []Envelope) { got <- batch }))
	b.Start(ReceiverFunc(func(from uint64, batch []Envelope) { got <- batch }))

	if err := b.Send(1, sampleBatch()); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("higher id sending first: %v, want ErrUnreachable", err)
	}
	if err := a.Send(2, sampleBatch()); err != nil {
		t.Fatal(err)
	}
	if batch := <-got; len(batch) != 3 {
		t.Fatalf("received %d envelopes", len(batch))
	}
	// Now connected, the higher id sends over the same connection.
	deadline := time.Now().Add(5 * time.Second)
	for b.Send(1, sampleBatch()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("node 2 never saw the connection")
		}
		time.Sleep(time.Millisecond)
	}
	if batch := <-got; len(batch) != 3 {
		t.Fatalf("received %d envelopes", len(batch))
	}
	// Node 3 never dials node 2 (the lower id of a pair dials).
	c, err := NewTCPTransport(TCPConfig{ID: 3, ListenAddr: "127.0.0.1:0", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetPeer(2, b.Addr().String())
	c.Start(ReceiverFunc(func(uint64, []Envelope) {}))
	if err := c.Send(2, sampleBatch()); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("node 3 sending to node 2 first: %v, want ErrUnreachable", err)
	}
	// A handshake not addressed to the node, or from a higher id, is
	// refused: the connection is closed without an answer.
	for _, hs := range [][2]uint64{{1, 9}, {5, 2}} {
		conn, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := writeHandshake(conn, hs[0], hs[1]); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var one [1]byte
		if n, err := conn.Read(one[:]); n != 0 || !errors.Is(err, io.EOF) {
			t.Fatalf("handshake %d->%d: read %d bytes, %v; want the connection closed", hs[0], hs[1], n, err)
		}
		conn.Close()
	}
}

// With BindOutgoing, a node's connections leave from its own address, so
// that rules between node addresses on one machine (127.0.0.1, .2, .3) can
// cut a node off.
func TestTCPBindOutgoing(t *testing.T) {
	a, err := NewTCPTransport(TCPConfig{ID: 1, ListenAddr: "127.0.0.3:0", BindOutgoing: true, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewTCPTransport(TCPConfig{ID: 2, ListenAddr: "127.0.0.2:0", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.SetPeer(2, b.Addr().String())
	b.SetPeer(1, a.Addr().String())
	got := make(chan struct{}, 1)
	a.Start(ReceiverFunc(func(uint64, []Envelope) {}))
	b.Start(ReceiverFunc(func(uint64, []Envelope) { got <- struct{}{} }))
	if err := a.Send(2, sampleBatch()); err != nil {
		t.Fatal(err)
	}
	<-got
	b.mu.Lock()
	pc := b.conns[1]
	b.mu.Unlock()
	if pc == nil {
		t.Fatal("node 2 has no connection from node 1")
	}
	if host, _, _ := net.SplitHostPort(pc.c.RemoteAddr().String()); host != "127.0.0.3" {
		t.Fatalf("node 1's connection comes from %s, want its own address 127.0.0.3", host)
	}
}
