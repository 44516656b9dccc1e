package broker

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConfigMapEncoding(t *testing.T) {
	for _, m := range []map[string]string{{}, {"log.retention.ms": "86400000", "a": "", "": "x"}} {
		got, err := decodeConfigMap(encodeConfigMap(m))
		if err != nil || !maps.Equal(got, m) {
			t.Errorf("round trip of %v: %v %v", m, got, err)
		}
	}
	if m, err := decodeConfigMap(nil); err != nil || len(m) != 0 {
		t.Errorf("empty: %v %v", m, err)
	}
	good := encodeConfigMap(map[string]string{"k": "v"})
	for _, bad := range [][]byte{{1, 0}, good[:len(good)-1], append(good[:len(good):len(good)], 0), {0, 200}} {
		if _, err := decodeConfigMap(bad); !errors.Is(err, errDynamicConfigValue) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

func TestDynamicBrokerConfigsApplied(t *testing.T) {
	b := newAdminBroker(t)
	s := kmsg.StringPtr
	const set, del = kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete
	plain := mustCreateTopic(t, b, "plain", 1, nil)
	own := mustCreateTopic(t, b, "own", 1, map[string]*string{"retention.ms": s("1000")})

	// validate_only checks without storing.
	req := incReq(kmsg.ConfigResourceTypeBroker, "", op(set, "log.retention.ms", s("5000")))
	req.ValidateOnly = true
	resp := do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, req)
	wantCode(t, "validate only", resp.Resources[0].ErrorCode, nil)
	if _, ok := b.entities.Get(entityBrokerConfig, ""); ok || plain.settings().RetentionMs != 7*24*3600*1000 {
		t.Fatal("validate only stored or applied")
	}
	req = incReq(kmsg.ConfigResourceTypeBroker, "", op(set, "log.retention.hours", s("5")))
	req.ValidateOnly = true
	resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, req)
	wantCode(t, "validate only, not dynamic", resp.Resources[0].ErrorCode, kerr.InvalidRequest)
	if m := resp.Resources[0].ErrorMessage; m == nil || *m != "Cannot update these configs dynamically: [log.retention.hours]" {
		t.Errorf("message %v", m)
	}

	// The cluster default applies to topics without an override, at once.
	resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, incReq(kmsg.ConfigResourceTypeBroker, "",
		op(set, "log.retention.ms", s("5000")), op(set, "message.max.bytes", s("2000")), op(set, "num.io.threads", s("4"))))
	wantCode(t, "set default", resp.Resources[0].ErrorCode, nil)
	if st := plain.settings(); st.RetentionMs != 5000 || st.MaxMessageBytes != 2000 {
		t.Errorf("plain topic: retention %d max %d", st.RetentionMs, st.MaxMessageBytes)
	}
	if st := own.settings(); st.RetentionMs != 1000 || st.MaxMessageBytes != 2000 {
		t.Errorf("topic with an override: retention %d max %d", st.RetentionMs, st.MaxMessageBytes)
	}
	// A topic created later gets it too; the broker's own value wins.
	later := mustCreateTopic(t, b, "later", 1, nil)
	if later.settings().RetentionMs != 5000 {
		t.Errorf("later topic retention %d", later.settings().RetentionMs)
	}
	resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 0, incReq(kmsg.ConfigResourceTypeBroker, "0", op(set, "log.retention.ms", s("6000"))))
	wantCode(t, "set per broker", resp.Resources[0].ErrorCode, nil)
	if later.settings().RetentionMs != 6000 {
		t.Errorf("per-broker value: retention %d", later.settings().RetentionMs)
	}

	// DescribeConfigs reports values, sources and the default resource.
	d := do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(kmsg.ConfigResourceTypeBroker, "0", "log.retention.ms", "num.io.threads", "num.partitions"))
	r := d.Resources[0]
	if c := findConfig(r.Configs, "log.retention.ms"); c == nil || *c.Value != "6000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig || c.ReadOnly {
		t.Errorf("log.retention.ms: %+v", c)
	}
	if c := findConfig(r.Configs, "num.io.threads"); c == nil || *c.Value != "4" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("num.io.threads: %+v", c)
	}
	if c := findConfig(r.Configs, "num.partitions"); c == nil || !c.ReadOnly {
		t.Errorf("num.partitions: %+v", c)
	}
	d = do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(kmsg.ConfigResourceTypeBroker, ""))
	if r := d.Resources[0]; len(r.Configs) != 3 || r.Configs[0].Name != "log.retention.ms" || r.Configs[0].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("default resource: %+v", r.Configs)
	}
	d = do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(kmsg.ConfigResourceTypeTopic, "plain", "retention.ms"))
	if c := findConfig(d.Resources[0].Configs, "retention.ms"); c == nil || *c.Value != "6000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Errorf("topic retention.ms: %+v", c)
	}

	// AlterConfigs replaces the whole set; an empty set deletes the entity.
	ar := do[*kmsg.AlterConfigsResponse](t, b, 1, alterReq(kmsg.ConfigResourceTypeBroker, "", s("log.segment.bytes"), s("2097152")))
	wantCode(t, "alter default", ar.Resources[0].ErrorCode, nil)
	if st := plain.settings(); st.SegmentBytes != 2097152 || st.MaxMessageBytes != 1048588 || st.RetentionMs != 6000 {
		t.Errorf("after replacing the default: %+v", st)
	}
	ar = do[*kmsg.AlterConfigsResponse](t, b, 1, alterReq(kmsg.ConfigResourceTypeBroker, "0"))
	wantCode(t, "clear broker", ar.Resources[0].ErrorCode, nil)
	resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, incReq(kmsg.ConfigResourceTypeBroker, "", op(del, "log.segment.bytes", nil)))
	wantCode(t, "delete default", resp.Resources[0].ErrorCode, nil)
	if len(b.entities.List(entityBrokerConfig)) != 0 || plain.settings().RetentionMs != 7*24*3600*1000 {
		t.Errorf("after clearing: %v, retention %d", b.entities.List(entityBrokerConfig), plain.settings().RetentionMs)
	}

	for _, tc := range []struct {
		what string
		req  *kmsg.IncrementalAlterConfigsRequest
		want *kerr.Error
		msg  string
	}{
		{"other broker", incReq(kmsg.ConfigResourceTypeBroker, "3", op(set, "log.retention.ms", s("1"))), kerr.InvalidRequest, "Unexpected broker id, expected 0, but received 3"},
		{"bad id", incReq(kmsg.ConfigResourceTypeBroker, "x", op(set, "log.retention.ms", s("1"))), kerr.InvalidRequest, "Node id must be an integer, but it is: x"},
		{"per-broker key at the default", incReq(kmsg.ConfigResourceTypeBroker, "", op(set, "listeners", s("PLAINTEXT://:1"))), kerr.InvalidRequest, "Cannot update these configs at default cluster level, broker id must be specified: [listeners]"},
		{"append to a non-list", incReq(kmsg.ConfigResourceTypeBroker, "0", op(kmsg.IncrementalAlterConfigOpAppend, "message.max.bytes", s("5"))), kerr.InvalidConfig, "Config value append is not allowed for config key: message.max.bytes"},
		{"group append", incReq(kmsg.ConfigResourceTypeGroupConfig, "g", op(kmsg.IncrementalAlterConfigOpAppend, "consumer.session.timeout.ms", s("5"))), kerr.InvalidConfig, "Can't APPEND to key consumer.session.timeout.ms because its type is not LIST."},
	} {
		resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, tc.req)
		wantCode(t, tc.what, resp.Resources[0].ErrorCode, tc.want)
		if m := resp.Resources[0].ErrorMessage; m == nil || *m != tc.msg {
			t.Errorf("%s: message %v", tc.what, m)
		}
	}
	resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, incReq(kmsg.ConfigResourceTypeBroker, "", op(kmsg.IncrementalAlterConfigOpAppend, "log.cleanup.policy", s("compact"))))
	wantCode(t, "append to log.cleanup.policy", resp.Resources[0].ErrorCode, nil)
	if st := plain.settings(); !st.Compact || !st.Delete {
		t.Errorf("cleanup policy delete,compact: %+v", st)
	}
}

