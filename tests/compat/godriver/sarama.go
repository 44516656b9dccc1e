package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

func init() {
	clients["sarama"] = func(bootstrap string) (client, error) {
		s := &saramaClient{addrs: seeds(bootstrap)}
		adm, err := sarama.NewClusterAdmin(s.addrs, s.config())
		if err != nil {
			return nil, err
		}
		s.adm = adm
		return s, nil
	}
}

// saramaClient speaks the protocol versions of sarama.V2_8_0_0, older than
// franz-go's and the Java client's: it covers what Kafka 4.0 still accepts
// from older clients.
type saramaClient struct {
	addrs []string
	adm   sarama.ClusterAdmin
}

func (s *saramaClient) config() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "compat-sarama"
	cfg.Metadata.AllowAutoTopicCreation = false
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Return.Errors = true
	return cfg
}

func (s *saramaClient) Close() { _ = s.adm.Close() }

func (s *saramaClient) CreateTopic(_ context.Context, topic string, partitions int32, configs map[string]string) error {
	entries := map[string]*string{}
	for k, v := range configs {
		entries[k] = &v
	}
	return s.adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: replicationFactor(), ConfigEntries: entries}, false)
}

func (s *saramaClient) Metadata(_ context.Context, topic string) (int, []partitionInfo, error) {
	brokers, _, err := s.adm.DescribeCluster()
	if err != nil {
		return 0, nil, err
	}
	tms, err := s.adm.DescribeTopics([]string{topic})
	if err != nil {
		return 0, nil, err
	}
	if len(tms) != 1 {
		return 0, nil, fmt.Errorf("%d topics described", len(tms))
	}
	if tms[0].Err != sarama.ErrNoError {
		return 0, nil, tms[0].Err
	}
	var parts []partitionInfo
	for _, p := range tms[0].Partitions {
		parts = append(parts, partitionInfo{ID: p.ID, Leader: p.Leader})
	}
	return len(brokers), parts, nil
}

func (s *saramaClient) ListTopics(context.Context) ([]string, error) {
	m, err := s.adm.ListTopics()
	if err != nil {
		return nil, err
	}
	var out []string
	for t := range m {
		out = append(out, t)
	}
	return out, nil
}

func (s *saramaClient) CreatePartitions(_ context.Context, topic string, total int) error {
	return s.adm.CreatePartitions(topic, int32(total), nil, false)
}

func (s *saramaClient) DeleteTopic(_ context.Context, topic string) error {
	return s.adm.DeleteTopic(topic)
}

func (s *saramaClient) DescribeConfig(_ context.Context, topic, key string) (string, error) {
	entries, err := s.adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name == key {
			return e.Value, nil
		}
	}
	return "", fmt.Errorf("config %s not described", key)
}

func (s *saramaClient) AlterConfig(_ context.Context, topic, key, value string) error {
	return s.adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		key: {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &value},
	}, false)
}

func toSarama(topic string, r rec) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Partition: r.Partition, Value: sarama.ByteEncoder(r.Value), Timestamp: r.Timestamp}
	if r.Key != nil {
		m.Key = sarama.ByteEncoder(r.Key)
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	return m
}

func fromSarama(m *sarama.ConsumerMessage) rec {
	r := rec{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, header{Key: string(h.Key), Value: h.Value})
	}
	return r
}

