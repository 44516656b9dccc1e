package broker

// IncrementalAlterConfigs, key 44, versions 0–1.
//
//   - TOPIC: each op edits one override: SET (0) sets it, DELETE (1)
//     removes it (back to the default), APPEND (2) and SUBTRACT (3) add or
//     remove comma-separated elements of a LIST config (cleanup.policy,
//     *.replication.throttled.replicas), starting from the override or else
//     the current default; on other configs they are INVALID_CONFIG, as in
//     Kafka. The resulting set is validated as a whole (INVALID_CONFIG with
//     the reason), made durable, then applied to the partition logs.
//   - BROKER (our node id, or "" for the cluster-wide default) and GROUP:
//     the ops edit the resource's dynamic configs the same way (APPEND and
//     SUBTRACT start from the current effective value); the result is
//     validated, stored and applied as AlterConfigs does (33_alter_configs.go).
//   - CLIENT_METRICS: the ops edit a client-metrics subscription
//     (clientmetrics.go); deleting its last config deletes it.
//   - BROKER_LOGGER (our node id): SET changes the log level of the
//     "root" logger at once, with Kafka's levels and refusals; not durable
//     (brokerlogger.go).
//   - As Kafka: a resource listed twice, a key twice in one resource, a
//     null value for an op other than DELETE, or an unknown op is
//     INVALID_REQUEST.
//   - Every version: ValidateOnly. v1: flexible.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	alterEachResource(r.Resources,
		func(rr kmsg.IncrementalAlterConfigsRequestResource) configResource {
			return configResource{rr.ResourceType, rr.ResourceName}
		},
		func(rr kmsg.IncrementalAlterConfigsRequestResource) error {
			return b.incrementalAlterConfigs(ctx, rr, r.ValidateOnly)
		},
		func(rr kmsg.IncrementalAlterConfigsRequestResource, code int16, msg *string) {
			sr := kmsg.NewIncrementalAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			sr.ErrorCode, sr.ErrorMessage = code, msg
			resp.Resources = append(resp.Resources, sr)
		})
	return respond(resp)
}

func (b *Broker) incrementalAlterConfigs(ctx context.Context, rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	seen := make(map[string]bool, len(rr.Configs))
	var nulls []string
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return fmt.Errorf("%w: error due to duplicate config keys (%s)", errInvalidRequest, c.Name)
		}
		seen[c.Name] = true
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if c.Value == nil {
				nulls = append(nulls, c.Name)
			}
		case kmsg.IncrementalAlterConfigOpDelete:
		default:
			return fmt.Errorf("%w: unknown alter config operation %d for %s", errInvalidRequest, int8(c.Op), c.Name)
		}
	}
	if len(nulls) > 0 {
		return fmt.Errorf("%w: null value not supported for: %s", errInvalidRequest, strings.Join(nulls, ", "))
	}
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		return b.alterTopicConfigs(rr.ResourceName, func(overrides map[string]string) (map[string]string, error) {
			if overrides == nil {
				overrides = map[string]string{}
			}
			for _, c := range rr.Configs {
				if err := b.applyConfigOp(overrides, c); err != nil {
					return nil, err
				}
			}
			return overrides, nil
		}, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		return b.alterBrokerConfigs(ctx, rr.ResourceName, func(cur map[string]string) (map[string]string, error) {
			return applyDynamicOps(cur, rr.Configs, "Config value %[2]s is not allowed for config key: %[1]s", func(name string) (string, bool) {
				es := b.config().DescribeBrokerConfigs([]string{name}, false, false)
				if len(es) != 1 || es[0].Value == nil {
					return "", es != nil && len(es) == 1 && es[0].Type == config.TypeList
				}
				return *es[0].Value, es[0].Type == config.TypeList
			})
		}, validateOnly)
	case kmsg.ConfigResourceTypeBrokerLogger:
		return b.alterBrokerLogger(rr.ResourceName, rr.Configs, validateOnly)
	case kmsg.ConfigResourceTypeClientMetrics:
		return b.incrementalAlterClientMetrics(rr.ResourceName, rr.Configs, validateOnly)
	case kmsg.ConfigResourceTypeGroupConfig:
		return b.alterGroupConfigs(ctx, rr.ResourceName, func(cur map[string]string) (map[string]string, error) {
			return applyDynamicOps(cur, rr.Configs, "Can't %[3]s to key %[1]s because its type is not LIST.", func(name string) (string, bool) {
				es := b.config().DescribeGroupConfigs(cur, []string{name}, false, false)
				if len(es) != 1 || es[0].Value == nil {
					return "", false
				}
				return *es[0].Value, es[0].Type == config.TypeList
			})
		}, validateOnly)
	}
	return unsupportedAlterResource(rr.ResourceType)
}