func TestGroupConfigsAndSettings(t *testing.T) {
	b := newAdminBroker(t)
	s := kmsg.StringPtr
	const set = kmsg.IncrementalAlterConfigOpSet
	if g := b.groupSettings("g1"); g.ConsumerSessionTimeout != 45*time.Second || g.ShareRecordLockDuration != 30*time.Second {
		t.Errorf("defaults: %+v", g)
	}
	resp := do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, incReq(kmsg.ConfigResourceTypeGroupConfig, "g1",
		op(set, "consumer.session.timeout.ms", s("50000")), op(set, "share.auto.offset.reset", s("earliest")), op(set, "share.record.lock.duration.ms", s("20000"))))
	wantCode(t, "set group", resp.Resources[0].ErrorCode, nil)
	g := b.groupSettings("g1")
	if g.ConsumerSessionTimeout != 50*time.Second || g.ShareAutoOffsetReset != "earliest" || g.ShareRecordLockDuration != 20*time.Second || g.ConsumerHeartbeatInterval != 5*time.Second {
		t.Errorf("g1: %+v", g)
	}
	if b.groupSettings("g2").ConsumerSessionTimeout != 45*time.Second {
		t.Error("g2 got g1's settings")
	}
	d := do[*kmsg.DescribeConfigsResponse](t, b, 4, describeConfigsReq(kmsg.ConfigResourceTypeGroupConfig, "g1", "consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"))
	cs := d.Resources[0].Configs
	if c := findConfig(cs, "consumer.session.timeout.ms"); c == nil || *c.Value != "50000" || c.Source != kmsg.ConfigSourceGroupConfig {
		t.Errorf("session: %+v", c)
	}
	if c := findConfig(cs, "consumer.heartbeat.interval.ms"); c == nil || *c.Value != "5000" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("heartbeat: %+v", c)
	}
	// validate_only and a refused value change nothing.
	req := incReq(kmsg.ConfigResourceTypeGroupConfig, "g1", op(set, "consumer.session.timeout.ms", s("55000")))
	req.ValidateOnly = true
	wantCode(t, "validate only", do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, req).Resources[0].ErrorCode, nil)
	wantCode(t, "out of range", do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, incReq(kmsg.ConfigResourceTypeGroupConfig, "g1",
		op(set, "consumer.session.timeout.ms", s("99999")))).Resources[0].ErrorCode, kerr.InvalidConfig)
	if b.groupSettings("g1").ConsumerSessionTimeout != 50*time.Second {
		t.Error("validate only or a refused alter changed the settings")
	}

	// ListConfigResources.
	mustCreateTopic(t, b, "tp", 1, nil)
	list := func(version int16, types ...int8) *kmsg.ListConfigResourcesResponse {
		req := kmsg.NewPtrListConfigResourcesRequest()
		req.ResourceTypes = types
		return do[*kmsg.ListConfigResourcesResponse](t, b, version, req)
	}
	names := func(r *kmsg.ListConfigResourcesResponse) []string {
		var out []string
		for _, c := range r.ConfigResources {
			out = append(out, kmsg.ConfigResourceType(c.Type).String()+":"+c.Name)
		}
		return out
	}
	got := names(list(1))
	want := []string{"GROUP_CONFIG:g1", "BROKER_LOGGER:0", "BROKER:0", "TOPIC:tp"}
	if len(got) != len(want) {
		t.Fatalf("all: %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("all: %v, want %v", got, want)
			break
		}
	}
	if got := names(list(1, 2)); len(got) != 1 || got[0] != "TOPIC:tp" {
		t.Errorf("topics: %v", got)
	}
	if r := list(1, 99); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("unknown type: %d", r.ErrorCode)
	}
	if r := list(0); r.ErrorCode != 0 || len(r.ConfigResources) != 0 {
		t.Errorf("v0: %+v", r)
	}
	// Client-metrics subscriptions: v0 lists only them, v1 with the others.
	resp = do[*kmsg.IncrementalAlterConfigsResponse](t, b, 1, incReq(kmsg.ConfigResourceTypeClientMetrics, "cm",
		op(set, "metrics", s("org.apache.kafka.producer."))))
	wantCode(t, "client metrics", resp.Resources[0].ErrorCode, nil)
	if r := list(0); len(r.ConfigResources) != 1 || r.ConfigResources[0].Name != "cm" {
		t.Errorf("v0 with a subscription: %+v", r.ConfigResources)
	}
	if got := names(list(1, 16, 32)); len(got) != 2 || got[0] != "GROUP_CONFIG:g1" || got[1] != "CLIENT_METRICS:cm" {
		t.Errorf("groups and client metrics: %v", got)
	}
	// Clearing a group's configs removes it from the list.
	ar := do[*kmsg.AlterConfigsResponse](t, b, 0, alterReq(kmsg.ConfigResourceTypeGroupConfig, "g1"))
	wantCode(t, "clear group", ar.Resources[0].ErrorCode, nil)
	if got := names(list(1, 32)); len(got) != 0 || b.groupSettings("g1").ConsumerSessionTimeout != 45*time.Second {
		t.Errorf("after clearing: %v", got)
	}
}
