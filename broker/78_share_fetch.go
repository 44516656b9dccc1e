package broker

// ShareFetch, key 78, versions 1–2 (KIP-932).
//
//   - v1: the stable version (v0 was Kafka 4.0's early access, removed in
//     4.1; not served). MaxRecords bounds the records acquired by one
//     request (whole batches: the last may cross it); BatchSize cuts the
//     AcquiredRecords ranges into ranges of at most that many records.
//   - v2 (KIP-1206, KIP-1222): ShareAcquireMode 1 (record-limit) acquires
//     exactly MaxRecords at most, cutting a batch; IsRenewAck: the
//     acknowledgements may carry RENEW (4), which extends the acquisition
//     lock, and the request acquires nothing (its fetch limits must be 0
//     and every partition must carry acknowledgements: INVALID_REQUEST).
//   - Member ids are checked for form only (non-empty, at most 36
//     characters), as Kafka.
//   - Partitions take turns at being read first (rotated by the session
//     epoch) so that MaxRecords is shared.
//   - Share sessions (share_fetch_glue.go), per group and member:
//     ShareSessionEpoch 0 opens one with the request's partitions (no
//     acknowledgements allowed: INVALID_REQUEST), replacing an existing one;
//     N > 0 must match the session's epoch (INVALID_SHARE_SESSION_EPOCH;
//     no session: SHARE_SESSION_NOT_FOUND), adds the request's partitions,
//     drops ForgottenTopicsData and moves the epoch on; -1 applies the
//     acknowledgements, fetches nothing and closes the session, releasing
//     the member's acquired records. Over maxShareSessions new sessions
//     get SHARE_SESSION_LIMIT_REACHED.
//   - Acknowledgements piggy-backed on the fetch are applied first and
//     answered per partition in AcknowledgeErrorCode.
//   - Records are acquired from the share-partition's fetch offset up to
//     the high watermark (the LSO under share.isolation.level
//     read_committed, where aborted and control batches are archived, never
//     sent); the response carries the batches holding them, AcquiredRecords
//     ranges with their delivery counts, and AcquisitionLockTimeoutMs.
//   - Long poll: with nothing acquired the request waits up to
//     MaxWaitMillis for an append, a release or a lock expiry. MinBytes is
//     met by any acquired record (acquired records are never held back).
//     MaxBytes bounds the bytes read (at least one batch).
//   - Only the leader of the data partition serves it: elsewhere
//     NOT_LEADER_OR_FOLLOWER with CurrentLeader and the leader's endpoint
//     in NodeEndpoints, as Fetch v16+.
//   - Full (epoch 0) responses list every session partition; incremental
//     ones only partitions with records, an error or acknowledgements.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/protocol"
)

// defaultShareMaxRecords is the acquisition bound of a request without
// MaxRecords (Kafka's max.poll.records default).
const defaultShareMaxRecords = 500

func (b *Broker) handleShareFetch(_ context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ShareFetchRequest)
	listener, conn := listenerOf(req), req.Conn
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		return b.shareFetch(ctx, r, conn, listener)
	}}
}

// sharePartResult is one partition's part of a ShareFetch response.
type sharePartResult struct {
	tp       shareTP
	code     int16
	ackCode  int16
	acked    bool
	records  []byte
	acquired []share.Acquired
	lead     *leadership // on NOT_LEADER_OR_FOLLOWER
	p        *partition
}

func nextShareEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}

