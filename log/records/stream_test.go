package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// streamCodecs are the codecs (and snappy framings) a RecordReader reads.
var streamCodecs = []struct {
	name   string
	codec  int
	xerial bool
}{
	{"none", CodecNone, false},
	{"gzip", CodecGzip, false},
	{"snappy", CodecSnappy, false},
	{"snappy-xerial", CodecSnappy, true},
	{"lz4", CodecLZ4, false},
	{"zstd", CodecZstd, false},
}

// readAllNext walks src with Next and returns copies of the records' Raw.
func readAllNext(t testing.TB, codec int, src []byte, count int32, max int) ([][]byte, error) {
	t.Helper()
	rr, err := NewRecordReader(codec, bytes.NewReader(src), count, max)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	var out [][]byte
	var r Record
	for rr.Next(&r) {
		out = append(out, bytes.Clone(r.Raw))
	}
	return out, rr.Err()
}

// TestRecordReaderMatchesForEach: for every codec, Next gives the records
// ForEach gives, and NextMeta their attributes and deltas; a wrong count
// or trailing bytes are errors for both.
func TestRecordReaderMatchesForEach(t *testing.T) {
	for _, c := range streamCodecs {
		t.Run(c.name, func(t *testing.T) {
			body := sample(200)
			comp, err := Compress(c.codec, nil, body, c.xerial)
			if err != nil {
				t.Fatal(err)
			}
			batch := append(make([]byte, HeaderSize), comp...)
			binary.BigEndian.PutUint16(batch[OffAttributes:], uint16(c.codec))
			binary.BigEndian.PutUint32(batch[OffRecordCount:], 200)
			var want [][]byte
			var wantMeta []RecordMeta
			if err := ForEach(batch, DefaultMaxDecompressed, func(r Record) error {
				want = append(want, bytes.Clone(r.Raw))
				wantMeta = append(wantMeta, RecordMeta{r.Attributes, r.TimestampDelta, r.OffsetDelta})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got, err := readAllNext(t, c.codec, comp, 200, DefaultMaxDecompressed)
			if err != nil || len(got) != len(want) {
				t.Fatalf("Next: %d records, %v; want %d", len(got), err, len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("record %d differs", i)
				}
			}
			rr, err := NewRecordReader(c.codec, bytes.NewReader(comp), 200, DefaultMaxDecompressed)
			if err != nil {
				t.Fatal(err)
			}
			var m RecordMeta
			n := 0
			for rr.NextMeta(&m) {
				if m != wantMeta[n] {
					t.Fatalf("meta %d: %+v, want %+v", n, m, wantMeta[n])
				}
				n++
			}
			rr.Close()
			if err := rr.Err(); err != nil || n != 200 {
				t.Fatalf("NextMeta: %d records, %v", n, err)
			}
			for _, count := range []int32{199, 201} {
				if _, err := readAllNext(t, c.codec, comp, count, DefaultMaxDecompressed); !errors.Is(err, ErrMalformed) {
					t.Errorf("count %d: err %v, want ErrMalformed", count, err)
				}
			}
			if _, err := readAllNext(t, c.codec, comp, 200, len(body)-1); !errors.Is(err, ErrTooLarge) {
				t.Errorf("max %d below the %d bytes: err %v, want ErrTooLarge", len(body)-1, len(body), err)
			}
		})
	}
}

// bombSection is a records section of about DefaultMaxDecompressed - 1 MiB:
// records i = 0, 1, ... with timestamp delta i and a 4 KiB value of zeros,
// which every codec compresses hundreds of times over. It returns the
// section and its record count.
var bombSection = sync.OnceValues(func() ([]byte, int32) {
	value := make([]byte, 4<<10)
	var b []byte
	n := int32(0)
	for len(b) < DefaultMaxDecompressed-1<<20 {
		b = appendRecord(b, int(n), nil, value)
		n++
	}
	return b, n
})

var bombs sync.Map // codec name -> compressed bombSection

func bomb(t *testing.T, name string, codec int, xerial bool) []byte {
	t.Helper()
	if b, ok := bombs.Load(name); ok {
		return b.([]byte)
	}
	body, _ := bombSection()
	b, err := Compress(codec, nil, body, xerial)
	if err != nil {
		t.Fatal(err)
	}
	bombs.Store(name, b)
	return b
}

// allocated returns the bytes f allocates on the heap (all goroutines:
// tests here do not run in parallel).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestRecordReaderBombAllocations: a batch that decompresses to ~63 MiB
// (the per-batch bound is 64 MiB; ForEach allocates twice that) is walked
// to a record near its start, and to its end, allocating about one
// decompression window; raw snappy, whose one block must be decoded whole,
// allocates its decoded length once and is bounded by the budget instead.
func TestRecordReaderBombAllocations(t *testing.T) {
	body, count := bombSection()
	const MiB = 1 << 20
	for _, c := range streamCodecs {
		if c.codec == CodecNone {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			comp := bomb(t, c.name, c.codec, c.xerial)
			// early: the first record at or after delta 3; end: the last.
			walk := func(target int64) (int64, error) {
				rr, err := NewRecordReader(c.codec, bytes.NewReader(comp), count, DefaultMaxDecompressed)
				if err != nil {
					return -1, err
				}
				defer rr.Close()
				var m RecordMeta
				for rr.NextMeta(&m) {
					if m.TimestampDelta >= target {
						return m.TimestampDelta, nil
					}
				}
				return -1, rr.Err()
			}
			// Per codec: one window (zstd: the 8 MiB the Go encoder
			// declares; lz4: two 4 MiB blocks), the compressed input for
			// snappy, plus slack.
			early, end := uint64(2*MiB), uint64(4*MiB)
			switch {
			case c.codec == CodecZstd || c.codec == CodecLZ4:
				early, end = 12*MiB, 12*MiB
			case c.codec == CodecSnappy && c.xerial:
				early, end = uint64(len(comp))+2*MiB, uint64(len(comp))+2*MiB
			case c.codec == CodecSnappy:
				early, end = uint64(len(body)+len(comp))+2*MiB, uint64(len(body)+len(comp))+2*MiB
			}
			for _, tc := range []struct {
				target int64
				limit  uint64
			}{{3, early}, {int64(count - 1), end}} {
				var got int64
				var err error
				n := allocated(func() { got, err = walk(tc.target) })
				if err != nil || got != tc.target {
					t.Fatalf("target %d: found %d, %v", tc.target, got, err)
				}
				t.Logf("%s (%d KiB compressed, %d MiB decoded): match at record %d allocated %.1f MiB", c.name, len(comp)>>10, len(body)>>20, tc.target, float64(n)/MiB)
				if n > tc.limit {
					t.Errorf("match at record %d allocated %d bytes, want <= %d", tc.target, n, tc.limit)
				}
			}
			if c.codec != CodecSnappy {
				// A zstd, gzip or lz4 bomb past the bound fails
				// without holding the decoded bytes.
				var err error
				n := allocated(func() { _, err = walk(1 << 40) })
				if err != nil {
					t.Fatalf("full walk: %v", err)
				}
				rr, _ := NewRecordReader(c.codec, bytes.NewReader(comp), count, 32*MiB)
				var m RecordMeta
				for rr.NextMeta(&m) {
				}
				rr.Close()
				if !errors.Is(rr.Err(), ErrTooLarge) {
					t.Errorf("bound 32 MiB: err %v, want ErrTooLarge", rr.Err())
				}
				if n > end {
					t.Errorf("full walk allocated %d bytes", n)
				}
			}
		})
	}
}

// TestStreamBudgetBoundsConcurrentReaders: zstd readers take their weight
// of StreamMemoryBudget until it is spent; the next waits, and goes on
// when one is closed.
func TestStreamBudgetBoundsConcurrentReaders(t *testing.T) {
	comp := zstdFrame(t, ZstdMaxWindow, sample(10))
	var open []*RecordReader
	for range StreamMemoryBudget / zstdWeight(ZstdMaxWindow) {
		rr, err := NewRecordReader(CodecZstd, bytes.NewReader(comp), 10, DefaultMaxDecompressed)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, rr)
	}
	opened := make(chan *RecordReader)
	go func() {
		rr, err := NewRecordReader(CodecZstd, bytes.NewReader(comp), 10, DefaultMaxDecompressed)
		if err != nil {
			panic(err)
		}
		opened <- rr
	}()
	waitFor(t, func() bool {
		streamBudget.mu.Lock()
		defer streamBudget.mu.Unlock()
		return len(streamBudget.waiters) == 1
	})
	select {
	case <-opened:
		t.Fatal("a reader opened over the budget")
	default:
	}
	open[0].Close()
	rr := <-opened
	var m RecordMeta
	n := 0
	for rr.NextMeta(&m) {
		n++
	}
	if rr.Err() != nil || n != 10 {
		t.Fatalf("the waiting reader read %d records, %v", n, rr.Err())
	}
	rr.Close()
	for _, rr := range open[1:] {
		rr.Close()
	}
	if streamBudget.free != StreamMemoryBudget {
		t.Fatalf("budget free %d after closing all, want %d", streamBudget.free, StreamMemoryBudget)
	}
}

