package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestTopicConfigDefs(t *testing.T) {
	defs := TopicConfigDefs()
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.Name
		if d.Doc == "" || d.Type == TypeUnknown {
			t.Errorf("%s: missing doc or type", d.Name)
		}
		// Kafka's own default must validate.
		if err := Default().ValidateTopicConfig(d.Name, &d.Default); err != nil {
			t.Errorf("%s: default %q: %v", d.Name, d.Default, err)
		}
		// With no broker properties the derived default is Kafka's default.
		if got := d.value(&defaultConfig); got != d.Default {
			t.Errorf("%s: derived default %q, Kafka default %q", d.Name, got, d.Default)
		}
		for _, s := range d.BrokerSynonyms {
			if _, ok := lookupBrokerKey(s); !ok {
				t.Errorf("%s: broker synonym %s is not a supported broker key", d.Name, s)
			}
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("not sorted: %v", names)
	}
	for _, n := range []string{"cleanup.policy", "compression.type", "compression.gzip.level", "compression.lz4.level",
		"compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms",
		"follower.replication.throttled.replicas", "index.interval.bytes", "leader.replication.throttled.replicas",
		"local.retention.bytes", "local.retention.ms", "max.compaction.lag.ms", "max.message.bytes",
		"message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
		"min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
		"remote.storage.enable", "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes",
		"segment.jitter.ms", "segment.ms", "unclean.leader.election.enable", "remote.log.copy.disable",
		"remote.log.delete.on.disable"} {
		if _, ok := LookupTopicConfig(n); !ok {
			t.Errorf("missing %s", n)
		}
	}
}

func TestValidateTopicConfig(t *testing.T) {
	c := Default()
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"cleanup.policy", "compact", true},
		{"cleanup.policy", "compact, delete", true},
		{"cleanup.policy", "delete,compact", true},
		{"cleanup.policy", "", false},
		{"cleanup.policy", "purge", false},
		{"compression.type", "zstd", true},
		{"compression.type", "ZSTD", false},
		{"compression.type", "brotli", false},
		{"compression.gzip.level", "-1", true},
		{"compression.gzip.level", "0", false},
		{"compression.gzip.level", "10", false},
		{"compression.zstd.level", "-131072", true},
		{"compression.lz4.level", "18", false},
		{"message.timestamp.type", "LogAppendTime", true},
		{"message.timestamp.type", "logappendtime", false},
		{"min.cleanable.dirty.ratio", "0", true},
		{"min.cleanable.dirty.ratio", "1", true},
		{"min.cleanable.dirty.ratio", "1.01", false},
		{"min.cleanable.dirty.ratio", "-0.1", false},
		{"min.cleanable.dirty.ratio", "NaN", false},
		{"segment.bytes", "1048576", true},
		{"segment.bytes", "1048575", false},
		{"segment.bytes", "2147483648", false},
		{"max.message.bytes", "0", true},
		{"max.message.bytes", "-1", false},
		{"retention.ms", "-1", true},
		{"retention.ms", "-2", false},
		{"retention.ms", " 1000 ", true},
		{"retention.ms", "1e3", false},
		{"retention.bytes", "-1", true},
		{"local.retention.ms", "-2", true},
		{"local.retention.ms", "-3", false},
		{"segment.ms", "0", false},
		{"min.insync.replicas", "0", false},
		{"preallocate", "TRUE", true},
		{"preallocate", "1", false},
		{"leader.replication.throttled.replicas", "*", true},
		{"leader.replication.throttled.replicas", "0:1,1:2", true},
		{"leader.replication.throttled.replicas", "0-1", false},
		{"flush.messages", "0", false},
		{"max.compaction.lag.ms", "0", false},
	}
	for _, tt := range tests {
		v := tt.value
		err := c.ValidateTopicConfig(tt.name, &v)
		if (err == nil) != tt.ok {
			t.Errorf("%s=%q: err = %v, want ok=%v", tt.name, tt.value, err, tt.ok)
		}
		var ice *InvalidConfigError
		if err != nil && (!errors.As(err, &ice) || ice.Name != tt.name || ice.Value != tt.value || ice.Reason == "") {
			t.Errorf("%s=%q: err = %#v", tt.name, tt.value, err)
		}
	}
	if err := c.ValidateTopicConfig("retention.ms", nil); err != nil {
		t.Errorf("delete: %v", err)
	}
	err := c.ValidateTopicConfig("retention.mss", nil)
	if !errors.Is(err, ErrUnknownConfig) || !strings.Contains(err.Error(), "retention.mss") {
		t.Errorf("unknown: %v", err)
	}
	if err := c.ValidateTopicConfigs(map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}); err == nil {
		t.Error("min > max compaction lag accepted")
	}
	if err := c.ValidateTopicConfigs(map[string]string{"min.compaction.lag.ms": "5", "max.compaction.lag.ms": "10"}); err != nil {
		t.Error(err)
	}
}

