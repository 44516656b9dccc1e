package config

import (
	"errors"
	"reflect"
	"testing"
)

func TestValidateDynamicBrokerConfigs(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		props     map[string]string
		perBroker bool
		want      string // "" for valid
	}{
		{map[string]string{"log.retention.ms": "5000", "message.max.bytes": "2000000"}, false, ""},
		{map[string]string{"log.retention.hours": "5"}, true, "Cannot update these configs dynamically: [log.retention.hours]"},
		{map[string]string{"num.partitions": "3", "log.roll.hours": "1", "log.retention.ms": "1"}, true, "Cannot update these configs dynamically: [log.roll.hours, num.partitions]"},
		{map[string]string{"group.consumer.session.timeout.ms": "50000"}, true, "Cannot update these configs dynamically: [group.consumer.session.timeout.ms]"},
		{map[string]string{"ssl.keystore.location": "/x"}, true, "These security configs can be dynamically updated only per-listener using the listener prefix: [ssl.keystore.location]"},
		{map[string]string{"log.retention.ms": "abc"}, true, "Invalid value abc for configuration log.retention.ms: Not a number of type LONG"},
		{map[string]string{"log.segment.bytes": "10"}, true, "Invalid value 10 for configuration log.segment.bytes: Value must be at least 1048576"},
		{map[string]string{"log.preallocate": "maybe"}, true, "Invalid value maybe for configuration log.preallocate: Expected value to be either true or false"},
		{map[string]string{"compression.type": "brotli"}, true, "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"},
		{map[string]string{"listeners": "PLAINTEXT://:9999"}, false, "Cannot update these configs at default cluster level, broker id must be specified: [listeners]"},
		{map[string]string{"max.connections.per.ip": "5"}, true, "Moldau cannot update these configs at run time (listener, security and connection-limit configs): [max.connections.per.ip]; set them in the properties file and restart"},
		{map[string]string{"listeners": "PLAINTEXT://:9999"}, true, "Moldau cannot update these configs at run time (listener, security and connection-limit configs): [listeners]; set them in the properties file and restart"},
		{map[string]string{"listener.name.sasl_ssl.ssl.keystore.location": "/x"}, true, "Moldau cannot update these configs at run time (listener, security and connection-limit configs): [listener.name.sasl_ssl.ssl.keystore.location]; set them in the properties file and restart"},
		{map[string]string{"log.retention.ms": "0"}, true, "requirement failed: log.retention.ms must be unlimited (-1) or, greater than or equal to 1"},
		{map[string]string{"my.custom.key": "5", "num.io.threads": "4", "log.flush.interval.ms": "1000"}, false, ""},
		{map[string]string{"log.flush.interval.ms": "-5"}, false, "Invalid value -5 for configuration log.flush.interval.ms: must be at least 0"},
	} {
		err := c.ValidateDynamicBrokerConfigs(tc.props, tc.perBroker)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.props, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalidDynamicConfig)):
			t.Errorf("%v: got %v, want %q", tc.props, err, tc.want)
		}
	}
}