// zstdFrame compresses src in a frame that declares window, a power of
// two from 1 KiB (as a streaming encoder, which does not know the size,
// writes it; the Go encoder shrinks the window to a small input's size, so
// the header's window descriptor is rewritten).
func zstdFrame(t *testing.T, window int, src []byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil, zstd.WithSingleSegment(false), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b := e.EncodeAll(src, nil)
	var h zstd.Header
	if err := h.Decode(b); err != nil || h.SingleSegment || h.DictionaryID != 0 {
		t.Fatalf("frame header %+v, %v", h, err)
	}
	log := 10
	for 1<<log < window {
		log++
	}
	b[5] = byte(log-10) << 3 // the window descriptor: exponent, mantissa 0
	if err := h.Decode(b); err != nil || h.WindowSize != uint64(window) {
		t.Fatalf("rewritten frame header %+v, %v", h, err)
	}
	return b
}

// TestRecordReaderZstdWindow: a zstd reader is charged the window its
// frame declares (franz-go writes 64 KiB windows), and a window over
// ZstdMaxWindow is refused rather than allocated.
func TestRecordReaderZstdWindow(t *testing.T) {
	for _, tc := range []struct {
		window int
		weight int64 // the most it may be charged; 0: refused
	}{
		{64 << 10, 1 << 20},
		{ZstdMaxWindow, ZstdMaxWindow + 1<<20},
		{2 * ZstdMaxWindow, 0},
	} {
		comp := zstdFrame(t, tc.window, sample(20))
		rr, err := NewRecordReader(CodecZstd, bytes.NewReader(comp), 20, DefaultMaxDecompressed)
		if err != nil {
			t.Fatal(err)
		}
		if rr.weight > tc.weight && tc.weight > 0 {
			t.Errorf("window %d: charged %d, want <= %d", tc.window, rr.weight, tc.weight)
		}
		var m RecordMeta
		n := 0
		for rr.NextMeta(&m) {
			n++
		}
		rr.Close()
		switch {
		case tc.weight > 0 && (rr.Err() != nil || n != 20):
			t.Errorf("window %d: read %d records, %v", tc.window, n, rr.Err())
		case tc.weight == 0 && !errors.Is(rr.Err(), zstd.ErrWindowSizeExceeded) && !errors.Is(rr.Err(), zstd.ErrDecoderSizeExceeded):
			t.Errorf("window %d: read %d records, err %v; want the window refused", tc.window, n, rr.Err())
		}
	}
}

