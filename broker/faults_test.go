package broker

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/protocol"
)

func TestErrorResponseMirrorsRequest(t *testing.T) {
	code := kerr.NotLeaderForPartition.Code

	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 9
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "a"
	for _, p := range []int32{0, 3} {
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition = p
		pt.Partitions = append(pt.Partitions, pp)
	}
	pr.Topics = append(pr.Topics, pt)
	resp := errorResponse(pr, code).(*kmsg.ProduceResponse)
	if resp.Version != 9 || len(resp.Topics) != 1 || resp.Topics[0].Topic != "a" || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("produce response shape: %+v", resp)
	}
	for i, p := range resp.Topics[0].Partitions {
		if p.Partition != pt.Partitions[i].Partition || p.ErrorCode != code {
			t.Fatalf("partition %d: %+v", i, p)
		}
		if p.LogStartOffset != -1 { // kmsg's default, not zero
			t.Fatalf("partition defaults not applied: %+v", p)
		}
	}

	fr := kmsg.NewPtrFetchRequest()
	fr.Version = 12
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "b"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition = 7
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	fresp := errorResponse(fr, code).(*kmsg.FetchResponse)
	got := fresp.Topics[0].Partitions[0]
	if fresp.Topics[0].Topic != "b" || got.Partition != 7 || got.ErrorCode != code || got.RecordBatches == nil {
		t.Fatalf("fetch partition: %+v", got)
	}
	// The response must encode and decode at the request's version.
	enc := fresp.AppendTo(nil)
	dec := kmsg.NewPtrFetchResponse()
	dec.Version = 12
	if err := dec.ReadFrom(enc); err != nil || dec.Topics[0].Partitions[0].ErrorCode != code {
		t.Fatalf("round trip: %v %+v", err, dec)
	}

	jr := kmsg.NewPtrJoinGroupRequest()
	jr.Version = 5
	jr.Group = "g"
	jresp := errorResponse(jr, kerr.CoordinatorNotAvailable.Code).(*kmsg.JoinGroupResponse)
	if jresp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join group: %+v", jresp)
	}
}

// TestErrorResponseMirrorsNullableNames: Metadata names its topics with a
// nullable string; an error response must keep the names the client asked
// for (it matches the answer by name), not leave them null.
func TestErrorResponseMirrorsNullableNames(t *testing.T) {
	for _, version := range []int16{1, 9, 12} {
		mr := kmsg.NewPtrMetadataRequest()
		mr.Version = version
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("m")
		mr.Topics = append(mr.Topics, mt)
		resp := errorResponse(mr, kerr.LeaderNotAvailable.Code)
		dec := kmsg.NewPtrMetadataResponse()
		dec.Version = version
		if err := dec.ReadFrom(resp.AppendTo(nil)); err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		if len(dec.Topics) != 1 || dec.Topics[0].Topic == nil || *dec.Topics[0].Topic != "m" || dec.Topics[0].ErrorCode != kerr.LeaderNotAvailable.Code {
			t.Fatalf("v%d: metadata error response lost the topic name: %+v", version, dec.Topics)
		}
	}
}

func TestFaultSetCounts(t *testing.T) {
	b := &Broker{}
	b.InjectFault(Fault{Key: 0, Count: 2, ErrorCode: 6})
	b.InjectFault(Fault{Key: AnyAPI, CloseConn: true})
	if f := b.faults.take(3); f == nil || !f.CloseConn {
		t.Fatalf("any-API fault not applied to key 3: %+v", f)
	}
	for i := 0; i < 2; i++ {
		if f := b.faults.take(0); f == nil || f.ErrorCode != 6 {
			t.Fatalf("produce fault %d: %+v", i, f)
		}
	}
	if f := b.faults.take(0); f != nil {
		t.Fatalf("fault outlived its count: %+v", f)
	}
	if n := b.faults.armed.Load(); n != 0 {
		t.Fatalf("armed = %d", n)
	}
	b.InjectFault(Fault{Key: 1})
	b.ClearFaults()
	if f := b.faults.take(1); f != nil || b.faults.armed.Load() != 0 {
		t.Fatal("ClearFaults left a fault armed")
	}
}

