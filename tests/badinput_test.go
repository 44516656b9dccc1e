package tests

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/batchtest"
	"github.com/moldau/moldau/tests/harness"
)

// rawConn speaks the Kafka protocol by hand, so that tests control every
// byte (kgo rewrites acks and sequence numbers of raw produce requests).
type rawConn struct {
	t    *testing.T
	c    net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, c: c}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// frame prefixes body with its int32 size.
func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// header is a v1 request header (key, version, correlation id, client id).
func header(key, version int16, corr int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	return append(b, 0, 4, 't', 'e', 's', 't')
}

// roundTrip sends req and decodes its response into a fresh response.
func (r *rawConn) roundTrip(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	r.corr++
	r.write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("moldau-badinput")).AppendRequest(nil, req, r.corr))
	body := r.readFrame()
	if got := int32(binary.BigEndian.Uint32(body)); got != r.corr {
		r.t.Fatalf("correlation id %d, want %d", got, r.corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 {
		body = body[1:] // no tagged fields in the response header
	}
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decode %T: %v", resp, err)
	}
	return resp
}

func (r *rawConn) readFrame() []byte {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		r.t.Fatalf("read response size: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r.c, body); err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	return body
}

// expectClosed checks that the broker closes the connection without
// answering.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := r.c.Read(buf)
	switch {
	case n > 0:
		r.t.Fatalf("broker answered %d bytes (%x) instead of closing", n, buf[:n])
	case errors.Is(err, os.ErrDeadlineExceeded):
		r.t.Fatalf("connection still open after 5s")
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	default:
		r.t.Fatalf("read: %v (want EOF)", err)
	}
}

// expectServing checks that a fresh client can still use the broker.
func expectServing(t *testing.T, addr string) {
	t.Helper()
	cl := newClient(t, addr)
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil || len(resp.Brokers) != 1 {
		t.Fatalf("broker not serving after bad input: %v %+v", err, resp)
	}
	cl.Close()
}

func TestBadInputConnectionClosed(t *testing.T) {
	b := harness.InProcess(t, nil)
	huge := binary.BigEndian.AppendUint32(header(3, 1, 1), 0x7fffffff) // topics array of 2^31-1 entries
	cases := []struct {
		name    string
		send    []byte
		closeWr bool
	}{
		{"oversized size prefix", binary.BigEndian.AppendUint32(nil, 104857600+1), false},
		{"max int32 size prefix", binary.BigEndian.AppendUint32(nil, 0x7fffffff), false},
		{"negative size", binary.BigEndian.AppendUint32(nil, 0xffffffff), false},
		{"http", []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), false},
		{"unknown api key 200", frame(header(200, 0, 1)), false},
		{"unserved api key 50", frame(header(50, 0, 1)), false},
		{"negative api key", frame(header(-1, 0, 1)), false},
		{"produce below the served versions", frame(append(header(0, 2, 1), 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0)), false},
		{"metadata version 99", frame(header(3, 99, 1)), false},
		{"truncated client id", frame([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0, 100, 'x'}), false},
		{"truncated header", frame([]byte{0, 3, 0}), false},
		{"empty frame", frame(nil), false},
		{"frame cut short by EOF", append(binary.BigEndian.AppendUint32(nil, 100), header(3, 1, 1)...), true},
		{"array longer than the frame", frame(huge), false},
		{"string longer than the frame", frame(append(binary.BigEndian.AppendUint32(header(3, 1, 1), 1), 0x7f, 0xff, 'a')), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, b.Addr())
			r.write(tc.send)
			if tc.closeWr {
				_ = r.c.(*net.TCPConn).CloseWrite()
			}
			r.expectClosed()
			expectServing(t, b.Addr())
		})
	}
}

func TestBadInputApiVersionsUnsupportedVersion(t *testing.T) {
	b := harness.InProcess(t, nil)
	r := dialRaw(t, b.Addr())
	// ApiVersions v99 with an otherwise empty body: answered as v0.
	r.write(frame(header(18, 99, 7)))
	body := r.readFrame()
	if corr := int32(binary.BigEndian.Uint32(body)); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatalf("decode as v0: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error code %d, want UNSUPPORTED_VERSION (35)", resp.ErrorCode)
	}
	found := false
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 18 {
			found = k.MinVersion == 0 && k.MaxVersion >= 3
		}
	}
	if !found {
		t.Fatalf("ApiVersions range missing from the v0 answer: %+v", resp.ApiKeys)
	}
	// The connection stays usable.
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(3)
	av.ClientSoftwareName, av.ClientSoftwareVersion = "moldau-tests", "1"
	if got := r.roundTrip(av).(*kmsg.ApiVersionsResponse); got.ErrorCode != 0 {
		t.Fatalf("ApiVersions v3 after the v99 one: error %d", got.ErrorCode)
	}
}

type testRecord struct {
	key, value []byte
}

