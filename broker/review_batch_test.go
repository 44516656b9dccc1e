package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/protocol"
)

// TestReviewRecordErrorsBounded: a produced batch refused for its records
// lists them (KIP-467), but what one request makes the broker hold must stay
// bounded. An 863-byte zstd batch of 2^20 identical 7-byte records (offset
// delta 0, null key and value) whose header max timestamp is out of bounds
// is decompressed (bounded by max.message.bytes) on any topic, and every record but the
// first is refused: without a cap on the listed errors the broker allocated
// 751 MiB and answered 84 MB for it (about 6 GiB at the 64 MiB bound). The
// partition's message still counts every refused record, as Kafka's does.
func TestReviewRecordErrorsBounded(t *testing.T) {
	b := newAdminBroker(t)
	// The batch decompresses to 7 MiB: the topic allows that much (over
	// max.message.bytes it is refused whole: TestCompressionBombs).
	maxBytes := "8388608"
	mustCreateTopic(t, b, "plain", 1, map[string]*string{"max.message.bytes": &maxBytes})
	now := b.now().UnixMilli()
	const n = 1 << 20
	body := make([]byte, 0, 7*n)
	for range n {
		body = append(body, 12, 0, 0, 0, 1, 1, 0) // length 6, attrs, ts delta 0, offset delta 0, null key, null value, no headers
	}
	h := make([]byte, records.HeaderSize)
	h[records.OffMagic] = records.Magic
	binary.BigEndian.PutUint16(h[records.OffAttributes:], uint16(records.CodecZstd))
	binary.BigEndian.PutUint32(h[records.OffLastOffsetDelta:], n-1)
	binary.BigEndian.PutUint64(h[records.OffBaseTimestamp:], uint64(now))
	binary.BigEndian.PutUint64(h[records.OffMaxTimestamp:], uint64(now+1<<40))
	binary.BigEndian.PutUint64(h[records.OffProducerID:], ^uint64(0))
	binary.BigEndian.PutUint16(h[records.OffProducerEpoch:], 0xffff)
	binary.BigEndian.PutUint32(h[records.OffBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(h[records.OffRecordCount:], n)
	raw, err := records.Compress(records.CodecZstd, h, body, false)
	if err != nil {
		t.Fatal(err)
	}
	body = nil
	binary.BigEndian.PutUint32(raw[records.OffBatchLength:], uint32(len(raw)-records.LengthOverhead))
	records.SetCRC(raw)
	req := produceReq("plain", 0, raw)
	req.SetVersion(9)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := b.Handle(context.Background(), &protocol.Request{Key: req.Key(), Version: 9, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}})
	resp := r.Resp
	if r.Wait != nil {
		resp = r.Wait(context.Background())
	}
	wire := resp.AppendTo(nil)
	runtime.ReadMemStats(&after)

	sp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if sp.ErrorCode == 0 || len(sp.ErrorRecords) == 0 {
		t.Fatalf("error %d with %d record errors, want the batch refused with its records listed", sp.ErrorCode, len(sp.ErrorRecords))
	}
	if sp.ErrorRecords[0].RelativeOffset != 1 {
		t.Errorf("first listed record %d, want 1", sp.ErrorRecords[0].RelativeOffset)
	}
	if want := fmt.Sprintf("due to %d record errors in total", n-1); sp.ErrorMessage == nil || !strings.Contains(*sp.ErrorMessage, want) {
		t.Errorf("message %v, want it to say %q", sp.ErrorMessage, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("an %d-byte batch made the broker allocate %d MiB (%d record errors, %d-byte response)",
			len(raw), alloc>>20, len(sp.ErrorRecords), len(wire))
	}
}
