package broker

// DescribeConfigs, key 32, versions 0–4.
//
//   - TOPIC: every topic config with its value and source (the topic's
//     override, a broker property set in the properties, or Kafka's
//     default). Unknown topic: UNKNOWN_TOPIC_OR_PARTITION; an illegal name:
//     INVALID_TOPIC_EXCEPTION.
//   - BROKER named by our node id: the broker properties Moldau supports
//     with their effective values (dynamic ones included, source
//     DYNAMIC_BROKER_CONFIG or DYNAMIC_DEFAULT_BROKER_CONFIG), read-only
//     unless Kafka updates them dynamically, and the dynamic configs Moldau
//     only stores. BROKER "": the cluster-wide dynamic defaults set, as
//     Kafka. Another id: INVALID_REQUEST, as Kafka.
//   - BROKER_LOGGER named by our node id: one logger, "root", at the level
//     Moldau logs at now, source DYNAMIC_BROKER_LOGGER_CONFIG, not
//     read-only (IncrementalAlterConfigs changes it; brokerlogger.go).
//   - CLIENT_METRICS: a client-metrics subscription's configs
//     (clientmetrics.go).
//   - GROUP: every GROUP config of Kafka 4.4 (internal ones only when set),
//     the group's own value (GROUP_CONFIG) or the broker's group.* default;
//     the group need not exist. Name "": INVALID_REQUEST.
//   - Unknown types: INVALID_REQUEST with a message (not served).
//   - ConfigNames nil or empty means all; unknown names are skipped.
//   - v0: IsDefault (source is DEFAULT_CONFIG) instead of a source.
//     v1+: source, and synonyms if IncludeSynonyms: Kafka's list and order
//     (ConfigHelper.configSynonyms; see config.brokerSynonyms), which for a
//     topic's retention.ms names no broker default nobody set.
//     v3+: config type, and documentation if IncludeDocumentation.
//     v4: flexible.

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeConfigs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		keys := rr.ConfigNames
		if len(keys) == 0 {
			keys = nil
		}
		entries, err := b.describeConfigs(rr.ResourceType, rr.ResourceName, keys, r.IncludeSynonyms, r.IncludeDocumentation)
		if err != nil {
			sr.ErrorCode = adminRequestErrorCode(err)
			sr.ErrorMessage = errMessage(err)
			sr.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		sr.Configs = make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
		for _, e := range entries {
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value = e.Name, e.Value
			c.ReadOnly, c.IsSensitive = e.ReadOnly, e.Sensitive
			c.Source = kmsg.ConfigSource(e.Source)
			c.IsDefault = e.Source == config.SourceDefault
			c.ConfigType = kmsg.ConfigType(e.Type)
			if r.IncludeDocumentation && e.Doc != "" {
				c.Documentation = kmsg.StringPtr(e.Doc)
			}
			for _, s := range e.Synonyms {
				cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				cs.Name, cs.Value, cs.Source = s.Name, s.Value, kmsg.ConfigSource(s.Source)
				c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
			}
			sr.Configs = append(sr.Configs, c)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return respond(resp)
}

// describeConfigs reports the configs of one resource; keys nil means all.
func (b *Broker) describeConfigs(typ kmsg.ConfigResourceType, name string, keys []string, synonyms, docs bool) ([]config.ConfigEntry, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if !validTopicName(name) {
			return nil, fmt.Errorf("%w: %q", errInvalidTopic, name)
		}
		t := b.topics.get(name)
		if t == nil {
			return nil, fmt.Errorf("%w: %q", errUnknownTopic, name)
		}
		return b.config().DescribeTopicConfigs(t.state.Load().overrides, keys, synonyms, docs), nil
	case kmsg.ConfigResourceTypeBroker:
		return b.describeBrokerConfigs(name, keys, synonyms, docs)
	case kmsg.ConfigResourceTypeGroupConfig:
		return b.describeGroupConfigs(name, keys, synonyms, docs)
	case kmsg.ConfigResourceTypeBrokerLogger:
		return b.describeBrokerLogger(name, keys)
	case kmsg.ConfigResourceTypeClientMetrics:
		return b.describeClientMetrics(name, keys, docs)
	}
	return nil, fmt.Errorf("%w: %s config resources are not supported by Moldau (type %d)", errInvalidRequest, typ, int8(typ))
}

// checkBrokerResource checks that a BROKER or BROKER_LOGGER resource names
// this node, with Kafka's messages.
func (b *Broker) checkBrokerResource(name string) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return fmt.Errorf("%w: broker id must be an integer, but it is: %s", errInvalidRequest, name)
	}
	if int32(id) != b.cfg.NodeID {
		return fmt.Errorf("%w: unexpected broker id, expected %d or empty string, but received %s", errInvalidRequest, b.cfg.NodeID, name)
	}
	return nil
}

func wantedKey(keys []string, name string) bool {
	if keys == nil {
		return true
	}
	for _, k := range keys {
		if k == name {
			return true
		}
	}
	return false
}