func sp(s string) *string { return &s }

func entry(t *testing.T, es []ConfigEntry, name string) ConfigEntry {
	t.Helper()
	for _, e := range es {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return ConfigEntry{}
}

func TestDescribeTopicConfigs(t *testing.T) {
	def := Default()
	file := writeFile(t, "log.retention.ms=1000\nlog.segment.bytes=2097152\n")
	static, err := Load([]string{"--config", file}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cfg       Config
		overrides map[string]string
		key       string
		value     string
		source    ConfigSource
		synonyms  []Synonym
	}{
		// Kafka drops the synonyms before the first named
		// log.retention.ms (describe.go, brokerSynonyms).
		{"retention default", def, nil, "retention.ms", "604800000", SourceDefault, nil},
		{"retention override", def, map[string]string{"retention.ms": "5000"}, "retention.ms", "5000", SourceDynamicTopic,
			[]Synonym{{"retention.ms", sp("5000"), SourceDynamicTopic}}},
		{"retention static", static, nil, "retention.ms", "1000", SourceStaticBroker,
			[]Synonym{{"log.retention.ms", sp("1000"), SourceStaticBroker}, {"log.retention.hours", sp("168"), SourceDefault}}},
		{"retention override over static", static, map[string]string{"retention.ms": "-1"}, "retention.ms", "-1", SourceDynamicTopic,
			[]Synonym{{"retention.ms", sp("-1"), SourceDynamicTopic}, {"log.retention.ms", sp("1000"), SourceStaticBroker}, {"log.retention.hours", sp("168"), SourceDefault}}},
		{"segment static", static, nil, "segment.bytes", "2097152", SourceStaticBroker,
			[]Synonym{{"log.segment.bytes", sp("2097152"), SourceStaticBroker}, {"log.segment.bytes", sp("1073741824"), SourceDefault}}},
		{"max.message.bytes", def, nil, "max.message.bytes", "1048588", SourceDefault,
			[]Synonym{{"message.max.bytes", sp("1048588"), SourceDefault}}},
		{"flush.ms", def, nil, "flush.ms", "9223372036854775807", SourceDefault, nil},
		{"segment.ms", def, nil, "segment.ms", "604800000", SourceDefault, nil},
		{"no broker synonym", def, nil, "remote.storage.enable", "false", SourceDefault, nil},
		{"no broker synonym override", def, map[string]string{"remote.storage.enable": "true"}, "remote.storage.enable", "true", SourceDynamicTopic,
			[]Synonym{{"remote.storage.enable", sp("true"), SourceDynamicTopic}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := tt.cfg.DescribeTopicConfigs(tt.overrides, []string{tt.key, "not.a.config"}, true, true)
			if len(es) != 1 {
				t.Fatalf("got %d entries", len(es))
			}
			e := es[0]
			if e.Value == nil || *e.Value != tt.value || e.Source != tt.source || e.Doc == "" || e.ReadOnly || e.Sensitive {
				t.Errorf("got value=%v source=%v", deref(e.Value), e.Source)
			}
			if !reflect.DeepEqual(e.Synonyms, tt.synonyms) {
				t.Errorf("synonyms = %s\nwant %s", fmtSyn(e.Synonyms), fmtSyn(tt.synonyms))
			}
		})
	}
	all := def.DescribeTopicConfigs(nil, nil, false, false)
	if len(all) != len(TopicConfigDefs()) {
		t.Errorf("all: %d entries", len(all))
	}
	if e := entry(t, all, "cleanup.policy"); e.Synonyms != nil || e.Doc != "" || e.Type != TypeList {
		t.Errorf("cleanup.policy: %+v", e)
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func fmtSyn(s []Synonym) string {
	var b strings.Builder
	for _, x := range s {
		b.WriteString("[" + x.Name + "=" + deref(x.Value) + " " + x.Source.String() + "]")
	}
	return b.String()
}

func TestDescribeBrokerConfigs(t *testing.T) {
	file := writeFile(t, "log.retention.hours=24\nnum.partitions=3\n")
	c, err := Load([]string{"--config", file, "--node-id", "5"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	es := c.DescribeBrokerConfigs(nil, true, true)
	if !slices.IsSortedFunc(es, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("not sorted")
	}
	check := func(name, value string, src ConfigSource) {
		t.Helper()
		e := entry(t, es, name)
		if deref(e.Value) != value || e.Source != src || e.ReadOnly == IsDynamicBrokerKey(name) || e.Doc == "" {
			t.Errorf("%s: value=%s source=%v", name, deref(e.Value), e.Source)
		}
	}
	check("num.partitions", "3", SourceStaticBroker)
	check("node.id", "5", SourceStaticBroker)
	check("message.max.bytes", "1048588", SourceDefault)
	check("log.retention.hours", "24", SourceStaticBroker)
	check("log.retention.ms", "<nil>", SourceDefault) // as Kafka: no synonym named log.retention.ms
	check("listeners", "PLAINTEXT://127.0.0.1:9092", SourceDefault)
	e := entry(t, es, "log.retention.hours")
	want := []Synonym{{"log.retention.hours", sp("24"), SourceStaticBroker}, {"log.retention.hours", sp("168"), SourceDefault}}
	if !reflect.DeepEqual(e.Synonyms, want) {
		t.Errorf("synonyms = %s", fmtSyn(e.Synonyms))
	}
	if got := c.DescribeBrokerConfigs([]string{"num.partitions"}, false, false); len(got) != 1 || got[0].Synonyms != nil || got[0].Doc != "" {
		t.Errorf("filtered: %+v", got)
	}
}

func TestResolveTopic(t *testing.T) {
	file := writeFile(t, "log.retention.hours=1\nmessage.max.bytes=2000000\nlog.cleanup.policy=compact\nlog.flush.interval.ms=500\n")
	c, err := Load([]string{"--config", file}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	s := c.ResolveTopic(nil)
	if s.RetentionMs != hourMs || s.MaxMessageBytes != 2000000 || s.CleanupPolicy != "compact" || !s.Compact || s.Delete ||
		s.FlushMs != 500 || s.SegmentBytes != 1073741824 || s.MinCleanableDirtyRatio != 0.5 || s.MessageTimestampType != "CreateTime" ||
		s.TimestampAfterMaxMs != 3600000 || s.MinInsyncReplicas != 1 || s.IndexIntervalBytes != 4096 {
		t.Errorf("broker defaults: %+v", s)
	}
	s = c.ResolveTopic(map[string]string{
		"retention.ms": "-1", "cleanup.policy": "delete, compact", "max.message.bytes": "100",
		"min.cleanable.dirty.ratio": "0.25", "message.timestamp.type": "LogAppendTime", "segment.bytes": "bogus",
		"preallocate": "True",
	})
	if s.RetentionMs != -1 || s.CleanupPolicy != "compact,delete" || !s.Compact || !s.Delete || s.MaxMessageBytes != 100 ||
		s.MinCleanableDirtyRatio != 0.25 || s.MessageTimestampType != "LogAppendTime" || s.SegmentBytes != 1073741824 || !s.Preallocate {
		t.Errorf("overrides: %+v", s)
	}
	d := Default().ResolveTopic(nil)
	if d.CleanupPolicy != "delete" || !d.Delete || d.FlushMs != 9223372036854775807 || d.RetentionBytes != -1 || d.LocalRetentionMs != -2 {
		t.Errorf("defaults: %+v", d)
	}
}
