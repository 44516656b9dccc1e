package broker

// UnregisterBroker, key 64, version 0 (KIP-500's, as Kafka's
// kafka-cluster.sh unregister).
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
//   - A single node (no --peers): any id but its own is not registered,
//     BROKER_ID_NOT_REGISTERED with Kafka's message ("Broker ID N is not
//     currently registered"). Its own id: INVALID_REQUEST, as the cluster
//     refuses to unregister a voter or a replica holder (the node is both).
//     A one-broker Kafka 4.4 answers NONE there and is left with no broker
//     (Metadata lists none, every partition offline, until it restarts);
//     Moldau refuses rather than take itself out of service.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleUnregisterBroker(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.UnregisterBrokerRequest)
	resp := r.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	if b.raft == nil {
		var err error
		if r.BrokerID == b.cfg.NodeID {
			err = fmt.Errorf("%w: node %d is the only node of this single-node cluster", errBrokerIsVoter, r.BrokerID)
		} else {
			err = kafkaText{errBrokerNotFound, fmt.Sprintf("Broker ID %d is not currently registered", r.BrokerID)}
		}
		resp.ErrorCode, resp.ErrorMessage = memberAnswer(nil, err)
		return respond(resp)
	}
	resp.ErrorCode, resp.ErrorMessage = memberAnswer(nil, b.raft.unregisterBroker(ctx, r.BrokerID))
	return respond(resp)
}
