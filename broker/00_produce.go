package broker

// Produce, key 0, versions 3–13.
//
//   - v3+: record batch v2 only; exactly one batch per partition.
//   - v5+: LogStartOffset in the response.
//   - v8+: an error message, and per-record errors (KIP-467: every record
//     a batch was refused for, by batch index, as Kafka's LogValidator).
//   - v9+: flexible.
//   - v10+: CurrentLeader / NodeEndpoints tags (only sent on NOT_LEADER).
//   - v13: topics addressed by id; unknown ids get UNKNOWN_TOPIC_ID.
//
// Transactional batches are accepted only within the producer's ongoing
// transaction that includes the partition (KIP-890 part 1 verification,
// txn_partition.go); v12+ (transactions v2) adds the partition to the
// transaction first. Otherwise INVALID_TXN_STATE, or INVALID_PRODUCER_EPOCH
// for a fenced epoch.
//
// acks=0 writes no response (and closes the connection when a partition
// failed, as Kafka does); acks=1 answers once appended; acks=-1 answers
// once the batches are durable (fsynced: with one replica, the fsync stands in
// for the ISR) unless the topic has an explicit flush.messages / flush.ms
// policy, which the log then applies — see README "Durability". A
// flush.messages flush that an append makes due is done before the answer
// (at every acks, as Kafka's append does), in the reply's Wait: no fsync
// runs on the connection's reader goroutine.
//
// A topic with confluent.key/value.schema.validation also checks every
// record's schema id against the built-in registry (schemavalidate.go).
//
// A partition this node does not lead gets NOT_LEADER_OR_FOLLOWER, with
// (v10+) its current leader and epoch in CurrentLeader and the leader's
// endpoint in the response's NodeEndpoints (Brokers), as Kafka's KIP-951
// answer.

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleProduce(ctx context.Context, req *protocol.Request) (reply protocol.Reply) {
	r := req.Body.(*kmsg.ProduceRequest)
	defer func() { reply = b.awaitTxnAdds(reply, r.TransactionID, r.Version) }()
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	now := b.now().UnixMilli()

	acksValid := r.Acks == 0 || r.Acks == 1 || r.Acks == -1
	var (
		toSync []*partition
		syncAt [][2]int // toSync[i]'s position in resp: topic, partition
		toWait []replWait
	)
	resp.Topics = make([]kmsg.ProduceResponseTopic, 0, len(r.Topics))
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *topic
		if r.Version >= 13 {
			t = b.topics.getID(rt.TopicID)
		} else {
			t = b.topics.get(rt.Topic)
		}
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			switch {
			case !acksValid:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
			case t == nil && r.Version >= 13:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case t == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				p := t.partition(rp.Partition)
				if p == nil {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					break
				}
				if isInternalTopic(t.name) || t.name == txnStateTopic {
					sp.ErrorCode = kerr.InvalidTopicException.Code
					break
				}
				if p.repl != nil && r.Acks == -1 && !b.enoughISR(p) {
					sp.ErrorCode = kerr.NotEnoughReplicas.Code
					break
				}
				flushDue, prop := b.produceOne(p, rp.Records, now, &sp, r.Version, r.TransactionID)
				if prop != nil {
					// Cluster mode: answered once replicated (replWait).
					toWait = append(toWait, replWait{p: p, prop: prop, pos: [2]int{len(resp.Topics), len(st.Partitions)}})
				} else if sp.ErrorCode == 0 && (flushDue || r.Acks == -1 && p.syncBeforeAck() && b.cfg.SyncOnAcksAll) {
					toSync = append(toSync, p)
					syncAt = append(syncAt, [2]int{len(resp.Topics), len(st.Partitions)})
				}
				if sp.ErrorCode == kerr.NotLeaderForPartition.Code && r.Version >= 10 {
					b.fillProduceLeader(resp, p, &sp, listenerOf(req))
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}

	// acks=0: no response, but, as Kafka does, a failed acks=0 produce
	// closes the connection: the producer learns of the error only that
	// way (and refreshes its metadata) instead of losing records silently.
	// A due flush.messages flush still runs in Wait (on the writer
	// goroutine, in request order).
	if len(toWait) > 0 {
		return b.replicatedReply(resp, r, toWait, listenerOf(req))
	}
	if len(toSync) == 0 || b.cfg.Memory {
		if r.Acks == 0 {
			return protocol.Reply{NoResponse: true, Close: produceFailed(resp)}
		}
		return respond(resp)
	}
	reply = protocol.Reply{NoResponse: r.Acks == 0, Close: r.Acks == 0 && produceFailed(resp)}
	if r.Acks == 0 && !reply.Close {
		// The flush in Wait may still fail: then the connection closes too.
		reply.CloseAfterWait = func() bool { return produceFailed(resp) }
	}
	reply.Wait = func(context.Context) kmsg.Response {
		errs := b.syncPartitions(toSync)
		if errs == nil {
			return resp
		}
		// Match failures by partition, not by the response's topic name
		// (empty from v13, where topics are named by id).
		for i, p := range toSync {
			if errs[partKey{p.topic.name, p.topic.id, p.index}] != nil {
				sp := &resp.Topics[syncAt[i][0]].Partitions[syncAt[i][1]]
				sp.ErrorCode = kerr.KafkaStorageError.Code
				sp.BaseOffset = -1
			}
		}
		return resp
	}
	return reply
}

// produceFailed reports whether any partition of resp has an error.
func produceFailed(resp *kmsg.ProduceResponse) bool {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode != 0 {
				return true
			}
		}
	}
	return false
}