func TestWithDynamicPrecedence(t *testing.T) {
	file := writeFile(t, "log.retention.hours=1\nlog.roll.ms=3600000\nmessage.max.bytes=500000\n")
	static, err := Load([]string{"--config", file, "--node-id", "1"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if static.LogRetentionMs != 3600000 {
		t.Fatalf("static retention %d", static.LogRetentionMs)
	}
	// The cluster default beats the static hours (a higher-precedence
	// synonym), the broker's own value beats the default.
	eff, ignored := static.WithDynamic(Dynamic{
		Default: map[string]string{"log.retention.ms": "5000", "message.max.bytes": "2000000", "log.cleanup.policy": "compact"},
		Broker:  map[string]string{"log.retention.ms": "7000", "num.io.threads": "4"},
	})
	if len(ignored) != 0 {
		t.Errorf("ignored %v", ignored)
	}
	if eff.LogRetentionMs != 7000 || eff.MessageMaxBytes != 2000000 || eff.LogSegmentMs != 3600000 || eff.LogCleanupPolicy != "compact" {
		t.Errorf("effective: retention %d max %d roll %d policy %s", eff.LogRetentionMs, eff.MessageMaxBytes, eff.LogSegmentMs, eff.LogCleanupPolicy)
	}
	if static.LogRetentionMs != 3600000 || static.MessageMaxBytes != 500000 {
		t.Error("WithDynamic changed the static configuration")
	}
	ts := eff.ResolveTopic(map[string]string{"retention.ms": "9"})
	if ts.RetentionMs != 9 || ts.MaxMessageBytes != 2000000 || !ts.Compact || ts.Delete {
		t.Errorf("topic settings %+v", ts)
	}
	if ts := eff.ResolveTopic(nil); ts.RetentionMs != 7000 {
		t.Errorf("topic without override: retention %d", ts.RetentionMs)
	}

	// Kafka's synonyms and sources: dynamic broker, dynamic default,
	// static, default.
	e := entry(t, eff.DescribeBrokerConfigs([]string{"log.retention.ms"}, true, false), "log.retention.ms")
	want := []Synonym{{"log.retention.ms", sp("7000"), SourceDynamicBroker}, {"log.retention.ms", sp("5000"), SourceDynamicDefaultBroker},
		{"log.retention.hours", sp("1"), SourceStaticBroker}, {"log.retention.hours", sp("168"), SourceDefault}}
	if deref(e.Value) != "7000" || e.Source != SourceDynamicBroker || e.ReadOnly || !reflect.DeepEqual(e.Synonyms, want) {
		t.Errorf("log.retention.ms: %s %v ro=%v %s", deref(e.Value), e.Source, e.ReadOnly, fmtSyn(e.Synonyms))
	}
	te := entry(t, eff.DescribeTopicConfigs(nil, []string{"max.message.bytes"}, true, false), "max.message.bytes")
	wantT := []Synonym{{"message.max.bytes", sp("2000000"), SourceDynamicDefaultBroker}, {"message.max.bytes", sp("500000"), SourceStaticBroker}, {"message.max.bytes", sp("1048588"), SourceDefault}}
	if deref(te.Value) != "2000000" || te.Source != SourceDynamicDefaultBroker || !reflect.DeepEqual(te.Synonyms, wantT) {
		t.Errorf("topic max.message.bytes: %s %v %s", deref(te.Value), te.Source, fmtSyn(te.Synonyms))
	}
	// A dynamic key Moldau only stores is described with Kafka's type.
	ne := entry(t, eff.DescribeBrokerConfigs(nil, true, false), "num.io.threads")
	if deref(ne.Value) != "4" || ne.Source != SourceDynamicBroker || ne.ReadOnly || ne.Type != TypeInt || len(ne.Synonyms) != 2 {
		t.Errorf("num.io.threads: %+v %s", ne, fmtSyn(ne.Synonyms))
	}
	// The default resource: the dynamic defaults alone.
	def := eff.DescribeDefaultBrokerConfigs(nil, true, false)
	if len(def) != 3 || def[0].Name != "log.cleanup.policy" || def[1].Name != "log.retention.ms" || deref(def[1].Value) != "5000" ||
		!reflect.DeepEqual(def[1].Synonyms, []Synonym{{"log.retention.ms", sp("5000"), SourceDynamicDefaultBroker}}) {
		t.Errorf("defaults: %+v", def)
	}

	// A stored value that no longer validates is skipped.
	eff, ignored = static.WithDynamic(Dynamic{Broker: map[string]string{"log.segment.bytes": "12"}})
	if !reflect.DeepEqual(ignored, []string{"log.segment.bytes"}) || eff.LogSegmentBytes != static.LogSegmentBytes {
		t.Errorf("ignored %v segment %d", ignored, eff.LogSegmentBytes)
	}
}

func TestGroupConfigs(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"consumer.session.timeout.ms": "50000", "share.isolation.level": "read_committed", "share.auto.offset.reset": "by_duration:PT1H30M"}, ""},
		{map[string]string{"foo.bar": "1"}, "Unknown group config name: foo.bar"},
		{map[string]string{"consumer.session.timeout.ms": "70000"}, "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive."},
		{map[string]string{"consumer.heartbeat.interval.ms": "1000"}, "consumer.heartbeat.interval.ms must be in the range 5000 to 15000 inclusive."},
		{map[string]string{"share.delivery.count.limit": "1"}, "Invalid value 1 for configuration share.delivery.count.limit: Value must be at least 2"},
		{map[string]string{"share.delivery.count.limit": "11"}, "share.delivery.count.limit must be in the range 2 to 10 inclusive."},
		{map[string]string{"share.record.lock.duration.ms": "999999"}, "share.record.lock.duration.ms must be in the range 15000 to 60000 inclusive."},
		{map[string]string{"share.partition.max.record.locks": "5000"}, "share.partition.max.record.locks must be in the range 100 to 4000 inclusive."},
		{map[string]string{"streams.num.standby.replicas": "3"}, "streams.num.standby.replicas must be less than or equal to 2"},
		{map[string]string{"streams.task.offset.interval.ms": "1"}, "streams.task.offset.interval.ms must be greater than or equal to 15000"},
		{map[string]string{"streams.assignor.name": "foo"}, "streams.assignor.name 'foo' is not a registered task assignor. Registered assignors are: [sticky]."},
		{map[string]string{"share.auto.offset.reset": "bogus"}, "Invalid value bogus for configuration share.auto.offset.reset: Invalid value `bogus` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."},
		{map[string]string{"share.auto.offset.reset": "by_duration:PT"}, "Invalid value by_duration:PT for configuration share.auto.offset.reset: Invalid value `by_duration:PT` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."},
		{map[string]string{"consumer.session.timeout.ms": "abc"}, "Invalid value abc for configuration consumer.session.timeout.ms: Not a number of type INT"},
	} {
		err := c.ValidateGroupConfigs(tc.props)
		var ice *InvalidConfigError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.props, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.As(err, &ice)):
			t.Errorf("%v: got %v, want %q", tc.props, err, tc.want)
		}
	}
	// The bounds are the broker's keys.
	file := writeFile(t, "group.consumer.max.session.timeout.ms=90000\ngroup.consumer.session.timeout.ms=60000\n")
	c2, err := Load([]string{"--config", file}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.ValidateGroupConfigs(map[string]string{"consumer.session.timeout.ms": "70000"}); err != nil {
		t.Errorf("with a larger max: %v", err)
	}
	// Describe: the group's value, else the broker's, with Kafka's synonyms.
	es := c2.DescribeGroupConfigs(map[string]string{"consumer.heartbeat.interval.ms": "6000"}, nil, true, false)
	hb, st, reset := entry(t, es, "consumer.heartbeat.interval.ms"), entry(t, es, "consumer.session.timeout.ms"), entry(t, es, "share.auto.offset.reset")
	if deref(hb.Value) != "6000" || hb.Source != SourceGroup || !reflect.DeepEqual(hb.Synonyms, []Synonym{
		{"consumer.heartbeat.interval.ms", sp("6000"), SourceGroup}, {"group.consumer.heartbeat.interval.ms", sp("5000"), SourceDefault}}) {
		t.Errorf("heartbeat: %s %v %s", deref(hb.Value), hb.Source, fmtSyn(hb.Synonyms))
	}
	if deref(st.Value) != "60000" || st.Source != SourceStaticBroker || !reflect.DeepEqual(st.Synonyms, []Synonym{
		{"group.consumer.session.timeout.ms", sp("60000"), SourceStaticBroker}, {"group.consumer.session.timeout.ms", sp("45000"), SourceDefault}}) {
		t.Errorf("session: %s %v %s", deref(st.Value), st.Source, fmtSyn(st.Synonyms))
	}
	if deref(reset.Value) != "latest" || reset.Source != SourceDefault || len(reset.Synonyms) != 1 {
		t.Errorf("reset: %+v", reset)
	}
	for _, e := range es {
		if e.Name == "consumer.assignor.offload.enable" || e.ReadOnly {
			t.Errorf("internal or read-only config described: %+v", e)
		}
	}
}
