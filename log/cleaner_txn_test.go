package log

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
)

// txnBatch is makeKVBatch marked transactional.
func txnBatch(t testing.TB, recs []kv, ts int64, producerID int64) []byte {
	return kvBatch(recs, ts, AttrTransactional, producerID).MustEncode()
}

// TestCompactionTransactions: the records of an aborted transaction do not
// supersede the committed values of their keys and are removed; the
// records of an open transaction (at or past TxnView.StableEnd) neither
// supersede anything nor go. Plain Compact, which knows of no transaction,
// would keep the newer uncommitted values and drop the committed ones (the
// Kafka Streams test lost a changelog's committed state that way).
func TestCompactionTransactions(t *testing.T) {
	const now, pid = 1_000_000, 7
	keys := func(prefix string) []kv {
		var recs []kv
		for k := range 8 {
			recs = append(recs, kv{fmt.Appendf(nil, "key-%d", k), fmt.Appendf(nil, "%s-%s", prefix, bytes.Repeat([]byte{'x'}, 40))})
		}
		return recs
	}
	// setup writes committed values, then one uncommitted batch of pid at
	// txnBase, then filler under other keys so that everything is sealed.
	setup := func(t *testing.T) (l *Log, txnBase, txnEnd int64) {
		l, _ = openLog(t, vfs.NewMem(), "/data/topic-0", compactConfig())
		for r := range 10 {
			if _, err := l.Append(makeKVBatch(t, keys(fmt.Sprintf("committed-%d", r)), now, 0, false, -1), now); err != nil {
				t.Fatal(err)
			}
		}
		txnBase, err := l.Append(txnBatch(t, keys("uncommitted"), now, pid), now)
		if err != nil {
			t.Fatal(err)
		}
		txnEnd = l.EndOffset()
		for r := range 40 {
			recs := []kv{{fmt.Appendf(nil, "filler-%d", r%4), bytes.Repeat([]byte{'f'}, 200)}}
			if _, err := l.Append(makeKVBatch(t, recs, now, 0, false, -1), now); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.SyncTo(l.EndOffset()); err != nil {
			t.Fatal(err)
		}
		return l, txnBase, txnEnd
	}
	check := func(t *testing.T, l *Log, wantUncommitted bool) {
		t.Helper()
		b := readAll(t, l, l.LogStartOffset())
		committed, uncommitted := map[string][]byte{}, 0
		for len(b) > 0 {
			h, err := ParseBatchHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			err = records.ForEach(b[:h.Length], records.DefaultMaxDecompressed, func(r records.Record) error {
				if bytes.HasPrefix(r.Value, []byte("uncommitted")) {
					uncommitted++
				} else if bytes.HasPrefix(r.Key, []byte("key-")) {
					committed[string(r.Key)] = bytes.Clone(r.Value)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			b = b[h.Length:]
		}
		for k := range 8 {
			key := fmt.Sprintf("key-%d", k)
			if v := committed[key]; !bytes.HasPrefix(v, []byte("committed-9-")) {
				t.Errorf("%s: last committed value %.12q, want committed-9", key, v)
			}
		}
		if wantUncommitted && uncommitted != 8 || !wantUncommitted && uncommitted != 0 {
			t.Errorf("%d uncommitted records left (want them kept: %v)", uncommitted, wantUncommitted)
		}
	}

	t.Run("aborted", func(t *testing.T) {
		l, txnBase, txnEnd := setup(t)
		tv := TxnView{StableEnd: l.EndOffset(), Aborted: func(p, off int64) bool {
			return p == pid && off >= txnBase && off < txnEnd
		}}
		st, err := l.CompactTxn(now, NewCleaner(1<<20), tv)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Cleaned || st.RecordsRemoved == 0 {
			t.Fatalf("nothing cleaned: %+v", st)
		}
		check(t, l, false)
	})
	t.Run("open", func(t *testing.T) {
		l, txnBase, _ := setup(t)
		st, err := l.CompactTxn(now, NewCleaner(1<<20), TxnView{StableEnd: txnBase})
		if err != nil {
			t.Fatal(err)
		}
		if !st.Cleaned || st.MapEnd > txnBase {
			t.Fatalf("cleaned past the open transaction: %+v", st)
		}
		check(t, l, true)
	})
}
