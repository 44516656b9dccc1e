package broker

// Client-metrics subscriptions (KIP-714): Kafka's CLIENT_METRICS config
// resources, one entity of kind entityClientMetrics per resource (the
// subscription's name), holding its configs (metrics, interval.ms, match)
// in the format below. DescribeConfigs, AlterConfigs and
// IncrementalAlterConfigs call the functions here for resource type 16;
// ListConfigResources lists clientMetricsResources.
//
// Entity value, version 0 (broker/telemetry/FORMAT.md):
//
//	byte    version (0)
//	uvarint count
//	count × (uvarint len, key bytes, uvarint len, value bytes), keys strictly ascending
//
// A subscription whose every config is deleted is removed.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/telemetry"
)

const clientMetricsFormatVersion = 0

var errBadClientMetricsEntity = errors.New("broker: malformed client-metrics entity")

func encodeClientMetrics(configs map[string]string) []byte {
	b := []byte{clientMetricsFormatVersion}
	b = binary.AppendUvarint(b, uint64(len(configs)))
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(configs[k])))
		b = append(b, configs[k]...)
	}
	return b
}

func decodeClientMetrics(value []byte) (map[string]string, error) {
	b := value
	if len(b) == 0 || b[0] != clientMetricsFormatVersion {
		return nil, fmt.Errorf("%w: unknown version", errBadClientMetricsEntity)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: count", errBadClientMetricsEntity)
	}
	b = b[k:]
	str := func() (string, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		return s, true
	}
	out := make(map[string]string, n)
	prev := ""
	for i := range n {
		key, ok1 := str()
		val, ok2 := str()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: truncated", errBadClientMetricsEntity)
		}
		if i > 0 && key <= prev {
			return nil, fmt.Errorf("%w: keys not ascending", errBadClientMetricsEntity)
		}
		out[key], prev = val, key
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadClientMetricsEntity, len(b))
	}
	if !bytes.Equal(encodeClientMetrics(out), value) {
		return nil, fmt.Errorf("%w: not in canonical form", errBadClientMetricsEntity) // an overlong uvarint
	}
	return out, nil
}

// clientMetricsConfigs returns the stored configs of a subscription (nil
// when there is none).
func (b *Broker) clientMetricsConfigs(name string) (map[string]string, error) {
	raw, ok := b.entities.Get(entityClientMetrics, name)
	if !ok {
		return nil, nil
	}
	return decodeClientMetrics(raw)
}

// clientMetricsResources lists the client-metrics resource names, sorted
// (for ListConfigResources).
func (b *Broker) clientMetricsResources() []string {
	es := b.entities.List(entityClientMetrics)
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Key)
	}
	return out
}

// clientMetricsTypes are the config types DescribeConfigs reports.
var clientMetricsTypes = map[string]int8{
	telemetry.KeyMetrics: config.TypeList, telemetry.KeyInterval: config.TypeInt, telemetry.KeyMatch: config.TypeList,
}

var clientMetricsDocs = map[string]string{
	telemetry.KeyMetrics:  "The telemetry metric name prefixes to push; * is every metric.",
	telemetry.KeyInterval: "The client metrics push interval in milliseconds (100 to 3600000).",
	telemetry.KeyMatch:    "The client matching patterns, selector=regex: client_instance_id, client_id, client_software_name, client_software_version, client_source_address, client_source_port.",
}

// describeClientMetrics answers DescribeConfigs for a CLIENT_METRICS
// resource: the configs the subscription has set, source
// CLIENT_METRICS_CONFIG (none for an unknown name, as Kafka). An empty
// name is INVALID_REQUEST.
func (b *Broker) describeClientMetrics(name string, keys []string, docs bool) ([]config.ConfigEntry, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: client metrics subscription name must not be empty", errInvalidRequest)
	}
	set, err := b.clientMetricsConfigs(name)
	if err != nil {
		return nil, err
	}
	out := []config.ConfigEntry{}
	for _, k := range telemetry.Keys {
		v, ok := set[k]
		if !ok || !wantedKey(keys, k) {
			continue
		}
		e := config.ConfigEntry{Name: k, Value: &v, Source: config.SourceClientMetrics, Type: clientMetricsTypes[k]}
		if docs {
			e.Doc = clientMetricsDocs[k]
		}
		out = append(out, e)
	}
	return out, nil
}

