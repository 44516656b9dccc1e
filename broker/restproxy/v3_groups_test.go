package restproxy_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/moldau/moldau/broker/webclient"
	"github.com/moldau/moldau/embed"
	"github.com/moldau/moldau/internal/testenv"
)

func TestV3ConsumerGroups(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	base := p.URL + "/v3/clusters/" + cid
	groups := "/v3/clusters/" + cid + "/consumer-groups"
	p.createTopic(t, "lagging", 2, nil)
	cl, adm := p.kafka(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 10 {
		rec := &kgo.Record{Topic: "lagging", Partition: int32(i % 2), Value: []byte("v")}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, "lagging")
	if err != nil {
		t.Fatal(err)
	}
	end0, _ := ends.Lookup("lagging", 0)
	end1, _ := ends.Lookup("lagging", 1)

	// A live member of group "live" (so consumers and assignments show).
	member, _ := p.kafka(t, kgo.ConsumerGroup("live"), kgo.ConsumeTopics("lagging"), kgo.ClientID("client-1"),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	testenv.WaitFor(t, 20*time.Second, "group live to become stable", func() bool {
		fctx, fcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		member.PollFetches(fctx)
		fcancel()
		d, err := adm.DescribeGroups(ctx, "live")
		return err == nil && d["live"].State == "Stable" && len(d["live"].Members) == 1
	})
	// Commit 1 on partition 0 and 3 on partition 1.
	offs := map[string]map[int32]kgo.EpochOffset{"lagging": {0: {Epoch: -1, Offset: 1}, 1: {Epoch: -1, Offset: 3}}}
	var commitErr error
	member.CommitOffsetsSync(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
	})
	if commitErr != nil {
		t.Fatal(commitErr)
	}

	r := p.do(t, "GET", groups, nil)
	wantStatus(t, r, http.StatusOK)
	v := r.JSON(t)
	wantFields(t, v, map[string]string{
		"kind": "KafkaConsumerGroupList", "metadata.self": base + "/consumer-groups",
		"data.0.kind": "KafkaConsumerGroup", "data.0.consumer_group_id": "live",
	})
	r = p.do(t, "GET", groups+"/live", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{
		"kind": "KafkaConsumerGroup", "cluster_id": cid, "consumer_group_id": "live", "state": "STABLE",
		"metadata.self": base + "/consumer-groups/live", "metadata.resource_name": "crn:///kafka=" + cid + "/consumer-group=live",
		"consumers.related": base + "/consumer-groups/live/consumers", "lag_summary.related": base + "/consumer-groups/live/lag-summary",
	})
	if field(v, "is_simple") != false || field(v, "partition_assignor") == "" {
		t.Errorf("group: %s", r.Body)
	}
	if c, _ := field(v, "coordinator", "related").(string); !strings.HasPrefix(c, base+"/brokers/") {
		t.Errorf("coordinator %q", c)
	}
	wantError(t, p.do(t, "GET", groups+"/nope", nil), http.StatusNotFound, 404)

	r = p.do(t, "GET", groups+"/live/consumers", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"kind": "KafkaConsumerList", "data.0.kind": "KafkaConsumer", "data.0.client_id": "client-1", "data.0.consumer_group_id": "live"})
	memberID, _ := field(v, "data", "0", "consumer_id").(string)
	r = p.do(t, "GET", groups+"/live/consumers/"+memberID, nil)
	wantStatus(t, r, http.StatusOK)
	wantFields(t, r.JSON(t), map[string]string{"consumer_id": memberID, "assignments.related": base + "/consumer-groups/live/consumers/" + memberID + "/assignments"})
	wantError(t, p.do(t, "GET", groups+"/live/consumers/nobody", nil), http.StatusNotFound, 404)

	lag0, lag1 := float64(end0.Offset-1), float64(end1.Offset-3)
	r = p.do(t, "GET", groups+"/live/lags", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"kind": "KafkaConsumerLagList", "data.0.kind": "KafkaConsumerLag", "data.0.consumer_id": memberID, "data.0.client_id": "client-1"})
	// Sorted by lag, descending: partition 0 (lag 4) before 1 (lag 2).
	if field(v, "data", "0", "partition_id") != 0.0 || field(v, "data", "0", "lag") != lag0 || field(v, "data", "0", "current_offset") != 1.0 ||
		field(v, "data", "0", "log_end_offset") != float64(end0.Offset) || field(v, "data", "1", "lag") != lag1 {
		t.Errorf("lags: %s", r.Body)
	}
	r = p.do(t, "GET", groups+"/live/lags/lagging/partitions/1", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"metadata.self": base + "/consumer-groups/live/lags/lagging/partitions/1",
		"metadata.resource_name": "crn:///kafka=" + cid + "/consumer-group=live/lag=lagging/partition=1"})
	if field(v, "lag") != lag1 {
		t.Errorf("lag: %s", r.Body)
	}
	wantError(t, p.do(t, "GET", groups+"/live/lags/lagging/partitions/7", nil), http.StatusNotFound, 404)

	r = p.do(t, "GET", groups+"/live/lag-summary", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{
		"kind": "KafkaConsumerGroupLagSummary", "max_lag_topic_name": "lagging", "max_lag_consumer_id": memberID, "max_lag_client_id": "client-1",
		"metadata.resource_name":    "crn:///kafka=" + cid + "/consumer-group=live/lag-summary",
		"max_lag_consumer.related":  base + "/consumer-groups/live/consumers/" + memberID,
		"max_lag_partition.related": base + "/topics/lagging/partitions/0",
	})
	if field(v, "max_lag") != lag0 || field(v, "total_lag") != lag0+lag1 || field(v, "max_lag_partition_id") != 0.0 {
		t.Errorf("lag summary: %s", r.Body)
	}
	wantError(t, p.do(t, "GET", groups+"/nope/lag-summary", nil), http.StatusNotFound, 404)
}

// TestV3Authentication: with a SASL listener behind the pool, requests
// need Basic credentials the broker accepts.
func TestV3Authentication(t *testing.T) {
	p := newProxy(t,
		withEmbed(embed.WithListeners(embed.Listener{Name: "SASL_PLAINTEXT"}), embed.WithSASLUser(embed.MechanismPlain, "alice", "alice-secret")),
		withPool(func(c *webclient.Config, b *embed.Broker) {
			c.Opts = []kgo.Opt{kgo.SeedBrokers(b.ListenerAddr("SASL_PLAINTEXT"))}
			c.AuthRequired = true
			c.Mechanism = func(cr webclient.Credentials) sasl.Mechanism {
				return plain.Auth{User: cr.User, Pass: cr.Password}.AsMechanism()
			}
		}))
	r := p.do(t, "GET", "/v3/clusters", nil)
	wantError(t, r, http.StatusUnauthorized, 401)
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without a WWW-Authenticate challenge")
	}
	wantError(t, p.do(t, "GET", "/v3/clusters", nil, "Authorization", basic("alice", "wrong")), http.StatusUnauthorized, 40101)
	r = p.do(t, "GET", "/v3/clusters", nil, "Authorization", basic("alice", "alice-secret"))
	wantStatus(t, r, http.StatusOK)
	wantFields(t, r.JSON(t), map[string]string{"kind": "KafkaClusterList"})
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}
