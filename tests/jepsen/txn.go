package jepsen

// The transactions workload: transactional producers write one value to
// each of 2–3 partitions of the source topic per transaction, aborting
// about 15% on purpose; a read_committed assign-mode reader polls the
// source during the run; an exactly-once copier (two members of one group,
// kgo.GroupTransactSession: offsets committed inside the transaction)
// copies the source to the copy topic, keeping each record's partition
// and value.
//
// Outcomes: a transaction whose commit returned nil is ok; one aborted on
// purpose, or aborted after a failed produce, is fail (it can never
// commit: no commit was ever sent); one whose commit returned an error is
// info (unknown). After any error the client is replaced by a new one with
// the same transactional id, whose InitProducerID fences the old one and
// ends its open transaction.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	txnProducers = 2
	txnCopiers   = 2
	txnPause     = 100 * time.Millisecond
	abortPercent = 15
)

type txnWorkload struct {
	r *runner

	mu        sync.Mutex
	committed map[string]bool // values of committed producer transactions
	copied    map[string]bool // values copied by committed copier transactions
	lastCopy  time.Time
}

func (w *txnWorkload) start(prodCtx, consCtx context.Context, prodWG, consWG *sync.WaitGroup) {
	w.committed, w.copied = map[string]bool{}, map[string]bool{}
	for i := 1; i <= txnProducers; i++ {
		prodWG.Add(1)
		go func() {
			defer prodWG.Done()
			w.produce(prodCtx, fmt.Sprintf("transactions-p%d", i))
		}()
	}
	for i := 1; i <= txnCopiers; i++ {
		consWG.Add(1)
		go func() {
			defer consWG.Done()
			w.copy(consCtx, fmt.Sprintf("transactions-copy%d", i))
		}()
	}
	consWG.Add(1)
	go func() {
		defer consWG.Done()
		runReader(consCtx, w.r, "transactions-r1", w.r.txnTopic, true)
	}()
}

// caughtUp: every committed value was copied and the copier has been idle
// for two seconds (so values of unknown transactions were copied too).
func (w *txnWorkload) caughtUp() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for v := range w.committed {
		if !w.copied[v] {
			return false
		}
	}
	return time.Since(w.lastCopy) > 2*time.Second
}

func (w *txnWorkload) newProducer(process string) (*kgo.Client, error) {
	return kgo.NewClient(w.r.clientOpts(nil,
		kgo.TransactionalID(w.r.tag+"-"+process),
		kgo.TransactionTimeout(10*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(10*time.Second),
		kgo.ProduceRequestTimeout(5*time.Second),
	)...)
}

func (w *txnWorkload) produce(ctx context.Context, process string) {
	r := w.r
	var cl *kgo.Client
	defer func() {
		if cl != nil {
			r.closeWithin(process, 30*time.Second, cl.Close)
		}
	}()
	for n := 0; ctx.Err() == nil; n++ {
		if cl == nil {
			var err error
			if cl, err = w.newProducer(process); err != nil {
				r.logf("%s: %v", process, err)
				sleep(ctx, time.Second)
				continue
			}
		}
		name := fmt.Sprintf("%s-%d", process, n)
		k := 2 + r.intn(2)
		first := int32(r.intn(partitions))
		abort := r.intn(100) < abortPercent
		recs := make([]Rec, k)
		for j := range k {
			recs[j] = Rec{Partition: (first + int32(j)) % partitions, Offset: -1, Value: fmt.Sprintf("%s-%d", name, j)}
		}
		start := time.Now()
		detail := "commit"
		if abort {
			detail = "abort"
		}
		r.h.Add(Op{Time: start, Process: process, Type: OpInvoke, F: FnTxn, Topic: r.txnTopic, Txn: name, Records: recs, Partition: -1, Offset: -1, Detail: detail})
		typ, errText, broken := w.oneTxn(cl, recs, abort)
		r.h.Add(Op{Start: start, Process: process, Type: typ, F: FnTxn, Topic: r.txnTopic, Txn: name, Records: recs, Partition: -1, Offset: -1, Detail: detail, Error: errText})
		if typ == OpOK {
			w.mu.Lock()
			for _, rec := range recs {
				w.committed[rec.Value] = true
			}
			w.mu.Unlock()
		}
		if broken {
			r.closeWithin(process, 30*time.Second, cl.Close)
			cl = nil
			sleep(ctx, 200*time.Millisecond)
		}
		sleep(ctx, txnPause)
	}
}

// oneTxn runs one transaction; recs get their offsets when acknowledged.
// broken means the client should be replaced.
func (w *txnWorkload) oneTxn(cl *kgo.Client, recs []Rec, abort bool) (typ OpType, errText string, broken bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		return OpFail, "begin: " + err.Error(), true
	}
	var mu sync.Mutex
	var produceErr error
	for i := range recs {
		cl.Produce(ctx, &kgo.Record{Topic: w.r.txnTopic, Partition: recs[i].Partition, Value: []byte(recs[i].Value)}, func(rec *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				produceErr = err
				return
			}
			recs[i].Offset = rec.Offset
		})
	}
	ferr := cl.Flush(ctx)
	mu.Lock()
	perr := produceErr
	mu.Unlock()
	if ferr != nil || perr != nil || abort {
		for i := range recs {
			recs[i].Offset = -1 // an aborted record's offset is no promise
		}
		aerr := cl.EndTransaction(ctx, kgo.TryAbort)
		switch {
		case ferr != nil || perr != nil:
			return OpFail, fmt.Sprintf("produce: %v %v; abort: %v", ferr, perr, aerr), true
		case aerr != nil:
			return OpFail, "abort: " + aerr.Error(), true
		}
		return OpFail, "", false
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return OpInfo, "commit: " + err.Error(), true
	}
	return OpOK, "", false
}