// alterClientMetrics replaces (AlterConfigs) a subscription's configs.
func (b *Broker) alterClientMetrics(name string, set map[string]string, validateOnly bool) error {
	return b.editClientMetrics(name, func(map[string]string) (map[string]string, error) { return set, nil }, validateOnly)
}

// incrementalAlterClientMetrics applies IncrementalAlterConfigs ops:
// SET, DELETE, and APPEND/SUBTRACT on the LIST keys metrics and match.
func (b *Broker) incrementalAlterClientMetrics(name string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, validateOnly bool) error {
	return b.editClientMetrics(name, func(cur map[string]string) (map[string]string, error) {
		for _, c := range ops {
			switch c.Op {
			case kmsg.IncrementalAlterConfigOpDelete:
				delete(cur, c.Name)
			case kmsg.IncrementalAlterConfigOpSet:
				cur[c.Name] = *c.Value
			default: // APPEND, SUBTRACT
				typ, known := clientMetricsTypes[c.Name]
				if !known {
					cur[c.Name] = *c.Value // telemetry.Validate names the unknown key
					continue
				}
				if typ != config.TypeList {
					return nil, &config.InvalidConfigError{Name: c.Name, Value: *c.Value,
						Reason: fmt.Sprintf("can't %s to key %s because its type is not LIST", c.Op, c.Name)}
				}
				elems := telemetry.SplitList(cur[c.Name])
				for _, e := range telemetry.SplitList(*c.Value) {
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
	}, validateOnly)
}

// editClientMetrics validates the edited set with Kafka's rules and stores
// it durably (an empty set deletes the subscription). Edits of one
// subscription are serialised by the telemetry lock so that two
// incremental alters do not lose each other's ops on this broker.
func (b *Broker) editClientMetrics(name string, edit func(map[string]string) (map[string]string, error), validateOnly bool) error {
	if name == "" {
		return fmt.Errorf("%w: subscription name can't be empty", errInvalidRequest)
	}
	t := b.topics.metrics.telemetry
	t.editMu.Lock()
	defer t.editMu.Unlock()
	cur, err := b.clientMetricsConfigs(name)
	if err != nil {
		return err
	}
	if cur == nil {
		cur = map[string]string{}
	}
	next, err := edit(cur)
	if err != nil {
		return err
	}
	if err := telemetry.Validate(name, next); err != nil {
		switch {
		case errors.Is(err, telemetry.ErrInvalidConfig):
			return &config.InvalidConfigError{Name: "client-metrics " + name, Value: fmt.Sprint(next), Reason: err.Error()}
		default:
			return fmt.Errorf("%w: %v", errInvalidRequest, err)
		}
	}
	if validateOnly {
		return nil
	}
	ctx := context.Background()
	if len(next) == 0 {
		return b.entities.Apply(ctx, entityClientMetrics, nil, []string{name})
	}
	return b.entities.Apply(ctx, entityClientMetrics, []Entity{{Key: name, Value: encodeClientMetrics(next)}}, nil)
}

// clientMetricsSubscriptions returns the parsed subscriptions, re-read
// when the entity store moved (a stored one that no longer parses is
// skipped and logged).
func (b *Broker) clientMetricsSubscriptions() []telemetry.Subscription {
	es := b.entities.List(entityClientMetrics)
	subs := make([]telemetry.Subscription, 0, len(es))
	for _, e := range es {
		set, err := decodeClientMetrics(e.Value)
		if err == nil {
			var s telemetry.Subscription
			if s, err = telemetry.Parse(e.Key, set); err == nil {
				subs = append(subs, s)
				continue
			}
		}
		b.logger.Warn("client-metrics subscription skipped", "name", e.Key, "err", err)
	}
	return subs
}
