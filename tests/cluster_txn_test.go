package tests

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

// ask sends the request mk builds until code (its error code) is 0, or
// UNSTABLE_OFFSET_COMMIT when stableOK, retrying connection errors and
// retriable codes (a coordinator moving or loading) for up to 60 s.
func ask[R kmsg.Response](t *testing.T, cl *kgo.Client, what string, mk func() kmsg.Request, code func(R) int16) R {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := cl.Request(ctx, mk())
		cancel()
		if err == nil {
			r := resp.(R)
			c := code(r)
			if c == 0 {
				return r
			}
			if e := kerr.ErrorForCode(c); !kerr.IsRetriable(e) {
				t.Fatalf("%s: %v", what, e)
			}
			err = kerr.ErrorForCode(c)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// coordinatorOf is the node FindCoordinator names for key.
func coordinatorOf(t *testing.T, cl *kgo.Client, key string, typ int8) int32 {
	t.Helper()
	r := ask(t, cl, "FindCoordinator "+key, func() kmsg.Request {
		r := kmsg.NewPtrFindCoordinatorRequest()
		r.CoordinatorKey, r.CoordinatorKeys, r.CoordinatorType = key, []string{key}, typ
		return r
	}, func(r *kmsg.FindCoordinatorResponse) int16 {
		if len(r.Coordinators) > 0 {
			return r.Coordinators[0].ErrorCode
		}
		return r.ErrorCode
	})
	if len(r.Coordinators) > 0 {
		return r.Coordinators[0].NodeID
	}
	return r.NodeID
}

// TestClusterTxnOffsetsKill9GroupCoordinator: three processes; the group
// coordinator's node is killed with SIGKILL between a TxnOffsetCommit and
// the EndTxn that commits it. The new leader of the group's
// __consumer_offsets partition has the offsets pending
// (UNSTABLE_OFFSET_COMMIT with require_stable), the commit marker reaches
// it, and the offsets are the group's after; they are still the group's
// after the killed node comes back.
func TestClusterTxnOffsetsKill9GroupCoordinator(t *testing.T) {
	testenv.SkipIfShort(t, "three processes")
	c := startProcCluster(t)
	const topic = "cluster-txn-offsets"
	c.createReplicatedTopic(topic, 1)
	cl := c.client()
	var group, id string
	var gn int32
	for i := 0; group == ""; i++ {
		g, x := "kill9-group-"+strconv.Itoa(i), "kill9-txn-"+strconv.Itoa(i)
		gn = coordinatorOf(t, cl, g, 0)
		if tn := coordinatorOf(t, cl, x, 1); tn != gn {
			group, id = g, x
			t.Logf("group coordinator node %d, transaction coordinator node %d", gn, tn)
		}
	}
	ip := ask(t, cl, "InitProducerId", func() kmsg.Request {
		r := kmsg.NewPtrInitProducerIDRequest()
		r.TransactionalID, r.TransactionTimeoutMillis = kmsg.StringPtr(id), 120000
		return r
	}, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode })
	pid, epoch := ip.ProducerID, ip.ProducerEpoch
	ask(t, cl, "AddOffsetsToTxn", func() kmsg.Request {
		r := kmsg.NewPtrAddOffsetsToTxnRequest()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group = id, pid, epoch, group
		return r
	}, func(r *kmsg.AddOffsetsToTxnResponse) int16 { return r.ErrorCode })
	topicID := metadataTopicID(context.Background(), t, cl, topic) // TxnOffsetCommit v6 names topics by id
	ask(t, cl, "TxnOffsetCommit", func() kmsg.Request {
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = id, group, pid, epoch, -1
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = topic, topicID
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 42
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return r
	}, func(r *kmsg.TxnOffsetCommitResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode })

	victim := c.node(gn)
	victim.kill9()
	t.Logf("killed node %d", gn)
	var live []string
	for _, n := range c.nodes {
		if n != victim {
			live = append(live, n.addr)
		}
	}
	// A client that knows only the live nodes: franz-go keeps asking a
	// group coordinator it cannot dial.
	cl2 := newClient(t, live[0], kgo.SeedBrokers(live...), kgo.MetadataMinAge(100*time.Millisecond))
	fetch := func(what string) (int64, int16) {
		t.Helper()
		var off int64
		var code int16
		ask(t, cl2, what, func() kmsg.Request {
			r := kmsg.NewPtrOffsetFetchRequest()
			r.RequireStable = true
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = group
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = topic, []int32{0}
			g.Topics = append(g.Topics, gt)
			r.Groups = append(r.Groups, g)
			return r
		}, func(r *kmsg.OffsetFetchResponse) int16 {
			if c := r.Groups[0].ErrorCode; c != 0 {
				return c
			}
			p := r.Groups[0].Topics[0].Partitions[0]
			off, code = p.Offset, p.ErrorCode
			if code == kerr.UnstableOffsetCommit.Code {
				return 0 // an answer: the offset is pending
			}
			return code
		})
		return off, code
	}
	if off, code := fetch("OffsetFetch after the kill"); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("after the kill: offset %d (%v), want UNSTABLE_OFFSET_COMMIT: the pending offsets were lost", off, kerr.ErrorForCode(code))
	}
	ask(t, cl2, "EndTxn", func() kmsg.Request {
		r := kmsg.NewPtrEndTxnRequest()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit = id, pid, epoch, true
		return r
	}, func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode })
	if off, code := fetch("OffsetFetch after the commit"); off != 42 || code != 0 {
		t.Fatalf("after the commit: offset %d (%v), want 42", off, kerr.ErrorForCode(code))
	}
	victim.start()
	c.waitFullISR("__consumer_offsets", 50, "after the restart")
	if off, code := fetch("OffsetFetch after the restart"); off != 42 || code != 0 {
		t.Fatalf("after the killed node's restart: offset %d (%v), want 42", off, kerr.ErrorForCode(code))
	}
}
