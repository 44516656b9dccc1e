package broker

// AddRaftVoter, key 80, versions 0–1 (KIP-853).
//
//   - Makes node VoterID a voter of the metadata quorum (group 0): it must
//     be running as a joiner and be a learner (an observer) of the
//     metadata log, caught up with the leader's commit within TimeoutMillis
//     (REQUEST_TIMED_OUT otherwise, and for a node that is no observer);
//     a voter already: DUPLICATE_VOTER; ClusterID given and not this
//     cluster's: INCONSISTENT_CLUSTER_ID. The promotion is a Raft conf
//     change (raft_members.go).
//   - Served by the controller; another broker forwards it there.
//   - The answer comes once the change is committed and applied on the
//     controller, in v0 too (v1's AckWhenCommitted true is what is done
//     either way).
//   - VoterDirectoryID, when not zero, must be the directory id the node
//     registered with its peer address (RegisterPeer): another one names a
//     different incarnation of the node id (a replaced data directory, or
//     another node that took the id), INVALID_REQUEST. Zero (a client
//     that does not know it) is not checked. Listeners are not used: the
//     new voter's inter-broker address is the one it registered when it
//     joined.
//
// A single node (no --peers) has no Raft group: its quorum is itself and
// cannot change, as a one-node Kafka 4.4 with a static quorum
// (controller.quorum.voters, kraft.version 0) whose answers it gives
// (probed), in Kafka's order: ClusterID given and not this cluster's,
// INCONSISTENT_CLUSTER_ID ("The given id \"X\" doesn't match the cluster
// id \"Y\""); a zero VoterDirectoryID, INVALID_REQUEST ("Add voter request
// didn't include a valid voter"); else UNSUPPORTED_VERSION ("Cluster
// doesn't support adding voter because the kraft.version feature is 0").
// Kafka also checks, before the last answer, that Listeners names its
// controller listener; Moldau has none, so Listeners is not checked.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleAddRaftVoter(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AddRaftVoterRequest)
	resp := r.ResponseKind().(*kmsg.AddRaftVoterResponse)
	c := b.raft
	if c == nil {
		resp.ErrorCode, resp.ErrorMessage = b.fixedQuorumAnswer(r.ClusterID, r.VoterDirectoryID, "adding", "Add")
		return respond(resp)
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = adminTimeout
	}
	var fresp kmsg.Response
	err := c.checkClusterID(r.ClusterID)
	if err == nil {
		fwd := *r
		fresp, err = c.onController(ctx, req.ClientID, &fwd, func() error {
			if err := c.checkVoterDirectoryID(r.VoterID, r.VoterDirectoryID); err != nil {
				return err
			}
			return c.addVoter(ctx, r.VoterID, timeout)
		})
	}
	resp.ErrorCode, resp.ErrorMessage = memberAnswer(fresp, err)
	return respond(resp)
}

// fixedQuorumAnswer is a single node's answer to AddRaftVoter and
// RemoveRaftVoter (verb "adding"/"removing", noun "Add"/"Remove"): the
// error code and Kafka's message of a one-node static quorum.
func (b *Broker) fixedQuorumAnswer(clusterID *string, directoryID [16]byte, verb, noun string) (int16, *string) {
	var msg string
	code := kerr.UnsupportedVersion.Code
	switch {
	case clusterID != nil && *clusterID != b.clusterID():
		code, msg = kerr.InconsistentClusterID.Code, fmt.Sprintf("The given id %q doesn't match the cluster id %q", *clusterID, b.clusterID())
	case directoryID == [16]byte{}:
		code, msg = kerr.InvalidRequest.Code, noun+" voter request didn't include a valid voter"
	default:
		msg = "Cluster doesn't support " + verb + " voter because the kraft.version feature is 0"
	}
	return code, &msg
}
