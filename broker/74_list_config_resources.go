package broker

// ListConfigResources, key 74, versions 0–1 (KIP-1142; v0 was
// ListClientMetricsResources).
//
//   - v0: the client-metrics resources (their names; the type field is v1+).
//   - v1: the resources of the requested types, all of TOPIC, BROKER,
//     BROKER_LOGGER, GROUP and CLIENT_METRICS when none is named, in Kafka
//     4.4's order (KafkaApis.handleListConfigResources): GROUP (the groups
//     with GROUP configs, not every group), CLIENT_METRICS, BROKER_LOGGER
//     and BROKER (every registered broker's id), TOPIC (every topic,
//     internal ones included). Any other type: UNSUPPORTED_VERSION, as
//     Kafka answers.
//   - Authorisation (authorize_apis.go): DESCRIBE_CONFIGS on the cluster,
//     else CLUSTER_AUTHORIZATION_FAILED.
//   - v1: flexible (both versions are).

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleListConfigResources(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ListConfigResourcesRequest)
	resp := r.ResponseKind().(*kmsg.ListConfigResourcesResponse)
	want := map[kmsg.ConfigResourceType]bool{}
	supported := []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeClientMetrics}
	if r.Version >= 1 {
		supported = []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBroker,
			kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeGroupConfig, kmsg.ConfigResourceTypeClientMetrics}
	}
	if r.Version == 0 || len(r.ResourceTypes) == 0 {
		for _, t := range supported {
			want[t] = true
		}
	} else {
		for _, t := range r.ResourceTypes {
			typ := kmsg.ConfigResourceType(t)
			ok := false
			for _, s := range supported {
				ok = ok || s == typ
			}
			if !ok {
				resp.ErrorCode = kerr.UnsupportedVersion.Code
				return respond(resp)
			}
			want[typ] = true
		}
	}
	add := func(typ kmsg.ConfigResourceType, name string) {
		c := kmsg.NewListConfigResourcesResponseConfigResource()
		c.Name, c.Type = name, int8(typ)
		resp.ConfigResources = append(resp.ConfigResources, c)
	}
	if want[kmsg.ConfigResourceTypeGroupConfig] {
		for _, e := range b.entities.List(entityGroupConfig) {
			add(kmsg.ConfigResourceTypeGroupConfig, e.Key)
		}
	}
	if want[kmsg.ConfigResourceTypeClientMetrics] {
		for _, name := range b.clientMetricsResources() {
			add(kmsg.ConfigResourceTypeClientMetrics, name)
		}
	}
	for _, typ := range []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeBroker} {
		if want[typ] {
			for _, n := range b.cluster.brokers() {
				add(typ, strconv.Itoa(int(n.id)))
			}
		}
	}
	if want[kmsg.ConfigResourceTypeTopic] {
		for _, t := range b.topics.all() {
			add(kmsg.ConfigResourceTypeTopic, t.name)
		}
	}
	return respond(resp)
}
