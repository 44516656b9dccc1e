package broker

// Fetch, key 1, versions 4–18.
//
//   - v4+: isolation level: read_committed (1) reads only below the last
//     stable offset and lists the aborted transactions overlapping the
//     range read, so the client drops their records; every response
//     carries the LSO. A marker moving the LSO wakes long polls.
//   - v5+: LogStartOffset in the response.
//   - v7+: fetch sessions (KIP-227), see fetch_sessions.go.
//   - Only the leader serves a partition (there is no follower fetching
//     for consumers): elsewhere NOT_LEADER_OR_FOLLOWER (cluster.go).
//   - v9+: CurrentLeaderEpoch checked (FENCED_LEADER_EPOCH below the
//     partition's, UNKNOWN_LEADER_EPOCH above), before leadership, as
//     Kafka's Partition.getLocalLog.
//   - v12+: CurrentLeader (leader id and epoch) on NOT_LEADER_OR_FOLLOWER
//     and FENCED_LEADER_EPOCH; v16+: the leader's endpoint in
//     NodeEndpoints (Brokers), as KIP-951.
//   - v11+: rack id (ignored: one replica, so no preferred read replica).
//   - v12+: flexible.
//   - v13+: topics by id; unknown ids get UNKNOWN_TOPIC_ID.
//   - v15+: replica state instead of replica id (consumers send -1).
//
// Long poll: if fewer than MinBytes are available the response waits, up to
// MaxWaitMillis, for an append to any requested partition. MaxBytes and
// PartitionMaxBytes bound the response, except that the first partition with
// data always returns at least one whole batch.
//
// Quotas (quotas.go): a fetch over the client's consumer_byte_rate is
// answered at once with no records and throttle_time_ms, as Kafka's; its max
// bytes are capped at what one quota window allows.
//
// Zero-copy: on the OS file system a partition is read as pinned segment
// file ranges (Log.ReadRanges) and the response goes to the connection
// writer as a protocol.FileResponse, which sends the records with
// sendfile(2) (protocol/files.go); the pins are released once it is
// written. Other file systems (in-memory, error-injecting) read into memory.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/protocol"
)

// fetchPlan is one fetch request after session handling: the partitions to
// read, in order, and how to shape the response.
type fetchPlan struct {
	req         *kmsg.FetchRequest
	session     *fetchSession // nil: sessionless
	sessionID   int32
	incremental bool
	parts       []*sessionPart // sessionless: the request's; else the session's
	listener    string         // the request's listener: leader endpoints on it
}

func (b *Broker) handleFetch(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.FetchRequest)
	b.capFetchBytes(req, r)
	plan, errCode := b.planFetch(r)
	if plan != nil {
		plan.listener = listenerOf(req)
	}
	if errCode != 0 {
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = errCode
		return respond(resp)
	}
	fr := b.readFetch(plan)
	if fr.bytes >= int(r.MinBytes) || r.MaxWaitMillis <= 0 || fr.hasErr {
		fr = b.throttleFetch(req, plan, fr)
		b.commitFetch(plan, fr.resp)
		b.countFetched(r.Version, fr)
		return respond(fr.reply())
	}
	fr.release()
	deadline := time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		fr := b.throttleFetch(req, plan, b.waitFetch(ctx, plan, deadline))
		b.commitFetch(plan, fr.resp)
		b.countFetched(r.Version, fr)
		return fr.reply()
	}}
}

func keyFor(version int16, name string, id [16]byte, partition int32) sessionKey {
	if version >= 13 {
		return sessionKey{id: id, partition: partition}
	}
	return sessionKey{name: name, partition: partition}
}

