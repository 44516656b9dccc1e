package broker

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/protocol"
)

// Leadership errors as Kafka answers them (Partition.getLocalLog): a
// request's current leader epoch below the partition's is
// FENCED_LEADER_EPOCH, above it UNKNOWN_LEADER_EPOCH, checked before
// leadership; a partition led by another node is NOT_LEADER_OR_FOLLOWER,
// with the current leader (and its endpoint) where the version has the
// fields. The partition's leadership is changed through the cluster view,
// as replication will.

const otherNode = 7

// twoNodeView makes the cluster view know a second broker (otherNode).
func twoNodeView(t *testing.T, b *Broker) {
	t.Helper()
	self := b.cluster.selfNode()
	self.host, self.port = "self.example", 9092
	other := brokerNode{id: otherNode, host: "other.example", port: 9093}
	if err := b.cluster.setBrokers([]brokerNode{self, other}, self.id); err != nil {
		t.Fatal(err)
	}
}

func produceReq(topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = 1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func fetchReq(tp *topic, partition int32, current int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = tp.name, tp.id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, 1<<20, current
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func listOffsetsReq(topic string, partition, current int32, replica int32) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = replica
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp, rp.MaxNumOffsets = partition, current, -1, 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func epochReq(topic string, partition, current, epoch int32) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, current, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestLeaderEpochChecks: with the partition at leader epoch 3 on this node,
// Fetch (v9+), ListOffsets (v4+) and OffsetForLeaderEpoch (v2+) fence an
// older current epoch and do not know a newer one; the matching epoch and
// -1 are served; Metadata and DescribeTopicPartitions report epoch 3, and
// produced batches are stamped with it.
func TestLeaderEpochChecks(t *testing.T) {
	b := newAdminBroker(t)
	twoNodeView(t, b)
	tp := mustCreateTopic(t, b, "t", 1, nil)
	p := tp.partition(0)
	if resp := do[*kmsg.ProduceResponse](t, b, 9, produceReq("t", 0, adminBatch(2))); resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("produce at epoch 0: %v", kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
	}
	if err := b.cluster.setLeadership(p, 0, 3, []int32{0, otherNode}, []int32{0, otherNode}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.cluster.setLeadership(p, 0, 2, []int32{0}, []int32{0}, nil); err == nil {
		t.Fatal("leader epoch went back from 3 to 2")
	}
	// The new epoch is in the epoch cache before anything is appended in it.
	if ep := do[*kmsg.OffsetForLeaderEpochResponse](t, b, 4, epochReq("t", 0, 3, 3)).Topics[0].Partitions[0]; ep.ErrorCode != 0 || ep.LeaderEpoch != 3 || ep.EndOffset != 2 {
		t.Errorf("offset for leader epoch 3 before an append in it: %+v, want epoch 3 end 2", ep)
	}
	if ep := do[*kmsg.OffsetForLeaderEpochResponse](t, b, 4, epochReq("t", 0, 3, 0)).Topics[0].Partitions[0]; ep.ErrorCode != 0 || ep.LeaderEpoch != 0 || ep.EndOffset != 2 {
		t.Errorf("offset for leader epoch 0 after the bump: %+v, want epoch 0 end 2", ep)
	}
	if resp := do[*kmsg.ProduceResponse](t, b, 9, produceReq("t", 0, adminBatch(3))); resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("produce at epoch 3: %v", kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
	}

	for _, c := range []struct {
		current int32
		want    *kerr.Error // nil: served
	}{{2, kerr.FencedLeaderEpoch}, {4, kerr.UnknownLeaderEpoch}, {3, nil}, {-1, nil}} {
		for _, v := range []int16{9, 12, 13, 16, 18} {
			fp := do[*kmsg.FetchResponse](t, b, v, fetchReq(tp, 0, c.current)).Topics[0].Partitions[0]
			if c.want != nil {
				wantCode(t, "fetch", fp.ErrorCode, c.want)
				if len(fp.RecordBatches) != 0 {
					t.Errorf("fetch v%d current %d: records with an error", v, c.current)
				}
				wantLeader := int32(-1)
				if v >= 12 && c.want == kerr.FencedLeaderEpoch {
					wantLeader = 0
				}
				if fp.CurrentLeader.LeaderID != wantLeader || (wantLeader >= 0 && fp.CurrentLeader.LeaderEpoch != 3) {
					t.Errorf("fetch v%d current %d: CurrentLeader %+v, want leader %d epoch 3", v, c.current, fp.CurrentLeader, wantLeader)
				}
				continue
			}
			wantCode(t, "fetch", fp.ErrorCode, nil)
			// Two batches: epoch 0 and, the last, epoch 3 (stamped at apply).
			raw := fp.RecordBatches
			if len(raw) < 61 {
				t.Fatalf("fetch v%d current %d: %d bytes", v, c.current, len(raw))
			}
			first := int(binary.BigEndian.Uint32(raw[8:])) + 12
			if e0, e1 := int32(binary.BigEndian.Uint32(raw[12:])), int32(binary.BigEndian.Uint32(raw[first+12:])); e0 != 0 || e1 != 3 {
				t.Errorf("fetch v%d: batch leader epochs %d, %d, want 0, 3", v, e0, e1)
			}
		}
		for _, v := range []int16{4, 7, 11} {
			lp := do[*kmsg.ListOffsetsResponse](t, b, v, listOffsetsReq("t", 0, c.current, -1)).Topics[0].Partitions[0]
			wantCode(t, "list offsets", lp.ErrorCode, c.want)
			if c.want == nil && (lp.Offset != 5 || lp.LeaderEpoch != 3) {
				t.Errorf("list offsets v%d: offset %d epoch %d, want 5, 3", v, lp.Offset, lp.LeaderEpoch)
			}
		}
		for _, v := range []int16{2, 3, 4} {
			ep := do[*kmsg.OffsetForLeaderEpochResponse](t, b, v, epochReq("t", 0, c.current, 3)).Topics[0].Partitions[0]
			wantCode(t, "offset for leader epoch", ep.ErrorCode, c.want)
			if c.want == nil && (ep.EndOffset != 5 || ep.LeaderEpoch != 3) {
				t.Errorf("offset for leader epoch v%d: %+v, want epoch 3 end 5", v, ep)
			}
		}
	}
	// Versions without the field never check it.
	if fp := do[*kmsg.FetchResponse](t, b, 8, fetchReq(tp, 0, 2)).Topics[0].Partitions[0]; fp.ErrorCode != 0 {
		t.Errorf("fetch v8: %v", kerr.ErrorForCode(fp.ErrorCode))
	}
	if lp := do[*kmsg.ListOffsetsResponse](t, b, 3, listOffsetsReq("t", 0, 2, -1)).Topics[0].Partitions[0]; lp.ErrorCode != 0 {
		t.Errorf("list offsets v3: %v", kerr.ErrorForCode(lp.ErrorCode))
	}

	mp := do[*kmsg.MetadataResponse](t, b, 12, kmsg.NewPtrMetadataRequest()).Topics[0].Partitions[0]
	if mp.Leader != 0 || mp.LeaderEpoch != 3 || len(mp.Replicas) != 2 || len(mp.ISR) != 2 {
		t.Errorf("metadata: %+v", mp)
	}
	dp := do[*kmsg.DescribeTopicPartitionsResponse](t, b, 0, kmsg.NewPtrDescribeTopicPartitionsRequest()).Topics[0].Partitions[0]
	if dp.LeaderID != 0 || dp.LeaderEpoch != 3 || len(dp.Replicas) != 2 {
		t.Errorf("describe topic partitions: %+v", dp)
	}
}

// TestNotLeader: with the partition led by another node, Produce, Fetch,
// ListOffsets, OffsetForLeaderEpoch and WriteTxnMarkers answer
// NOT_LEADER_OR_FOLLOWER (Produce v10+ and Fetch v12+ with the current
// leader, v10+/v16+ with its endpoint); Metadata, DescribeCluster and
// FindCoordinator point at that node; a long-polling fetch is woken by the
// change.
func TestNotLeader(t *testing.T) {
	b := newAdminBroker(t)
	twoNodeView(t, b)
	tp := mustCreateTopic(t, b, "t", 2, nil)
	p := tp.partition(0)

	// A long poll on partition 0 that the leadership change ends.
	poll := fetchReq(tp, 0, -1)
	poll.MaxWaitMillis, poll.MinBytes = 30000, 1
	poll.SetVersion(12)
	reply := b.Handle(context.Background(), &protocol.Request{Key: poll.Key(), Version: 12, Body: poll, Parsed: true, Conn: &protocol.ConnInfo{}})
	if reply.Wait == nil {
		t.Fatal("fetch with nothing to read did not wait")
	}
	polled := make(chan *kmsg.FetchResponse, 1)
	go func() { polled <- reply.Wait(context.Background()).(*kmsg.FetchResponse) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		p.waitMu.Lock()
		n := len(p.waiters)
		p.waitMu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the long poll never started waiting")
		}
		time.Sleep(time.Millisecond) // polling for the condition, not timing
	}

	if err := b.cluster.setLeadership(p, otherNode, 4, []int32{0, otherNode}, []int32{otherNode}, []int32{0}); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-polled:
		fp := resp.Topics[0].Partitions[0]
		wantCode(t, "woken long poll", fp.ErrorCode, kerr.NotLeaderForPartition)
		if fp.CurrentLeader.LeaderID != otherNode || fp.CurrentLeader.LeaderEpoch != 4 {
			t.Errorf("woken long poll: CurrentLeader %+v", fp.CurrentLeader)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a long poll was not woken by the leadership change")
	}

	for _, v := range []int16{9, 10, 13} {
		req := produceReq("t", 0, adminBatch(1))
		if v >= 13 {
			req.Topics[0].TopicID = tp.id
		}
		resp := do[*kmsg.ProduceResponse](t, b, v, req)
		sp := resp.Topics[0].Partitions[0]
		wantCode(t, "produce", sp.ErrorCode, kerr.NotLeaderForPartition)
		if v < 10 {
			continue
		}
		if sp.CurrentLeader.LeaderID != otherNode || sp.CurrentLeader.LeaderEpoch != 4 {
			t.Errorf("produce v%d: CurrentLeader %+v", v, sp.CurrentLeader)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != otherNode || resp.Brokers[0].Host != "other.example" || resp.Brokers[0].Port != 9093 {
			t.Errorf("produce v%d: NodeEndpoints %+v", v, resp.Brokers)
		}
	}
	if p.endOffset() != 0 {
		t.Fatalf("a follower appended: end offset %d", p.endOffset())
	}
	// The other partition is still ours.
	if resp := do[*kmsg.ProduceResponse](t, b, 10, produceReq("t", 1, adminBatch(1))); resp.Topics[0].Partitions[0].ErrorCode != 0 || len(resp.Brokers) != 0 {
		t.Errorf("produce to our partition: %+v", resp)
	}

	for _, v := range []int16{11, 12, 16} {
		resp := do[*kmsg.FetchResponse](t, b, v, fetchReq(tp, 0, -1))
		fp := resp.Topics[0].Partitions[0]
		wantCode(t, "fetch", fp.ErrorCode, kerr.NotLeaderForPartition)
		if v >= 12 && (fp.CurrentLeader.LeaderID != otherNode || fp.CurrentLeader.LeaderEpoch != 4) {
			t.Errorf("fetch v%d: CurrentLeader %+v", v, fp.CurrentLeader)
		}
		if wantEndpoint := v >= 16; wantEndpoint != (len(resp.Brokers) == 1 && resp.Brokers[0].NodeID == otherNode) {
			t.Errorf("fetch v%d: NodeEndpoints %+v", v, resp.Brokers)
		}
	}
	// The epoch is checked before leadership.
	wantCode(t, "fetch, old epoch, not leader", do[*kmsg.FetchResponse](t, b, 12, fetchReq(tp, 0, 3)).Topics[0].Partitions[0].ErrorCode, kerr.FencedLeaderEpoch)
	wantCode(t, "fetch, leader's epoch", do[*kmsg.FetchResponse](t, b, 12, fetchReq(tp, 0, 4)).Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)

	wantCode(t, "list offsets", do[*kmsg.ListOffsetsResponse](t, b, 7, listOffsetsReq("t", 0, -1, -1)).Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)
	wantCode(t, "list offsets, debugging replica", do[*kmsg.ListOffsetsResponse](t, b, 7, listOffsetsReq("t", 0, -1, debuggingReplicaID)).Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "offset for leader epoch", do[*kmsg.OffsetForLeaderEpochResponse](t, b, 3, epochReq("t", 0, -1, 0)).Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)

	del := kmsg.NewPtrDeleteRecordsRequest()
	dt := kmsg.NewDeleteRecordsRequestTopic()
	dt.Topic = "t"
	dp := kmsg.NewDeleteRecordsRequestTopicPartition()
	dp.Partition, dp.Offset = 0, 0
	dt.Partitions = append(dt.Partitions, dp)
	del.Topics = append(del.Topics, dt)
	wantCode(t, "delete records", do[*kmsg.DeleteRecordsResponse](t, b, 2, del).Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)

	markers := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = 1, 0, true
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = "t", []int32{0}
	m.Topics = append(m.Topics, mt)
	markers.Markers = append(markers.Markers, m)
	dpr := kmsg.NewPtrDescribeProducersRequest()
	dpr.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	dpResp := do[*kmsg.DescribeProducersResponse](t, b, 0, dpr)
	wantCode(t, "describe producers", dpResp.Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)
	wantCode(t, "describe producers, our partition", dpResp.Topics[0].Partitions[1].ErrorCode, nil)

	wantCode(t, "write txn markers", do[*kmsg.WriteTxnMarkersResponse](t, b, 1, markers).Markers[0].Topics[0].Partitions[0].ErrorCode, kerr.NotLeaderForPartition)

	meta := do[*kmsg.MetadataResponse](t, b, 12, kmsg.NewPtrMetadataRequest())
	if len(meta.Brokers) != 2 || meta.ControllerID != 0 {
		t.Errorf("metadata brokers %+v controller %d", meta.Brokers, meta.ControllerID)
	}
	if mp := meta.Topics[0].Partitions[0]; mp.Leader != otherNode || mp.LeaderEpoch != 4 || len(mp.ISR) != 1 || len(mp.OfflineReplicas) != 1 {
		t.Errorf("metadata partition 0: %+v", mp)
	}
	if dc := do[*kmsg.DescribeClusterResponse](t, b, 1, kmsg.NewPtrDescribeClusterRequest()); len(dc.Brokers) != 2 {
		t.Errorf("describe cluster: %+v", dc.Brokers)
	}

	// The coordinator of a group is the leader of its __consumer_offsets
	// partition.
	const group = "g"
	find := func() *kmsg.FindCoordinatorResponse {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = group
		return do[*kmsg.FindCoordinatorResponse](t, b, 3, req)
	}
	if fc := find(); fc.ErrorCode != 0 || fc.NodeID != 0 {
		t.Fatalf("find coordinator: %+v", fc)
	}
	op := b.topics.get(offsetsTopic).partition(b.groups.PartitionFor(group))
	if err := b.cluster.setLeadership(op, otherNode, 1, []int32{0, otherNode}, []int32{0, otherNode}, nil); err != nil {
		t.Fatal(err)
	}
	if fc := find(); fc.ErrorCode != 0 || fc.NodeID != otherNode || fc.Host != "other.example" || fc.Port != 9093 {
		t.Errorf("find coordinator after the move: %+v", fc)
	}
	if err := b.cluster.setLeadership(op, -1, 2, []int32{0, otherNode}, nil, []int32{0, otherNode}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "find coordinator, no leader", find().ErrorCode, kerr.CoordinatorNotAvailable)
	if mp := do[*kmsg.MetadataResponse](t, b, 12, kmsg.NewPtrMetadataRequest()).Topics[0]; *mp.Topic != offsetsTopic || mp.Partitions[b.groups.PartitionFor(group)].ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Errorf("metadata of a partition without a leader: %+v", mp)
	}
}

// TestApplyReplays: applying the entries a leader appended, each rebuilt
// from its batch alone (entryFromBatch), on a second partition gives the
// same producer and transaction state: what a replica will do.
func TestApplyReplays(t *testing.T) {
	b := newAdminBroker(t)
	leader := mustCreateTopic(t, b, "leader", 1, nil).partition(0)
	replica := mustCreateTopic(t, b, "replica", 1, nil).partition(0)
	ok := func() error { return nil }
	for round := range 5 {
		if _, err := leader.appendBatch(producerBatch(1, 0, int32(round*5), 5, false), 1000, ok); err != nil {
			t.Fatal(err)
		}
		if _, err := leader.appendBatch(producerBatch(2, 0, int32(round*5), 5, true), 1000, ok); err != nil {
			t.Fatal(err)
		}
		if _, err := leader.writeMarker(2, 0, round%2 == 0, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := leader.appendBatch(producerBatch(3, 0, 0, 5, true), 1000, ok); err != nil { // left open
		t.Fatal(err)
	}
	data, err := leader.read(0, leader.endOffset(), 1<<20, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	replica.appendMu.Lock()
	for len(data) > 0 {
		n := int(binary.BigEndian.Uint32(data[8:])) + 12
		kind := entryData
		if binary.BigEndian.Uint16(data[records.OffAttributes:])&records.AttrControl != 0 {
			kind = entryMarker
		}
		e, err := entryFromBatch(kind, append([]byte(nil), data[:n]...), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := replica.applyLocked(&e, 0); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	replica.appendMu.Unlock()
	if got, want := stateOf(replica), stateOf(leader); !reflect.DeepEqual(got, want) {
		t.Fatalf("replica state %+v, want the leader's %+v", got, want)
	}
	if replica.lastStableOffset() != leader.lastStableOffset() {
		t.Fatalf("replica LSO %d, leader's %d", replica.lastStableOffset(), leader.lastStableOffset())
	}
}

// TestTruncateRebuildsState: truncating a partition (what a diverging
// follower will do) leaves the producer and transaction state it had at
// that offset, with or without roll snapshots past it, and a batch retried
// after the cut is appended again rather than taken for a duplicate.
func TestTruncateRebuildsState(t *testing.T) {
	cfg := plog.DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	l, _, err := plog.Open(vfs.NewMem(), "/data/t-0", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p := newPartition(&topic{name: "t"}, 0, l, soloLeadership(0))
	t.Cleanup(func() { _ = p.closeLog() })
	ok := func() error { return nil }
	seq := map[int64]int32{}
	app := func(pid int64, transactional bool) {
		t.Helper()
		if _, err := p.appendBatch(producerBatch(pid, 0, seq[pid], 5, transactional), 1000, ok); err != nil {
			t.Fatal(err)
		}
		seq[pid] += 5
	}
	round := func(i int) {
		app(1, false)
		app(2, true)
		if _, err := p.writeMarker(2, 0, i%2 == 0, 1000); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		round(i)
	}
	app(3, true) // open at the cut
	cut, want, seqAtCut := p.endOffset(), stateOf(p), seq[1]
	for i := range 40 { // rolls and snapshots past the cut
		round(i)
	}
	p.waitSnapshots()
	if p.snapOffset <= cut {
		t.Fatalf("newest snapshot at %d: the test needs one past the cut %d", p.snapOffset, cut)
	}
	if _, err := p.truncateTo(cut); err != nil {
		t.Fatal(err)
	}
	if p.endOffset() != cut {
		t.Fatalf("end %d after truncating to %d", p.endOffset(), cut)
	}
	if got := stateOf(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("after truncation: state %+v, want %+v", got, want)
	}
	res, err := p.appendBatch(producerBatch(1, 0, seqAtCut, 5, false), 1000, ok)
	if err != nil || res.duplicate || res.baseOffset != cut {
		t.Fatalf("batch retried after the cut: %+v %v, want appended at %d", res, err, cut)
	}
}
