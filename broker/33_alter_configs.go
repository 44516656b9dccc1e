package broker

// AlterConfigs, key 33, versions 0–2.
//
//   - TOPIC: the listed configs replace the topic's whole override set
//     (Kafka's legacy semantics: a config not listed returns to its
//     default). Each key and value is validated, then the whole set (an
//     unknown key or bad value is INVALID_CONFIG with the reason). The new
//     set is durable before it applies; the partition logs pick up segment
//     and retention settings at once.
//   - BROKER (our node id, or "" for the cluster-wide default): the listed
//     configs replace the resource's whole set of dynamic broker configs,
//     validated with Kafka's rules (dynconfig.go, config.
//     ValidateDynamicBrokerConfigs: keys that are not dynamic, security keys
//     without a listener prefix, per-broker keys at the default are
//     INVALID_REQUEST with Kafka's message), stored durably (replicated in
//     a cluster) and applied: topics without their own override take the
//     new retention, segment, flush, message size ... defaults at once.
//   - GROUP: the listed configs replace the group's GROUP configs
//     (KIP-848), validated as Kafka's GroupConfig (INVALID_CONFIG with
//     Kafka's message); a group name "" is INVALID_REQUEST.
//   - CLIENT_METRICS: the listed configs replace the subscription's
//     (clientmetrics.go); none listed deletes it.
//   - BROKER_LOGGER: INVALID_REQUEST "Unknown resource type 8", as Kafka
//     (log levels change through IncrementalAlterConfigs only).
//   - As Kafka: a resource listed twice, a key listed twice in a resource,
//     or a null value is INVALID_REQUEST.
//   - Every version: ValidateOnly. v2: flexible.

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleAlterConfigs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	alterEachResource(r.Resources,
		func(rr kmsg.AlterConfigsRequestResource) configResource {
			return configResource{rr.ResourceType, rr.ResourceName}
		},
		func(rr kmsg.AlterConfigsRequestResource) error { return b.alterConfigs(ctx, rr, r.ValidateOnly) },
		func(rr kmsg.AlterConfigsRequestResource, code int16, msg *string) {
			sr := kmsg.NewAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			sr.ErrorCode, sr.ErrorMessage = code, msg
			resp.Resources = append(resp.Resources, sr)
		})
	return respond(resp)
}

func (b *Broker) alterConfigs(ctx context.Context, rr kmsg.AlterConfigsRequestResource, validateOnly bool) error {
	set := make(map[string]string, len(rr.Configs))
	names := make([]string, 0, len(rr.Configs))
	var nulls []string
	for _, c := range rr.Configs {
		if _, dup := set[c.Name]; dup {
			return fmt.Errorf("%w: error due to duplicate config keys (%s)", errInvalidRequest, c.Name)
		}
		if c.Value == nil {
			nulls = append(nulls, c.Name)
			set[c.Name] = ""
			continue
		}
		set[c.Name] = *c.Value
		names = append(names, c.Name)
	}
	if len(nulls) > 0 {
		return fmt.Errorf("%w: null value not supported for: %s", errInvalidRequest, strings.Join(nulls, ", "))
	}
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		return b.alterTopicConfigs(rr.ResourceName, func(map[string]string) (map[string]string, error) {
			for _, k := range names {
				v := set[k]
				if err := b.cfg.ValidateTopicConfig(k, &v); err != nil {
					return nil, err
				}
			}
			return set, nil
		}, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		return b.alterBrokerConfigs(ctx, rr.ResourceName, func(map[string]string) (map[string]string, error) { return set, nil }, validateOnly)
	case kmsg.ConfigResourceTypeClientMetrics:
		return b.alterClientMetrics(rr.ResourceName, set, validateOnly)
	case kmsg.ConfigResourceTypeGroupConfig:
		return b.alterGroupConfigs(ctx, rr.ResourceName, func(map[string]string) (map[string]string, error) { return set, nil }, validateOnly)
	}
	return unsupportedAlterResource(rr.ResourceType)
}

func unsupportedAlterResource(typ kmsg.ConfigResourceType) error {
	switch typ {
	case kmsg.ConfigResourceTypeBrokerLogger:
		// Kafka's answer: legacy AlterConfigs never served KIP-412.
		return fmt.Errorf("%w: Unknown resource type %d", errInvalidRequest, int8(typ))
	}
	return fmt.Errorf("%w: unsupported resource type %d", errInvalidRequest, int8(typ))
}
