package broker

import (
	"net"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/quota"
	"github.com/moldau/moldau/protocol"
)

func quotaEntry(ops []kmsg.AlterClientQuotasRequestEntryOp, kv ...*string) kmsg.AlterClientQuotasRequestEntry {
	e := kmsg.NewAlterClientQuotasRequestEntry()
	for i := 0; i < len(kv); i += 2 {
		c := kmsg.NewAlterClientQuotasRequestEntryEntity()
		c.Type, c.Name = *kv[i], kv[i+1]
		e.Entity = append(e.Entity, c)
	}
	e.Ops = ops
	return e
}

func setOp(key string, v float64) kmsg.AlterClientQuotasRequestEntryOp {
	o := kmsg.NewAlterClientQuotasRequestEntryOp()
	o.Key, o.Value = key, v
	return o
}

func removeOp(key string) kmsg.AlterClientQuotasRequestEntryOp {
	o := kmsg.NewAlterClientQuotasRequestEntryOp()
	o.Key, o.Remove = key, true
	return o
}

func alterQuotas(t *testing.T, b *Broker, version int16, validateOnly bool, entries ...kmsg.AlterClientQuotasRequestEntry) *kmsg.AlterClientQuotasResponse {
	t.Helper()
	req := kmsg.NewPtrAlterClientQuotasRequest()
	req.Entries, req.ValidateOnly = entries, validateOnly
	return do[*kmsg.AlterClientQuotasResponse](t, b, version, req)
}

func describeQuotas(t *testing.T, b *Broker, version int16, strict bool, comps ...kmsg.DescribeClientQuotasRequestComponent) *kmsg.DescribeClientQuotasResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	req.Components, req.Strict = comps, strict
	return do[*kmsg.DescribeClientQuotasResponse](t, b, version, req)
}

func comp(typ string, match kmsg.QuotasMatchType, name *string) kmsg.DescribeClientQuotasRequestComponent {
	c := kmsg.NewDescribeClientQuotasRequestComponent()
	c.EntityType, c.MatchType, c.Match = typ, match, name
	return c
}

