package restproxy_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

// TestV3ConsumerGroupTypes: a KIP-848 consumer group (kgo's server-side
// balancer: ConsumerGroupHeartbeat) is listed and described as kafka-rest
// does, "type": "CONSUMER", with its members, assignments and lags; a
// classic group is "CLASSIC". Before, DescribeGroups alone described the
// KIP-848 group as Dead: missing from the list, 404 on its own.
func TestV3ConsumerGroupTypes(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	base := p.URL + "/v3/clusters/" + cid
	groups := "/v3/clusters/" + cid + "/consumer-groups"
	p.createTopic(t, "t848", 2, nil)
	p.produceN(t, "t848", 6, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, adm := p.kafka(t)

	next, _ := p.kafka(t, kgo.ConsumerGroup("next"), kgo.ConsumeTopics("t848"), kgo.ClientID("c848"),
		kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer(), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	classic, _ := p.kafka(t, kgo.ConsumerGroup("old"), kgo.ConsumeTopics("t848"), kgo.ClientID("c-old"),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	testenv.WaitFor(t, 20*time.Second, "groups next and old to become stable", func() bool {
		for _, cl := range []*kgo.Client{next, classic} {
			fctx, fcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			cl.PollFetches(fctx)
			fcancel()
		}
		d, err := adm.DescribeConsumerGroups(ctx, "next")
		c, err2 := adm.DescribeGroups(ctx, "old")
		return err == nil && err2 == nil && d["next"].State == "Stable" && len(d["next"].Members) == 1 &&
			len(d["next"].Members[0].Assignment["t848"]) == 2 && c["old"].State == "Stable"
	})
	var commitErr error
	next.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{"t848": {0: {Epoch: -1, Offset: 1}, 1: {Epoch: -1, Offset: 0}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
			if err == nil {
				for _, rt := range resp.Topics {
					for _, rp := range rt.Partitions {
						if rp.ErrorCode != 0 {
							t.Errorf("commit %d: error %d", rp.Partition, rp.ErrorCode)
						}
					}
				}
			}
		})
	if commitErr != nil {
		t.Fatal(commitErr)
	}

	r := p.do(t, "GET", groups, nil)
	wantStatus(t, r, http.StatusOK)
	v := r.JSON(t)
	wantFields(t, v, map[string]string{
		"data.0.consumer_group_id": "next", "data.0.type": "CONSUMER", "data.0.state": "STABLE",
		"data.1.consumer_group_id": "old", "data.1.type": "CLASSIC",
	})

	r = p.do(t, "GET", groups+"/next", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"kind": "KafkaConsumerGroup", "consumer_group_id": "next", "type": "CONSUMER",
		"state": "STABLE", "partition_assignor": "range"})
	if field(v, "is_simple") != false || field(v, "is_mixed_consumer_group") != false {
		t.Errorf("group: %s", r.Body)
	}

	r = p.do(t, "GET", groups+"/next/consumers", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"data.0.client_id": "c848", "data.0.consumer_group_id": "next"})
	member, _ := field(v, "data", "0", "consumer_id").(string)
	if member == "" {
		t.Fatalf("consumers: %s", r.Body)
	}

	assignments := groups + "/next/consumers/" + member + "/assignments"
	r = p.do(t, "GET", assignments, nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{
		"kind": "KafkaConsumerAssignmentList", "metadata.self": p.URL + assignments,
		"data.0.kind": "KafkaConsumerAssignment", "data.0.topic_name": "t848", "data.0.consumer_id": member,
		"data.0.metadata.self":          p.URL + assignments + "/t848/partitions/0",
		"data.0.metadata.resource_name": "crn:///kafka=" + cid + "/consumer-group=next/consumer=" + member + "/assignment=t848/partition=0",
		"data.0.partition.related":      base + "/topics/t848/partitions/0",
		"data.1.metadata.self":          p.URL + assignments + "/t848/partitions/1",
	})
	r = p.do(t, "GET", assignments+"/t848/partitions/1", nil)
	wantStatus(t, r, http.StatusOK)
	if field(r.JSON(t), "partition_id") != 1.0 {
		t.Errorf("assignment: %s", r.Body)
	}
	wantError(t, p.do(t, "GET", assignments+"/t848/partitions/9", nil), 404, 404)
	wantError(t, p.do(t, "GET", groups+"/next/consumers/nobody/assignments", nil), 404, 404)

	r = p.do(t, "GET", groups+"/next/lags", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"data.0.consumer_id": member, "data.0.client_id": "c848"})
	if n := len(field(v, "data").([]any)); n != 2 {
		t.Errorf("lags: %s", r.Body)
	}
	r = p.do(t, "GET", groups+"/next/lag-summary", nil)
	wantStatus(t, r, http.StatusOK)
	wantFields(t, r.JSON(t), map[string]string{"max_lag_consumer_id": member})

	// The classic group's consumers and assignments.
	r = p.do(t, "GET", groups+"/old/consumers", nil)
	wantStatus(t, r, http.StatusOK)
	oldMember, _ := field(r.JSON(t), "data", "0", "consumer_id").(string)
	r = p.do(t, "GET", groups+"/old/consumers/"+oldMember+"/assignments", nil)
	wantStatus(t, r, http.StatusOK)
	if n := len(field(r.JSON(t), "data").([]any)); n != 2 {
		t.Errorf("classic assignments: %s", r.Body)
	}
}