// planFetch applies the request to the session cache (KIP-227) and returns
// the partitions to read, or a top-level error code.
func (b *Broker) planFetch(r *kmsg.FetchRequest) (*fetchPlan, int16) {
	plan := &fetchPlan{req: r}
	reqParts := func() []*sessionPart {
		var out []*sessionPart
		for i := range r.Topics {
			t := &r.Topics[i]
			for j := range t.Partitions {
				p := &t.Partitions[j]
				out = append(out, &sessionPart{
					key:                keyFor(r.Version, t.Topic, t.TopicID, p.Partition),
					fetchOffset:        p.FetchOffset,
					maxBytes:           p.PartitionMaxBytes,
					currentLeaderEpoch: p.CurrentLeaderEpoch,
				})
			}
		}
		return out
	}
	now := time.Now()
	if r.Version < 7 {
		plan.parts = reqParts()
		return plan, 0
	}
	switch {
	case r.SessionEpoch == -1: // full fetch, no session (closing one if named)
		if r.SessionID != 0 {
			b.sessions.remove(r.SessionID)
		}
		plan.parts = reqParts()
	case r.SessionEpoch == 0: // full fetch opening a new session
		if r.SessionID != 0 {
			b.sessions.remove(r.SessionID)
		}
		plan.parts = reqParts()
		if s := b.sessions.create(now); s != nil {
			s.mu.Lock()
			for _, p := range plan.parts {
				s.upsert(*p)
			}
			s.mu.Unlock()
			plan.session, plan.sessionID = s, s.id
			plan.parts = nil
		}
	case r.SessionID == 0:
		return nil, kerr.InvalidFetchSessionEpoch.Code
	default: // incremental
		s := b.sessions.get(r.SessionID, now)
		if s == nil {
			return nil, kerr.FetchSessionIDNotFound.Code
		}
		s.mu.Lock()
		if s.epoch != r.SessionEpoch {
			s.mu.Unlock()
			return nil, kerr.InvalidFetchSessionEpoch.Code
		}
		s.epoch++
		if s.epoch <= 0 {
			s.epoch = 1
		}
		for _, p := range reqParts() {
			s.upsert(*p)
		}
		for i := range r.ForgottenTopics {
			ft := &r.ForgottenTopics[i]
			for _, part := range ft.Partitions {
				s.forget(keyFor(r.Version, ft.Topic, ft.TopicID, part))
			}
		}
		s.mu.Unlock()
		plan.session, plan.sessionID, plan.incremental = s, s.id, true
	}
	return plan, 0
}

// fetchRead is one read of a fetch plan: the response and, when the records
// are sent from segment files (zero-copy), the file fields and the release
// of the segments they pin.
type fetchRead struct {
	resp       *kmsg.FetchResponse
	fields     []protocol.FileField // in encoding order; empty: records in resp
	releases   []func()
	topicBytes []int // record bytes per resp.Topics entry
	bytes      int   // record bytes in the response
	hasErr     bool  // a partition has an error (ends a long poll at once)
}

// reply is the response to send: resp itself, or a protocol.FileResponse
// around it that owns the pins.
func (f *fetchRead) reply() kmsg.Response {
	if len(f.fields) == 0 {
		return f.resp
	}
	releases := f.releases
	f.releases = nil
	return &protocol.FileResponse{Response: f.resp, Fields: f.fields, Release: func() {
		for _, r := range releases {
			r()
		}
	}}
}

// release unpins the segments of a read that is not sent.
func (f *fetchRead) release() {
	for _, r := range f.releases {
		r()
	}
	f.releases = nil
}

// zeroCopy reports whether fetches send records from segment files with
// sendfile: only when the logs are on the OS file system (the in-memory and
// error-injecting file systems have no *os.File, so they read into memory).
func (b *Broker) zeroCopy() bool { return b.fs == vfs.OS }