func (b *Broker) shareFetch(ctx context.Context, r *kmsg.ShareFetchRequest, conn *protocol.ConnInfo, listener string) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ShareFetchResponse)
	if b.featureLevel(featureShare) < 1 {
		resp.ErrorCode = kerr.UnsupportedVersion.Code // share.version 0: share groups off, as Kafka
		return resp
	}
	var group, member string
	if r.GroupID != nil {
		group = *r.GroupID
	}
	if r.MemberID != nil {
		member = *r.MemberID
	}
	settings := b.groupSettings(group)
	resp.AcquisitionLockTimeoutMillis = int32(settings.ShareRecordLockDuration.Milliseconds())
	// Kafka checks the member id's form only (membership is the group
	// coordinator's business).
	if group == "" || member == "" || len(member) > 36 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	renew := r.Version >= 2 && r.IsRenewAck
	if renew && (r.MaxBytes != 0 || r.MinBytes != 0 || r.MaxRecords != 0 || r.MaxWaitMillis != 0) {
		// KIP-1222: a renew-ack request fetches nothing.
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	var (
		reqTPs  []shareTP
		hasAcks bool
		acks    = map[shareTP][]kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{}
	)
	for i := range r.Topics {
		t := &r.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			tp := shareTP{t.TopicID, p.Partition}
			if renew && len(p.AcknowledgementBatches) == 0 {
				resp.ErrorCode = kerr.InvalidRequest.Code
				return resp
			}
			reqTPs = append(reqTPs, tp)
			if len(p.AcknowledgementBatches) > 0 {
				hasAcks = true
				acks[tp] = append(acks[tp], p.AcknowledgementBatches...)
			}
		}
	}
	m := b.shareMgr()
	key := shareSessionKey{group, member}
	epoch := r.ShareSessionEpoch
	full, closing := epoch == 0, epoch == -1
	var fetchTPs, replaced []shareTP
	m.mu.Lock()
	switch {
	case epoch == 0:
		if hasAcks {
			m.mu.Unlock()
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp
		}
		if m.sessions[key] == nil && len(m.sessions) >= maxShareSessions {
			m.mu.Unlock()
			resp.ErrorCode = kerr.ShareSessionLimitReached.Code
			return resp
		}
		if old := m.sessions[key]; old != nil {
			// A new session: the member restarted its fetch state, so
			// the records its old session holds are released first.
			replaced = append(replaced, old.parts...)
		}
		s := &shareSession{key: key, epoch: 1, index: map[shareTP]int{}, conn: conn}
		for _, tp := range reqTPs {
			s.add(tp)
		}
		m.sessions[key] = s
		fetchTPs = append(fetchTPs, s.parts...)
	case epoch < -1:
		m.mu.Unlock()
		resp.ErrorCode = kerr.InvalidShareSessionEpoch.Code
		return resp
	default:
		s := m.sessions[key]
		if s == nil {
			m.mu.Unlock()
			resp.ErrorCode = kerr.ShareSessionNotFound.Code
			return resp
		}
		if !closing {
			if s.epoch != epoch {
				m.mu.Unlock()
				resp.ErrorCode = kerr.InvalidShareSessionEpoch.Code
				return resp
			}
			s.epoch = nextShareEpoch(epoch)
			s.conn = conn
			for _, tp := range reqTPs {
				s.add(tp)
			}
			for i := range r.ForgottenTopicsData {
				ft := &r.ForgottenTopicsData[i]
				for _, part := range ft.Partitions {
					s.forget(shareTP{ft.TopicID, part})
				}
			}
			fetchTPs = append(fetchTPs, s.parts...)
		}
	}
	m.mu.Unlock()
	if len(replaced) > 0 {
		b.releaseShareMember(ctx, group, member, replaced)
	}

	results := map[shareTP]*sharePartResult{}
	var order []shareTP
	result := func(tp shareTP) *sharePartResult {
		res := results[tp]
		if res == nil {
			res = &sharePartResult{tp: tp}
			results[tp] = res
			order = append(order, tp)
		}
		return res
	}
	// Acknowledgements first, in request order.
	for _, tp := range reqTPs {
		batches, ok := acks[tp]
		if !ok {
			continue
		}
		delete(acks, tp)
		res := result(tp)
		res.acked = true
		ab, err := shareAckBatches(batches, func(a *kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) (int64, int64, []int8) {
			return a.FirstOffset, a.LastOffset, a.AcknowledgeTypes
		}, renew)
		if err != nil {
			res.ackCode = shareFetchErrorCode(err)
			continue
		}
		res.ackCode, res.lead, res.p = b.shareAcknowledge(ctx, group, member, tp.id, tp.partition, ab)
	}
	if closing {
		b.closeShareSession(ctx, key, nil)
	}
	if !closing && !renew && len(fetchTPs) > 0 {
		// Partitions take turns at coming first (the session epoch
		// rotates them), so that one busy partition does not starve the
		// others of MaxRecords.
		if n := len(fetchTPs); n > 1 {
			k := int(max(epoch, 0)) % n
			fetchTPs = append(fetchTPs[k:], fetchTPs[:k]...)
		}
		b.shareFetchWait(ctx, r, group, member, fetchTPs, full, settings.ShareIsolationLevel == "read_committed", result)
	}
	if full {
		for _, tp := range fetchTPs {
			result(tp)
		}
	}
	b.fillShareFetchResponse(resp, order, results, listener)
	return resp
}

