package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	clients["franz-go"] = func(bootstrap string) (client, error) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds(bootstrap)...))
		if err != nil {
			return nil, err
		}
		return &franz{bootstrap: bootstrap, cl: cl, adm: kadm.NewClient(cl)}, nil
	}
}

type franz struct {
	bootstrap string
	cl        *kgo.Client
	adm       *kadm.Client
}

func (f *franz) Close() { f.cl.Close() }

func (f *franz) newClient(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds(f.bootstrap)...)}, opts...)...)
}

func (f *franz) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = kadm.StringPtr(v)
	}
	resp, err := f.adm.CreateTopic(ctx, partitions, replicationFactor(), cfg, topic)
	if err != nil {
		return err
	}
	return resp.Err
}

func (f *franz) Metadata(ctx context.Context, topic string) (int, []partitionInfo, error) {
	md, err := f.adm.Metadata(ctx, topic)
	if err != nil {
		return 0, nil, err
	}
	td, ok := md.Topics[topic]
	if !ok {
		return 0, nil, fmt.Errorf("topic missing from metadata")
	}
	if td.Err != nil {
		return 0, nil, td.Err
	}
	var parts []partitionInfo
	for _, p := range td.Partitions.Sorted() {
		parts = append(parts, partitionInfo{ID: p.Partition, Leader: p.Leader})
	}
	return len(md.Brokers), parts, nil
}

func (f *franz) ListTopics(ctx context.Context) ([]string, error) {
	td, err := f.adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	return td.Names(), nil
}

func (f *franz) CreatePartitions(ctx context.Context, topic string, total int) error {
	resp, err := f.adm.UpdatePartitions(ctx, total, topic)
	if err != nil {
		return err
	}
	return resp.Error()
}

func (f *franz) DeleteTopic(ctx context.Context, topic string) error {
	resp, err := f.adm.DeleteTopic(ctx, topic)
	if err != nil {
		return err
	}
	return resp.Err
}

func (f *franz) DescribeConfig(ctx context.Context, topic, key string) (string, error) {
	rcs, err := f.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return "", err
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return "", err
	}
	if rc.Err != nil {
		return "", rc.Err
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c.MaybeValue(), nil
		}
	}
	return "", fmt.Errorf("config %s not described", key)
}

func (f *franz) AlterConfig(ctx context.Context, topic, key, value string) error {
	resp, err := f.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: key, Value: kadm.StringPtr(value)}}, topic)
	if err != nil {
		return err
	}
	for _, r := range resp {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

func franzCodec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func toKgo(topic string, r rec) *kgo.Record {
	kr := &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr
}

func fromKgo(kr *kgo.Record) rec {
	r := rec{Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key, Value: kr.Value, Timestamp: kr.Timestamp}
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, header{Key: h.Key, Value: h.Value})
	}
	return r
}

func (f *franz) Produce(ctx context.Context, topic string, recs []rec, o produceOpts) error {
	opts := []kgo.Opt{
		kgo.ProducerBatchCompression(franzCodec(o.Codec)),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	}
	switch o.Acks {
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case 1:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
		if !o.Idempotent {
			opts = append(opts, kgo.DisableIdempotentWrite())
		}
	}
	cl, err := f.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = toKgo(topic, r)
	}
	return cl.ProduceSync(ctx, krs...).FirstErr()
}

func (f *franz) Consume(ctx context.Context, topic string, partition int32, start int64, n int, positioned func() error) ([]rec, error) {
	off := kgo.NewOffset()
	switch start {
	case startEarliest:
		off = off.AtStart()
	case startLatest:
		off = off.AtEnd()
	default:
		off = off.At(start)
	}
	cl, err := f.newClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: off}}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if positioned != nil {
		// The first fetches resolve the end offset; nothing arrives.
		pctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if n := fs.NumRecords(); n > 0 {
			return nil, fmt.Errorf("consumer at latest returned %d old records", n)
		}
		if err := positioned(); err != nil {
			return nil, err
		}
	}
	return franzPoll(ctx, cl, n)
}

func franzPoll(ctx context.Context, cl *kgo.Client, n int) ([]rec, error) {
	var out []rec
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("read %d of %d records: %w", len(out), n, ctx.Err())
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err) })
		if ferr != nil {
			return out, ferr
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, fromKgo(r)) })
	}
	return out, nil
}

