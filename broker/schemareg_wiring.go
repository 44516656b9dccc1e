package broker

// Wiring of the built-in schema registry (broker/schemareg): the _schemas
// topic's partition 0 as the registry's Log, and the registry's lifecycle
// (created in New, served on --schema-registry-addr from Start, closed
// first in Close).
//
// The Log (schemasLog):
//
//   - The topic is created by the first Append, as __consumer_offsets is on
//     first use (so a broker whose registry was never written to shows no
//     extra topic; Read waits for it, End is 0 until then): compacted,
//     one partition, replication factor min(3, brokers) in a cluster. It is an
//     ordinary topic (users may describe, consume and, as Confluent's, even
//     produce to it). In a cluster the creation waits until min(3, voters)
//     brokers are registered (or schemasTopicGrace has passed since the start)
//     so that a node starting first does not create it with one replica.
//   - Append: on the partition's leader, one uncompressed batch through the
//     partition's internal append (single node: appended, then fsynced as an
//     acks=all produce is; cluster: committed and applied, which is acks=all);
//     on another node, a Produce with acks=-1 sent to the leader through the
//     inter-broker client. A missing or moving leader is retried until ctx
//     ends or appendRetryMax, then ErrLogUnavailable.
//   - Read: from this node's replica, below its high watermark (a follower's
//     log holds only what the group committed below it); a node that hosts no
//     replica (a cluster of more than three) fetches from the leader.
//   - End: the high watermark as the leader knows it: the local one when this
//     node leads (confirmed by a ReadIndex round in a cluster), else the
//     leader's, asked with ListOffsets, so that a registry on a follower
//     reads everything committed before it allocates an id.
//
// Locking: schemasLog holds no state of its own beyond the creation time;
// everything goes through the partition's own locks.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/schemareg"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
)

const (
	// schemasTopicGrace: after this long since the broker started, a
	// cluster node creates _schemas with the brokers there are.
	schemasTopicGrace = 30 * time.Second
	// appendRetryMax bounds how long Append waits for a leader when ctx
	// has no earlier deadline.
	appendRetryMax = 15 * time.Second
	// schemasPoll is how often a waiting Read looks again without a
	// wake-up (a topic not created yet, a remote leader, leadership moves).
	schemasPoll = 250 * time.Millisecond
)

// schemasLog implements schemareg.Log over partition 0 of _schemas.
type schemasLog struct {
	b       *Broker
	started time.Time
}

var _ schemareg.Log = (*schemasLog)(nil)

func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", schemareg.ErrLogUnavailable, fmt.Sprintf(format, args...))
}

// errNoSchemasTopic: _schemas does not exist yet (nothing was ever
// registered); Read waits for it, End answers 0.
var errNoSchemasTopic = fmt.Errorf("%w: %s not created yet", schemareg.ErrLogUnavailable, schemareg.Topic)

// partition returns _schemas-0; create: creating the topic first if it is
// missing (Append), else errNoSchemasTopic.
func (l *schemasLog) partition(create bool) (*partition, error) {
	b := l.b
	if t := b.topics.get(schemareg.Topic); t != nil {
		if p := t.partition(0); p != nil {
			return p, nil
		}
		return nil, unavailable("%s has no partition 0", schemareg.Topic)
	}
	if !create {
		return nil, errNoSchemasTopic
	}
	rf := 1
	if b.raft != nil {
		want := min(3, max(1, len(b.cfg.Peers)))
		live := b.brokerCount()
		if live < want && time.Since(l.started) < schemasTopicGrace {
			return nil, unavailable("waiting for %d brokers to create %s (%d registered)", want, schemareg.Topic, live)
		}
		rf = min(3, live)
		if rf < 1 {
			return nil, unavailable("no live broker to create %s on", schemareg.Topic)
		}
	}
	configs := map[string]string{"cleanup.policy": "compact"}
	_, err := b.createTopic(topicSpec{name: schemareg.Topic, partitions: 1, replicationFactor: int16(rf), configs: configs})
	if err != nil && !errors.Is(err, errTopicExists) {
		return nil, unavailable("creating %s: %v", schemareg.Topic, err)
	}
	if err == nil {
		b.logger.Info("schemas topic created", "topic", schemareg.Topic, "replication_factor", rf)
	}
	t := b.topics.get(schemareg.Topic)
	if t == nil || t.partition(0) == nil {
		return nil, unavailable("%s not published yet", schemareg.Topic)
	}
	return t.partition(0), nil
}

