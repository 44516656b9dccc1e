package replication

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// appendFrameMax splits a batch into frames no larger than the limit, each
// taking at least one envelope; the frames decode to the batch in order.
func TestFrameSplit(t *testing.T) {
	var in []Envelope
	for range 10 {
		in = append(in, sampleBatch()...)
	}
	var out []Envelope
	frames := 0
	for rest := in; len(rest) > 0; {
		b, n, err := appendFrameMax(nil, rest, 100)
		if err != nil || n == 0 {
			t.Fatalf("appendFrameMax: %d, %v", n, err)
		}
		if len(b)-4 > 100 && n > 1 {
			t.Fatalf("frame of %d bytes with %d envelopes, limit 100", len(b)-4, n)
		}
		got, err := readFrame(bytes.NewReader(b))
		if err != nil || len(got) != n {
			t.Fatalf("frame %d: %d envelopes, %v; want %d", frames, len(got), err, n)
		}
		out = append(out, got...)
		rest = rest[n:]
		frames++
	}
	if frames < 3 || len(out) != len(in) {
		t.Fatalf("%d frames, %d envelopes; want several frames and %d", frames, len(out), len(in))
	}
	for i := range in {
		if out[i].Group != in[i].Group || (in[i].Msg != nil && !proto.Equal(out[i].Msg, in[i].Msg)) {
			t.Fatalf("envelope %d differs", i)
		}
	}
	if _, _, err := appendFrameMax(nil, in[:1], 10); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("one envelope above the limit: %v, want ErrBadFrame", err)
	}
}

// A batch larger than one frame (MaxFrameBytes) is delivered whole. Before,
// Send failed to encode it, closed the connection and the node reported
// every group unreachable; as the queue to a slow peer only grows while a
// send is blocked, the peer then received nothing at all.
func TestTCPSendBatchLargerThanAFrame(t *testing.T) {
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
	got := make(chan int, 16)
	a.Start(ReceiverFunc(func(uint64, []Envelope) {}))
	b.Start(ReceiverFunc(func(_ uint64, batch []Envelope) { got <- len(batch) }))
	data := make([]byte, 1<<20)
	const count = MaxFrameBytes>>20 + 2 // just over one frame
	batch := make([]Envelope, count)
	for i := range batch {
		batch[i] = Envelope{Group: uint64(i + 1), Msg: &raftpb.Message{
			Type: raftpb.MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)),
			Entries: []*raftpb.Entry{{Term: new(uint64(1)), Index: new(uint64(1)), Data: data}},
		}}
	}
	if err := a.Send(2, batch); err != nil {
		t.Fatalf("Send of %d MiB: %v", count, err)
	}
	received := 0
	deadline := time.After(30 * time.Second)
	for received < count {
		select {
		case n := <-got:
			received += n
		case <-deadline:
			t.Fatalf("received %d of %d envelopes", received, count)
		}
	}
}

// A connection whose handshake names a lower id that is not a configured
// peer is refused: each accepted connection may buffer a frame of up to
// MaxFrameBytes, so one per claimed id would make memory unbounded.
func TestTCPRefusesUnknownPeer(t *testing.T) {
	b, err := NewTCPTransport(TCPConfig{ID: 9, ListenAddr: "127.0.0.1:0", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetPeer(1, "127.0.0.1:1")
	b.Start(ReceiverFunc(func(uint64, []Envelope) {}))
	for _, from := range []uint64{1, 3} {
		conn, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := writeHandshake(conn, from, 9); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var hs [handshakeSize]byte
		_, err = io.ReadFull(conn, hs[:])
		conn.Close()
		if from == 1 && err != nil {
			t.Fatalf("configured peer 1 refused: %v", err)
		}
		if from == 3 && !errors.Is(err, io.EOF) {
			t.Fatalf("unknown peer 3: %v, want the connection closed", err)
		}
	}
}
