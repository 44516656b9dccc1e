package broker

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/batchtest"
)

// bigBatch builds a valid uncompressed RecordBatch v2 of n records with
// size-byte values.
func bigBatch(n, size int) []byte {
	return batchtest.New(1000, batchtest.Repeat(n, []byte("k"), []byte(strings.Repeat("v", size)))...).MustEncode()
}

// TestFetchSurvivesRetentionDuringSend starts a fetch of many segments sent
// with sendfile, lets retention delete those segments while the response is
// still being written (the client has read only its size), and checks that
// the whole response arrives intact: the pinned files stay open after their
// names are gone.
func TestFetchSurvivesRetentionDuringSend(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	reg := prometheus.NewRegistry()
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if !b.zeroCopy() {
		t.Fatal("a broker on a data dir must fetch with sendfile")
	}
	tp := mustCreateTopic(t, b, "t", 1, map[string]*string{"segment.bytes": kmsg.StringPtr("1048576")})
	p := tp.partition(0)
	// 24 MiB in 1 MiB segments: more than the loopback socket buffers hold,
	// so the writer is still sending when the segments are deleted.
	const perBatch, valueSize = 60, 1000
	batches := 24 << 20 / (perBatch * valueSize)
	for range batches {
		if _, err := p.log.Append(bigBatch(perBatch, valueSize), 1000); err != nil {
			t.Fatal(err)
		}
	}
	end := p.log.EndOffset()
	first := filepath.Join(cfg.DataDir, "t-0", "00000000000000000000.log")
	if _, err := os.Stat(first); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(ln); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))

	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, 1<<30
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 0, 1<<30, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var f kmsg.RequestFormatter
	if _, err := c.Write(f.AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	// The response's files are pinned now. Delete every sealed segment.
	if err := p.log.DeleteRecordsBefore(end); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("first segment still on disk after DeleteRecordsBefore: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("response cut short after retention: %v", err)
	}
	if int32(binary.BigEndian.Uint32(body)) != 1 {
		t.Fatal("wrong correlation id")
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	if err := resp.ReadFrom(body[5:]); err != nil { // correlation id, header tags
		t.Fatal(err)
	}
	got := resp.Topics[0].Partitions[0]
	if got.ErrorCode != 0 {
		t.Fatalf("error code %d", got.ErrorCode)
	}
	// Every batch arrived whole, in order, with a valid CRC.
	next := int64(0)
	for rb := got.RecordBatches; len(rb) > 0; {
		n := int(int32(binary.BigEndian.Uint32(rb[8:]))) + 12
		if n > len(rb) {
			t.Fatalf("batch at %d cut short", next)
		}
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(rb[:n]); err != nil {
			t.Fatal(err)
		}
		if batch.FirstOffset != next {
			t.Fatalf("batch at %d, want %d", batch.FirstOffset, next)
		}
		if crc32.Checksum(rb[21:n], crc32.MakeTable(crc32.Castagnoli)) != uint32(batch.CRC) {
			t.Fatalf("batch at %d: bad CRC", next)
		}
		next += int64(batch.LastOffsetDelta) + 1
		rb = rb[n:]
	}
	if next != end {
		t.Fatalf("read offsets up to %d, want %d", next, end)
	}
	// And it went out with sendfile.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sent float64
	for _, mf := range mfs {
		if mf.GetName() != "moldau_response_file_bytes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "path" && l.GetValue() == "sendfile" {
					sent = m.GetCounter().GetValue()
				}
			}
		}
	}
	if sent < float64(len(got.RecordBatches))/2 {
		t.Fatalf("%v bytes sent with sendfile of %d", sent, len(got.RecordBatches))
	}
}
