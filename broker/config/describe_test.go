package config

import (
	"reflect"
	"testing"
)

// TestDescribeSynonymsAsKafka: the synonyms DescribeConfigs lists, as Kafka's
// ConfigHelper.configSynonyms builds them: grouped by source, then cut
// before the first entry named the primary broker synonym. So broker
// defaults nobody set (log.retention.hours=168) are not listed for a
// topic's retention.ms, nor is a static log.retention.hours.
func TestDescribeSynonymsAsKafka(t *testing.T) {
	type syn = Synonym
	S, D, T := SourceStaticBroker, SourceDefault, SourceDynamicTopic
	tests := []struct {
		name       string
		properties string
		topic      map[string]string // nil: describe the broker
		key        string
		value      string // "<nil>" for null
		source     ConfigSource
		synonyms   []Synonym
	}{
		{name: "retention.ms, nothing set", key: "retention.ms", topic: map[string]string{},
			value: "604800000", source: D},
		{name: "retention.ms, log.retention.hours set", properties: "log.retention.hours=24\n", key: "retention.ms", topic: map[string]string{},
			value: "86400000", source: D},
		{name: "retention.ms, log.retention.minutes set", properties: "log.retention.minutes=10\n", key: "retention.ms", topic: map[string]string{},
			value: "600000", source: D},
		{name: "retention.ms, log.retention.ms and hours set", properties: "log.retention.hours=24\nlog.retention.ms=5000\n", key: "retention.ms", topic: map[string]string{},
			value: "5000", source: S, synonyms: []syn{{"log.retention.ms", sp("5000"), S}, {"log.retention.hours", sp("24"), S}, {"log.retention.hours", sp("168"), D}}},
		{name: "retention.ms override, log.retention.hours set", properties: "log.retention.hours=24\n", key: "retention.ms", topic: map[string]string{"retention.ms": "7"},
			value: "7", source: T, synonyms: []syn{{"retention.ms", sp("7"), T}}},
		{name: "retention.ms override, log.retention.ms set", properties: "log.retention.ms=5000\n", key: "retention.ms", topic: map[string]string{"retention.ms": "7"},
			value: "7", source: T, synonyms: []syn{{"retention.ms", sp("7"), T}, {"log.retention.ms", sp("5000"), S}, {"log.retention.hours", sp("168"), D}}},
		{name: "segment.ms, log.roll.ms set", properties: "log.roll.ms=1000\n", key: "segment.ms", topic: map[string]string{},
			value: "1000", source: S, synonyms: []syn{{"log.roll.ms", sp("1000"), S}, {"log.roll.hours", sp("168"), D}}},
		{name: "segment.ms, log.roll.hours set", properties: "log.roll.hours=2\n", key: "segment.ms", topic: map[string]string{},
			value: "7200000", source: D},
		{name: "flush.ms, log.flush.interval.ms set", properties: "log.flush.interval.ms=500\n", key: "flush.ms", topic: map[string]string{},
			value: "500", source: S, synonyms: []syn{{"log.flush.interval.ms", sp("500"), S}, {"log.flush.scheduler.interval.ms", sp("9223372036854775807"), D}}},
		{name: "cleanup.policy, nothing set", key: "cleanup.policy", topic: map[string]string{},
			value: "delete", source: D, synonyms: []syn{{"log.cleanup.policy", sp("delete"), D}}},
		{name: "cleanup.policy, set", properties: "log.cleanup.policy=compact\n", key: "cleanup.policy", topic: map[string]string{},
			value: "compact", source: S, synonyms: []syn{{"log.cleanup.policy", sp("compact"), S}, {"log.cleanup.policy", sp("delete"), D}}},

		{name: "broker log.retention.hours, nothing set", key: "log.retention.hours",
			value: "168", source: D, synonyms: []syn{{"log.retention.hours", sp("168"), D}}},
		{name: "broker log.retention.hours, set", properties: "log.retention.hours=24\n", key: "log.retention.hours",
			value: "24", source: S, synonyms: []syn{{"log.retention.hours", sp("24"), S}, {"log.retention.hours", sp("168"), D}}},
		{name: "broker log.retention.ms, nothing set", key: "log.retention.ms", value: "<nil>", source: D},
		{name: "broker log.retention.ms, hours set", properties: "log.retention.hours=24\n", key: "log.retention.ms", value: "<nil>", source: D},
		{name: "broker log.retention.ms, set", properties: "log.retention.ms=5000\nlog.retention.hours=24\n", key: "log.retention.ms",
			value: "5000", source: S, synonyms: []syn{{"log.retention.ms", sp("5000"), S}, {"log.retention.hours", sp("24"), S}, {"log.retention.hours", sp("168"), D}}},
		{name: "broker log.flush.scheduler.interval.ms, interval set", properties: "log.flush.interval.ms=500\n", key: "log.flush.scheduler.interval.ms",
			value: "9223372036854775807", source: D, synonyms: []syn{{"log.flush.scheduler.interval.ms", sp("9223372036854775807"), D}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			if tt.properties != "" {
				var err error
				if c, err = Load([]string{"--config", writeFile(t, tt.properties)}, env(nil), discard()); err != nil {
					t.Fatal(err)
				}
			}
			var es []ConfigEntry
			if tt.topic != nil {
				es = c.DescribeTopicConfigs(tt.topic, []string{tt.key}, true, false)
			} else {
				es = c.DescribeBrokerConfigs([]string{tt.key}, true, false)
			}
			if len(es) != 1 {
				t.Fatalf("%d entries", len(es))
			}
			e := es[0]
			if deref(e.Value) != tt.value || e.Source != tt.source {
				t.Errorf("value %s source %v; want %s %v", deref(e.Value), e.Source, tt.value, tt.source)
			}
			if !reflect.DeepEqual(e.Synonyms, tt.synonyms) {
				t.Errorf("synonyms %s\nwant     %s", fmtSyn(e.Synonyms), fmtSyn(tt.synonyms))
			}
			// Without IncludeSynonyms, none, and the same source.
			var plain []ConfigEntry
			if tt.topic != nil {
				plain = c.DescribeTopicConfigs(tt.topic, []string{tt.key}, false, false)
			} else {
				plain = c.DescribeBrokerConfigs([]string{tt.key}, false, false)
			}
			if plain[0].Synonyms != nil || plain[0].Source != tt.source {
				t.Errorf("without synonyms: %+v", plain[0])
			}
		})
	}
}
