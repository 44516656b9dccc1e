package broker

// UnregisterController, key 94, version 0 (KAFKA-20395, Kafka 4.4), single
// node and cluster.
//
// Kafka keeps a registration per controller (RegisterController, KIP-919)
// that outlives the controller's membership of the quorum; this request
// removes a stale one. Moldau has no separate controller registrations: its
// controllers are the metadata quorum's voters (AddRaftVoter and
// RemoveRaftVoter change them, UnregisterBroker removes a node), so a
// controller is registered exactly while it votes, and there is never a
// stale registration to remove. The answers follow from that, with a real
// 4.4 broker's codes and messages where it has them:
//   - the active controller (the metadata leader; a single node is its own):
//     INVALID_REQUEST "Controller cannot unregister itself while it is
//     active.";
//   - another voter: INVALID_REQUEST (remove it with RemoveRaftVoter; its
//     registration then ends with it);
//   - any other id: CONTROLLER_ID_NOT_REGISTERED "Controller ID N is not
//     currently registered.".
// CLUSTER ALTER is required (authorize.go).

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleUnregisterController(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.UnregisterControllerRequest)
	resp := r.ResponseKind().(*kmsg.UnregisterControllerResponse)
	active, voters := b.cfg.NodeID, []int32{b.cfg.NodeID}
	if b.raft != nil {
		active = b.cluster.controllerID()
		voters, _ = b.raft.quorum()
	}
	var msg string
	switch {
	case r.ControllerID == active:
		resp.ErrorCode, msg = kerr.InvalidRequest.Code, "Controller cannot unregister itself while it is active."
	case slices.Contains(voters, r.ControllerID):
		resp.ErrorCode, msg = kerr.InvalidRequest.Code, fmt.Sprintf("Controller ID %d is a voter of the metadata quorum: remove it with RemoveRaftVoter; its registration ends with its vote.", r.ControllerID)
	default:
		resp.ErrorCode, msg = kerr.ControllerIDNotRegistered.Code, fmt.Sprintf("Controller ID %d is not currently registered.", r.ControllerID)
	}
	resp.ErrorMessage = &msg
	return respond(resp)
}