// readFetch reads every planned partition once.
func (b *Broker) readFetch(plan *fetchPlan) *fetchRead {
	r := plan.req
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	resp.SessionID = plan.sessionID
	fr := &fetchRead{resp: resp}
	parts := plan.parts
	if plan.session != nil {
		plan.session.mu.Lock()
		defer plan.session.mu.Unlock()
		parts = plan.session.parts
	}
	maxBytes := int(r.MaxBytes)
	if r.Version < 3 || maxBytes <= 0 {
		maxBytes = 1<<31 - 1
	}
	zeroCopy := b.zeroCopy()
	var (
		// Each partition reads into its own buffer, sized by the log to
		// what it returns: appending every partition to one shared buffer
		// re-copied everything read so far each time it grew (most of a
		// catch-up fetch's CPU went to memmove). With zeroCopy, a partition
		// has file ranges instead, sent by the connection writer.
		bufs   [][]byte               // per response partition
		ranges [][]protocol.FileRange // per response partition (zeroCopy)
		total  int
		cur    *kmsg.FetchResponseTopic
		first  = true
	)
	type at struct{ t, p int }
	var where []at
	for _, sp := range parts {
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = sp.key.partition
		rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
		var t *topic
		if r.Version >= 13 {
			t = b.topics.getID(sp.key.id)
		} else {
			t = b.topics.get(sp.key.name)
		}
		var p *partition
		if t != nil {
			p = t.partition(sp.key.partition)
		}
		var (
			buf []byte
			frs []protocol.FileRange
			n   int
		)
		switch {
		case t == nil && r.Version >= 13:
			rp.ErrorCode = kerr.UnknownTopicID.Code
		case p == nil:
			rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		default:
			if _, err := b.cluster.checkLeader(p, sp.currentLeaderEpoch); err != nil {
				rp.ErrorCode = errorCode(err)
				if r.Version >= 12 && (errors.Is(err, errNotLeader) || errors.Is(err, errFencedLeaderEpoch)) {
					b.fillFetchLeader(resp, p, &rp, r.Version, plan.listener)
				}
				break
			}
			hw := p.highWatermark()
			lso := min(p.lastStableOffset(), hw)
			upper := hw
			if r.IsolationLevel == 1 {
				upper = lso
			}
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = hw, lso, p.logStartOffset()
			limit := min(int(sp.maxBytes), maxBytes-total)
			if limit > 0 || first {
				var err error
				if zeroCopy {
					frs, n, err = readRanges(p, sp.fetchOffset, upper, max(limit, 0), first, fr)
				} else {
					buf, err = p.read(sp.fetchOffset, upper, max(limit, 0), first, buf)
					n = len(buf)
				}
				if err != nil {
					rp.ErrorCode = errorCode(err)
					rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
					if !errors.Is(err, plog.ErrOffsetOutOfRange) {
						b.logger.Warn("fetch read failed", "partition", p.dirName(), "offset", sp.fetchOffset, "err", err)
					}
				}
			}
			if r.IsolationLevel == 1 && rp.ErrorCode == 0 {
				rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				if n > 0 {
					for _, a := range p.abortedIn(sp.fetchOffset, upper) {
						at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
						at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
						rp.AbortedTransactions = append(rp.AbortedTransactions, at)
					}
				}
			}
		}
		if rp.ErrorCode != 0 {
			// A failed read returns no records (a read that failed
			// part-way may have found some).
			fr.hasErr = true
			buf, frs, n = nil, nil, 0
		}
		if n > 0 {
			first = false
			total += n
		}
		if plan.incremental && n == 0 && rp.ErrorCode == 0 && sp.sent &&
			rp.HighWatermark == sp.lastHW && rp.LastStableOffset == sp.lastLSO && rp.LogStartOffset == sp.lastLogS {
			continue // nothing new: omitted from an incremental response
		}
		name := sp.key.name
		if t != nil {
			name = t.name
		}
		if cur == nil || cur.Partitions == nil || (r.Version >= 13 && cur.TopicID != sp.key.id) || (r.Version < 13 && cur.Topic != name) {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = name, sp.key.id
			if r.Version >= 13 && t != nil {
				st.Topic = ""
			}
			resp.Topics = append(resp.Topics, st)
			fr.topicBytes = append(fr.topicBytes, 0)
			cur = &resp.Topics[len(resp.Topics)-1]
			cur.Partitions = make([]kmsg.FetchResponseTopicPartition, 0, 1)
		}
		cur.Partitions = append(cur.Partitions, rp)
		fr.topicBytes[len(fr.topicBytes)-1] += n
		bufs = append(bufs, buf)
		ranges = append(ranges, frs)
		where = append(where, at{len(resp.Topics) - 1, len(cur.Partitions) - 1})
	}
	for i, w := range where {
		// Never nil: Kafka sends an empty records field (length 0), and
		// librdkafka rejects a null one (length -1).
		field := &resp.Topics[w.t].Partitions[w.p].RecordBatches
		*field = bufs[i]
		if len(bufs[i]) == 0 {
			*field = []byte{}
		}
		if len(ranges[i]) > 0 {
			// where is in encoding order (topics, then partitions, as
			// appended), as FileResponse requires.
			fr.fields = append(fr.fields, protocol.FileField{Field: field, Ranges: ranges[i]})
		}
	}
	fr.bytes = total
	return fr
}