// Append implements schemareg.Log.
func (l *schemasLog) Append(ctx context.Context, key, value []byte) (int64, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, appendRetryMax)
		defer cancel()
	}
	for {
		off, err := l.appendOnce(ctx, key, value)
		if err == nil || !errors.Is(err, schemareg.ErrLogUnavailable) || errors.Is(err, errAppendUncertain) {
			// An append that may have landed is not sent again with
			// the same bytes: the registry's keys carry the offset they
			// expect, and compaction would keep the second, ignored
			// copy instead of the first (the registry retries with a
			// new key, write.go).
			return off, err
		}
		select {
		case <-ctx.Done():
			return -1, err
		case <-l.b.stop:
			return -1, unavailable("broker stopping")
		case <-time.After(schemasPoll / 5):
		}
	}
}

// errAppendUncertain marks an ErrLogUnavailable after which the record
// may still be committed (a timed-out replication or request).
var errAppendUncertain = errors.New("the record may have been appended")

func uncertain(err error) error {
	return fmt.Errorf("%w: %w: %v", schemareg.ErrLogUnavailable, errAppendUncertain, err)
}

// appendOnce is one attempt; ErrLogUnavailable means try again, unless
// it is also errAppendUncertain.
func (l *schemasLog) appendOnce(ctx context.Context, key, value []byte) (int64, error) {
	b := l.b
	p, err := l.partition(true)
	if err != nil {
		return -1, err
	}
	now := b.now().UnixMilli()
	bb := records.NewBuilder(make([]byte, 0, records.HeaderSize+len(key)+len(value)+16), records.NoProducer(now))
	bb.Add(now, key, value)
	batch := bb.Build()
	lead := p.lead.Load()
	switch {
	case lead.local:
		res, err := p.appendInternal(batch, now)
		if err != nil {
			if errors.Is(err, errReplicationTimeout) {
				return -1, uncertain(err)
			}
			if errors.Is(err, errNotLeader) || errors.Is(err, plog.ErrClosed) {
				return -1, unavailable("%v", err)
			}
			return -1, err
		}
		if p.repl == nil && !b.cfg.Memory && (res.flushDue || b.cfg.SyncOnAcksAll && p.syncBeforeAck()) {
			// As an acks=all produce on a single node: durable first.
			if err := p.syncTo(res.base + 1); err != nil {
				return -1, fmt.Errorf("broker: fsync %s: %w", p.dirName(), err)
			}
		} else if res.flushDue {
			b.flushSoon(p)
		}
		return res.base, nil
	case b.inter == nil || lead.leader < 0:
		return -1, unavailable("%s has no leader", p.dirName())
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, int32(interBrokerTimeout/time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = schemareg.Topic, p.topic.id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := b.inter.request(ctx, lead.leader, req)
	if err != nil {
		return -1, uncertain(fmt.Errorf("produce to leader %d: %w", lead.leader, err))
	}
	pr := resp.(*kmsg.ProduceResponse)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		return -1, unavailable("leader %d answered a malformed produce response", lead.leader)
	}
	sp := pr.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) && ke.Retriable {
			switch ke {
			case kerr.NotLeaderForPartition, kerr.UnknownTopicOrPartition, kerr.LeaderNotAvailable, kerr.NotEnoughReplicas:
				return -1, unavailable("leader %d: %v", lead.leader, err) // not appended
			}
			return -1, uncertain(fmt.Errorf("leader %d: %w", lead.leader, err))
		}
		return -1, fmt.Errorf("broker: appending to %s on leader %d: %w", schemareg.Topic, lead.leader, err)
	}
	return sp.BaseOffset, nil
}

// Read implements schemareg.Log.
func (l *schemasLog) Read(ctx context.Context, from int64, maxBytes int) ([]schemareg.Record, error) {
	maxBytes = max(maxBytes, 1)
	for {
		p, err := l.partition(false)
		var recs []schemareg.Record
		waitOn := (*partition)(nil)
		switch {
		case err != nil:
			// Not created yet: wait and try again.
		case p.log == nil:
			// No replica here: ask the leader (it long-polls).
			recs, err = l.fetchRemote(ctx, p, from, maxBytes)
			if err == nil && len(recs) > 0 {
				return recs, nil
			}
		default:
			var next int64
			recs, next, err = l.readLocal(p, from, maxBytes)
			if err != nil {
				return nil, err
			}
			if len(recs) > 0 {
				return recs, nil
			}
			if next > from {
				from = next // only batches without records (control, compacted away)
				continue
			}
			waitOn = p
		}
		if err := l.wait(ctx, waitOn, from); err != nil {
			return nil, err
		}
	}
}