// TestMemoryBudgetOrder: waiters are served in arrival order: a small
// weight that would fit waits behind a large one that does not.
func TestMemoryBudgetOrder(t *testing.T) {
	b := newMemoryBudget(10)
	b.acquire(8)
	got := make(chan int64, 2)
	go func() { b.acquire(5); got <- 5 }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
	go func() { b.acquire(1); got <- 1 }()
	// 2 bytes are free, but the 1 queues behind the 5.
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
	b.release(8)
	if sum := <-got + <-got; sum != 6 {
		t.Fatalf("served %d bytes, want 6", sum)
	}
	b.release(5)
	b.release(1)
	if b.free != 10 || len(b.waiters) != 0 {
		t.Fatalf("free %d, %d waiters; want 10, 0", b.free, len(b.waiters))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		runtime.Gosched()
	}
}

// FuzzRecordReader: on any input a RecordReader neither panics nor reads
// past its bound; on an uncompressed section it yields the records the
// Iterator yields and fails exactly when it fails; and a section compressed
// with any codec reads back as the uncompressed one does.
func FuzzRecordReader(f *testing.F) {
	f.Add(uint8(0), int32(3), sample(3))
	f.Add(uint8(4), int32(1), sample(1))
	f.Add(uint8(2), int32(2), []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 1, 0})
	f.Add(uint8(1), int32(0), []byte{})
	f.Add(uint8(3), int32(2), appendRecord(appendRecord(nil, 0, []byte("k"), nil), 1, nil, []byte("v")))
	f.Fuzz(func(t *testing.T, codec uint8, count int32, data []byte) {
		const max = 1 << 20
		c := int(codec % 5)
		// Arbitrary bytes as compressed input: no panic, bounded.
		for _, meta := range []bool{false, true} {
			rr, err := NewRecordReader(c, bytes.NewReader(data), count, max)
			if err != nil {
				continue
			}
			var r Record
			var m RecordMeta
			for i := 0; ; i++ {
				ok := false
				if meta {
					ok = rr.NextMeta(&m)
				} else {
					ok = rr.Next(&r)
				}
				if !ok {
					break
				}
				if int32(i) >= count {
					t.Fatalf("record %d of %d", i, count)
				}
			}
			if rr.total > max {
				t.Fatalf("read %d bytes past the bound %d", rr.total, max)
			}
			rr.Close()
		}
		// data as an uncompressed section, compressed with c: the
		// Iterator's records and verdict.
		if count < 0 || len(data) > max {
			return
		}
		var want [][]byte
		it := NewIterator(data, count)
		var r Record
		for it.NextInto(&r) {
			want = append(want, bytes.Clone(r.Raw))
		}
		comp, err := Compress(c, nil, data, codec&0x80 != 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAllNext(t, c, comp, count, max)
		if (err == nil) != (it.Err() == nil) {
			t.Fatalf("codec %d: stream err %v, iterator err %v", c, err, it.Err())
		}
		if len(got) != len(want) {
			t.Fatalf("codec %d: stream %d records, iterator %d", c, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("codec %d: record %d differs", c, i)
			}
		}
		// NextMeta accepts at least what Next accepts.
		if err == nil {
			rr, err := NewRecordReader(c, bytes.NewReader(comp), count, max)
			if err != nil {
				t.Fatal(err)
			}
			var m RecordMeta
			n := 0
			for rr.NextMeta(&m) {
				n++
			}
			rr.Close()
			if rr.Err() != nil || n != len(want) {
				t.Fatalf("codec %d: NextMeta %d records, %v", c, n, rr.Err())
			}
		}
	})
}