// TestDelayedReplyKeepsResp: a delay fault on a ready response (a zero-copy
// fetch's FileResponse, which pins segment files) must leave it in
// Reply.Resp, so the server releases it when the connection dies before the
// delayed Wait runs; before, only the Wait closure held it and the pins
// (open segment files) leaked.
func TestDelayedReplyKeepsResp(t *testing.T) {
	b := &Broker{}
	var released atomic.Int32
	fr := &protocol.FileResponse{Response: kmsg.NewPtrFetchResponse(), Release: func() { released.Add(1) }}
	reply := b.applyFault(context.Background(), &Fault{Key: 1, Delay: time.Hour}, &protocol.Request{Key: 1, Body: kmsg.NewPtrFetchRequest()},
		func() protocol.Reply { return protocol.Reply{Resp: fr} })
	if reply.Wait == nil {
		t.Fatal("delay fault did not wrap the reply in a Wait")
	}
	if reply.Resp != fr {
		t.Fatalf("delayed reply dropped its ready response (Resp = %v): a dropped connection would leak its pins", reply.Resp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := reply.Wait(ctx); got != fr {
		t.Fatalf("Wait returned %v, want the ready response", got)
	}
}

// TestAcksZeroFailureClosesConnection: an acks=0 produce that fails (here
// to an unknown topic, or by an injected error) closes the connection, as
// Kafka does, since the producer gets no response; one that succeeds leaves
// the connection open.
func TestAcksZeroFailureClosesConnection(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "z", 1, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(ln); err != nil {
		t.Fatal(err)
	}
	var f kmsg.RequestFormatter
	produce := func(topic string) []byte {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(9)
		req.Acks, req.TimeoutMillis = 0, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = adminBatch(1)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return f.AppendRequest(nil, req, 1)
	}
	apiVersions := f.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 2)
	// send writes reqs then ApiVersions and reports whether ApiVersions
	// was answered (the connection stayed open).
	send := func(reqs []byte) bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(append(reqs, apiVersions...)); err != nil {
			return false
		}
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return false
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatalf("response cut short: %v", err)
		}
		if corr := int32(binary.BigEndian.Uint32(body)); corr != 2 {
			t.Fatalf("got a response with correlation id %d; acks=0 produce must not be answered", corr)
		}
		return true
	}
	if !send(produce("z")) {
		t.Fatal("successful acks=0 produce closed the connection")
	}
	if send(produce("missing")) {
		t.Fatal("acks=0 produce to an unknown topic kept the connection open")
	}
	b.InjectFault(Fault{Key: 0, ErrorCode: kerr.NotLeaderForPartition.Code})
	if send(produce("z")) {
		t.Fatal("acks=0 produce failed by a fault kept the connection open")
	}
	if !send(produce("z")) {
		t.Fatal("connection closed after the fault was used up")
	}
}

// deletedOpenFiles counts this process's open files under dir whose names
// are gone: segments removed while something still pins them.
func deletedOpenFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testenv.Unavailable(t, "this test counts open files through /proc/self/fd (Linux): %v", err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir) && strings.HasSuffix(target, " (deleted)") {
			n++
		}
	}
	return n
}

// TestDelayedZeroCopyFetchDroppedReleasesFiles: pipelined zero-copy fetches
// held by a delay fault on a connection that dies are dropped by the
// server; the segment files they pinned must be closed once the segments
// are deleted (before the fix they stayed open for good).
func TestDelayedZeroCopyFetchDroppedReleasesFiles(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "d", 1, map[string]*string{"segment.bytes": kmsg.StringPtr("1048576")})
	p := tp.partition(0)
	for range 4 << 20 / (60 * 1000) {
		if _, err := p.log.Append(bigBatch(60, 1000), 1000); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(ln); err != nil {
		t.Fatal(err)
	}
	const n = 16
	b.InjectFault(Fault{Key: 1, Count: n, Delay: 20 * time.Millisecond})
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, 64<<20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "d"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 64<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var f kmsg.RequestFormatter
	var out []byte
	for i := range n {
		out = append(out, f.AppendRequest(nil, req, int32(i))...)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	// Read one response's size, so every request has been served (and
	// pinned its files), then reset the connection: the writer fails and
	// drops the delayed replies still queued.
	var size [4]byte
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	if err := p.log.DeleteRecordsBefore(p.log.EndOffset()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for deletedOpenFiles(t, cfg.DataDir) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d deleted segment files still open after the connection died", deletedOpenFiles(t, cfg.DataDir))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
