package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// bigProduceHandler serves ApiVersions and Produce v9 (answering every
// partition with its record bytes' length as the base offset).
type bigProduceHandler struct{}

func (bigProduceHandler) Supported(key, version int16) bool {
	return (key == 18 && version <= 4) || (key == 0 && version == 9)
}

func (bigProduceHandler) Handle(_ context.Context, req *Request) Reply {
	resp := req.Body.ResponseKind()
	if p, ok := req.Body.(*kmsg.ProduceRequest); ok {
		pr := resp.(*kmsg.ProduceResponse)
		for _, t := range p.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, part := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.BaseOffset = int64(len(part.Records))
				if len(part.Records) > 0 && part.Records[len(part.Records)-1] != 0xAB {
					rp.ErrorCode = 2 // corrupt: the frame was not reassembled whole
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			pr.Topics = append(pr.Topics, rt)
		}
	}
	return Reply{Resp: resp}
}

// TestStalledFramesDoNotBlockOthers: connections that declare large produce
// frames and then stall must not hold the queued-bytes budget that every
// other connection's reads wait on (SECURITY.md).
func TestStalledFramesDoNotBlockOthers(t *testing.T) {
	limits := Limits{MaxRequestBytes: 100 << 20, MaxQueuedBytes: 100 << 20}
	addr := startServer(t, bigProduceHandler{}, limits)
	for range 3 {
		c := dial(t, addr)
		var head [6]byte
		binary.BigEndian.PutUint32(head[:4], 90<<20) // declares 90 MiB
		binary.BigEndian.PutUint16(head[4:], 0)      // Produce
		if _, err := c.Write(append(head[:], make([]byte, 1<<10)...)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // let the readers reach the budget
	c := dial(t, addr)
	var f kmsg.RequestFormatter
	if _, err := c.Write(f.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 5)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if corr, _ := readResponse(t, c); corr != 5 {
		t.Fatalf("correlation id %d", corr)
	}
}

// TestLargeFrameReassembled: a produce frame over largeFrameBytes, read in
// chunks, reaches the handler whole.
func TestLargeFrameReassembled(t *testing.T) {
	addr := startServer(t, bigProduceHandler{}, Limits{MaxRequestBytes: 64 << 20})
	c := dial(t, addr)
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = 1
	req.TimeoutMillis = 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "big"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = bytes.Repeat([]byte{0xAB}, 3*(8<<20)+12345)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var f kmsg.RequestFormatter
	if _, err := c.Write(f.AppendRequest(nil, req, 9)); err != nil {
		t.Fatal(err)
	}
	corr, body := readResponse(t, c)
	if corr != 9 {
		t.Fatalf("correlation id %d", corr)
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(9)
	if resp.IsFlexible() {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.BaseOffset != int64(len(rp.Records)) {
		t.Fatalf("handler saw %d record bytes (error %d), want %d", p.BaseOffset, p.ErrorCode, len(rp.Records))
	}
}
