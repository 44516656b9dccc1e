//go:build ckgo

// confluent-kafka-go needs cgo and its bundled static librdkafka: this file
// builds only with -tags ckgo (the runner builds .cache/bin/godriver-cgo),
// so `go vet ./...` and the race tests never need cgo for it.
package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	clients["confluent-kafka-go"] = func(bootstrap string) (client, error) {
		adm, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": bootstrap})
		if err != nil {
			return nil, err
		}
		return &ckgo{bootstrap: bootstrap, adm: adm}, nil
	}
}

type ckgo struct {
	bootstrap string
	adm       *kafka.AdminClient
}

func (c *ckgo) Close() { c.adm.Close() }

func (c *ckgo) conf(extra kafka.ConfigMap) *kafka.ConfigMap {
	m := kafka.ConfigMap{"bootstrap.servers": c.bootstrap, "client.id": "compat-confluent-kafka-go"}
	for k, v := range extra {
		m[k] = v
	}
	return &m
}

func (c *ckgo) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	res, err := c.adm.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: int(replicationFactor()), Config: configs}})
	if err != nil {
		return err
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return res[0].Error
	}
	return nil
}

func (c *ckgo) Metadata(_ context.Context, topic string) (int, []partitionInfo, error) {
	md, err := c.adm.GetMetadata(&topic, false, 10000)
	if err != nil {
		return 0, nil, err
	}
	tm, ok := md.Topics[topic]
	if !ok {
		return 0, nil, fmt.Errorf("topic missing from metadata")
	}
	if tm.Error.Code() != kafka.ErrNoError {
		return 0, nil, tm.Error
	}
	var parts []partitionInfo
	for _, p := range tm.Partitions {
		parts = append(parts, partitionInfo{ID: p.ID, Leader: p.Leader})
	}
	return len(md.Brokers), parts, nil
}

func (c *ckgo) ListTopics(context.Context) ([]string, error) {
	md, err := c.adm.GetMetadata(nil, true, 10000)
	if err != nil {
		return nil, err
	}
	var out []string
	for t := range md.Topics {
		out = append(out, t)
	}
	return out, nil
}

func (c *ckgo) CreatePartitions(ctx context.Context, topic string, total int) error {
	res, err := c.adm.CreatePartitions(ctx, []kafka.PartitionsSpecification{{Topic: topic, IncreaseTo: total}})
	if err != nil {
		return err
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return res[0].Error
	}
	return nil
}

func (c *ckgo) DeleteTopic(ctx context.Context, topic string) error {
	res, err := c.adm.DeleteTopics(ctx, []string{topic})
	if err != nil {
		return err
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return res[0].Error
	}
	return nil
}

func (c *ckgo) DescribeConfig(ctx context.Context, topic, key string) (string, error) {
	res, err := c.adm.DescribeConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: topic}})
	if err != nil {
		return "", err
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return "", res[0].Error
	}
	e, ok := res[0].Config[key]
	if !ok {
		return "", fmt.Errorf("config %s not described", key)
	}
	return e.Value, nil
}

func (c *ckgo) AlterConfig(ctx context.Context, topic, key, value string) error {
	res, err := c.adm.IncrementalAlterConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: topic,
		Config: []kafka.ConfigEntry{{Name: key, Value: value, IncrementalOperation: kafka.AlterConfigOpTypeSet}}}})
	if err != nil {
		return err
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return res[0].Error
	}
	return nil
}

func (c *ckgo) send(ctx context.Context, p *kafka.Producer, topic string, recs []rec) error {
	dc := make(chan kafka.Event, len(recs))
	for _, r := range recs {
		m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		if err := p.Produce(m, dc); err != nil {
			return err
		}
	}
	for range recs {
		select {
		case ev := <-dc:
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				return m.TopicPartition.Error
			}
		case <-ctx.Done():
			return fmt.Errorf("delivery reports: %w", ctx.Err())
		}
	}
	return nil
}

func (c *ckgo) Produce(ctx context.Context, topic string, recs []rec, o produceOpts) error {
	acks := map[int]string{0: "0", 1: "1", -1: "all"}[o.Acks]
	p, err := kafka.NewProducer(c.conf(kafka.ConfigMap{"compression.type": o.Codec, "acks": acks, "enable.idempotence": o.Idempotent, "linger.ms": 5}))
	if err != nil {
		return err
	}
	defer p.Close()
	return c.send(ctx, p, topic, recs)
}

func fromCk(m *kafka.Message) rec {
	r := rec{Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset), Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, header{Key: h.Key, Value: h.Value})
	}
	return r
}