// wait waits for p to grow past from (p nil: one poll interval), ctx, or
// the broker stopping.
func (l *schemasLog) wait(ctx context.Context, p *partition, from int64) error {
	tick := time.NewTimer(schemasPoll)
	defer tick.Stop()
	var wake chan struct{}
	if p != nil {
		w := newFetchWaiter()
		p.watch(w)
		defer p.unwatch(w)
		if p.highWatermark() > from {
			return nil
		}
		wake = w.ch
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-l.b.stop:
		return unavailable("broker stopping")
	case <-wake:
	case <-tick.C:
	}
	return nil
}

// readLocal reads the records of p's local log at offsets [from, hw),
// about maxBytes of them. next is the offset after the last batch read.
func (l *schemasLog) readLocal(p *partition, from int64, maxBytes int) ([]schemareg.Record, int64, error) {
	hw := p.highWatermark()
	if start := p.logStartOffset(); from < start {
		from = start
	}
	if from >= hw {
		return nil, from, nil
	}
	data, err := p.read(from, hw, maxBytes, true, nil)
	if err != nil {
		if errors.Is(err, plog.ErrOffsetOutOfRange) {
			return nil, p.logStartOffset(), nil
		}
		if errors.Is(err, plog.ErrClosed) {
			return nil, from, unavailable("%v", err)
		}
		return nil, from, err
	}
	return schemaRecords(data, from, hw)
}

// schemaRecords decodes the records of the batches in data at offsets in
// [from, hw), copied (data may be reused), skipping control batches. next
// is the offset after the last whole batch.
func schemaRecords(data []byte, from, hw int64) ([]schemareg.Record, int64, error) {
	var out []schemareg.Record
	next := from
	for len(data) >= records.HeaderSize {
		h, err := plog.ParseBatchHeader(data)
		if err != nil {
			return nil, next, fmt.Errorf("broker: %s at offset %d: %w", schemareg.Topic, next, err)
		}
		if int(h.Length) > len(data) || h.BaseOffset >= hw {
			break
		}
		batch := data[:h.Length]
		data = data[h.Length:]
		if !h.IsControl() {
			err := records.ForEach(batch, 64<<20, func(r records.Record) error {
				off := h.BaseOffset + int64(r.OffsetDelta)
				if off < from || off >= hw {
					return nil
				}
				rec := schemareg.Record{Offset: off, Key: append([]byte(nil), r.Key...)}
				if r.Value != nil {
					rec.Value = append([]byte{}, r.Value...)
				}
				out = append(out, rec)
				return nil
			})
			if err != nil {
				return nil, next, fmt.Errorf("broker: %s batch at offset %d: %w", schemareg.Topic, h.BaseOffset, err)
			}
		}
		next = min(h.NextOffset(), hw)
	}
	return out, next, nil
}