// applyDynamicOps applies incremental ops to a BROKER or GROUP resource's
// configs. current gives a config's effective value and whether it is a
// LIST (APPEND and SUBTRACT start from it; on any other type they are
// INVALID_CONFIG with Kafka's message notList, a format of the config name,
// the op in lower case and in upper case).
func applyDynamicOps(cur map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, notList string, current func(string) (string, bool)) (map[string]string, error) {
	for _, c := range ops {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(cur, c.Name)
		case kmsg.IncrementalAlterConfigOpSet:
			cur[c.Name] = *c.Value
		default: // APPEND, SUBTRACT
			v, isList := current(c.Name)
			if !isList {
				return nil, &config.InvalidConfigError{Name: c.Name, Value: *c.Value,
					Message: fmt.Sprintf(notList, c.Name, strings.ToLower(c.Op.String()), c.Op.String())}
			}
			if s, ok := cur[c.Name]; ok {
				v = s
			}
			elems := splitConfigList(v)
			for _, e := range splitConfigList(*c.Value) {
				if c.Op == kmsg.IncrementalAlterConfigOpAppend {
					if !slices.Contains(elems, e) {
						elems = append(elems, e)
					}
				} else {
					elems = slices.DeleteFunc(elems, func(x string) bool { return x == e })
				}
			}
			cur[c.Name] = strings.Join(elems, ",")
		}
	}
	return cur, nil
}

// applyConfigOp applies one incremental op to a topic's overrides, checking
// the key and (for SET, APPEND, SUBTRACT) the resulting value.
func (b *Broker) applyConfigOp(overrides map[string]string, c kmsg.IncrementalAlterConfigsRequestResourceConfig) error {
	def, ok := config.LookupTopicConfig(c.Name)
	if !ok {
		return b.cfg.ValidateTopicConfig(c.Name, nil) // the unknown-config error
	}
	var value string
	switch c.Op {
	case kmsg.IncrementalAlterConfigOpDelete:
		delete(overrides, c.Name)
		return nil
	case kmsg.IncrementalAlterConfigOpSet:
		value = *c.Value
	default: // APPEND, SUBTRACT
		if def.Type != config.TypeList {
			return &config.InvalidConfigError{Name: c.Name, Value: *c.Value,
				Reason: fmt.Sprintf("can't %s to key %s because its type is not LIST", c.Op, c.Name)}
		}
		current, ok := overrides[c.Name]
		if !ok {
			// The current default, as Kafka starts from the default value.
			if es := b.config().DescribeTopicConfigs(nil, []string{c.Name}, false, false); len(es) == 1 && es[0].Value != nil {
				current = *es[0].Value
			}
		}
		elems := splitConfigList(current)
		for _, e := range splitConfigList(*c.Value) {
			if c.Op == kmsg.IncrementalAlterConfigOpAppend {
				if !slices.Contains(elems, e) {
					elems = append(elems, e)
				}
			} else {
				elems = slices.DeleteFunc(elems, func(x string) bool { return x == e })
			}
		}
		value = strings.Join(elems, ",")
	}
	if err := b.cfg.ValidateTopicConfig(c.Name, &value); err != nil {
		return err
	}
	overrides[c.Name] = value
	return nil
}

// splitConfigList splits a LIST config value as Kafka does: on commas,
// trimming elements and dropping empty ones.
func splitConfigList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
