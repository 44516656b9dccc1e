package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

type env struct {
	cl        client
	bootstrap string
	newClient func(string) (client, error)
	scenario  string
}

// topic names a fresh topic for this scenario: runs never share state.
func (e *env) topic() string {
	return fmt.Sprintf("compat-%s-%d", e.scenario, rand.Uint32())
}

// createTopic creates a topic and waits until metadata shows every
// partition with a leader: Kafka propagates new topics asynchronously.
func (e *env) createTopic(ctx context.Context, t string, partitions int32, configs map[string]string) error {
	if err := e.cl.CreateTopic(ctx, t, partitions, configs); err != nil {
		return err
	}
	return poll(ctx, func() error {
		_, parts, err := e.cl.Metadata(ctx, t)
		if err != nil {
			return fmt.Errorf("topic not in metadata after create: %w", err)
		}
		if len(parts) != int(partitions) {
			return fmt.Errorf("metadata shows %d of %d partitions after create", len(parts), partitions)
		}
		for _, p := range parts {
			if p.Leader < 0 {
				return fmt.Errorf("partition %d has no leader after create", p.ID)
			}
		}
		return nil
	})
}

var scenarioFuncs = map[string]func(context.Context, *env) error{
	"metadata":                    scMetadata,
	"topics_admin":                scTopicsAdmin,
	"configs":                     scConfigs,
	"produce_none":                scProduce("none"),
	"produce_gzip":                scProduce("gzip"),
	"produce_snappy":              scProduce("snappy"),
	"produce_lz4":                 scProduce("lz4"),
	"produce_zstd":                scProduce("zstd"),
	"acks_0":                      scAcks(0),
	"acks_1":                      scAcks(1),
	"acks_all":                    scAcks(-1),
	"idempotent":                  scIdempotent,
	"roundtrip":                   scRoundtrip,
	"consume_earliest":            scConsumeEarliest,
	"consume_latest":              scConsumeLatest,
	"consume_timestamp":           scConsumeTimestamp,
	"group_commit_resume":         scGroupCommitResume(false, false),
	"group_two_members":           scGroupTwoMembers,
	"transactions_read_committed": scTransactions,
	"static_membership":           scGroupCommitResume(true, false),
	"kip848":                      scGroupCommitResume(false, true),
	"produce_record_errors":       scRecordErrors,
	"share_group":                 scShareGroup,
	"streams_group_protocol":      scStreamsGroup,
	"client_telemetry":            scClientTelemetry,
	"log_dirs":                    scLogDirs,
	"features":                    scFeatures,
}

func values(prefix string, n int) []rec {
	out := make([]rec, n)
	for i := range out {
		out[i] = rec{Key: []byte("k" + strconv.Itoa(i)), Value: []byte(prefix + strconv.Itoa(i))}
	}
	return out
}

// sameKV checks got holds exactly want's keys and values, in order.
func sameKV(got, want []rec) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) {
			return fmt.Errorf("record %d: got %q=%q, want %q=%q", i, got[i].Key, got[i].Value, want[i].Key, want[i].Value)
		}
	}
	return nil
}

func scMetadata(ctx context.Context, e *env) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 3, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	var brokers int
	var parts []partitionInfo
	var err error
	for ctx.Err() == nil {
		brokers, parts, err = e.cl.Metadata(ctx, t)
		if err == nil && len(parts) == 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if want := expectedBrokers(); brokers < 1 || (want > 0 && brokers != want) {
		return fmt.Errorf("metadata lists %d brokers, want %d", brokers, max(want, 1))
	}
	if len(parts) != 3 {
		return fmt.Errorf("metadata lists %d partitions, want 3", len(parts))
	}
	for _, p := range parts {
		if p.Leader < 0 {
			return fmt.Errorf("partition %d has no leader", p.ID)
		}
	}
	return nil
}

