package tests

// KIP-1251 (assignment epochs) over the wire: OffsetCommit v9+ from a
// KIP-848 member at an older epoch than its current one.

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/tests/harness"
)

// TestGroupsKIP1251CommitAtOlderEpoch: m1 owns all four partitions at
// epoch 1; m2 joins and m1 gives two up, reaching epoch 2. A commit m1
// sent at epoch 1 (in flight while its epoch moved on, as a client's
// auto-commit often is) is accepted for a partition m1 still owns and
// refused with STALE_MEMBER_EPOCH, per partition, for one it gave up; a
// commit at a later epoch than the member's is refused.
func TestGroupsKIP1251CommitAtOlderEpoch(t *testing.T) {
	addr := harness.InProcess(t, nil).Addr()
	topic := fmt.Sprintf("g-1251-%d", time.Now().UnixNano())
	group := topic + "-group"
	createTopic(t, addr, topic, 4, nil)
	cl := newClient(t, addr)
	ctx := ctxT(t)

	type member struct {
		id    string
		epoch int32
		owned []int32
	}
	var topicID [16]byte
	hb := func(m *member) {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.MemberEpoch, req.RebalanceTimeoutMillis = group, m.id, m.epoch, 30000
		if m.epoch == 0 {
			req.SubscribedTopicNames = []string{topic}
			req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		} else {
			tp := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			tp.TopicID, tp.Partitions = topicID, m.owned
			req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{tp}
		}
		resp := heartbeat848(ctx, t, cl, req)
		m.epoch = resp.MemberEpoch
		if resp.Assignment != nil {
			m.owned = nil
			for _, tp := range resp.Assignment.Topics {
				topicID = tp.TopicID
				m.owned = append(m.owned, tp.Partitions...)
			}
		}
	}
	commit := func(m *member, epoch int32, parts ...int32) map[int32]int16 {
		t.Helper()
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.MemberID, req.Generation = group, m.id, epoch
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = topic, topicID // v10 names the topic by id
		for _, p := range parts {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, 10+int64(p)
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		codes := map[int32]int16{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				codes[rp.Partition] = rp.ErrorCode
			}
		}
		return codes
	}

	m1 := &member{id: "m1-" + topic}
	hb(m1)
	if m1.epoch != 1 || len(m1.owned) != 4 {
		t.Fatalf("m1: epoch %d owns %v, want epoch 1 and all four partitions", m1.epoch, m1.owned)
	}
	m2 := &member{id: "m2-" + topic}
	hb(m2)
	hb(m1) // told to give two partitions up, still at epoch 1
	if m1.epoch != 1 || len(m1.owned) != 2 {
		t.Fatalf("m1: epoch %d owns %v, want epoch 1 and two partitions", m1.epoch, m1.owned)
	}
	hb(m1) // acknowledges the revocation: epoch 2
	if m1.epoch != 2 {
		t.Fatalf("m1 at epoch %d after revoking, want 2", m1.epoch)
	}
	kept := m1.owned[0]
	var gone int32 = -1
	for p := int32(0); p < 4; p++ {
		if p != m1.owned[0] && p != m1.owned[1] {
			gone = p
			break
		}
	}
	codes := commit(m1, 1, kept, gone)
	if codes[kept] != 0 {
		t.Errorf("epoch-1 commit of partition %d, owned since epoch 1: %v, want it accepted", kept, kerr.ErrorForCode(codes[kept]))
	}
	if codes[gone] != kerr.StaleMemberEpoch.Code {
		t.Errorf("epoch-1 commit of partition %d, given up: %v, want STALE_MEMBER_EPOCH", gone, kerr.ErrorForCode(codes[gone]))
	}
	if c := commit(m1, 3, kept)[kept]; c != kerr.StaleMemberEpoch.Code {
		t.Errorf("commit at epoch 3 (member at 2): %v, want STALE_MEMBER_EPOCH", kerr.ErrorForCode(c))
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topic, kept); !ok || o.At != 10+int64(kept) {
		t.Errorf("partition %d committed offset %+v, want %d", kept, o, 10+kept)
	}
	if o, ok := offs.Lookup(topic, gone); ok && o.At >= 0 {
		t.Errorf("partition %d has committed offset %d from a refused commit", gone, o.At)
	}
}
