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

// brokerSynonyms lists, in precedence order, the static and default values
// of the broker properties names (Kafka's DynamicBrokerConfig order: for
// each name its static value if set, then its default if not null).
func (c *Config) brokerSynonyms(names []string) []Synonym {
	var out []Synonym
	for _, n := range names {
		if v, ok := c.Properties[n]; ok {
			out = append(out, Synonym{Name: n, Value: ptr(strings.TrimSpace(v)), Source: SourceStaticBroker})
		}
		if bk, ok := lookupBrokerKey(n); ok {
			if def := bk.value(&defaultConfig); def != nil {
				out = append(out, Synonym{Name: n, Value: def, Source: SourceDefault})
			}
		}
	}
	return out
}

func wanted(keys []string, name string) bool {
	return keys == nil || slices.Contains(keys, name)
}

// DescribeTopicConfigs reports a topic's configs. overrides are the topic's
// own configs; keys nil means all (unknown keys are skipped, as Kafka does).
// A value is the override (DYNAMIC_TOPIC_CONFIG), else the broker property
// (STATIC_BROKER_CONFIG when a synonym is set in the properties, else
// DEFAULT_CONFIG). Synonyms follow Kafka: the override, then for each broker
// synonym in precedence order its static value if set and its default if
// not null; retention.ms with nothing set reports log.retention.hours=168.
// Entries are sorted by name.
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
		syns = append(syns, c.brokerSynonyms(d.BrokerSynonyms)...)
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
// else DEFAULT_CONFIG; for synonym groups (log.retention.ms/minutes/hours,
// ...) the source is that of the first synonym with a value, as in Kafka.
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
		syns := c.brokerSynonyms(names)
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