// makeBatch builds an uncompressed v2 record batch with a valid CRC, every
// record at ts.
func makeBatch(pid int64, epoch int16, seq int32, ts int64, recs []testRecord) []byte {
	b := batchtest.Batch{BaseTimestamp: ts, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}
	for _, r := range recs {
		b.Records = append(b.Records, batchtest.Record{Key: r.key, Value: r.value})
	}
	return b.MustEncode()
}

func nRecords(n int, size int) []testRecord {
	var out []testRecord
	for i := range n {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		out = append(out, testRecord{key: []byte(fmt.Sprint(i)), value: v})
	}
	return out
}

func produceReq(acks int16, topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produceRaw sends one batch and returns the partition's response.
func produceRaw(r *rawConn, acks int16, topic string, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	r.t.Helper()
	resp := r.roundTrip(produceReq(acks, topic, partition, batch)).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		r.t.Fatalf("produce response shape: %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

func expectCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var wantCode int16
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Fatalf("%s: error %v (%d), want %v (%d)", what, kerr.ErrorForCode(got), got, want, wantCode)
	}
}

func TestBadInputProduce(t *testing.T) {
	b := harness.InProcess(t, nil)
	topic := "badinput-produce"
	createTopic(t, b.Addr(), topic, 1, map[string]*string{"max.message.bytes": strp("2000")})
	r := dialRaw(t, b.Addr())
	now := time.Now().UnixMilli()
	good := makeBatch(-1, -1, -1, now, nRecords(3, 10))

	// A well-formed batch lands at 0; the batch helper itself is right.
	p := produceRaw(r, -1, topic, 0, good)
	expectCode(t, "good batch", p.ErrorCode, nil)
	if p.BaseOffset != 0 {
		t.Fatalf("good batch at offset %d", p.BaseOffset)
	}

	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-3] ^= 0x40 // inside the last record's value
	expectCode(t, "corrupt CRC", produceRaw(r, -1, topic, 0, corrupt).ErrorCode, kerr.CorruptMessage)

	badCRCField := append([]byte(nil), good...)
	badCRCField[17] ^= 0xff
	expectCode(t, "wrong CRC field", produceRaw(r, 1, topic, 0, badCRCField).ErrorCode, kerr.CorruptMessage)

	for _, acks := range []int16{2, -2, 5} {
		expectCode(t, fmt.Sprintf("acks=%d", acks), produceRaw(r, acks, topic, 0, good).ErrorCode, kerr.InvalidRequiredAcks)
	}

	big := makeBatch(-1, -1, -1, now, nRecords(4, 600))
	expectCode(t, "batch over max.message.bytes", produceRaw(r, -1, topic, 0, big).ErrorCode, kerr.MessageTooLarge)

	expectCode(t, "unknown topic", produceRaw(r, -1, "badinput-no-such-topic", 0, good).ErrorCode, kerr.UnknownTopicOrPartition)
	expectCode(t, "unknown partition", produceRaw(r, -1, topic, 7, good).ErrorCode, kerr.UnknownTopicOrPartition)

	// Nothing of the rejected batches was stored.
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.SetVersion(4)
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lp.CurrentLeaderEpoch = -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	lor := r.roundTrip(lo).(*kmsg.ListOffsetsResponse)
	if off := lor.Topics[0].Partitions[0].Offset; off != 3 {
		t.Fatalf("end offset %d after rejected batches, want 3", off)
	}
	expectServing(t, b.Addr())
}

func TestBadInputMessageMaxBytesBrokerDefault(t *testing.T) {
	b := harness.InProcess(t, func(c *config.Config) { c.MessageMaxBytes = 5000 })
	topic := "badinput-broker-max"
	createTopic(t, b.Addr(), topic, 1, nil)
	r := dialRaw(t, b.Addr())
	now := time.Now().UnixMilli()
	expectCode(t, "batch under message.max.bytes", produceRaw(r, 1, topic, 0, makeBatch(-1, -1, -1, now, nRecords(4, 1000))).ErrorCode, nil)
	expectCode(t, "batch over message.max.bytes", produceRaw(r, 1, topic, 0, makeBatch(-1, -1, -1, now, nRecords(6, 1000))).ErrorCode, kerr.MessageTooLarge)
}

