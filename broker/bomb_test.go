package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/protocol"
)

// nullRecord is one valid record of 7 bytes: length 6, attributes 0,
// timestamp delta 0, offset delta 0, null key, null value, no headers.
var nullRecord = []byte{12, 0, 0, 0, 1, 1, 0}

// bombChunk is 2^21 null records (14 MiB): a bomb repeats its compressed
// form.
func bombChunk() []byte { return bytes.Repeat(nullRecord, 1<<21) }

// compressMember compresses src as one self-contained gzip member, lz4
// frame or zstd frame; concatenated, they decompress to the concatenation.
func compressMember(t testing.TB, codec int, src []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case records.CodecGzip:
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = w.Write(src)
		_ = w.Close()
	case records.CodecLZ4:
		w := lz4.NewWriter(&buf)
		_ = w.Apply(lz4.CompressionLevelOption(lz4.Level9))
		_, _ = w.Write(src)
		_ = w.Close()
	case records.CodecZstd:
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		out := e.EncodeAll(src, nil)
		_ = e.Close()
		return out
	default:
		t.Fatalf("codec %d", codec)
	}
	return buf.Bytes()
}

// bomb is a compressed records section that decompresses to about size
// bytes of null records, and the number of records it holds.
type bomb struct {
	name    string
	codec   int
	section []byte
	size    int64 // decompressed bytes
}

// makeBombs builds one bomb per codec, each far above max.message.bytes
// once decompressed and each at most maxCompressed bytes compressed:
// repeated gzip members, lz4 frames and zstd frames of 14 MiB of records;
// for snappy (at most ~21:1) xerial blocks of 64 KiB, and a raw block whose
// header declares 4 GiB.
func makeBombs(t testing.TB, maxCompressed int) []bomb {
	t.Helper()
	chunk := bombChunk()
	var out []bomb
	for _, c := range []struct {
		name  string
		codec int
		size  int64
	}{{"gzip", records.CodecGzip, 512 << 20}, {"lz4", records.CodecLZ4, 128 << 20}, {"zstd", records.CodecZstd, 8 << 30}} {
		member := compressMember(t, c.codec, chunk)
		n := int(c.size / int64(len(chunk)))
		if n*len(member) > maxCompressed {
			t.Fatalf("%s: %d members of %d bytes exceed %d", c.name, n, len(member), maxCompressed)
		}
		out = append(out, bomb{c.name, c.codec, bytes.Repeat(member, n), int64(n) * int64(len(chunk))})
	}
	// Snappy, xerial-framed (the Java client's): blocks of 64 KiB of
	// records (9,362 of them) compressed once, repeated.
	blockSrc := chunk[:7*9362]
	block := s2.EncodeSnappy(nil, blockSrc)
	n := (maxCompressed - 16) / (4 + len(block))
	x := append([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}, make([]byte, 0, n*(4+len(block)))...)
	for range n {
		x = binary.BigEndian.AppendUint32(x, uint32(len(block)))
		x = append(x, block...)
	}
	out = append(out, bomb{"snappy xerial", records.CodecSnappy, x, int64(n) * int64(len(blockSrc))})
	// Raw snappy whose header declares 4 GiB - 1 (a uvarint), then a few
	// bytes: the declared length alone must be refused.
	raw := binary.AppendUvarint(nil, math.MaxUint32)
	raw = append(raw, s2.EncodeSnappy(nil, chunk[:7*100])[1:]...)
	out = append(out, bomb{"snappy raw, declared 4 GiB", records.CodecSnappy, raw, math.MaxUint32})
	return out
}

