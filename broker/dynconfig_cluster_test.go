package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDynamicConfigsCluster: in a three-node cluster, a cluster-wide
// default set through one broker applies on every broker (the metadata
// log carries it), a per-broker value on its broker only, a GROUP config
// everywhere; a restarted node gets them back from the log.
func TestDynamicConfigsCluster(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tc.createKnownTopic(ctx, adm, "dyn", 1)

	alter := func(broker int32, configs ...kadm.AlterConfig) {
		t.Helper()
		var brokers []int32 // none: the cluster default
		if broker >= 0 {
			brokers = append(brokers, broker)
		}
		res, err := adm.AlterBrokerConfigs(ctx, configs, brokers...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("alter broker %d: %v %s", broker, r.Err, r.ErrMessage)
			}
		}
	}
	v := func(s string) *string { return &s }
	alter(-1, kadm.AlterConfig{Name: "log.retention.ms", Value: v("5000")})
	alter(2, kadm.AlterConfig{Name: "log.retention.ms", Value: v("6000")})
	want := []int64{5000, 6000, 5000}
	settled := func() bool {
		for i, b := range tc.brokers {
			if b.topics.get("dyn").settings().RetentionMs != want[i] {
				return false
			}
		}
		return true
	}
	tc.waitFor("every broker to apply the dynamic retention", settled)

	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "g"
	rr.Configs = append(rr.Configs, op(kmsg.IncrementalAlterConfigOpSet, "consumer.session.timeout.ms", v("50000")))
	req.Resources = append(req.Resources, rr)
	gres, err := req.RequestWith(ctx, cl)
	if err != nil || gres.Resources[0].ErrorCode != 0 {
		t.Fatalf("group configs: %v %+v", err, gres)
	}
	tc.waitFor("every broker to resolve the group's session timeout", func() bool {
		for _, b := range tc.brokers {
			if b.groupSettings("g").ConsumerSessionTimeout != 50*time.Second {
				return false
			}
		}
		return true
	})

	tc.stop(2)
	tc.start(2)
	tc.waitFor("the restarted node to apply the dynamic configs again", func() bool {
		t := tc.brokers[2].topics.get("dyn")
		return t != nil && settled() && tc.brokers[2].groupSettings("g").ConsumerSessionTimeout == 50*time.Second
	})
}
