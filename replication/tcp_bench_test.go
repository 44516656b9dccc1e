package replication

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// appendBatchOf is a batch of one MsgApp carrying n entries of size bytes
// each, as a leader sends a follower under load.
func appendBatchOf(n, size int) []Envelope {
	m := &raftpb.Message{Type: raftpb.MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(3)),
		Index: new(uint64(10)), LogTerm: new(uint64(3)), Commit: new(uint64(9))}
	for i := range n {
		m.Entries = append(m.Entries, &raftpb.Entry{Term: new(uint64(3)), Index: new(uint64(11 + i)), Data: bytes.Repeat([]byte{byte(i)}, size)})
	}
	return []Envelope{{Group: 7, Msg: m}, {Group: 8, Msg: &raftpb.Message{Type: raftpb.MsgHeartbeat.Enum(), To: new(uint64(2)), From: new(uint64(1))}}}
}

// BenchmarkFrameRoundTrip encodes and decodes one frame of appends
// (appendFrameMax, decodeFrame) as TCPTransport.Send and readLoop do.
func BenchmarkFrameRoundTrip(b *testing.B) {
	for _, c := range []struct{ n, size int }{{1, 1 << 10}, {4, 256 << 10}, {16, 256 << 10}} {
		b.Run(fmt.Sprintf("%dx%dKiB", c.n, c.size>>10), func(b *testing.B) {
			batch := appendBatchOf(c.n, c.size)
			var enc frameEncoder
			var dec frameDecoder
			b.SetBytes(int64(c.n * c.size))
			b.ReportAllocs()
			for b.Loop() {
				f, n, err := enc.encode(batch, MaxFrameBytes)
				if err != nil || n != len(batch) {
					b.Fatal(err)
				}
				out, err := dec.decode(bytes.NewReader(f))
				if err != nil || len(out) != len(batch) {
					b.Fatal(err)
				}
				enc.release()
			}
		})
	}
}

// BenchmarkTCPTransportAppends sends batches of 4 appends of 256 KiB from
// node 1 to node 2 over loopback TCP, until node 2 has received them all.
func BenchmarkTCPTransportAppends(b *testing.B) {
	a, err := NewTCPTransport(TCPConfig{ID: 1, ListenAddr: "127.0.0.1:0", Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	z, err := NewTCPTransport(TCPConfig{ID: 2, ListenAddr: "127.0.0.1:0", Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	a.SetPeer(2, z.Addr().String())
	z.SetPeer(1, a.Addr().String())
	var got atomic.Int64
	a.Start(ReceiverFunc(func(uint64, []Envelope) {}))
	z.Start(ReceiverFunc(func(_ uint64, batch []Envelope) { got.Add(int64(len(batch))) }))
	batch := appendBatchOf(4, 256<<10)
	b.SetBytes(4 * 256 << 10)
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Send(2, batch); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N * len(batch))
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d envelopes", got.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// The decoder reuses its frame buffer, so the envelopes it returns must
// not alias it: raft keeps the entries' Data. Overwriting the buffer after
// a decode (as the next frame does) leaves them intact.
func TestFrameDecodeDoesNotAlias(t *testing.T) {
	in := appendBatchOf(3, 4<<10)
	var enc frameEncoder
	f, _, err := enc.encode(in, MaxFrameBytes)
	if err != nil {
		t.Fatal(err)
	}
	var dec frameDecoder
	out, err := dec.decode(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	clear(dec.buf[:cap(dec.buf)])
	if len(dec.buf) == 0 {
		t.Fatal("the decoder kept no buffer: the test checks nothing")
	}
	for i, e := range out[0].Msg.GetEntries() {
		if !bytes.Equal(e.GetData(), in[0].Msg.GetEntries()[i].GetData()) {
			t.Fatalf("entry %d changed when the frame buffer was reused", i)
		}
	}
	// A second, smaller frame through the same decoder decodes right.
	f2, err := appendFrame(nil, sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	if out, err := dec.decode(bytes.NewReader(f2)); err != nil || len(out) != 3 || string(out[0].Msg.GetEntries()[0].GetData()) != "batch" {
		t.Fatalf("second frame: %v, %v", out, err)
	}
}

// A batch larger than one frame's bound is split across frames whose
// sizes stay within it (the sizes are computed before marshalling).
func TestFrameEncoderSplits(t *testing.T) {
	batch := append(appendBatchOf(2, 3000), appendBatchOf(2, 3000)...)
	var enc frameEncoder
	var got []Envelope
	for len(batch) > 0 {
		f, n, err := enc.encode(batch, 7000)
		if err != nil || n == 0 {
			t.Fatalf("encode: %d taken, %v", n, err)
		}
		if len(f)-4 > 7000 {
			t.Fatalf("frame of %d bytes, bound 7000", len(f)-4)
		}
		out, err := readFrame(bytes.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
		batch = batch[n:]
	}
	if len(got) != 4 {
		t.Fatalf("%d envelopes arrived, want 4", len(got))
	}
	if _, _, err := enc.encode(appendBatchOf(1, 8000), 7000); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("a message above the bound: %v, want ErrBadFrame", err)
	}
}

// BenchmarkFrameEncode encodes one frame of appends (the sender's side of
// BenchmarkFrameRoundTrip).
func BenchmarkFrameEncode(b *testing.B) {
	batch := appendBatchOf(4, 256<<10)
	var enc frameEncoder
	b.SetBytes(4 * 256 << 10)
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := enc.encode(batch, MaxFrameBytes); err != nil || n != len(batch) {
			b.Fatal(err)
		}
		enc.release()
	}
}
