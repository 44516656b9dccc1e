package broker

// DeleteShareGroupOffsets, key 92, version 0 (KIP-932).
//
//   - Only an existing, empty share group: GROUP_ID_NOT_FOUND (missing, or
//     another type) and NON_EMPTY_GROUP are top-level errors (no topics).
//   - Per topic: the share-partition state of every initialized partition is
//     deleted through the share coordinator (the topic is "deleting" in
//     ShareGroupStatePartitionMetadata until that succeeded, and retried by
//     a later request); UNKNOWN_TOPIC_OR_PARTITION for a topic that does not
//     exist or has no share state ("There is no offset information to
//     delete.").
//   - No share coordinator: COORDINATOR_NOT_AVAILABLE (retriable).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDeleteShareGroupOffsets(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DeleteShareGroupOffsetsRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
		fail := func(err error) kmsg.Response {
			resp.ErrorCode, resp.ErrorMessage = shareGroupErrorCode(err), shareGroupErrorMessage(err)
			resp.Topics = nil
			return resp
		}
		if b.persister() == nil {
			return fail(errNoSharePersister)
		}
		topics := make([]string, 0, len(r.Topics))
		for _, t := range r.Topics {
			topics = append(topics, t.Topic)
		}
		res, err := b.groups.DeleteShareGroupOffsets(r.GroupID, topics)
		if err != nil {
			return fail(err)
		}
		for _, o := range res {
			t := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
			t.Topic, t.TopicID = o.Topic, o.TopicID
			if o.Err != nil {
				t.ErrorCode, t.ErrorMessage = shareGroupErrorCode(o.Err), shareGroupErrorMessage(o.Err)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp
	}}
}