// readRanges reads a partition as segment file ranges for sendfile, pinning
// them in fr until the response is written. n is their total length.
func readRanges(p *partition, offset, maxOffset int64, maxBytes int, minOne bool, fr *fetchRead) ([]protocol.FileRange, int, error) {
	lrs, release, err := p.readRanges(offset, maxOffset, maxBytes, minOne)
	fr.releases = append(fr.releases, release)
	if err != nil {
		return nil, 0, err
	}
	out := make([]protocol.FileRange, 0, len(lrs))
	n := 0
	for _, lr := range lrs {
		f, _ := lr.OSFile()
		out = append(out, protocol.FileRange{R: lr.File, F: f, Off: lr.Pos, Len: lr.Len})
		n += int(lr.Len)
	}
	return out, n, nil
}

// fillFetchLeader adds p's current leader and epoch to rp (v12+) and the
// leader's endpoint to the response (v16+).
func (b *Broker) fillFetchLeader(resp *kmsg.FetchResponse, p *partition, rp *kmsg.FetchResponseTopicPartition, version int16, listener string) {
	l := b.cluster.leadershipOf(p)
	rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = l.leader, l.epoch
	if version < 16 {
		return
	}
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
	nb := kmsg.NewFetchResponseBroker()
	nb.NodeID, nb.Host, nb.Port, nb.Rack = n.id, host, port, n.rack
	resp.Brokers = append(resp.Brokers, nb)
}

// waitFetch waits until MinBytes are available, the deadline passes or ctx
// ends, then returns the last read (whose pins the caller owns).
func (b *Broker) waitFetch(ctx context.Context, plan *fetchPlan, deadline time.Time) *fetchRead {
	b.topics.metrics.fetchWaits.Inc()
	w := newFetchWaiter()
	var watched []*partition
	for _, k := range b.planKeys(plan) {
		var t *topic
		if plan.req.Version >= 13 {
			t = b.topics.getID(k.id)
		} else {
			t = b.topics.get(k.name)
		}
		if t == nil {
			continue
		}
		if p := t.partition(k.partition); p != nil {
			p.watch(w)
			watched = append(watched, p)
		}
	}
	defer func() {
		for _, p := range watched {
			p.unwatch(w)
		}
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		fr := b.readFetch(plan)
		if fr.bytes >= int(plan.req.MinBytes) || fr.hasErr || !time.Now().Before(deadline) {
			return fr
		}
		select {
		case <-w.ch:
			fr.release()
		case <-timer.C:
			fr.release()
			return b.readFetch(plan)
		case <-ctx.Done():
			return fr
		}
	}
}

func (b *Broker) planKeys(plan *fetchPlan) []sessionKey {
	parts := plan.parts
	if plan.session != nil {
		plan.session.mu.Lock()
		defer plan.session.mu.Unlock()
		parts = plan.session.parts
	}
	keys := make([]sessionKey, len(parts))
	for i, p := range parts {
		keys[i] = p.key
	}
	return keys
}

// commitFetch records, for a session, what each partition in the response
// told the client, so the next incremental response can leave out partitions
// with nothing new.
func (b *Broker) commitFetch(plan *fetchPlan, resp *kmsg.FetchResponse) {
	s := plan.session
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			idx, ok := s.index[keyFor(plan.req.Version, t.Topic, t.TopicID, p.Partition)]
			if !ok {
				continue
			}
			sp := s.parts[idx]
			sp.sent = true
			sp.lastHW, sp.lastLSO, sp.lastLogS = p.HighWatermark, p.LastStableOffset, p.LogStartOffset
		}
	}
}

// countFetched adds the record bytes of a final fetch response to the
// per-topic bytes-out counters.
func (b *Broker) countFetched(version int16, fr *fetchRead) {
	resp := fr.resp
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		n := fr.topicBytes[i]
		if n == 0 {
			continue
		}
		var t *topic
		if version >= 13 {
			t = b.topics.getID(rt.TopicID)
		} else {
			t = b.topics.get(rt.Topic)
		}
		if t != nil && t.metrics != nil {
			t.metrics.bytesOut.Add(float64(n))
		}
	}
}