// bombBatch wraps a bomb's section in a batch header claiming the records
// it holds (capped at the largest count a batch may have).
func bombBatch(b bomb, now int64) []byte {
	count := int32(min(b.size/int64(len(nullRecord)), math.MaxInt32))
	h := make([]byte, records.HeaderSize, records.HeaderSize+len(b.section))
	h[records.OffMagic] = records.Magic
	binary.BigEndian.PutUint16(h[records.OffAttributes:], uint16(b.codec))
	binary.BigEndian.PutUint32(h[records.OffLastOffsetDelta:], uint32(count-1))
	binary.BigEndian.PutUint64(h[records.OffBaseTimestamp:], uint64(now))
	binary.BigEndian.PutUint64(h[records.OffMaxTimestamp:], uint64(now))
	binary.BigEndian.PutUint64(h[records.OffProducerID:], ^uint64(0))
	binary.BigEndian.PutUint16(h[records.OffProducerEpoch:], 0xffff)
	binary.BigEndian.PutUint32(h[records.OffBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(h[records.OffRecordCount:], uint32(count))
	raw := append(h, b.section...)
	binary.BigEndian.PutUint32(raw[records.OffBatchLength:], uint32(len(raw)-records.LengthOverhead))
	records.SetCRC(raw)
	return raw
}

// bombAllocLimit is what refusing one bomb may allocate: the decompressor's
// buffers (lz4 frames of 4 MiB blocks take two; zstd a window of at most
// records.ZstdMaxWindow) and a copy of the compressed input, far below the
// hundreds of MiB to GiBs the bombs decompress to.
const bombAllocLimit = 24 << 20

// TestCompressionBombs: a compressed batch that decompresses to GiBs is
// refused with MESSAGE_TOO_LARGE once its decompressed size passes
// max.message.bytes, where the broker decompresses (here a compacted topic,
// whose records need keys), without allocating what it decompresses to and
// after decoding at most max.message.bytes of it.
func TestCompressionBombs(t *testing.T) {
	s := settings(compacted)
	now := time.Now().UnixMilli()
	for _, b := range makeBombs(t, int(s.MaxMessageBytes)-records.HeaderSize) {
		t.Run(b.name, func(t *testing.T) {
			raw := bombBatch(b, now)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := validateBatch(raw, s, now)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte batch, %d MiB decompressed: refused in %v, %d KiB allocated: %v",
				len(raw), b.size>>20, took.Round(time.Millisecond), alloc>>10, err)
			if !errors.Is(err, errMessageTooLarge) || errorCode(err) != kerr.MessageTooLarge.Code {
				t.Fatalf("error %v, want MESSAGE_TOO_LARGE", err)
			}
			if alloc > bombAllocLimit {
				t.Fatalf("refusing the bomb allocated %d bytes (limit %d)", alloc, bombAllocLimit)
			}
		})
	}
}

// TestCompressedOverMaxMessageBytes: max.message.bytes bounds the
// decompressed batch exactly: a compressed batch whose records decompress to
// one byte more than max.message.bytes allows is refused, one that fits is
// accepted, for every codec.
func TestCompressedOverMaxMessageBytes(t *testing.T) {
	now := time.Now().UnixMilli()
	plain := buildTestBatch(200, now, func(int) []byte { return []byte("key") }, nil)
	limit := int64(len(plain)) // header + decompressed records
	for _, codec := range []int{records.CodecGzip, records.CodecSnappy, records.CodecLZ4, records.CodecZstd} {
		raw := compressBatch(t, plain, codec)
		for _, tc := range []struct {
			max  int64
			want error
		}{{limit, nil}, {limit - 1, errMessageTooLarge}} {
			s := settings(func(s *config.TopicSettings) { s.Compact = true; s.MaxMessageBytes = tc.max })
			if int64(len(raw)) > tc.max {
				t.Fatalf("codec %d: compressed batch of %d bytes does not fit %d", codec, len(raw), tc.max)
			}
			_, err := validateBatch(bytes.Clone(raw), s, now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("codec %d, max.message.bytes %d (batch %d compressed, %d decompressed): %v, want %v",
					codec, tc.max, len(raw), limit, err, tc.want)
			}
		}
	}
}

// TestProduceCompressionBomb: through the produce handler, a zstd bomb of
// 8 GiB (about 20 KiB on the wire) to a compacted topic is answered
// MESSAGE_TOO_LARGE and nothing is appended.
func TestProduceCompressionBomb(t *testing.T) {
	b := newAdminBroker(t)
	compact := "compact"
	mustCreateTopic(t, b, "c", 1, map[string]*string{"cleanup.policy": &compact})
	var zb bomb
	for _, x := range makeBombs(t, 1<<20) {
		if x.codec == records.CodecZstd {
			zb = x
		}
	}
	req := produceReq("c", 0, bombBatch(zb, b.now().UnixMilli()))
	req.SetVersion(9)
	r := b.Handle(context.Background(), &protocol.Request{Key: 0, Version: 9, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}})
	resp := r.Resp
	if r.Wait != nil {
		resp = r.Wait(context.Background())
	}
	sp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if sp.ErrorCode != kerr.MessageTooLarge.Code {
		t.Fatalf("error code %d, want MESSAGE_TOO_LARGE (10)", sp.ErrorCode)
	}
	if end := b.topics.get("c").partition(0).endOffset(); end != 0 {
		t.Fatalf("log end offset %d after a refused batch", end)
	}
}