// shareFetchWait acquires records for member on tps, waiting up to
// MaxWaitMillis while none can be acquired.
func (b *Broker) shareFetchWait(ctx context.Context, r *kmsg.ShareFetchRequest, group, member string, tps []shareTP, verify, readCommitted bool, result func(shareTP) *sharePartResult) {
	maxRecords := int(r.MaxRecords)
	if r.Version < 1 || maxRecords <= 0 {
		maxRecords = defaultShareMaxRecords
	}
	strict := r.Version >= 2 && r.ShareAcquireMode == 1
	batchSize := 0 // batch-optimized mode: acquired ranges of at most BatchSize records
	if !strict && r.BatchSize > 0 {
		batchSize = int(r.BatchSize)
	}
	maxBytes := int(r.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = 1<<31 - 1
	}
	deadline := time.Now().Add(time.Duration(max(r.MaxWaitMillis, 0)) * time.Millisecond)
	var (
		w       *fetchWaiter
		watched []*partition
		timer   *time.Timer
	)
	defer func() {
		for _, p := range watched {
			p.unwatch(w)
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		avail := b.shareMgr().availCh() // before the pass: a release during it wakes the wait
		got, hasErr := b.shareFetchPass(ctx, group, member, tps, verify, maxRecords, strict, batchSize, maxBytes, readCommitted, result)
		verify = false
		if got || hasErr || !time.Now().Before(deadline) {
			return
		}
		if w == nil {
			w = newFetchWaiter()
			for _, tp := range tps {
				if t := b.topics.getID(tp.id); t != nil {
					if p := t.partition(tp.partition); p != nil {
						p.watch(w)
						watched = append(watched, p)
					}
				}
			}
			timer = time.NewTimer(time.Until(deadline))
		}
		select {
		case <-w.ch:
		case <-avail:
		case <-timer.C:
			b.shareFetchPass(ctx, group, member, tps, false, maxRecords, strict, batchSize, maxBytes, readCommitted, result)
			return
		case <-ctx.Done():
			return
		case <-b.stop:
			return
		}
	}
}

// shareFetchPass tries once to acquire records on every partition.
func (b *Broker) shareFetchPass(ctx context.Context, group, member string, tps []shareTP, verify bool, maxRecords int, strict bool, batchSize int, maxBytes int, readCommitted bool, result func(shareTP) *sharePartResult) (got, hasErr bool) {
	for _, tp := range tps {
		_, p, l, code := b.shareLookup(tp.id, tp.partition)
		k := share.Key{Group: group, TopicID: tp.id, Partition: tp.partition}
		if code != 0 {
			res := result(tp)
			res.code, res.lead, res.p = code, l, p
			hasErr = true
			if code == kerr.NotLeaderForPartition.Code {
				b.dropSharePart(k)
			}
			continue
		}
		if maxRecords <= 0 || maxBytes <= 0 {
			continue
		}
		sp, err := b.lockSharePart(ctx, k, p, l.epoch, verify)
		if err != nil {
			res := result(tp)
			res.code = shareFetchErrorCode(err)
			hasErr = true
			continue
		}
		recs, acq, err := b.shareReadLocked(sp, p, member, maxRecords, strict, maxBytes, readCommitted)
		sp.mu.Unlock()
		if err != nil {
			res := result(tp)
			res.code = shareFetchErrorCode(err)
			hasErr = true
			continue
		}
		if len(acq) == 0 {
			continue
		}
		res := result(tp)
		res.records = append(res.records, recs...)
		got = true
		for _, a := range acq {
			maxRecords -= int(a.Last - a.First + 1)
		}
		res.acquired = append(res.acquired, splitAcquired(acq, batchSize)...)
		maxBytes -= len(recs)
	}
	return got, hasErr
}

func (b *Broker) fillShareFetchResponse(resp *kmsg.ShareFetchResponse, order []shareTP, results map[shareTP]*sharePartResult, listener string) {
	topicIdx := map[[16]byte]int{}
	for _, tp := range order {
		res := results[tp]
		i, ok := topicIdx[tp.id]
		if !ok {
			rt := kmsg.NewShareFetchResponseTopic()
			rt.TopicID = tp.id
			resp.Topics = append(resp.Topics, rt)
			i = len(resp.Topics) - 1
			topicIdx[tp.id] = i
		}
		rp := kmsg.NewShareFetchResponseTopicPartition()
		rp.Partition = tp.partition
		rp.ErrorCode, rp.AcknowledgeErrorCode = res.code, res.ackCode
		rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = -1, -1
		rp.Records = res.records
		if rp.Records == nil {
			rp.Records = []byte{}
		}
		rp.AcquiredRecords = make([]kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, 0, len(res.acquired))
		for _, a := range res.acquired {
			ar := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
			ar.FirstOffset, ar.LastOffset, ar.DeliveryCount = a.First, a.Last, a.DeliveryCount
			rp.AcquiredRecords = append(rp.AcquiredRecords, ar)
		}
		if res.lead != nil && (res.code == kerr.NotLeaderForPartition.Code || res.ackCode == kerr.NotLeaderForPartition.Code) {
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = res.lead.leader, res.lead.epoch
			if ep, ok := b.shareLeaderEndpoint(res.lead, listener); ok {
				have := false
				for _, e := range resp.NodeEndpoints {
					have = have || e.NodeID == ep.NodeID
				}
				if !have {
					ne := kmsg.NewShareFetchResponseNodeEndpoint()
					ne.NodeID, ne.Host, ne.Port, ne.Rack = ep.NodeID, ep.Host, ep.Port, ep.Rack
					resp.NodeEndpoints = append(resp.NodeEndpoints, ne)
				}
			}
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
}

// shareEndpoint is a leader's address on a listener.
type shareEndpoint struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   *string
}

func (b *Broker) shareLeaderEndpoint(l *leadership, listener string) (shareEndpoint, bool) {
	n, ok := b.cluster.broker(l.leader)
	if !ok {
		return shareEndpoint{}, false
	}
	host, port, ok := n.endpointFor(listener)
	if !ok {
		return shareEndpoint{}, false
	}
	return shareEndpoint{NodeID: n.id, Host: host, Port: port, Rack: n.rack}, true
}

// splitAcquired cuts acquired ranges into ranges of at most n records (n
// <= 0: as they are), as Kafka's batch-optimized mode answers BatchSize.
func splitAcquired(acq []share.Acquired, n int) []share.Acquired {
	if n <= 0 {
		return acq
	}
	var out []share.Acquired
	for _, a := range acq {
		for first := a.First; first <= a.Last; first += int64(n) {
			out = append(out, share.Acquired{First: first, Last: min(first+int64(n)-1, a.Last), DeliveryCount: a.DeliveryCount})
		}
	}
	return out
}