func scTopicsAdmin(ctx context.Context, e *env) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 2, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	names, err := e.cl.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	if !slices.Contains(names, t) {
		return fmt.Errorf("list topics does not include %s", t)
	}
	if _, parts, err := e.cl.Metadata(ctx, t); err != nil || len(parts) != 2 {
		return fmt.Errorf("describe: %d partitions, err %v; want 2", len(parts), err)
	}
	if err := e.cl.CreatePartitions(ctx, t, 3); err != nil {
		return fmt.Errorf("create partitions: %w", err)
	}
	if err := poll(ctx, func() error {
		_, parts, err := e.cl.Metadata(ctx, t)
		if err == nil && len(parts) != 3 {
			err = fmt.Errorf("%d partitions after adding to 3", len(parts))
		}
		return err
	}); err != nil {
		return err
	}
	if err := e.cl.DeleteTopic(ctx, t); err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	return poll(ctx, func() error {
		names, err := e.cl.ListTopics(ctx)
		if err == nil && slices.Contains(names, t) {
			err = fmt.Errorf("topic still listed after delete")
		}
		return err
	})
}

// poll retries fn until it succeeds or ctx ends, returning its last error.
func poll(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func scConfigs(ctx context.Context, e *env) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 1, map[string]string{"retention.ms": "3600000"}); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	v, err := e.cl.DescribeConfig(ctx, t, "retention.ms")
	if err != nil {
		return fmt.Errorf("describe configs: %w", err)
	}
	if v != "3600000" {
		return fmt.Errorf("retention.ms = %q after create, want 3600000", v)
	}
	if err := e.cl.AlterConfig(ctx, t, "retention.ms", "7200000"); err != nil {
		return fmt.Errorf("alter configs: %w", err)
	}
	return poll(ctx, func() error {
		v, err := e.cl.DescribeConfig(ctx, t, "retention.ms")
		if err == nil && v != "7200000" {
			err = fmt.Errorf("retention.ms = %q after alter, want 7200000", v)
		}
		return err
	})
}

func produceConsume(ctx context.Context, e *env, n int, o produceOpts) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 1, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	want := values("v", n)
	if err := e.cl.Produce(ctx, t, want, o); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	got, err := e.cl.Consume(ctx, t, 0, startEarliest, n, nil)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	if err := sameKV(got, want); err != nil {
		return err
	}
	for i, r := range got {
		if r.Offset != int64(i) {
			return fmt.Errorf("record %d at offset %d", i, r.Offset)
		}
	}
	return nil
}

func scProduce(codec string) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		return produceConsume(ctx, e, 50, produceOpts{Codec: codec, Acks: -1})
	}
}

func scAcks(acks int) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		return produceConsume(ctx, e, 10, produceOpts{Codec: "none", Acks: acks})
	}
}

func scIdempotent(ctx context.Context, e *env) error {
	return produceConsume(ctx, e, 100, produceOpts{Codec: "none", Acks: -1, Idempotent: true})
}

// roundtripRecords: binary keys and values, a nil key, repeated and empty
// headers, explicit timestamps.
func roundtripRecords() []rec {
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	base := time.UnixMilli(1700000000123)
	return []rec{
		{Key: []byte("key-1"), Value: bin, Timestamp: base,
			Headers: []header{{"h1", []byte("v1")}, {"h1", []byte("v2")}, {"empty", []byte{}}, {"bin", []byte{0, 0xff, 0x80}}}},
		{Key: nil, Value: []byte("no key"), Timestamp: base.Add(time.Second)},
		{Key: []byte{0, 1, 2, 0xfe}, Value: []byte("ünïcödé ✓"), Timestamp: base.Add(-time.Hour),
			Headers: []header{{"ключ", []byte("значение")}}},
	}
}

func scRoundtrip(ctx context.Context, e *env) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 1, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	want := roundtripRecords()
	if err := e.cl.Produce(ctx, t, want, produceOpts{Codec: "none", Acks: -1}); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	got, err := e.cl.Consume(ctx, t, 0, startEarliest, len(want), nil)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	if err := sameKV(got, want); err != nil {
		return err
	}
	for i := range want {
		if (want[i].Key == nil) != (got[i].Key == nil) {
			return fmt.Errorf("record %d: key nil=%v, want nil=%v", i, got[i].Key == nil, want[i].Key == nil)
		}
		if !got[i].Timestamp.Equal(want[i].Timestamp) {
			return fmt.Errorf("record %d: timestamp %v, want %v", i, got[i].Timestamp.UnixMilli(), want[i].Timestamp.UnixMilli())
		}
		if len(got[i].Headers) != len(want[i].Headers) {
			return fmt.Errorf("record %d: %d headers, want %d", i, len(got[i].Headers), len(want[i].Headers))
		}
		for j, h := range want[i].Headers {
			g := got[i].Headers[j]
			if g.Key != h.Key || !bytes.Equal(g.Value, h.Value) {
				return fmt.Errorf("record %d header %d: %q=%q, want %q=%q", i, j, g.Key, g.Value, h.Key, h.Value)
			}
		}
	}
	return nil
}