func TestAlterDescribeClientQuotas(t *testing.T) {
	b := newAdminBroker(t)
	s := kmsg.StringPtr
	for _, v := range []int16{0, 1} {
		b := newAdminBroker(t)
		resp := alterQuotas(t, b, v, false,
			quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 1024), setOp("request_percentage", 12.5)}, s("user"), s("alice")),
			quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("consumer_byte_rate", 2048)}, s("user"), s("alice"), s("client-id"), nil),
			quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 10)}, s("client-id"), nil),
			quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("connection_creation_rate", 5)}, s("ip"), s("10.0.0.1")),
		)
		for i, e := range resp.Entries {
			if e.ErrorCode != 0 {
				t.Fatalf("v%d entry %d: %d %v", v, i, e.ErrorCode, e.ErrorMessage)
			}
		}
		if len(resp.Entries) != 4 || *resp.Entries[0].Entity[0].Name != "alice" {
			t.Fatalf("v%d: entries %+v", v, resp.Entries)
		}
		count := func(strict bool, comps ...kmsg.DescribeClientQuotasRequestComponent) int {
			d := describeQuotas(t, b, v, strict, comps...)
			if d.ErrorCode != 0 {
				t.Fatalf("v%d describe: %d %v", v, d.ErrorCode, d.ErrorMessage)
			}
			return len(d.Entries)
		}
		if n := count(false); n != 4 {
			t.Errorf("v%d: everything: %d", v, n)
		}
		if n := count(false, comp("user", kmsg.QuotasMatchTypeExact, s("alice"))); n != 2 {
			t.Errorf("v%d: user alice: %d", v, n)
		}
		if n := count(true, comp("user", kmsg.QuotasMatchTypeExact, s("alice"))); n != 1 {
			t.Errorf("v%d: user alice strict: %d", v, n)
		}
		if n := count(false, comp("client-id", kmsg.QuotasMatchTypeDefault, nil)); n != 2 {
			t.Errorf("v%d: default client: %d", v, n)
		}
		if n := count(false, comp("client-id", kmsg.QuotasMatchTypeExact, nil)); n != 2 {
			t.Errorf("v%d: exact null client: %d", v, n)
		}
		if n := count(true, comp("client-id", kmsg.QuotasMatchTypeAny, nil)); n != 1 {
			t.Errorf("v%d: any client strict: %d", v, n)
		}
		if n := count(false, comp("ip", kmsg.QuotasMatchTypeAny, nil)); n != 1 {
			t.Errorf("v%d: any ip: %d", v, n)
		}
		d := describeQuotas(t, b, v, true, comp("user", kmsg.QuotasMatchTypeExact, s("alice")))
		if len(d.Entries) != 1 || len(d.Entries[0].Values) != 2 || d.Entries[0].Values[0].Key != "producer_byte_rate" ||
			d.Entries[0].Values[0].Value != 1024 || d.Entries[0].Values[1].Value != 12.5 {
			t.Fatalf("v%d: alice %+v", v, d.Entries)
		}
		// Remove one key, then the last one: the entity goes.
		alterQuotas(t, b, v, false, quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{removeOp("request_percentage")}, s("user"), s("alice")))
		d = describeQuotas(t, b, v, true, comp("user", kmsg.QuotasMatchTypeExact, s("alice")))
		if len(d.Entries) != 1 || len(d.Entries[0].Values) != 1 {
			t.Fatalf("v%d: after remove %+v", v, d.Entries)
		}
		alterQuotas(t, b, v, false, quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{removeOp("producer_byte_rate")}, s("user"), s("alice")))
		if n := count(true, comp("user", kmsg.QuotasMatchTypeExact, s("alice"))); n != 0 {
			t.Fatalf("v%d: alice still there", v)
		}
	}

	// validate_only stores nothing; errors are INVALID_REQUEST per entity.
	resp := alterQuotas(t, b, 1, true, quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 5)}, s("user"), s("bob")))
	if resp.Entries[0].ErrorCode != 0 || len(describeQuotas(t, b, 1, false).Entries) != 0 {
		t.Fatal("validate_only stored a quota")
	}
	for _, bad := range []kmsg.AlterClientQuotasRequestEntry{
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("foo_rate", 5)}, s("user"), s("bob")),
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 1.5)}, s("user"), s("bob")),
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 0)}, s("user"), s("bob")),
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 5), setOp("producer_byte_rate", 6)}, s("user"), s("bob")),
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 5)}, s("group"), s("g")),
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 5)}),
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("connection_creation_rate", 5)}, s("ip"), s("nope")),
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("connection_creation_rate", 5)}, s("ip"), s("1.2.3.4"), s("user"), s("u")),
	} {
		resp := alterQuotas(t, b, 1, false, bad)
		if resp.Entries[0].ErrorCode != kerr.InvalidRequest.Code || resp.Entries[0].ErrorMessage == nil {
			t.Errorf("%+v: code %d", bad, resp.Entries[0].ErrorCode)
		}
	}
	if n := len(describeQuotas(t, b, 1, false).Entries); n != 0 {
		t.Fatalf("%d entities stored by bad requests", n)
	}
	// A bad entity does not stop the good one next to it.
	resp = alterQuotas(t, b, 1, false,
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("foo", 5)}, s("user"), s("bob")),
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 5)}, s("user"), s("carol")))
	if resp.Entries[0].ErrorCode == 0 || resp.Entries[1].ErrorCode != 0 || len(describeQuotas(t, b, 1, false).Entries) != 1 {
		t.Fatalf("mixed request: %+v", resp.Entries)
	}

	// Describe filter errors.
	if d := describeQuotas(t, b, 1, false, comp("group", kmsg.QuotasMatchTypeAny, nil)); d.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("unknown type: %d", d.ErrorCode)
	}
	if d := describeQuotas(t, b, 1, false, comp("user", 0, s("a")), comp("user", 0, s("b"))); d.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("repeated type: %d", d.ErrorCode)
	}
	if d := describeQuotas(t, b, 1, false, comp("ip", kmsg.QuotasMatchTypeAny, nil), comp("user", kmsg.QuotasMatchTypeAny, nil)); d.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("ip with user: %d", d.ErrorCode)
	}
}

// TestProduceThrottle: with a producer_byte_rate quota on the client id, a
// produce over it answers with throttle_time_ms; other clients are not
// throttled.
func TestProduceThrottle(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "q", 1, nil)
	s := kmsg.StringPtr
	alterQuotas(t, b, 1, false, quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 100)}, s("client-id"), s("slow")))
	produce := func(client string) int32 {
		req := kmsg.NewPtrProduceRequest()
		req.Acks = 1
		req.TimeoutMillis = 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "q"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = adminBatch(10)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		req.SetVersion(9)
		reply := b.Handle(t.Context(), newTestRequest(req, client))
		resp := reply.Resp
		if reply.Wait != nil {
			resp = reply.Wait(t.Context())
		}
		pr := resp.(*kmsg.ProduceResponse)
		if pr.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce error %d", pr.Topics[0].Partitions[0].ErrorCode)
		}
		return pr.ThrottleMillis
	}
	var throttled int32
	for range 20 {
		throttled = max(throttled, produce("slow"))
		if th := produce("fast"); th != 0 {
			t.Fatalf("unquoted client throttled %d ms", th)
		}
	}
	if throttled <= 0 {
		t.Fatal("the quoted client was never throttled")
	}
}

