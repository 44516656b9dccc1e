package broker

// RemoveRaftVoter, key 81, version 0 (KIP-853).
//
//   - Removes node VoterID from the voters of the metadata quorum (group
//     0) by demoting it to learner: while it runs it stays an observer
//     (DescribeQuorum lists it there), as a removed voter of Kafka's
//     quorum that keeps fetching; UnregisterBroker then takes it out
//     completely. Not a voter, or the last voter: VOTER_NOT_FOUND (as
//     Kafka, whose voter set refuses to become empty); ClusterID given
//     and not this cluster's:
//     INCONSISTENT_CLUSTER_ID.
//   - Served by the controller; another broker forwards it there. The
//     controller removing itself hands the leadership to the most caught-up
//     other voter first and forwards the request to it.
//   - The answer comes once the change is committed and applied on the
//     controller. VoterDirectoryID is not used (one log directory per
//     node).
//
// A single node (no --peers) answers as a one-node Kafka 4.4 with a static
// quorum (probed), as AddRaftVoter does (80_add_raft_voter.go): a wrong
// ClusterID INCONSISTENT_CLUSTER_ID, a zero VoterDirectoryID
// INVALID_REQUEST ("Remove voter request didn't include a valid voter"),
// else UNSUPPORTED_VERSION ("Cluster doesn't support removing voter because
// the kraft.version feature is 0"), whatever VoterID names.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleRemoveRaftVoter(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.RemoveRaftVoterRequest)
	resp := r.ResponseKind().(*kmsg.RemoveRaftVoterResponse)
	c := b.raft
	if c == nil {
		resp.ErrorCode, resp.ErrorMessage = b.fixedQuorumAnswer(r.ClusterID, r.VoterDirectoryID, "removing", "Remove")
		return respond(resp)
	}
	var fresp kmsg.Response
	err := c.checkClusterID(r.ClusterID)
	if err == nil {
		fwd := *r
		fresp, err = c.onController(ctx, req.ClientID, &fwd, func() error { return c.removeVoter(ctx, r.VoterID) })
	}
	resp.ErrorCode, resp.ErrorMessage = memberAnswer(fresp, err)
	return respond(resp)
}