func scConsumeEarliest(ctx context.Context, e *env) error {
	return produceConsume(ctx, e, 10, produceOpts{Codec: "none", Acks: -1})
}

func scConsumeLatest(ctx context.Context, e *env) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 1, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	if err := e.cl.Produce(ctx, t, values("old", 5), produceOpts{Codec: "none", Acks: -1}); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	want := values("new", 5)
	got, err := e.cl.Consume(ctx, t, 0, startLatest, 5, func() error {
		return e.cl.Produce(ctx, t, want, produceOpts{Codec: "none", Acks: -1})
	})
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	if err := sameKV(got, want); err != nil {
		return err
	}
	if got[0].Offset != 5 {
		return fmt.Errorf("first record at offset %d, want 5", got[0].Offset)
	}
	return nil
}

func scConsumeTimestamp(ctx context.Context, e *env) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 1, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	recs := values("v", 10)
	for i := range recs {
		recs[i].Timestamp = base.Add(time.Duration(i) * time.Second)
	}
	if err := e.cl.Produce(ctx, t, recs, produceOpts{Codec: "none", Acks: -1}); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	off, err := e.cl.OffsetForTime(ctx, t, 0, base.Add(4500*time.Millisecond).UnixMilli())
	if err != nil {
		return fmt.Errorf("offset for time: %w", err)
	}
	if off != 5 {
		return fmt.Errorf("offset for time = %d, want 5", off)
	}
	got, err := e.cl.Consume(ctx, t, 0, off, 5, nil)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	return sameKV(got, recs[5:])
}

func scGroupCommitResume(static, kip848 bool) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		t := e.topic()
		if err := e.createTopic(ctx, t, 1, nil); err != nil {
			return fmt.Errorf("create topic: %w", err)
		}
		recs := values("v", 10)
		if err := e.cl.Produce(ctx, t, recs, produceOpts{Codec: "none", Acks: -1}); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		o := groupOpts{Group: "g-" + t, Topic: t, N: 10, CommitAt: 6, KIP848: kip848}
		if static {
			o.InstanceID = "static-1"
		}
		got, err := e.cl.GroupConsume(ctx, o)
		if err != nil {
			return fmt.Errorf("first member: %w", err)
		}
		if err := sameKV(got, recs); err != nil {
			return fmt.Errorf("first member: %w", err)
		}
		o.N, o.CommitAt = 4, 10
		got, err = e.cl.GroupConsume(ctx, o)
		if err != nil {
			return fmt.Errorf("second member: %w", err)
		}
		if err := sameKV(got, recs[6:]); err != nil {
			return fmt.Errorf("second member did not resume at the committed offset 6: %w", err)
		}
		return nil
	}
}

func scGroupTwoMembers(ctx context.Context, e *env) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 4, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	return e.cl.TwoMembers(ctx, "g-"+t, t, 4)
}

func scTransactions(ctx context.Context, e *env) error {
	t := e.topic()
	if err := e.createTopic(ctx, t, 1, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	a, b, c := values("committed-a", 3), values("aborted-b", 3), values("committed-c", 3)
	id := "txn-" + t
	for _, step := range []struct {
		recs   []rec
		commit bool
	}{{a, true}, {b, false}, {c, true}} {
		if err := e.cl.TransactionalProduce(ctx, t, id, step.recs, step.commit); err != nil {
			return err
		}
	}
	got, err := e.cl.ReadCommitted(ctx, t, 6)
	if err != nil {
		return fmt.Errorf("read_committed consume: %w", err)
	}
	return sameKV(got, append(slices.Clone(a), c...))
}
