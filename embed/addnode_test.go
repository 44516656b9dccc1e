package embed_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddNode starts a fourth node that joins as an observer of the metadata
// quorum and registers as a broker; AddRaftVoter makes it a voter; it
// survives a restart.
func TestClusterAddNode(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	i, err := c.AddNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info := c.Node(i); i != 3 || c.Len() != 4 || info.ID != 4 || !info.Running {
		t.Fatalf("AddNode: index %d, %d nodes, node %+v", i, c.Len(), info)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	quorum := func() (voters, observers []int32) {
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(4))
		if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return nil, nil
		}
		p := resp.Topics[0].Partitions[0]
		for _, v := range p.CurrentVoters {
			voters = append(voters, v.ReplicaID)
		}
		for _, o := range p.Observers {
			observers = append(observers, o.ReplicaID)
		}
		return voters, observers
	}
	waitFor(t, "node 4 an observer", func() bool {
		v, o := quorum()
		return slices.Equal(v, []int32{1, 2, 3}) && slices.Equal(o, []int32{4})
	})
	req := kmsg.NewPtrAddRaftVoterRequest()
	req.VoterID, req.TimeoutMillis = 4, 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("AddRaftVoter: %v", err)
	}
	waitFor(t, "four voters", func() bool {
		v, o := quorum()
		return slices.Equal(v, []int32{1, 2, 3, 4}) && len(o) == 0
	})
	if err := c.StopNode(i); err != nil {
		t.Fatal(err)
	}
	if err := c.RestartNode(i); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "four voters after the restart", func() bool {
		v, _ := quorum()
		return slices.Equal(v, []int32{1, 2, 3, 4})
	})
}
