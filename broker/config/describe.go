package config

import (
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
// and DYNAMIC_DEFAULT_BROKER_CONFIG (none: Moldau has no dynamic broker
// configs), then STATIC_BROKER_CONFIG (set in the properties), then
// DEFAULT_CONFIG (Kafka's default, when not null); within a source, in the
// order of names. Then, as Kafka's dropWhile does (meant for listener
// overrides), every entry before the first one named primary is dropped: so
// a topic's retention.ms (primary log.retention.ms) lists no broker synonym
// at all when only log.retention.hours is set, or nothing is, and the
// entry's source is then DEFAULT_CONFIG.
func (c *Config) brokerSynonyms(primary string, names []string) []Synonym {
	var out []Synonym
	for _, n := range names {
		if v, ok := c.Properties[n]; ok {
			out = append(out, Synonym{Name: n, Value: ptr(strings.TrimSpace(v)), Source: SourceStaticBroker})
		}
	}
	for _, n := range names {
		if bk, ok := lookupBrokerKey(n); ok {
			if def := bk.value(&defaultConfig); def != nil {
				out = append(out, Synonym{Name: n, Value: def, Source: SourceDefault})
			}
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
// their current values. A key set in the properties file, by --set, or by
// the flag or environment variable that maps to it is STATIC_BROKER_CONFIG,
// else DEFAULT_CONFIG. Synonyms and the source follow Kafka's
// ConfigHelper.createBrokerConfigEntry: brokerSynonyms with the key itself
// as the primary, the source the first synonym's (so log.retention.ms with
// only log.retention.hours set has none, and DEFAULT_CONFIG).
// All entries are read-only: Moldau has no dynamic broker configs. keys nil
// means all; entries are sorted by name.
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
		e := ConfigEntry{Name: bk.name, Value: bk.value(&c), Source: SourceDefault, ReadOnly: true, Type: bk.spec.typ}
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
	slices.SortFunc(out, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) })
	return out
}