// FuzzValidateCompressedBatch: FuzzValidateBatch's inputs rarely pass the
// CRC, so this one builds a valid header (CRC included) around a fuzzed
// records section, compressed with a fuzzed codec and claiming a fuzzed
// count, so that the decompressors and the record checks see the bytes.
// Validation must not panic, must refuse or accept within max.message.bytes
// of decoding, and must not allocate beyond bombAllocLimit.
func FuzzValidateCompressedBatch(f *testing.F) {
	now := int64(1 << 40)
	plain := buildTestBatch(5, now, func(i int) []byte { return []byte{byte('a' + i)} }, nil)
	for codec := range 5 {
		raw := plain
		if codec != 0 {
			raw = compressBatch(f, plain, codec)
		}
		f.Add(uint8(codec), int32(5), raw[records.HeaderSize:])
	}
	xerial, _ := records.Compress(records.CodecSnappy, nil, plain[records.HeaderSize:], true)
	f.Add(uint8(records.CodecSnappy), int32(5), xerial)
	s := settings(func(s *config.TopicSettings) { s.Compact = true; s.MaxMessageBytes = 1 << 16 })
	f.Fuzz(func(t *testing.T, codec uint8, count int32, section []byte) {
		if len(section) > 1<<16 {
			return
		}
		raw := bombBatch(bomb{codec: int(codec % 8), section: section, size: 7}, now)
		binary.BigEndian.PutUint32(raw[records.OffRecordCount:], uint32(count))
		binary.BigEndian.PutUint32(raw[records.OffLastOffsetDelta:], uint32(count-1))
		records.SetCRC(raw)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v, err := validateBatch(raw, s, now)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bombAllocLimit {
			t.Fatalf("codec %d: validating a %d-byte batch allocated %d bytes", codec%8, len(raw), alloc)
		}
		if err == nil && !records.ValidCRC(v.raw) {
			t.Fatal("accepted a batch with a bad CRC")
		}
	})
}

// TestCompressedRecordDeclaredLength: on a topic that allows 100 MiB
// batches, a compressed batch of a few bytes whose record declares 90 MiB
// (and holds none of it) is INVALID_RECORD without allocating the declared
// length.
func TestCompressedRecordDeclaredLength(t *testing.T) {
	now := time.Now().UnixMilli()
	section := binary.AppendVarint(nil, 90<<20)
	section = append(section, 0, 0, 0, 1, 1, 0)
	c, err := records.Compress(records.CodecZstd, nil, section, false)
	if err != nil {
		t.Fatal(err)
	}
	raw := bombBatch(bomb{codec: records.CodecZstd, section: c, size: 7}, now)
	s := settings(func(s *config.TopicSettings) { s.Compact = true; s.MaxMessageBytes = 100 << 20 })
	_, _ = validateBatch(bytes.Clone(raw), s, now) // warm the decoder pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = validateBatch(raw, s, now)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if !errors.Is(err, errInvalidRecord) {
		t.Fatalf("err %v, want INVALID_RECORD", err)
	}
	if alloc > 1<<20 {
		t.Fatalf("a record declaring 90 MiB allocated %d bytes", alloc)
	}
}