// produceOne validates and appends one partition's batch, filling sp. It
// reports whether flush.messages asks for an fsync before the answer.
func (b *Broker) produceOne(p *partition, records []byte, now int64, sp *kmsg.ProduceResponseTopicPartition, version int16, txnID *string) (flushDue bool, prop *pendingProp) {
	settings := p.topic.settings()
	v, err := validateBatch(records, settings, now)
	if err == nil && settings.SchemaValidation() {
		err = b.validateSchemaIDs(p.topic.name, settings, v.raw) // schemavalidate.go
	}
	if err == nil && v.transactional && txnID != nil && (version >= 12 || b.inter != nil) {
		// Transactions v2 (KIP-890 part 2): the partition joins the
		// producer's transaction here (there is no AddPartitionsToTxn);
		// in cluster mode, another node's coordinator verifies it.
		err = b.addPartitionOnProduce(*txnID, &v, p, version)
	}
	if err == nil {
		var res appendResult
		res, err = p.appendBatch(&v, now, b.txnVerifier(txnID, &v, p))
		if err == nil {
			if !res.duplicate {
				p.topic.metrics.bytesIn.Add(float64(len(v.raw)))
				p.topic.metrics.recordsIn.Add(float64(v.recordCount))
			}
			sp.BaseOffset = res.baseOffset
			if v.logAppendTime {
				sp.LogAppendTime = now
			}
			sp.LogStartOffset = p.logStartOffset()
			if res.prop != nil {
				return false, &pendingProp{Proposal: res.prop, pid: v.producerID}
			}
			return res.flushDue, nil
		}
	}
	sp.ErrorCode = errorCode(err)
	b.topics.metrics.produceErrors.WithLabelValues(strconv.Itoa(int(sp.ErrorCode))).Inc()
	if version >= 8 {
		sp.ErrorMessage = errMessage(err)
		// KIP-467: a batch refused for some of its records lists them all,
		// with Kafka's texts, so clients fail those records with this error
		// and the others with a retriable one.
		var re *recordsError
		if errors.As(err, &re) {
			msg, recs := re.kafkaMessages(p.dirName())
			sp.ErrorMessage = &msg
			sp.ErrorRecords = make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(recs))
			for i := range recs {
				sp.ErrorRecords[i] = kmsg.ProduceResponseTopicPartitionErrorRecord{RelativeOffset: re.records[i].index, ErrorMessage: &recs[i]}
			}
		}
	}
	if errors.Is(err, errInvalidTimestamp) || errors.Is(err, errInvalidRecord) {
		b.logger.Debug("produce rejected", "partition", p.dirName(), "err", err)
	}
	return false, nil
}

// fillProduceLeader adds, to a NOT_LEADER_OR_FOLLOWER answer for p (v10+),
// p's current leader and epoch and that leader's endpoint on listener.
func (b *Broker) fillProduceLeader(resp *kmsg.ProduceResponse, p *partition, sp *kmsg.ProduceResponseTopicPartition, listener string) {
	l := b.cluster.leadershipOf(p)
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = l.leader, l.epoch
	n, ok := b.cluster.broker(l.leader)
	if !ok {
		return
	}
	host, port, ok := n.endpointFor(listener)
	if !ok {
		return
	}
	for _, have := range resp.Brokers {
		if have.NodeID == n.id {
			return
		}
	}
	nb := kmsg.NewProduceResponseBroker()
	nb.NodeID, nb.Host, nb.Port, nb.Rack = n.id, host, port, n.rack
	resp.Brokers = append(resp.Brokers, nb)
}

type partKey struct {
	topic string
	id    [16]byte
	part  int32
}

// syncPartitions makes everything appended so far durable on each partition,
// in parallel; concurrent producers to the same partition share fsyncs (group
// commit in the log). It returns nil when all succeeded.
func (b *Broker) syncPartitions(ps []*partition) map[partKey]error {
	if len(ps) == 1 {
		p := ps[0]
		if err := p.syncAll(); err != nil {
			b.logger.Error("fsync failed", "partition", p.dirName(), "err", err)
			return map[partKey]error{{p.topic.name, p.topic.id, p.index}: err}
		}
		return nil
	}
	var (
		mu   sync.Mutex
		errs map[partKey]error
		wg   sync.WaitGroup
	)
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.syncAll(); err != nil {
				b.logger.Error("fsync failed", "partition", p.dirName(), "err", err)
				mu.Lock()
				if errs == nil {
					errs = make(map[partKey]error)
				}
				errs[partKey{p.topic.name, p.topic.id, p.index}] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}
