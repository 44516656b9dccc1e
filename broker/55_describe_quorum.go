package broker

// DescribeQuorum, key 55, versions 0–2, single node and cluster.
//
//   - A single node answers as a one-voter KRaft quorum (its own
//     controller) does: leader itself, epoch 1, itself the one voter with
//     LastFetch/LastCaughtUp now, no observers. It keeps its metadata in a
//     bbolt store rather than a log, so HighWatermark and the voter's
//     LogEndOffset are the count of metadata changes (entities) this
//     process has seen: 0 on a fresh start, never behind (lag 0).
//
//   - The quorum is the metadata Raft group's (__cluster_metadata-0; Kafka
//     names the same partition). Another topic or partition:
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - Served by any broker (Kafka's brokers forward it to the controller):
//     the metadata leader answers with every voter's log end offset (the
//     Raft match index mapped to its offset) and, v1+, when each last
//     caught up; a follower answers what it knows (leader, epoch, its high
//     watermark, the voters with offsets -1).
//   - The voters and observers are group 0's configuration as this node
//     applied it (voters and learners; raft_members.go): they follow
//     AddRaftVoter, RemoveRaftVoter and nodes that join or leave.
//   - v2+: Nodes lists each voter's and observer's Kafka listener;
//     ReplicaDirectoryID is the directory id the node registered with its
//     peer address (RegisterPeer; zero until it has, or for a peer
//     registered by a binary without directory ids).

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeQuorum(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeQuorumRequest)
	resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
	c := b.raft
	if c == nil {
		b.describeSingleQuorum(r, resp, listenerOf(req))
		return respond(resp)
	}
	for _, rt := range r.Topics {
		st := kmsg.NewDescribeQuorumResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDescribeQuorumResponseTopicPartition()
			sp.Partition = rp.Partition
			if c == nil || rt.Topic != "__cluster_metadata" || rp.Partition != 0 {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			c.describeQuorum(&sp)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if r.Version >= 2 && c != nil {
		voters, observers := c.quorum()
		for _, id := range append(voters, observers...) {
			n := kmsg.NewDescribeQuorumResponseNode()
			n.NodeID = id
			if br, ok := b.cluster.broker(id); ok {
				eps := br.endpoints
				if len(eps) == 0 {
					eps = []endpoint{{listener: "PLAINTEXT", host: br.host, port: br.port}}
				}
				for _, e := range eps {
					l := kmsg.NewDescribeQuorumResponseNodeListener()
					l.Name, l.Host, l.Port = e.listener, e.host, uint16(e.port)
					n.Listeners = append(n.Listeners, l)
				}
			}
			resp.Nodes = append(resp.Nodes, n)
		}
	}
	return respond(resp)
}

// describeQuorum fills sp from the metadata group's state on this node.
func (c *raftCluster) describeQuorum(sp *kmsg.DescribeQuorumResponseTopicPartition) {
	leader, term, leading, err := c.node.Leader(metadataGroup)
	if err != nil {
		sp.ErrorCode = kerr.NotLeaderForPartition.Code
		return
	}
	sp.LeaderID, sp.LeaderEpoch = -1, int32(term)
	if leader != 0 {
		sp.LeaderID = kafkaID(leader)
	}
	sp.HighWatermark = c.metaLog.HighWatermark()
	progress := map[int32]kmsg.DescribeQuorumResponseTopicPartitionReplicaState{}
	if leading {
		if reps, err := c.node.Replicas(metadataGroup); err == nil {
			for _, rp := range reps {
				v := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
				v.ReplicaID = kafkaID(rp.ID)
				if end, err := c.metaStorage.EndOffset(rp.Match); err == nil {
					v.LogEndOffset = end
				} else {
					v.LogEndOffset = -1
				}
				if !rp.CaughtUp.IsZero() && kafkaID(rp.ID) != c.self {
					v.LastCaughtUpTimestamp = rp.CaughtUp.UnixMilli()
					v.LastFetchTimestamp = rp.CaughtUp.UnixMilli()
				}
				progress[v.ReplicaID] = v
			}
		}
	}
	voters, observers := c.quorum()
	view := c.view()
	state := func(id int32) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
		v, ok := progress[id]
		if !ok {
			v = kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
			v.ReplicaID, v.LogEndOffset = id, -1
		}
		if dir, ok := view.PeerDirectoryID(id); ok {
			v.ReplicaDirectoryID = [16]byte(dir)
		}
		return v
	}
	slices.Sort(voters)
	slices.Sort(observers)
	for _, id := range voters {
		sp.CurrentVoters = append(sp.CurrentVoters, state(id))
	}
	for _, id := range observers {
		sp.Observers = append(sp.Observers, state(id))
	}
}

// describeSingleQuorum answers DescribeQuorum on a single node: a one-voter
// quorum led by this node.
func (b *Broker) describeSingleQuorum(r *kmsg.DescribeQuorumRequest, resp *kmsg.DescribeQuorumResponse, listener string) {
	self := b.cfg.NodeID
	for _, rt := range r.Topics {
		st := kmsg.NewDescribeQuorumResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDescribeQuorumResponseTopicPartition()
			sp.Partition = rp.Partition
			if rt.Topic != "__cluster_metadata" || rp.Partition != 0 {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			end := int64(b.entities.Version())
			now := b.now().UnixMilli()
			sp.LeaderID, sp.LeaderEpoch, sp.HighWatermark = self, 1, end
			v := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
			v.ReplicaID, v.LogEndOffset = self, end
			v.LastFetchTimestamp, v.LastCaughtUpTimestamp = now, now
			sp.CurrentVoters = append(sp.CurrentVoters, v)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if r.Version < 2 {
		return
	}
	n := kmsg.NewDescribeQuorumResponseNode()
	n.NodeID = self
	if br, ok := b.cluster.broker(self); ok {
		eps := br.endpoints
		if len(eps) == 0 {
			if listener == "" {
				listener = "PLAINTEXT"
			}
			eps = []endpoint{{listener: listener, host: br.host, port: br.port}}
		}
		for _, e := range eps {
			l := kmsg.NewDescribeQuorumResponseNodeListener()
			l.Name, l.Host, l.Port = e.listener, e.host, uint16(e.port)
			n.Listeners = append(n.Listeners, l)
		}
	}
	resp.Nodes = append(resp.Nodes, n)
}
