package broker

// FindCoordinator, key 10, versions 0–6.
//
//   - v0: one group key; v1+: a key type (0 group, 1 transaction); v3+:
//     flexible; v4+: batched keys (CoordinatorKeys) answered per key in
//     Coordinators instead of the top-level fields.
//   - Group keys are answered with the leader (cluster view, cluster.go) of
//     the key's __consumer_offsets partition, after creating the topic on
//     first use, as Kafka does.
//   - Transaction keys (type 1) likewise with the leader of the key's
//     __transaction_state partition. A partition without a leader (or
//     whose leader has no known endpoint) gets COORDINATOR_NOT_AVAILABLE.
//   - Share-partition keys (type 2, v6+, "group:topicId:partition") likewise
//     with the leader of the key's __share_group_state partition
//     (share_state.go); a malformed key, or type 2 before v6, gets
//     INVALID_REQUEST. Unknown key types get INVALID_REQUEST.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

func (b *Broker) handleFindCoordinator(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.FindCoordinatorRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		keys := r.CoordinatorKeys
		if r.Version < 4 {
			keys = []string{r.CoordinatorKey}
		}
		for _, key := range keys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			code := int16(0)
			var node brokerNode
			switch r.CoordinatorType {
			case 0:
				if err := b.ensureOffsetsTopic(); err != nil {
					code = kerr.CoordinatorNotAvailable.Code
				} else {
					node, code = b.coordinatorNode(offsetsTopic, b.groups.PartitionFor(key))
				}
			case 1:
				if err := b.ensureTxnStateTopic(); err != nil {
					code = kerr.CoordinatorNotAvailable.Code
				} else {
					node, code = b.coordinatorNode(txnStateTopic, txn.PartitionFor(key, b.txns.Partitions()))
				}
			case 2:
				k, ok := parseShareCoordinatorKey(key)
				switch {
				case !ok || r.Version < 6:
					code = kerr.InvalidRequest.Code
				case b.ensureShareStateTopic() != nil:
					code = kerr.CoordinatorNotAvailable.Code
				default:
					node, code = b.coordinatorNode(shareStateTopic, b.shareState.partitionFor(k))
				}
			default:
				code = kerr.InvalidRequest.Code
			}
			host, port, ok := node.endpointFor(listenerOf(req))
			if code == 0 && !ok {
				code = kerr.CoordinatorNotAvailable.Code // no endpoint on the request's listener
			}
			if code != 0 {
				c.ErrorCode, c.NodeID, c.Host, c.Port = code, -1, "", -1
				msg := kerr.ErrorForCode(code).Error()
				c.ErrorMessage = &msg
			} else {
				c.NodeID, c.Host, c.Port = node.id, host, port
			}
			resp.Coordinators = append(resp.Coordinators, c)
		}
		if r.Version < 4 {
			c := resp.Coordinators[0]
			resp.Coordinators = nil
			resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
		}
		return resp
	}}
}

// coordinatorNode is the leader of partition part of the internal topic
// name: the coordinator of the keys that hash to it.
func (b *Broker) coordinatorNode(name string, part int32) (brokerNode, int16) {
	t := b.topics.get(name)
	if t == nil {
		return brokerNode{}, kerr.CoordinatorNotAvailable.Code
	}
	p := t.partition(part)
	if p == nil {
		return brokerNode{}, kerr.CoordinatorNotAvailable.Code
	}
	n, ok := b.cluster.broker(b.cluster.leadershipOf(p).leader)
	if !ok {
		return brokerNode{}, kerr.CoordinatorNotAvailable.Code
	}
	return n, 0
}