func (f *franz) OffsetForTime(ctx context.Context, topic string, partition int32, millis int64) (int64, error) {
	lo, err := f.adm.ListOffsetsAfterMilli(ctx, millis, topic)
	if err != nil {
		return 0, err
	}
	o, ok := lo.Lookup(topic, partition)
	if !ok {
		return 0, fmt.Errorf("no offset returned")
	}
	return o.Offset, o.Err
}

func (f *franz) groupOpts(o groupOpts) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(o.Group), kgo.ConsumeTopics(o.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
	}
	if o.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(o.InstanceID))
	}
	if o.KIP848 {
		// franz-go silently falls back to the classic protocol when the
		// broker lacks ConsumerGroupHeartbeat v1: check first.
		versions, err := f.cl.Request(context.Background(), kmsg.NewPtrApiVersionsRequest())
		if err != nil {
			return nil, err
		}
		ok := false
		for _, k := range versions.(*kmsg.ApiVersionsResponse).ApiKeys {
			if k.ApiKey == int16(kmsg.ConsumerGroupHeartbeat) && k.MaxVersion >= 1 {
				ok = true
			}
		}
		if !ok {
			return nil, errors.New("broker does not advertise ConsumerGroupHeartbeat v1 (KIP-848)")
		}
		opts = append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
	}
	return opts, nil
}

func (f *franz) GroupConsume(ctx context.Context, o groupOpts) ([]rec, error) {
	opts, err := f.groupOpts(o)
	if err != nil {
		return nil, err
	}
	cl, err := f.newClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out, err := franzPoll(ctx, cl, o.N)
	if err != nil {
		return out, err
	}
	out = out[:o.N]
	commit := map[string]map[int32]kgo.EpochOffset{o.Topic: {0: {Epoch: -1, Offset: o.CommitAt}}}
	var cerr error
	cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					cerr = fmt.Errorf("commit: error code %d", p.ErrorCode)
				}
			}
		}
	})
	return out, cerr
}

// assignments tracks what one group member owns.
type assignments struct {
	mu    sync.Mutex
	owned map[int32]bool
}

func (a *assignments) set(ps []int32, own bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.owned == nil {
		a.owned = map[int32]bool{}
	}
	for _, p := range ps {
		if own {
			a.owned[p] = true
		} else {
			delete(a.owned, p)
		}
	}
}

func (a *assignments) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.owned)
}

// waitSplit waits until two members each own some and together all of n
// partitions, then (after leave) until the first owns all n.
func waitSplit(ctx context.Context, a, b *assignments, n int, leave func()) error {
	if err := poll(ctx, func() error {
		ca, cb := a.count(), b.count()
		if ca == 0 || cb == 0 || ca+cb != n {
			return fmt.Errorf("members own %d and %d of %d partitions", ca, cb, n)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("two members never split the partitions: %w", err)
	}
	leave()
	if err := poll(ctx, func() error {
		if c := a.count(); c != n {
			return fmt.Errorf("remaining member owns %d of %d partitions", c, n)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("after one member left: %w", err)
	}
	return nil
}

func (f *franz) TwoMembers(ctx context.Context, group, topic string, n int) error {
	member := func(a *assignments) (*kgo.Client, error) {
		return f.newClient(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m[topic], true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m[topic], false) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(m[topic], false) }),
		)
	}
	var a, b assignments
	ca, err := member(&a)
	if err != nil {
		return err
	}
	defer ca.Close()
	cb, err := member(&b)
	if err != nil {
		return err
	}
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range []*kgo.Client{ca, cb} {
		go func() {
			for pollCtx.Err() == nil {
				c.PollFetches(pollCtx)
			}
		}()
	}
	closed := false
	defer func() {
		if !closed {
			cb.Close()
		}
	}()
	return waitSplit(ctx, &a, &b, n, func() { closed = true; cb.Close() })
}

func (f *franz) TransactionalProduce(ctx context.Context, topic, txnID string, recs []rec, commit bool) error {
	cl, err := f.newClient(kgo.TransactionalID(txnID), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, toKgo(topic, r)).FirstErr(); err != nil {
			return fmt.Errorf("transactional produce: %w", err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		return fmt.Errorf("end transaction (commit=%v): %w", commit, err)
	}
	return nil
}

func (f *franz) ReadCommitted(ctx context.Context, topic string, n int) ([]rec, error) {
	cl, err := f.newClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return franzPoll(ctx, cl, n)
}

func (f *franz) recordErrorsNA() string {
	return "franz-go fails every record of a refused batch with the partition error: it does not read the ProduceResponse RecordErrors (KIP-467)"
}