func (w *txnWorkload) newCopier(process string) (*kgo.GroupTransactSession, error) {
	return kgo.NewGroupTransactSession(w.r.clientOpts(nil,
		kgo.TransactionalID(w.r.tag+"-"+process),
		kgo.TransactionTimeout(10*time.Second),
		kgo.ConsumerGroup(w.r.tag+"-copy"),
		kgo.ConsumeTopics(w.r.txnTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.SessionTimeout(sessionTime),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(10*time.Second),
		kgo.ProduceRequestTimeout(5*time.Second),
	)...)
}

// copy is one copier member: poll, copy in a transaction, commit the
// offsets with it; until ctx ends.
func (w *txnWorkload) copy(ctx context.Context, process string) {
	r := w.r
	var sess *kgo.GroupTransactSession
	defer func() {
		if sess != nil {
			r.closeWithin(process, 30*time.Second, sess.Close)
		}
	}()
	for n := 0; ctx.Err() == nil; n++ {
		if sess == nil {
			var err error
			if sess, err = w.newCopier(process); err != nil {
				r.logf("%s: %v", process, err)
				sleep(ctx, time.Second)
				continue
			}
		}
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		fs := sess.PollRecords(pctx, 100)
		pcancel()
		if ctx.Err() != nil {
			return
		}
		var recs []Rec
		fs.EachRecord(func(rec *kgo.Record) { recs = append(recs, Rec{rec.Partition, rec.Offset, string(rec.Value)}) })
		if len(recs) == 0 {
			continue
		}
		name := fmt.Sprintf("%s-%d", process, n)
		start := time.Now()
		r.h.Add(Op{Time: start, Process: process, Type: OpInvoke, F: FnCopy, Topic: r.txnTopic, To: r.copyTopic, Txn: name, Records: recs, Partition: -1, Offset: -1})
		typ, errText := w.copyTxn(sess, recs)
		r.h.Add(Op{Start: start, Process: process, Type: typ, F: FnCopy, Topic: r.txnTopic, To: r.copyTopic, Txn: name, Records: recs, Partition: -1, Offset: -1, Error: errText})
		if typ == OpOK {
			w.mu.Lock()
			for _, rec := range recs {
				w.copied[rec.Value] = true
			}
			w.lastCopy = time.Now()
			w.mu.Unlock()
		}
		if errText != "" && typ != OpFail {
			r.closeWithin(process, 30*time.Second, sess.Close)
			sess = nil
			sleep(ctx, 200*time.Millisecond)
		}
	}
}

// copyTxn copies recs in one transaction that also commits their offsets.
func (w *txnWorkload) copyTxn(sess *kgo.GroupTransactSession, recs []Rec) (OpType, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sess.Begin(); err != nil {
		return OpInfo, "begin: " + err.Error()
	}
	var mu sync.Mutex
	var produceErr error
	for _, rec := range recs {
		sess.Produce(ctx, &kgo.Record{Topic: w.r.copyTopic, Partition: rec.Partition, Value: []byte(rec.Value)}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				produceErr = err
				mu.Unlock()
			}
		})
	}
	ferr := sess.Client().Flush(ctx)
	mu.Lock()
	perr := produceErr
	mu.Unlock()
	try := kgo.TryCommit
	if ferr != nil || perr != nil {
		try = kgo.TryAbort
	}
	committed, err := sess.End(ctx, try)
	switch {
	case err != nil:
		return OpInfo, fmt.Sprintf("end: %v (produce: %v %v)", err, ferr, perr)
	case !committed:
		return OpFail, fmt.Sprintf("aborted (produce: %v %v)", ferr, perr)
	}
	return OpOK, ""
}