func ckRead(ctx context.Context, cons *kafka.Consumer, n int) ([]rec, error) {
	var out []rec
	for len(out) < n {
		if ctx.Err() != nil {
			return out, fmt.Errorf("read %d of %d records: %w", len(out), n, ctx.Err())
		}
		m, err := cons.ReadMessage(200 * time.Millisecond)
		if err != nil {
			if ke, ok := err.(kafka.Error); ok && (ke.Code() == kafka.ErrTimedOut || ke.Code() == kafka.ErrPartitionEOF) {
				continue
			}
			return out, err
		}
		out = append(out, fromCk(m))
	}
	return out, nil
}

func (c *ckgo) Consume(ctx context.Context, topic string, partition int32, start int64, n int, positioned func() error) ([]rec, error) {
	cons, err := kafka.NewConsumer(c.conf(kafka.ConfigMap{"group.id": "compat-unused", "enable.auto.commit": false}))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	off := kafka.Offset(start)
	switch start {
	case startEarliest:
		off = kafka.OffsetBeginning
	case startLatest:
		off = kafka.OffsetEnd
	}
	if err := cons.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: partition, Offset: off}}); err != nil {
		return nil, err
	}
	if positioned != nil {
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if m, err := cons.ReadMessage(100 * time.Millisecond); err == nil {
				return nil, fmt.Errorf("consumer at latest returned an old record at offset %v", m.TopicPartition.Offset)
			}
		}
		if err := positioned(); err != nil {
			return nil, err
		}
	}
	return ckRead(ctx, cons, n)
}

func (c *ckgo) OffsetForTime(_ context.Context, topic string, partition int32, millis int64) (int64, error) {
	cons, err := kafka.NewConsumer(c.conf(kafka.ConfigMap{"group.id": "compat-unused"}))
	if err != nil {
		return 0, err
	}
	defer cons.Close()
	tps, err := cons.OffsetsForTimes([]kafka.TopicPartition{{Topic: &topic, Partition: partition, Offset: kafka.Offset(millis)}}, 10000)
	if err != nil {
		return 0, err
	}
	return int64(tps[0].Offset), tps[0].Error
}

func (c *ckgo) GroupConsume(ctx context.Context, o groupOpts) ([]rec, error) {
	cfg := kafka.ConfigMap{"group.id": o.Group, "auto.offset.reset": "earliest", "enable.auto.commit": false}
	if o.InstanceID != "" {
		cfg["group.instance.id"] = o.InstanceID
	}
	if o.KIP848 {
		cfg["group.protocol"] = "consumer"
	}
	cons, err := kafka.NewConsumer(c.conf(cfg))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	if err := cons.Subscribe(o.Topic, nil); err != nil {
		return nil, err
	}
	out, err := ckRead(ctx, cons, o.N)
	if err != nil {
		return out, err
	}
	_, err = cons.CommitOffsets([]kafka.TopicPartition{{Topic: &o.Topic, Partition: 0, Offset: kafka.Offset(o.CommitAt)}})
	return out[:o.N], err
}

func (c *ckgo) TwoMembers(ctx context.Context, group, topic string, n int) error {
	var wg sync.WaitGroup
	member := func(a *assignments, stop chan struct{}) error {
		cons, err := kafka.NewConsumer(c.conf(kafka.ConfigMap{"group.id": group, "session.timeout.ms": 10000}))
		if err != nil {
			return err
		}
		err = cons.Subscribe(topic, func(_ *kafka.Consumer, ev kafka.Event) error {
			switch e := ev.(type) {
			case kafka.AssignedPartitions:
				for _, tp := range e.Partitions {
					a.set([]int32{tp.Partition}, true)
				}
			case kafka.RevokedPartitions:
				for _, tp := range e.Partitions {
					a.set([]int32{tp.Partition}, false)
				}
			}
			return nil
		})
		if err != nil {
			cons.Close()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cons.Close()
			for {
				select {
				case <-stop:
					return
				default:
					cons.Poll(100)
				}
			}
		}()
		return nil
	}
	var a, b assignments
	stopA, stopB := make(chan struct{}), make(chan struct{})
	defer wg.Wait()
	defer close(stopA)
	if err := member(&a, stopA); err != nil {
		return err
	}
	if err := member(&b, stopB); err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			close(stopB)
		}
	}()
	return waitSplit(ctx, &a, &b, n, func() { closed = true; close(stopB) })
}

func (c *ckgo) TransactionalProduce(ctx context.Context, topic, txnID string, recs []rec, commit bool) error {
	p, err := kafka.NewProducer(c.conf(kafka.ConfigMap{"transactional.id": txnID}))
	if err != nil {
		return err
	}
	defer p.Close()
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := p.InitTransactions(tctx); err != nil {
		return fmt.Errorf("init transactions: %w", err)
	}
	if err := p.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := c.send(tctx, p, topic, recs); err != nil {
		return fmt.Errorf("transactional produce: %w", err)
	}
	if commit {
		err = p.CommitTransaction(tctx)
	} else {
		err = p.AbortTransaction(tctx)
	}
	if err != nil {
		return fmt.Errorf("end transaction (commit=%v): %w", commit, err)
	}
	return nil
}