func newTestRequest(body kmsg.Request, clientID string) *protocol.Request {
	return &protocol.Request{Key: body.Key(), Version: body.GetVersion(), Body: body, Parsed: true, ClientID: clientID, Conn: &protocol.ConnInfo{}}
}

// TestRequestPercentageThrottle: with a tiny request_percentage on the
// default client id, Metadata answers soon carry a throttle, capped at one
// quota window (1 s); ApiVersions is exempt.
func TestRequestPercentageThrottle(t *testing.T) {
	b := newAdminBroker(t)
	alterQuotas(t, b, 1, false, quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("request_percentage", 0.0001)}, kmsg.StringPtr("client-id"), nil))
	var throttle int32
	for i := 0; i < 10000 && throttle == 0; i++ {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(12)
		resp := b.Handle(t.Context(), newTestRequest(req, "busy")).Resp.(*kmsg.MetadataResponse)
		throttle = resp.ThrottleMillis
	}
	if throttle <= 0 || throttle > 1000 {
		t.Fatalf("metadata throttle %d ms, want (0, 1000]", throttle)
	}
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(3)
	if th := b.Handle(t.Context(), newTestRequest(av, "busy")).Resp.(*kmsg.ApiVersionsResponse).ThrottleMillis; th != 0 {
		t.Fatalf("ApiVersions throttled %d ms", th)
	}
}

// TestClusterQuotas: a quota altered on one node is described by every
// node and enforced by every node's quota table once it applied the change
// (the refresher polls the entity store's version).
func TestClusterQuotas(t *testing.T) {
	tc := newTestCluster(t, 3)
	tc.waitFor("a controller", func() bool { return tc.controllerIndex(0) >= 0 })
	resp := alterQuotas(t, tc.brokers[1], 1, false,
		quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 4096)}, kmsg.StringPtr("user"), kmsg.StringPtr("alice")))
	if resp.Entries[0].ErrorCode != 0 {
		t.Fatalf("alter: %d %v", resp.Entries[0].ErrorCode, resp.Entries[0].ErrorMessage)
	}
	tc.waitFor("every node enforces the quota", func() bool {
		for _, b := range tc.brokers {
			bound, _, ok := b.quotas.m.Table().Resolve(quota.Produce, "alice", "any")
			if !ok || bound != 4096 {
				return false
			}
		}
		return true
	})
	for i, b := range tc.brokers {
		d := describeQuotas(t, b, 1, true, comp("user", kmsg.QuotasMatchTypeExact, kmsg.StringPtr("alice")))
		if len(d.Entries) != 1 || d.Entries[0].Values[0].Value != 4096 {
			t.Fatalf("node %d describes %+v", i+1, d.Entries)
		}
	}
}

func TestAlterClientQuotasNameTooLong(t *testing.T) {
	b := newAdminBroker(t)
	long := strings.Repeat(",", 8<<10) // escapes to 24 KiB
	resp := alterQuotas(t, b, 1, false, quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 5)}, kmsg.StringPtr("client-id"), &long))
	if resp.Entries[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("code %d", resp.Entries[0].ErrorCode)
	}
}

// TestConnLimitsFromConfig: overrides alone leave other IPs unlimited (as
// Kafka's default max.connections.per.ip); with max.connections.per.ip=0
// only the overridden hosts may connect.
func TestConnLimitsFromConfig(t *testing.T) {
	addr := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip)} }
	b := newAdminBroker(t, func(c *config.Config) {
		c.Security.Quotas.MaxConnectionsPerIPOverrides = map[string]int32{"10.0.0.1": 1}
	})
	l := b.newConnLimiter()
	for i := range 5 {
		if ok, _ := l.Admit(addr("10.0.0.2"), nil); !ok {
			t.Fatalf("connection %d from a non-overridden IP refused", i)
		}
	}
	if ok, _ := l.Admit(addr("10.0.0.1"), nil); !ok {
		t.Fatal("first connection from the overridden IP refused")
	}
	if ok, _ := l.Admit(addr("10.0.0.1"), nil); ok {
		t.Fatal("second connection from the overridden IP (limit 1) admitted")
	}
	b0 := newAdminBroker(t, func(c *config.Config) {
		c.Security.Quotas.MaxConnectionsPerIP, c.Security.Quotas.MaxConnectionsPerIPSet = 0, true
		c.Security.Quotas.MaxConnectionsPerIPOverrides = map[string]int32{"localhost": 2}
	})
	l0 := b0.newConnLimiter()
	if ok, _ := l0.Admit(addr("10.0.0.2"), nil); ok {
		t.Fatal("per-IP 0: a connection from a host without an override admitted")
	}
	if ok, _ := l0.Admit(addr("127.0.0.1"), nil); !ok {
		t.Fatal("per-IP 0: localhost (override 2, resolved) refused")
	}
}