func initProducerID(t *testing.T, r *rawConn) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(4)
	req.TransactionTimeoutMillis = 60000
	req.ProducerID = -1
	req.ProducerEpoch = -1
	resp := r.roundTrip(req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode != 0 || resp.ProducerID < 0 {
		t.Fatalf("InitProducerId: %+v", resp)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func TestBadInputIdempotentProduce(t *testing.T) {
	b := harness.InProcess(t, nil)
	topic := "badinput-idempotent"
	createTopic(t, b.Addr(), topic, 1, nil)
	r := dialRaw(t, b.Addr())
	pid, epoch := initProducerID(t, r)
	pid2, _ := initProducerID(t, r)
	if pid2 == pid {
		t.Fatalf("two InitProducerId calls returned the same producer id %d", pid)
	}
	now := time.Now().UnixMilli()
	batch := func(e int16, seq int32, n int) []byte { return makeBatch(pid, e, seq, now, nRecords(n, 8)) }

	p := produceRaw(r, -1, topic, 0, batch(epoch, 0, 5))
	expectCode(t, "seq 0", p.ErrorCode, nil)
	if p.BaseOffset != 0 {
		t.Fatalf("seq 0 at %d", p.BaseOffset)
	}
	p = produceRaw(r, -1, topic, 0, batch(epoch, 5, 5))
	expectCode(t, "seq 5", p.ErrorCode, nil)
	if p.BaseOffset != 5 {
		t.Fatalf("seq 5 at %d", p.BaseOffset)
	}
	// Another producer interleaves.
	p = produceRaw(r, -1, topic, 0, makeBatch(pid2, 0, 0, now, nRecords(2, 8)))
	expectCode(t, "second producer", p.ErrorCode, nil)
	if p.BaseOffset != 10 {
		t.Fatalf("second producer at %d", p.BaseOffset)
	}

	// Duplicates of recent batches get their original offsets.
	p = produceRaw(r, -1, topic, 0, batch(epoch, 5, 5))
	expectCode(t, "duplicate of seq 5", p.ErrorCode, nil)
	if p.BaseOffset != 5 {
		t.Fatalf("duplicate of seq 5 answered offset %d, want 5", p.BaseOffset)
	}
	p = produceRaw(r, -1, topic, 0, batch(epoch, 0, 5))
	expectCode(t, "duplicate of seq 0", p.ErrorCode, nil)
	if p.BaseOffset != 0 {
		t.Fatalf("duplicate of seq 0 answered offset %d, want 0", p.BaseOffset)
	}

	// A gap.
	expectCode(t, "sequence gap", produceRaw(r, -1, topic, 0, batch(epoch, 20, 5)).ErrorCode, kerr.OutOfOrderSequenceNumber)
	// The expected next sequence still works.
	p = produceRaw(r, -1, topic, 0, batch(epoch, 10, 1))
	expectCode(t, "seq 10 after the gap", p.ErrorCode, nil)
	if p.BaseOffset != 12 {
		t.Fatalf("seq 10 at %d, want 12", p.BaseOffset)
	}

	// A newer epoch starting at sequence 0 fences the older one.
	p = produceRaw(r, -1, topic, 0, batch(epoch+1, 0, 1))
	expectCode(t, "new epoch", p.ErrorCode, nil)
	if p.BaseOffset != 13 {
		t.Fatalf("new epoch at %d, want 13", p.BaseOffset)
	}
	expectCode(t, "stale epoch", produceRaw(r, -1, topic, 0, batch(epoch, 11, 1)).ErrorCode, kerr.InvalidProducerEpoch)

	// Nothing rejected was stored: offsets 0..13 only.
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.SetVersion(4)
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lp.CurrentLeaderEpoch = -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	if off := r.roundTrip(lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].Offset; off != 14 {
		t.Fatalf("end offset %d, want 14", off)
	}
}

// TestFetchEmptyRecordsNotNull: Kafka always encodes a partition's records
// as an empty (length 0) field when it has none, never as null (-1);
// librdkafka (kcat) fails to parse a null there ("invalid MessageSetSize -1").
func TestFetchEmptyRecordsNotNull(t *testing.T) {
	b := harness.InProcess(t, nil)
	topic := "badinput-fetch-empty"
	createTopic(t, b.Addr(), topic, 1, nil)
	r := dialRaw(t, b.Addr())
	for _, tc := range []struct {
		name    string
		version int16
		offset  int64
		want    *kerr.Error
	}{
		{"v4 at the end", 4, 0, nil},
		{"v11 at the end", 11, 0, nil},
		{"v11 out of range", 11, 5, kerr.OffsetOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrFetchRequest()
			req.SetVersion(tc.version)
			req.ReplicaID = -1
			req.MaxWaitMillis = 0
			req.MinBytes = 1
			req.MaxBytes = 1 << 20
			req.SessionEpoch = -1
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic = topic
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.FetchOffset = tc.offset
			fp.PartitionMaxBytes = 1 << 20
			fp.CurrentLeaderEpoch = -1
			fp.LogStartOffset = -1
			ft.Partitions = append(ft.Partitions, fp)
			req.Topics = append(req.Topics, ft)
			resp := r.roundTrip(req).(*kmsg.FetchResponse)
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("fetch response shape: %+v", resp)
			}
			p := resp.Topics[0].Partitions[0]
			expectCode(t, "fetch", p.ErrorCode, tc.want)
			if p.RecordBatches == nil {
				t.Fatalf("records field encoded as null (-1); Kafka sends an empty records field (0)")
			}
		})
	}
}
