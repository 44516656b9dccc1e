package tests

// Log engine behaviour through real clients: retention, compaction, and
// repair of a torn segment tail after kill -9.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/tests/harness"
)

func earliest(t *testing.T, addr, topic string) int64 {
	t.Helper()
	offs, err := kadm.NewClient(newClient(t, addr)).ListStartOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("list offsets: %v", o.Err)
	}
	return o.Offset
}

func TestLogRetentionMovesEarliest(t *testing.T) {
	clock := newTestClock()
	addr := newBroker(t, onDisk(t), withClock(clock))
	const topic = "retained"
	createTopic(t, addr, topic, 1, map[string]*string{
		"segment.ms":      kadm.StringPtr("100"),
		"retention.bytes": kadm.StringPtr("20000"),
	})
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := bytes.Repeat([]byte{'r'}, 1000)
	for range 6 {
		var rs []*kgo.Record
		for range 10 {
			rs = append(rs, &kgo.Record{Value: value})
		}
		if err := cl.ProduceSync(ctxT(t), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		clock.Advance(150 * time.Millisecond) // the next round rolls a segment
	}
	// Six segments of one batch of ten 1,000-byte records (just over 10 KB
	// each): retention.bytes=20000 deletes the oldest while the rest stays
	// at or above 20000 bytes, so it keeps the last two, from offset 40,
	// whether a check ran between rounds or not; nothing else moves the
	// start (the clock stands still).
	const start = 40
	waitFor(t, "retention to delete the four oldest segments", func() bool { return earliest(t, addr, topic) >= start })
	if got := earliest(t, addr, topic); got != start {
		t.Fatalf("log start %d, want %d: retention.bytes=20000 keeps two 10 KB segments of 60 records", got, start)
	}
	// Reading from the start begins at the new earliest offset.
	recs := consumeN(t, addr, topic, int(60-start))
	if recs[0].Offset != start {
		t.Fatalf("first record at %d, earliest %d", recs[0].Offset, start)
	}
}

func TestLogCompactedTopicLatestPerKey(t *testing.T) {
	clock := newTestClock()
	addr := newBroker(t, onDisk(t), withClock(clock))
	const topic = "compacted"
	createTopic(t, addr, topic, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.ms":                kadm.StringPtr("100"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.ZstdCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.GzipCompression()} {
		cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec))
		for round := range 4 {
			var rs []*kgo.Record
			for k := range 5 {
				rs = append(rs, &kgo.Record{Key: fmt.Appendf(nil, "key-%d", k), Value: fmt.Appendf(nil, "v-%d", round)})
			}
			if err := cl.ProduceSync(ctxT(t), rs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			clock.Advance(120 * time.Millisecond) // the next batch rolls a segment
		}
	}
	// One more batch so that every earlier segment is rolled (the active
	// segment is never cleaned).
	last := newClient(t, addr, kgo.DefaultProduceTopic(topic))
	if err := last.ProduceSync(ctxT(t), &kgo.Record{Key: []byte("other"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const produced = 5*4*5 + 1
	var got []*kgo.Record
	waitFor(t, "compaction", func() bool {
		got = consumeAll(t, addr, topic, produced)
		return len(got) <= 6
	})
	latest := map[string]string{}
	prev := int64(-1)
	for _, r := range got {
		if r.Offset <= prev {
			t.Fatalf("offsets not increasing: %d after %d", r.Offset, prev)
		}
		prev = r.Offset
		latest[string(r.Key)] = string(r.Value)
	}
	for k := range 5 {
		if v := latest[fmt.Sprintf("key-%d", k)]; v != "v-3" {
			t.Fatalf("key-%d: latest %q, want v-3", k, v)
		}
	}
	if latest["other"] != "x" || prev != produced-1 {
		t.Fatalf("last record %q at %d", latest["other"], prev)
	}

	// Keyless records in a compressed batch are rejected on a compacted
	// topic, as in an uncompressed one.
	gz := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.GzipCompression()),
		kgo.RecordRetries(0), kgo.DisableIdempotentWrite())
	err := gz.ProduceSync(ctxT(t), &kgo.Record{Key: []byte("k"), Value: []byte("ok")}, &kgo.Record{Value: []byte("keyless")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record in a gzip batch: %v, want INVALID_RECORD", err)
	}
}

// TestLogCompactedTopicTransactions: a compacted topic written by
// committed and aborted transactions, read from the start under
// read_uncommitted after cleaning, shows no record of an aborted
// transaction and the latest committed value of each key: aborted values
// neither survive nor supersede committed ones.
func TestLogCompactedTopicTransactions(t *testing.T) {
	clock := newTestClock()
	addr := newBroker(t, onDisk(t), withClock(clock))
	const topic = "compacted-txn"
	createTopic(t, addr, topic, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.ms":                kadm.StringPtr("100"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		"delete.retention.ms":       kadm.StringPtr("100"),
	})
	pr := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.TransactionalID("compact-txn"), kgo.TransactionTimeout(30*time.Second))
	const rounds, keys = 4, 5
	for round := range rounds {
		for _, commit := range []bool{true, false} {
			if err := pr.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			var rs []*kgo.Record
			for k := range keys {
				v := fmt.Appendf(nil, "committed-%d", round)
				if !commit {
					v = fmt.Appendf(nil, "aborted-%d", round)
				}
				rs = append(rs, &kgo.Record{Key: fmt.Appendf(nil, "key-%d", k), Value: v})
			}
			if err := pr.ProduceSync(ctxT(t), rs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if err := pr.EndTransaction(ctxT(t), kgo.TransactionEndTry(commit)); err != nil {
				t.Fatal(err)
			}
			clock.Advance(120 * time.Millisecond) // the next transaction rolls a segment
		}
	}
	// A last plain record, so that every earlier segment is rolled (the
	// active segment is never cleaned).
	last := newClient(t, addr, kgo.DefaultProduceTopic(topic))
	if err := last.ProduceSync(ctxT(t), &kgo.Record{Key: []byte("other"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Past delete.retention.ms, so that the cleaner may drop the markers.
	clock.Advance(time.Second)
	var got []*kgo.Record
	waitFor(t, "compaction", func() bool {
		got = consumeAll(t, addr, topic, 2*rounds*keys+1)
		return len(got) <= keys+1
	})
	latest := map[string]string{}
	prev := int64(-1)
	for _, r := range got {
		if r.Offset <= prev {
			t.Fatalf("offsets not increasing: %d after %d", r.Offset, prev)
		}
		prev = r.Offset
		if bytes.HasPrefix(r.Value, []byte("aborted")) {
			t.Errorf("record of an aborted transaction left at %d: %s=%s", r.Offset, r.Key, r.Value)
		}
		latest[string(r.Key)] = string(r.Value)
	}
	for k := range keys {
		if v, want := latest[fmt.Sprintf("key-%d", k)], fmt.Sprintf("committed-%d", rounds-1); v != want {
			t.Errorf("key-%d: latest %q, want %q", k, v, want)
		}
	}
	if latest["other"] != "x" {
		t.Errorf("last record %q at %d", latest["other"], prev)
	}
}

// consumeAll reads the partition from the start until the high watermark
// (up to limit records).
func consumeAll(t *testing.T, addr, topic string, limit int) []*kgo.Record {
	t.Helper()
	offs, err := kadm.NewClient(newClient(t, addr)).ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := offs.Lookup(topic, 0)
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < limit {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records, end %d", len(out), end.Offset)
		}
		out = append(out, fs.Records()...)
		if n := len(out); n > 0 && out[n-1].Offset >= end.Offset-1 {
			break
		}
	}
	return out
}

func TestLogTornTailRepairedOnRestart(t *testing.T) {
	p := harness.Start(t)
	const topic = "torn"
	createTopic(t, p.Addr, topic, 1, nil)
	cl := newClient(t, p.Addr, kgo.DefaultProduceTopic(topic))
	const n = 20
	for i := range n {
		// One record per batch: the torn tail costs exactly the last one.
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: fmt.Appendf(nil, "value-%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	p.Kill9()
	seg := filepath.Join(p.DataDir, topic+"-0", "00000000000000000000.log")
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	p.Restart()
	recs := consumeN(t, p.Addr, topic, n-1)
	for i, r := range recs {
		if r.Offset != int64(i) || string(r.Value) != fmt.Sprintf("value-%d", i) {
			t.Fatalf("record %d: offset %d value %q", i, r.Offset, r.Value)
		}
	}
	cl2 := newClient(t, p.Addr, kgo.DefaultProduceTopic(topic))
	res := cl2.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("after")})
	if r, err := res.First(); err != nil || r.Offset != n-1 {
		t.Fatalf("produce after repair: offset %v, %v", r, err)
	}
	p.Stop()
}