// TestControllerMutationRate: CreateTopics, CreatePartitions and DeleteTopics
// count partition mutations against controller_mutation_rate: strict
// versions get THROTTLING_QUOTA_EXCEEDED while the bucket is in debt,
// older ones are served and throttled.
func TestControllerMutationRate(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) {
		c.Security.Quotas.ControllerQuotaWindowNum, c.Security.Quotas.ControllerQuotaWindowSizeSeconds = 2, 1
	})
	alterQuotas(t, b, 1, false, quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("controller_mutation_rate", 1)}, kmsg.StringPtr("client-id"), kmsg.StringPtr("admin")))
	create := func(version int16, name string, partitions int32) *kmsg.CreateTopicsResponse {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
		req.Topics = append(req.Topics, rt)
		req.SetVersion(version)
		return b.Handle(t.Context(), newTestRequest(req, "admin")).Resp.(*kmsg.CreateTopicsResponse)
	}
	// Burst 2 (1/s over 2 windows): 2 partitions, then 2 more into debt.
	for i, name := range []string{"m1", "m2"} {
		if r := create(7, name, 2); r.Topics[0].ErrorCode != 0 || r.ThrottleMillis != 0 {
			t.Fatalf("topic %d: code %d throttle %d", i+1, r.Topics[0].ErrorCode, r.ThrottleMillis)
		}
	}
	r := create(7, "m3", 1)
	if r.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code || r.ThrottleMillis < 1000 || r.ThrottleMillis > 2000 {
		t.Fatalf("in debt, v7: code %d throttle %d", r.Topics[0].ErrorCode, r.ThrottleMillis)
	}
	if b.topics.get("m3") != nil {
		t.Fatal("refused topic created")
	}
	// v5 predates the error: served, throttled.
	if r := create(5, "m4", 1); r.Topics[0].ErrorCode != 0 || r.ThrottleMillis <= 0 {
		t.Fatalf("in debt, v5: code %d throttle %d", r.Topics[0].ErrorCode, r.ThrottleMillis)
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TopicNames = []string{"m1"}
	del.SetVersion(5)
	if r := b.Handle(t.Context(), newTestRequest(del, "admin")).Resp.(*kmsg.DeleteTopicsResponse); r.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code || r.ThrottleMillis <= 0 {
		t.Fatalf("delete in debt: code %d throttle %d", r.Topics[0].ErrorCode, r.ThrottleMillis)
	}
	cp := kmsg.NewPtrCreatePartitionsRequest()
	ct := kmsg.NewCreatePartitionsRequestTopic()
	ct.Topic, ct.Count = "m1", 3
	cp.Topics = append(cp.Topics, ct)
	cp.SetVersion(3)
	if r := b.Handle(t.Context(), newTestRequest(cp, "admin")).Resp.(*kmsg.CreatePartitionsResponse); r.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code || r.ThrottleMillis <= 0 {
		t.Fatalf("create partitions in debt: code %d throttle %d", r.Topics[0].ErrorCode, r.ThrottleMillis)
	}
	// Another client id has no quota.
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "free", 5, 1
	req.Topics = append(req.Topics, rt)
	req.SetVersion(7)
	if r := b.Handle(t.Context(), newTestRequest(req, "other")).Resp.(*kmsg.CreateTopicsResponse); r.Topics[0].ErrorCode != 0 || r.ThrottleMillis != 0 {
		t.Fatalf("other client: code %d throttle %d", r.Topics[0].ErrorCode, r.ThrottleMillis)
	}
}

// TestUserQuotaFromPrincipal: a user quota applies to the connection's
// authenticated principal (User:alice -> user alice), not to others.
func TestUserQuotaFromPrincipal(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "u", 1, nil)
	alterQuotas(t, b, 1, false, quotaEntry([]kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 100)}, kmsg.StringPtr("user"), kmsg.StringPtr("alice")))
	produce := func(principal string) int32 {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = 1, 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "u"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = adminBatch(10)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		req.SetVersion(9)
		preq := newTestRequest(req, "app")
		preq.Conn.SetSession(&protocol.Session{Principal: principal, Mechanism: "SCRAM-SHA-512"})
		return b.Handle(t.Context(), preq).Resp.(*kmsg.ProduceResponse).ThrottleMillis
	}
	var alice int32
	for range 20 {
		alice = max(alice, produce("User:alice"))
		if th := produce("User:bob"); th != 0 {
			t.Fatalf("bob throttled %d ms", th)
		}
	}
	if alice <= 0 {
		t.Fatal("alice never throttled")
	}
}
