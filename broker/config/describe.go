package config

import (
	"maps"
	"slices"
	"strings"
)

// ConfigEntry is one config as DescribeConfigs reports it.
type ConfigEntry struct {
	Name      string
	Value     *string // nil: null (unset with no default, or sensitive)
	Source    ConfigSource
	Sensitive bool
	ReadOnly  bool
	Type      int8
	Doc       string    // only with includeDocs
	Synonyms  []Synonym // only with includeSynonyms
}

// Synonym is one source a config's value could come from, as in Kafka's
// DescribeConfigs response, listed in precedence order.
type Synonym struct {
	Name   string
	Value  *string
	Source ConfigSource
}

var defaultConfig = Default()

// brokerSynonyms lists the broker-level synonyms of one config as Kafka's
// ConfigHelper.configSynonyms does. The values of names (Kafka's
// DynamicBrokerConfig.brokerConfigSynonyms, in precedence order) are
// grouped by source, the sources in precedence order: DYNAMIC_BROKER_CONFIG
// and DYNAMIC_DEFAULT_BROKER_CONFIG (c.Dynamic), then STATIC_BROKER_CONFIG
// (set in the properties), then DEFAULT_CONFIG (Kafka's default, when not
// null); within a source, in the order of names. Then, as Kafka's dropWhile
// does (meant for listener overrides), every entry before the first one
// named primary is dropped: so a topic's retention.ms (primary
// log.retention.ms) lists no broker synonym at all when only
// log.retention.hours is set, or nothing is, and the entry's source is then
// DEFAULT_CONFIG.
func (c *Config) brokerSynonyms(primary string, names []string) []Synonym {
	var out []Synonym
	for _, layer := range []struct {
		m   map[string]string
		src ConfigSource
	}{{c.Dynamic.Broker, SourceDynamicBroker}, {c.Dynamic.Default, SourceDynamicDefaultBroker}, {c.Properties, SourceStaticBroker}} {
		for _, n := range names {
			if v, ok := layer.m[n]; ok {
				out = append(out, Synonym{Name: n, Value: ptr(strings.TrimSpace(v)), Source: layer.src})
			}
		}
	}
	for _, n := range names {
		if bk, ok := lookupBrokerKey(n); ok {
			if def := bk.value(&defaultConfig); def != nil {
				out = append(out, Synonym{Name: n, Value: def, Source: SourceDefault})
			}
		} else if dk, ok := dynamicKeys()[n]; ok && dk.def != nil {
			out = append(out, Synonym{Name: n, Value: dk.def, Source: SourceDefault})
		}
	}
	i := slices.IndexFunc(out, func(s Synonym) bool { return s.Name == primary })
	if i < 0 {
		return nil
	}
	return out[i:]
}

func wanted(keys []string, name string) bool {
	return keys == nil || slices.Contains(keys, name)
}

// DescribeTopicConfigs reports a topic's configs. overrides are the topic's
// own configs; keys nil means all (unknown keys are skipped, as Kafka does).
// A value is the override, else the one the broker properties give. The
// synonyms are Kafka's (ConfigHelper.createTopicConfigEntry): the override
// (DYNAMIC_TOPIC_CONFIG) if set, then brokerSynonyms with the topic
// config's primary broker synonym; the entry's source is the first
// synonym's, DEFAULT_CONFIG with none. Entries are sorted by name.
func (c Config) DescribeTopicConfigs(overrides map[string]string, keys []string, includeSynonyms, includeDocs bool) []ConfigEntry {
	var out []ConfigEntry
	for _, d := range topicDefs() {
		if !wanted(keys, d.Name) {
			continue
		}
		e := ConfigEntry{Name: d.Name, Type: d.Type, Sensitive: d.Sensitive, ReadOnly: d.ReadOnly}
		var syns []Synonym
		if v, ok := overrides[d.Name]; ok {
			syns = append(syns, Synonym{Name: d.Name, Value: ptr(v), Source: SourceDynamicTopic})
		}
		if len(d.BrokerSynonyms) > 0 {
			// Kafka: ServerTopicConfigSynonyms.TOPIC_CONFIG_SYNONYMS
			// names the first as the primary.
			syns = append(syns, c.brokerSynonyms(d.BrokerSynonyms[0], d.BrokerSynonyms)...)
		}
		e.Value = ptr(c.topicValue(d, overrides))
		e.Source = SourceDefault
		if len(syns) > 0 {
			e.Source = syns[0].Source
		}
		if includeSynonyms {
			e.Synonyms = syns
		}
		if includeDocs {
			e.Doc = d.Doc
		}
		if e.Sensitive {
			e.Value = nil
		}
		out = append(out, e)
	}
	return out
}

