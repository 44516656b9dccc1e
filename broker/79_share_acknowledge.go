package broker

// ShareAcknowledge, key 79, versions 1–2 (KIP-932).
//
//   - v1: the stable version (v0, Kafka 4.0's early access, not served).
//   - v2 (KIP-1222): IsRenewAck allows RENEW (4) acknowledgements, which
//     extend the acquisition lock; AcquisitionLockTimeoutMs in the
//     response.
//   - Session rules (share_fetch_glue.go): the member's share session must
//     exist (SHARE_SESSION_NOT_FOUND); epoch 0 is INVALID_SHARE_SESSION_EPOCH
//     (a session is opened by ShareFetch only); N > 0 must match the
//     session's epoch and moves it on; -1 applies the acknowledgements and
//     closes the session, releasing the member's acquired records.
//   - Per partition: INVALID_RECORD_STATE when an offset is not acquired by
//     the member; NOT_LEADER_OR_FOLLOWER with CurrentLeader and the
//     leader's endpoint in NodeEndpoints off the leader.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleShareAcknowledge(_ context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ShareAcknowledgeRequest)
	listener := listenerOf(req)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		return b.shareAcknowledgeRequest(ctx, r, listener)
	}}
}

func (b *Broker) shareAcknowledgeRequest(ctx context.Context, r *kmsg.ShareAcknowledgeRequest, listener string) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
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
	if r.Version >= 2 {
		resp.AcquisitionLockTimeoutMillis = int32(b.groupSettings(group).ShareRecordLockDuration.Milliseconds())
	}
	if group == "" || member == "" {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	m := b.shareMgr()
	key := shareSessionKey{group, member}
	epoch := r.ShareSessionEpoch
	m.mu.Lock()
	s := m.sessions[key]
	switch {
	case epoch == 0 || epoch < -1:
		resp.ErrorCode = kerr.InvalidShareSessionEpoch.Code
	case s == nil:
		resp.ErrorCode = kerr.ShareSessionNotFound.Code
	case epoch != -1 && s.epoch != epoch:
		resp.ErrorCode = kerr.InvalidShareSessionEpoch.Code
	case epoch != -1:
		s.epoch = nextShareEpoch(epoch)
	}
	m.mu.Unlock()
	if resp.ErrorCode != 0 {
		return resp
	}
	for i := range r.Topics {
		t := &r.Topics[i]
		rt := kmsg.NewShareAcknowledgeResponseTopic()
		rt.TopicID = t.TopicID
		for j := range t.Partitions {
			p := &t.Partitions[j]
			rp := kmsg.NewShareAcknowledgeResponseTopicPartition()
			rp.Partition = p.Partition
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = -1, -1
			ab, err := shareAckBatches(p.AcknowledgementBatches, func(a *kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch) (int64, int64, []int8) {
				return a.FirstOffset, a.LastOffset, a.AcknowledgeTypes
			}, r.Version >= 2 && r.IsRenewAck)
			if err != nil {
				rp.ErrorCode = shareFetchErrorCode(err)
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			code, lead, _ := b.shareAcknowledge(ctx, group, member, t.TopicID, p.Partition, ab)
			rp.ErrorCode = code
			if code == kerr.NotLeaderForPartition.Code && lead != nil {
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = lead.leader, lead.epoch
				if ep, ok := b.shareLeaderEndpoint(lead, listener); ok {
					have := false
					for _, e := range resp.NodeEndpoints {
						have = have || e.NodeID == ep.NodeID
					}
					if !have {
						ne := kmsg.NewShareAcknowledgeResponseNodeEndpoint()
						ne.NodeID, ne.Host, ne.Port, ne.Rack = ep.NodeID, ep.Host, ep.Port, ep.Rack
						resp.NodeEndpoints = append(resp.NodeEndpoints, ne)
					}
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if epoch == -1 {
		b.closeShareSession(ctx, key, nil)
	}
	return resp
}
