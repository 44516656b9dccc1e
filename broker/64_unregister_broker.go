package broker

// UnregisterBroker, key 64, version 0 (KIP-500's, as Kafka's
// kafka-cluster.sh unregister) — cluster mode only.
//
//   - Removes broker BrokerID's registration and its inter-broker peer
//     address from the metadata (records UnregisterBroker and
//     UnregisterPeer); the controller then takes the node out of the
//     metadata group's configuration, where it was a learner. A node that
//     sees itself removed stops registering itself; stop it.
//   - The broker must be registered (else BROKER_ID_NOT_REGISTERED), no
//     voter of the metadata quorum (RemoveRaftVoter first) and the replica
//     of no partition (reassign them first): INVALID_REQUEST otherwise.
//     Kafka's controller does not check the replicas; Moldau refuses
//     rather than leave partitions with a replica that will never return.
//   - Served by any broker (the records are forwarded to the controller
//     as every metadata change is).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleUnregisterBroker(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.UnregisterBrokerRequest)
	resp := r.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	if b.raft == nil {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return respond(resp)
	}
	resp.ErrorCode, resp.ErrorMessage = memberAnswer(nil, b.raft.unregisterBroker(ctx, r.BrokerID))
	return respond(resp)
}
