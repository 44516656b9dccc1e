package jepsen

// The queue workload: idempotent acks=all producers send unique values to
// every partition of one topic; assign-mode readers poll the topic from its
// start during the whole run. The final drain is Run's.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	queueProducers = 2
	queueReaders   = 2
	sendPause      = 50 * time.Millisecond // between two sends of one partition's sender
)

type queueWorkload struct {
	r *runner
}

func (q *queueWorkload) start(prodCtx, consCtx context.Context, prodWG, consWG *sync.WaitGroup) {
	for i := 1; i <= queueProducers; i++ {
		prodWG.Add(1)
		go func() {
			defer prodWG.Done()
			runSender(prodCtx, q.r, fmt.Sprintf("queue-p%d", i), q.r.queueTopic, nil)
		}()
	}
	for i := 1; i <= queueReaders; i++ {
		consWG.Add(1)
		go func() {
			defer consWG.Done()
			runReader(consCtx, q.r, fmt.Sprintf("queue-r%d", i), q.r.queueTopic, false)
		}()
	}
}

// runSender is one producer process: one client, one sequential sender per
// partition (so "one process's sends to one partition" have an order),
// until ctx ends. onAck, when set, learns every acknowledged value.
func runSender(ctx context.Context, r *runner, process, topic string, onAck func(string)) {
	cl, err := kgo.NewClient(r.clientOpts(nil,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(10*time.Second),
		kgo.ProduceRequestTimeout(5*time.Second),
	)...)
	if err != nil {
		r.logf("%s: %v", process, err)
		return
	}
	defer cl.Close()
	var wg sync.WaitGroup
	for p := range int32(partitions) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				v := fmt.Sprintf("%s-%d-%d", process, p, n)
				start := time.Now()
				r.h.Add(Op{Time: start, Process: process, Type: OpInvoke, F: FnSend, Topic: topic, Partition: p, Offset: -1, Value: v})
				// Not prodCtx: a send in flight when the producers stop
				// completes (or times out) on its own.
				sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				rec := &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}
				err := cl.ProduceSync(sctx, rec).FirstErr()
				cancel()
				op := Op{Start: start, Process: process, Type: OpOK, F: FnSend, Topic: topic, Partition: p, Offset: rec.Offset, Value: v}
				if err != nil {
					op.Type, op.Offset, op.Error = OpInfo, -1, err.Error()
					if errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, context.DeadlineExceeded) {
						op.Detail = "timeout"
					}
				} else {
					r.acked(topic, p, start)
					if onAck != nil {
						onAck(v)
					}
				}
				r.h.Add(op)
				if err != nil {
					sleep(ctx, 200*time.Millisecond)
				}
				sleep(ctx, sendPause)
			}
		}()
	}
	wg.Wait()
}

// runReader is one assign-mode reader of every partition of topic from
// its start, recording each poll, until ctx ends.
func runReader(ctx context.Context, r *runner, process, topic string, committed bool) {
	offs := map[int32]kgo.Offset{}
	for p := range int32(partitions) {
		offs[p] = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxWait(500 * time.Millisecond)}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(r.clientOpts(nil, opts...)...)
	if err != nil {
		r.logf("%s: %v", process, err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		start := time.Now()
		fs := cl.PollFetches(pctx)
		cancel()
		var recs []Rec
		fs.EachRecord(func(rec *kgo.Record) {
			recs = append(recs, Rec{rec.Partition, rec.Offset, string(rec.Value)})
		})
		if len(recs) > 0 {
			r.h.Add(Op{Start: start, Process: process, Type: OpOK, F: FnPoll, Topic: topic, Partition: -1, Offset: -1, Records: recs})
		}
	}
}
