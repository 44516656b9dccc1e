package broker

// ShareGroupHeartbeat, key 76, version 1 (KIP-932; v0 was Kafka 4.0's early
// access and is not served, as Kafka 4.1+ does not).
//
//   - The client generates its member id (an empty one is INVALID_REQUEST);
//     a first heartbeat (epoch 0) must subscribe to at least one topic;
//     epoch -1 leaves.
//   - The server-side SimpleAssignor shares partitions between members
//     (coordinator/share_assign.go); a partition is assigned once its
//     share-partition state was initialized (start offset -1, resolved by the
//     share-partition leader from share.auto.offset.reset).
//   - Errors as Kafka's: GROUP_ID_NOT_FOUND (a group of another type, or an
//     unknown group with epoch != 0), UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH,
//     GROUP_MAX_SIZE_REACHED (group.share.max.size), INVALID_REQUEST.
//   - Membership, epochs and assignments are written to __consumer_offsets
//     (Kafka's record types 10–15) before the response is sent.

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleShareGroupHeartbeat(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ShareGroupHeartbeatRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse) // errors: member epoch 0, as Kafka's
		fail := func(code int16, msg string) kmsg.Response {
			resp.ErrorCode = code
			if msg != "" {
				resp.ErrorMessage = &msg
			}
			return resp
		}
		if b.featureLevel(featureShare) < 1 {
			// share.version 0 (UpdateFeatures) turns the protocol off, as Kafka's
			// isShareGroupProtocolEnabled: UNSUPPORTED_VERSION, the key still advertised.
			return fail(kerr.UnsupportedVersion.Code, "")
		}
		if r.MemberID != "" && r.GroupID != "" {
			if err := b.ensureOffsetsTopic(); err != nil {
				return fail(groupErrorCode(err), "")
			}
		}
		res := b.groups.ShareHeartbeat(coordinator.ShareHeartbeatRequest{
			Group: r.GroupID, MemberID: r.MemberID, MemberEpoch: r.MemberEpoch, RackID: r.RackID,
			SubscribedTopics: r.SubscribedTopicNames, ClientID: req.ClientID, ClientHost: clientHost(req),
		})
		if res.Err != nil {
			resp.ErrorCode, resp.ErrorMessage = shareGroupErrorCode(res.Err), shareGroupErrorMessage(res.Err)
			return resp
		}
		id := res.MemberID
		resp.MemberID = &id
		resp.MemberEpoch = res.MemberEpoch
		resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
		if res.Assignment != nil {
			a := kmsg.NewShareGroupHeartbeatResponseAssignment()
			a.TopicPartitions = []kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition{}
			for tid, ps := range res.Assignment {
				t := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
				t.TopicID, t.Partitions = tid, ps
				a.TopicPartitions = append(a.TopicPartitions, t)
			}
			resp.Assignment = &a
		}
		return resp
	}}
}

// kafkaMessage is the error message to send: Kafka's own wording where the
// coordinator wrapped its sentinel with it ("coordinator: invalid request:
// MemberId can't be empty." → "MemberId can't be empty."), else the whole
// error.
func kafkaMessage(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "coordinator: "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			return after
		}
	}
	return msg
}
