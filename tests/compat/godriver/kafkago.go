package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

func init() {
	clients["kafka-go"] = func(bootstrap string) (client, error) {
		addrs := seeds(bootstrap)
		return &kafkaGo{addrs: addrs, cl: &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 20 * time.Second}}, nil
	}
}

type kafkaGo struct {
	addrs []string // bootstrap brokers
	cl    *kafka.Client
}

func (k *kafkaGo) Close() {}

func (k *kafkaGo) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	tc := kafka.TopicConfig{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: int(replicationFactor())}
	for key, v := range configs {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: key, ConfigValue: v})
	}
	resp, err := k.cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

func (k *kafkaGo) Metadata(ctx context.Context, topic string) (int, []partitionInfo, error) {
	resp, err := k.cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, nil, err
	}
	if len(resp.Topics) != 1 {
		return 0, nil, fmt.Errorf("%d topics in metadata", len(resp.Topics))
	}
	if resp.Topics[0].Error != nil {
		return 0, nil, resp.Topics[0].Error
	}
	var parts []partitionInfo
	for _, p := range resp.Topics[0].Partitions {
		parts = append(parts, partitionInfo{ID: int32(p.ID), Leader: int32(p.Leader.ID)})
	}
	return len(resp.Brokers), parts, nil
}

func (k *kafkaGo) ListTopics(ctx context.Context) ([]string, error) {
	resp, err := k.cl.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range resp.Topics {
		out = append(out, t.Name)
	}
	return out, nil
}

func (k *kafkaGo) CreatePartitions(ctx context.Context, topic string, total int) error {
	resp, err := k.cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: int32(total)}}})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

func (k *kafkaGo) DeleteTopic(ctx context.Context, topic string) error {
	resp, err := k.cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

func (k *kafkaGo) DescribeConfig(ctx context.Context, topic, key string) (string, error) {
	resp, err := k.cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{key}},
	}})
	if err != nil {
		return "", err
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return "", r.Error
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == key {
				return e.ConfigValue, nil
			}
		}
	}
	return "", fmt.Errorf("config %s not described", key)
}

func (k *kafkaGo) AlterConfig(ctx context.Context, topic, key, value string) error {
	resp, err := k.cl.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{Resources: []kafka.IncrementalAlterConfigsRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
		Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: key, Value: value, ConfigOperation: kafka.ConfigOperationSet}},
	}}})
	if err != nil {
		return err
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return r.Error
		}
	}
	return nil
}

func fromKafkaGo(m kafka.Message) rec {
	r := rec{Partition: int32(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Time}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, header{Key: h.Key, Value: h.Value})
	}
	return r
}

func (k *kafkaGo) Produce(ctx context.Context, topic string, recs []rec, o produceOpts) error {
	if o.Idempotent {
		return na("segmentio/kafka-go has no idempotent producer")
	}
	w := &kafka.Writer{
		Addr: kafka.TCP(k.addrs...), Topic: topic, BatchTimeout: 10 * time.Millisecond, BatchSize: len(recs),
		RequiredAcks: map[int]kafka.RequiredAcks{0: kafka.RequireNone, 1: kafka.RequireOne, -1: kafka.RequireAll}[o.Acks],
		Compression: map[string]compress.Compression{
			"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
		}[o.Codec],
	}
	defer w.Close()
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.Key, Value: r.Value, Time: r.Timestamp}
		for _, h := range r.Headers {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
	}
	return w.WriteMessages(ctx, msgs...)
}

func (k *kafkaGo) Consume(ctx context.Context, topic string, partition int32, start int64, n int, positioned func() error) ([]rec, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.addrs, Topic: topic, Partition: int(partition), MaxWait: 200 * time.Millisecond})
	defer r.Close()
	off := start
	switch start {
	case startEarliest:
		off = kafka.FirstOffset
	case startLatest:
		off = kafka.LastOffset
	}
	if err := r.SetOffset(off); err != nil {
		return nil, err
	}
	if positioned != nil {
		// The reader resolves the end offset on its first fetch.
		pctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		m, err := r.ReadMessage(pctx)
		cancel()
		if err == nil {
			return nil, fmt.Errorf("consumer at latest returned an old record at offset %d", m.Offset)
		}
		if err := positioned(); err != nil {
			return nil, err
		}
	}
	var out []rec
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return out, fmt.Errorf("read %d of %d records: %w", len(out), n, err)
		}
		out = append(out, fromKafkaGo(m))
	}
	return out, nil
}

func (k *kafkaGo) OffsetForTime(ctx context.Context, topic string, partition int32, millis int64) (int64, error) {
	conn, err := kafka.DialLeader(ctx, "tcp", k.addrs[0], topic, int(partition))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ReadOffset(time.UnixMilli(millis))
}

func (k *kafkaGo) GroupConsume(ctx context.Context, o groupOpts) ([]rec, error) {
	switch {
	case o.KIP848:
		return nil, na("segmentio/kafka-go implements only the classic consumer group protocol")
	case o.InstanceID != "":
		return nil, na("segmentio/kafka-go has no static membership (group.instance.id)")
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.addrs, GroupID: o.Group, Topic: o.Topic,
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	var out []rec
	var last kafka.Message
	for len(out) < o.N {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return out, fmt.Errorf("read %d of %d records: %w", len(out), o.N, err)
		}
		out = append(out, fromKafkaGo(m))
		last = m
	}
	last.Offset = o.CommitAt - 1 // kafka-go commits offset+1
	return out, r.CommitMessages(ctx, last)
}

func (k *kafkaGo) TwoMembers(ctx context.Context, group, topic string, n int) error {
	member := func(a *assignments) (*kafka.ConsumerGroup, error) {
		g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{ID: group, Brokers: k.addrs, Topics: []string{topic},
			HeartbeatInterval: time.Second, RebalanceTimeout: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		go func() {
			for {
				gen, err := g.Next(ctx)
				if err != nil {
					if errors.Is(err, kafka.ErrGroupClosed) || ctx.Err() != nil {
						return
					}
					continue
				}
				a.mu.Lock()
				a.owned = map[int32]bool{}
				for _, p := range gen.Assignments[topic] {
					a.owned[int32(p.ID)] = true
				}
				a.mu.Unlock()
			}
		}()
		return g, nil
	}
	var a, b assignments
	ga, err := member(&a)
	if err != nil {
		return err
	}
	defer ga.Close()
	gb, err := member(&b)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			gb.Close()
		}
	}()
	return waitSplit(ctx, &a, &b, n, func() { closed = true; gb.Close() })
}

func (k *kafkaGo) TransactionalProduce(context.Context, string, string, []rec, bool) error {
	return na("segmentio/kafka-go has no transactional producer")
}

func (k *kafkaGo) ReadCommitted(context.Context, string, int) ([]rec, error) {
	return nil, na("segmentio/kafka-go has no transactional producer")
}

func (k *kafkaGo) recordErrorsNA() string {
	return "kafka-go's Writer fails every message of a refused batch with the partition error (Client.Produce's RecordErrors are not mapped to messages)"
}
