package broker

// ConsumerGroupHeartbeat, key 68, versions 0–1 (KIP-848).
//
//   - v0: an empty member id gets one from the broker; v1: the client
//     generates its member id (an empty one is INVALID_REQUEST) and may
//     subscribe with SubscribedTopicRegex (RE2/J syntax; Go's regexp is RE2).
//   - Server-side assignors: "uniform" (default) and "range".
//   - Owned partitions arrive by topic id; a null Topics is a keepalive.
//   - Membership, epochs and assignments are written to __consumer_offsets
//     (Kafka's record types 3, 5–8) before the response is sent, and come
//     back after a restart.
//   - Epoch -2 (a static member leaving for a while) keeps its assignment
//     until its session times out; UNRELEASED_INSTANCE_ID for an instance
//     id held by a live member.
//   - Online migration (Kafka's default policy, bidirectional): joining a
//     non-empty classic group of protocol type "consumer" converts it, its
//     classic members staying as such (coordinator/migration.go); when the
//     last consumer protocol member leaves, the group turns classic again.
//     A classic group of another protocol type gets GROUP_ID_NOT_FOUND, as
//     on Kafka.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleConsumerGroupHeartbeat(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ConsumerGroupHeartbeatRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.MemberEpoch = -1
		fail := func(code int16, msg string) kmsg.Response {
			resp.ErrorCode = code
			if msg != "" {
				resp.ErrorMessage = &msg
			}
			return resp
		}
		if b.featureLevel(featureGroup) < 1 {
			// group.version 0 (UpdateFeatures) turns KIP-848 off, as Kafka's
			// isConsumerGroupProtocolEnabled: UNSUPPORTED_VERSION, no
			// message (a 4.4 broker probed), the key still advertised.
			return fail(kerr.UnsupportedVersion.Code, "")
		}
		if r.Version >= 1 && r.MemberID == "" {
			return fail(kerr.InvalidRequest.Code, "MemberId can't be empty.")
		}
		if r.MemberEpoch == 0 && r.RebalanceTimeoutMillis < 0 {
			return fail(kerr.InvalidRequest.Code, "RebalanceTimeoutMs must be provided in first request.")
		}
		if err := b.ensureOffsetsTopic(); err != nil {
			return fail(groupErrorCode(err), "")
		}
		hr := coordinator.ConsumerHeartbeatRequest{
			Group: r.Group, MemberID: r.MemberID, MemberEpoch: r.MemberEpoch, InstanceID: r.InstanceID, RackID: r.RackID,
			RebalanceTimeout: time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond,
			SubscribedTopics: r.SubscribedTopicNames, ServerAssignor: r.ServerAssignor,
			ClientID: req.ClientID, ClientHost: clientHost(req),
		}
		if r.Version >= 1 {
			hr.SubscribedRegex = r.SubscribedTopicRegex
		}
		if r.Topics != nil {
			hr.Owned = coordinator.Assignment{}
			for _, t := range r.Topics {
				hr.Owned[t.TopicID] = append(hr.Owned[t.TopicID], t.Partitions...)
			}
		}
		res := b.groups.ConsumerHeartbeat(hr)
		if res.Err != nil {
			return fail(groupErrorCode(res.Err), res.Err.Error())
		}
		id := res.MemberID
		resp.MemberID = &id
		resp.MemberEpoch = res.MemberEpoch
		resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
		if res.Assignment != nil {
			a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
			a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
			for tid, ps := range res.Assignment {
				t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
				t.TopicID, t.Partitions = tid, ps
				a.Topics = append(a.Topics, t)
			}
			resp.Assignment = &a
		}
		return resp
	}}
}