// fetchRemote reads from the leader of p (a partition this node hosts no
// replica of) with one long-polling Fetch.
func (l *schemasLog) fetchRemote(ctx context.Context, p *partition, from int64, maxBytes int) ([]schemareg.Record, error) {
	lead := p.lead.Load()
	if l.b.inter == nil || lead.leader < 0 {
		return nil, unavailable("%s has no leader", p.dirName())
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, int32(schemasPoll*2/time.Millisecond), 1, int32(maxBytes)
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = schemareg.Topic, p.topic.id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.LogStartOffset, rp.CurrentLeaderEpoch = 0, from, int32(maxBytes), -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := l.b.inter.request(ctx, lead.leader, req)
	if err != nil {
		return nil, unavailable("fetch from leader %d: %v", lead.leader, err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return nil, unavailable("leader %d answered a malformed fetch response", lead.leader)
	}
	sp := fr.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		return nil, unavailable("fetch from leader %d: %v", lead.leader, kerr.ErrorForCode(sp.ErrorCode))
	}
	recs, _, err := schemaRecords(sp.RecordBatches, from, sp.HighWatermark)
	return recs, err
}

// End implements schemareg.Log.
func (l *schemasLog) End(ctx context.Context) (int64, error) {
	b := l.b
	if b.raft != nil && !b.raft.ready.Load() {
		// A (re)started node learns of _schemas from the metadata log:
		// until it caught up, "no topic here" would read as "nothing
		// registered" (GET /subjects answered [] just after a restart).
		// Wait as Kafka requests do (Handle).
		b.raft.waitReady(ctx, 10*time.Second)
		if !b.raft.ready.Load() {
			return -1, unavailable("not caught up with the cluster metadata yet")
		}
	}
	p, err := l.partition(false)
	if errors.Is(err, errNoSchemasTopic) {
		return 0, nil
	}
	if err != nil {
		return -1, err
	}
	lead := p.lead.Load()
	if lead.local {
		if b.raft == nil {
			return p.highWatermark(), nil
		}
		if p.repl != nil && p.repl.applied.Load() >= p.repl.readyIndex.Load() && b.raft.confirmLeads(p) {
			return p.highWatermark(), nil
		}
		return -1, unavailable("leadership of %s not confirmed", p.dirName())
	}
	if b.inter == nil || lead.leader < 0 {
		return -1, unavailable("%s has no leader", p.dirName())
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = schemareg.Topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := b.inter.request(ctx, lead.leader, req)
	if err != nil {
		return -1, unavailable("list offsets on leader %d: %v", lead.leader, err)
	}
	lr := resp.(*kmsg.ListOffsetsResponse)
	if len(lr.Topics) != 1 || len(lr.Topics[0].Partitions) != 1 {
		return -1, unavailable("leader %d answered a malformed list offsets response", lead.leader)
	}
	sp := lr.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		return -1, unavailable("list offsets on leader %d: %v", lead.leader, kerr.ErrorForCode(sp.ErrorCode))
	}
	return sp.Offset, nil
}

// schemaRegistry is the registry this broker serves (nil when
// --schema-registry-addr is empty), its listener and HTTP server.
type schemaRegistry struct {
	reg *schemareg.Registry
	ln  net.Listener
	srv *http.Server
}

// newSchemaRegistry creates the registry (at New) when it is configured.
func (b *Broker) newSchemaRegistry(o options) error {
	if b.cfg.SchemaRegistryAddr == "" {
		return nil
	}
	reg, err := schemareg.New(schemareg.Config{
		Log:        &schemasLog{b: b, started: time.Now()},
		Logger:     b.logger.With("component", "schemareg"),
		Registerer: o.registerer,
		NodeID:     b.cfg.NodeID,
	})
	if err != nil {
		return err
	}
	b.schemas = &schemaRegistry{reg: reg}
	b.schemaIDs = reg
	return nil
}

// listenSchemaRegistry binds --schema-registry-addr (at Start, before the
// client listeners serve). As the admin listener: an address that cannot
// be bound (another registry on 8081) is logged and the broker runs
// without a registry (topics with schema validation then refuse
// produce).
func (b *Broker) listenSchemaRegistry() {
	if b.schemas == nil {
		return
	}
	ln, err := net.Listen("tcp", b.cfg.SchemaRegistryAddr)
	if err != nil {
		b.logger.Warn("schema registry disabled", "addr", b.cfg.SchemaRegistryAddr, "err", err)
		b.disableSchemaRegistry()
		return
	}
	b.schemas.ln = ln
}

// disableSchemaRegistry drops a registry that cannot serve (Start, before
// anything uses it).
func (b *Broker) disableSchemaRegistry() {
	if err := b.schemas.reg.Close(); err != nil {
		b.logger.Warn("closing the schema registry", "err", err)
	}
	if b.schemas.ln != nil {
		b.schemas.ln.Close()
	}
	b.schemas, b.schemaIDs = nil, nil
}

// startSchemaRegistry starts the registry's tailing and serves its HTTP
// API on the bound listener.
func (b *Broker) startSchemaRegistry() error {
	s := b.schemas
	if s == nil || s.ln == nil {
		return nil
	}
	if err := s.reg.Start(context.Background()); err != nil {
		b.disableSchemaRegistry()
		return fmt.Errorf("broker: schema registry: %w", err)
	}
	s.srv = schemareg.NewHTTPServer(s.reg.Handler()) // timeouts and header limit against slow clients
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.logger.Error("schema registry", "err", err)
		}
	}()
	b.logger.Info("schema registry listening", "addr", s.ln.Addr().String())
	return nil
}

// closeSchemaRegistry stops serving the HTTP API and the registry (Close,
// before the logs close).
func (b *Broker) closeSchemaRegistry(ctx context.Context) {
	s := b.schemas
	if s == nil {
		return
	}
	if s.srv != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.srv.Shutdown(sctx); err != nil {
			s.srv.Close()
		}
		cancel()
	} else if s.ln != nil {
		s.ln.Close()
	}
	if err := s.reg.Close(); err != nil {
		b.logger.Warn("closing the schema registry", "err", err)
	}
}

// SchemaRegistryAddr is the address the schema registry listens on, ""
// when it is off (or before Start).
func (b *Broker) SchemaRegistryAddr() string {
	if b.schemas == nil || b.schemas.ln == nil {
		return ""
	}
	return b.schemas.ln.Addr().String()
}

// SchemaRegistry is the broker's registry (nil when off), for embedding
// and tests.
func (b *Broker) SchemaRegistry() *schemareg.Registry {
	if b.schemas == nil {
		return nil
	}
	return b.schemas.reg
}