func (s *saramaClient) Produce(_ context.Context, topic string, recs []rec, o produceOpts) error {
	cfg := s.config()
	cfg.Producer.Compression = map[string]sarama.CompressionCodec{
		"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
		"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
	}[o.Codec]
	cfg.Producer.RequiredAcks = map[int]sarama.RequiredAcks{0: sarama.NoResponse, 1: sarama.WaitForLocal, -1: sarama.WaitForAll}[o.Acks]
	if o.Idempotent {
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer(s.addrs, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		msgs[i] = toSarama(topic, r)
	}
	return p.SendMessages(msgs)
}

func (s *saramaClient) Consume(ctx context.Context, topic string, partition int32, start int64, n int, positioned func() error) ([]rec, error) {
	c, err := sarama.NewConsumer(s.addrs, s.config())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	off := start
	switch start {
	case startEarliest:
		off = sarama.OffsetOldest
	case startLatest:
		off = sarama.OffsetNewest
	}
	pc, err := c.ConsumePartition(topic, partition, off) // resolves the offset now
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	if positioned != nil {
		if err := positioned(); err != nil {
			return nil, err
		}
	}
	return saramaRead(ctx, pc.Messages(), pc.Errors(), n)
}

func saramaRead(ctx context.Context, msgs <-chan *sarama.ConsumerMessage, errs <-chan *sarama.ConsumerError, n int) ([]rec, error) {
	var out []rec
	for len(out) < n {
		select {
		case m := <-msgs:
			out = append(out, fromSarama(m))
		case err := <-errs:
			return out, err
		case <-ctx.Done():
			return out, fmt.Errorf("read %d of %d records: %w", len(out), n, ctx.Err())
		}
	}
	return out, nil
}

func (s *saramaClient) OffsetForTime(_ context.Context, topic string, partition int32, millis int64) (int64, error) {
	c, err := sarama.NewClient(s.addrs, s.config())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.GetOffset(topic, partition, millis)
}

// groupHandler reads records until want, commits and reports on done.
type groupHandler struct {
	o      groupOpts
	out    []rec
	done   chan error
	onCall func(sarama.ConsumerGroupSession)
}

func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	if h.onCall != nil {
		h.onCall(sess)
	}
	return nil
}
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if h.o.N == 0 {
				continue
			}
			h.out = append(h.out, fromSarama(m))
			if len(h.out) == h.o.N {
				sess.MarkOffset(h.o.Topic, 0, h.o.CommitAt, "")
				sess.Commit()
				h.done <- nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func (s *saramaClient) GroupConsume(ctx context.Context, o groupOpts) ([]rec, error) {
	if o.KIP848 {
		return nil, na("sarama implements only the classic consumer group protocol")
	}
	cfg := s.config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Group.InstanceId = o.InstanceID
	g, err := sarama.NewConsumerGroup(s.addrs, o.Group, cfg)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	h := &groupHandler{o: o, done: make(chan error, 1)}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumeErr := make(chan error, 1)
	go func() {
		for cctx.Err() == nil {
			if err := g.Consume(cctx, []string{o.Topic}, h); err != nil && cctx.Err() == nil {
				consumeErr <- err
				return
			}
		}
	}()
	select {
	case <-h.done:
		cancel()
		return h.out, nil
	case err := <-consumeErr:
		return nil, err
	case err := <-g.Errors():
		return nil, err
	case <-ctx.Done():
		return nil, fmt.Errorf("read %d of %d records: %w", len(h.out), o.N, ctx.Err())
	}
}

func (s *saramaClient) TwoMembers(ctx context.Context, group, topic string, n int) error {
	cfg := s.config()
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	member := func(a *assignments) (sarama.ConsumerGroup, error) {
		g, err := sarama.NewConsumerGroup(s.addrs, group, cfg)
		if err != nil {
			return nil, err
		}
		h := &groupHandler{done: make(chan error, 1), onCall: func(sess sarama.ConsumerGroupSession) {
			a.mu.Lock()
			a.owned = map[int32]bool{}
			for _, p := range sess.Claims()[topic] {
				a.owned[p] = true
			}
			a.mu.Unlock()
		}}
		go func() {
			for ctx.Err() == nil {
				if err := g.Consume(ctx, []string{topic}, h); err != nil {
					if errors.Is(err, sarama.ErrClosedConsumerGroup) {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
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

func (s *saramaClient) TransactionalProduce(_ context.Context, topic, txnID string, recs []rec, commit bool) error {
	cfg := s.config()
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Transaction.ID = txnID
	cfg.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer(s.addrs, cfg)
	if err != nil {
		return fmt.Errorf("transactional producer: %w", err)
	}
	defer p.Close()
	if err := p.BeginTxn(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, r := range recs {
		if _, _, err := p.SendMessage(toSarama(topic, r)); err != nil {
			return fmt.Errorf("transactional produce: %w", err)
		}
	}
	if commit {
		err = p.CommitTxn()
	} else {
		err = p.AbortTxn()
	}
	if err != nil {
		return fmt.Errorf("end transaction (commit=%v): %w", commit, err)
	}
	return nil
}

func (s *saramaClient) ReadCommitted(ctx context.Context, topic string, n int) ([]rec, error) {
	cfg := s.config()
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	c, err := sarama.NewConsumer(s.addrs, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	return saramaRead(ctx, pc.Messages(), pc.Errors(), n)
}

func (s *saramaClient) recordErrorsNA() string {
	return "sarama decodes the ProduceResponse RecordErrors but its producer fails every message of a refused batch with the partition error"
}