func (c *ckgo) ReadCommitted(ctx context.Context, topic string, n int) ([]rec, error) {
	cons, err := kafka.NewConsumer(c.conf(kafka.ConfigMap{"group.id": "compat-unused", "isolation.level": "read_committed", "enable.auto.commit": false}))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	if err := cons.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
		return nil, err
	}
	return ckRead(ctx, cons, n)
}

// ProduceEach implements recordErrorsClient: librdkafka 2.4+ fails the
// records a broker lists in RecordErrors with INVALID_RECORD and the rest of
// the batch with _INVALID_DIFFERENT_RECORD.
func (c *ckgo) ProduceEach(ctx context.Context, topic string, recs []rec) ([]error, error) {
	p, err := kafka.NewProducer(c.conf(kafka.ConfigMap{"acks": "all", "enable.idempotence": false,
		"linger.ms": 1000, "batch.num.messages": 1000}))
	if err != nil {
		return nil, err
	}
	defer p.Close()
	dc := make(chan kafka.Event, len(recs))
	for i, r := range recs {
		m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Key: r.Key, Value: r.Value, Opaque: i}
		if err := p.Produce(m, dc); err != nil {
			return nil, err
		}
	}
	errs := make([]error, len(recs))
	for range recs {
		select {
		case ev := <-dc:
			m, ok := ev.(*kafka.Message)
			if !ok {
				return nil, fmt.Errorf("unexpected delivery event %v", ev)
			}
			errs[m.Opaque.(int)] = m.TopicPartition.Error
		case <-ctx.Done():
			return nil, fmt.Errorf("delivery reports: %w", ctx.Err())
		}
	}
	return errs, nil
}

// IsInvalidRecord implements recordErrorsClient.
func (c *ckgo) IsInvalidRecord(err error) bool {
	ke, ok := err.(kafka.Error)
	return ok && ke.Code() == kafka.ErrInvalidRecord
}

func (c *ckgo) kip17NA(scenario string) string {
	switch scenario {
	case "share_group":
		return "confluent-kafka-go 2.11.1 has no share consumer (KIP-932)"
	case "log_dirs":
		return "confluent-kafka-go's AdminClient has no DescribeLogDirs"
	case "features":
		return "confluent-kafka-go's AdminClient has no DescribeFeatures, UpdateFeatures or DescribeQuorum"
	}
	return ""
}

// ClientTelemetry (KIP-714): librdkafka pushes client metrics by itself
// once subscribed. confluent-kafka-go's admin API cannot name the
// CLIENT_METRICS config resource, so the subscription (this client id,
// 500 ms) is made with franz-go's kmsg from the same driver; librdkafka's
// telemetry debug log (the Go logs channel) must show GetTelemetrySubscriptions
// answering with the 500 ms interval and a PushTelemetryRequest that
// succeeded.
func (c *ckgo) ClientTelemetry(ctx context.Context, e *env) error {
	cid := fmt.Sprintf("compat-telemetry-%d", time.Now().UnixNano())
	sub := "sub-" + cid
	fr, err := kgo.NewClient(kgo.SeedBrokers(seeds(c.bootstrap)...))
	if err != nil {
		return err
	}
	defer fr.Close()
	if err := alterConfigs(ctx, fr, kmsg.ConfigResourceTypeClientMetrics, sub, map[string]string{
		"metrics": "org.apache.kafka.producer.", "interval.ms": "500", "match": "client_id=" + cid,
	}, kmsg.IncrementalAlterConfigOpSet); err != nil {
		return err
	}
	defer func() {
		_ = alterConfigs(context.Background(), fr, kmsg.ConfigResourceTypeClientMetrics, sub,
			map[string]string{"metrics": "", "interval.ms": "", "match": ""}, kmsg.IncrementalAlterConfigOpDelete)
	}()
	p, err := kafka.NewProducer(c.conf(kafka.ConfigMap{"client.id": cid, "debug": "telemetry", "go.logs.channel.enable": true}))
	if err != nil {
		return err
	}
	defer p.Close()
	sawInterval := false
	var last []string
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("librdkafka never logged a successful PushTelemetryRequest (last telemetry lines: %v)", last)
		case ev := <-p.Events():
			_ = ev
		case l := <-p.Logs():
			if strings.Contains(l.Message, "push interval 500") {
				sawInterval = true
			}
			if strings.Contains(l.Tag, "SUBSCRIPTIONS") || strings.Contains(l.Tag, "PUSH") {
				last = append(last, l.Message)
				if len(last) > 4 {
					last = last[1:]
				}
			}
			if strings.Contains(l.Message, "PushTelemetryRequest succeeded") {
				if !sawInterval {
					return fmt.Errorf("a push succeeded but GetTelemetrySubscriptions never returned our subscription (interval 500 ms)")
				}
				return nil
			}
		}
	}
}