// DescribeBrokerConfigs reports the broker properties Moldau supports with
// their current values (c is the effective configuration, WithDynamic's),
// and the dynamic configs set on this broker or its cluster default that
// Moldau only stores (Kafka keys it does not use, custom keys). Synonyms and
// the source follow Kafka's ConfigHelper.createBrokerConfigEntry:
// brokerSynonyms with the key itself as the primary, the source the first
// synonym's (so log.retention.ms with only log.retention.hours set has none,
// and DEFAULT_CONFIG). An entry is read-only unless Kafka updates it
// dynamically; a custom key is read-only, sensitive and of type UNKNOWN, as
// Kafka reports it. keys nil means all; entries are sorted by name.
func (c Config) DescribeBrokerConfigs(keys []string, includeSynonyms, includeDocs bool) []ConfigEntry {
	var out []ConfigEntry
	for _, bk := range brokerKeys() {
		if !wanted(keys, bk.name) {
			continue
		}
		names := bk.synonyms
		if names == nil {
			names = []string{bk.name}
		}
		syns := c.brokerSynonyms(bk.name, names)
		e := ConfigEntry{Name: bk.name, Value: bk.value(&c), Source: SourceDefault, ReadOnly: !IsDynamicBrokerKey(bk.name), Type: bk.spec.typ}
		if len(syns) > 0 {
			e.Source = syns[0].Source
		}
		if includeSynonyms {
			e.Synonyms = syns
		}
		if includeDocs {
			e.Doc = bk.doc
		}
		out = append(out, e)
	}
	extra := map[string]bool{}
	for _, m := range []map[string]string{c.Dynamic.Broker, c.Dynamic.Default} {
		for k := range m {
			if _, ok := lookupBrokerKey(k); !ok && wanted(keys, k) {
				extra[k] = true
			}
		}
	}
	for k := range extra {
		syns := c.brokerSynonyms(k, dynamicSynonyms(k))
		out = append(out, c.dynamicConfigEntry(k, syns, includeSynonyms))
	}
	slices.SortFunc(out, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// dynamicConfigEntry is the entry of a dynamic config outside Moldau's
// broker key table.
func (c Config) dynamicConfigEntry(name string, syns []Synonym, includeSynonyms bool) ConfigEntry {
	typ, sensitive, readOnly := dynamicEntry(name)
	v, _ := c.propValue(name)
	e := ConfigEntry{Name: name, Value: ptr(v), Source: SourceDefault, ReadOnly: readOnly, Sensitive: sensitive, Type: typ}
	if len(syns) > 0 {
		e.Source = syns[0].Source
	}
	if sensitive {
		e.Value = nil
		for i := range syns {
			syns[i].Value = nil
		}
	}
	if includeSynonyms {
		e.Synonyms = syns
	}
	return e
}

// DescribeDefaultBrokerConfigs reports the cluster-wide default BROKER
// resource ("") as Kafka does: only the dynamic defaults set, each with
// its DYNAMIC_DEFAULT_BROKER_CONFIG synonyms alone. keys nil means all;
// entries are sorted by name.
func (c Config) DescribeDefaultBrokerConfigs(keys []string, includeSynonyms, includeDocs bool) []ConfigEntry {
	out := []ConfigEntry{}
	for _, k := range slices.Sorted(maps.Keys(c.Dynamic.Default)) {
		if !wanted(keys, k) {
			continue
		}
		var syns []Synonym
		for _, s := range c.brokerSynonyms(k, dynamicSynonyms(k)) {
			if s.Source == SourceDynamicDefaultBroker {
				syns = append(syns, s)
			}
		}
		e := c.dynamicConfigEntry(k, syns, includeSynonyms)
		e.Value = ptr(strings.TrimSpace(c.Dynamic.Default[k]))
		if e.Sensitive {
			e.Value = nil
		}
		if bk, ok := lookupBrokerKey(k); ok {
			e.Type, e.ReadOnly = bk.spec.typ, !IsDynamicBrokerKey(k)
			if includeDocs {
				e.Doc = bk.doc
			}
		}
		out = append(out, e)
	}
	return out
}
