package tests

// Client quotas and connection limits (issue 16) with real clients:
// franz-go producing and consuming under byte-rate quotas set through kadm,
// DescribeClientQuotas with every filter kind, Kafka's kafka-configs tool,
// and max.connections.per.ip closing the connection over the limit.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// throttleHook counts the throttles a client is told of.
type throttleHook struct {
	n   atomic.Int64
	max atomic.Int64 // ms
}

func (h *throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	h.n.Add(1)
	if ms := d.Milliseconds(); ms > h.max.Load() {
		h.max.Store(ms)
	}
}

// quotaBroker starts a broker whose quota windows are 3 samples of 1 s
// (quota.window.num=3): Kafka's 11 let a new client send 10 s worth of
// quota at once, which a test of a few seconds would only see as a burst.
func quotaBroker(t *testing.T) string {
	return harness.InProcess(t, func(c *config.Config) {
		c.Security.Quotas.QuotaWindowNum = 3
		c.Security.Quotas.QuotaWindowSizeSeconds = 1
	}).Addr()
}

func setClientQuota(t *testing.T, adm *kadm.Client, clientID, key string, v float64) {
	t.Helper()
	res, err := adm.AlterClientQuotas(context.Background(), []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &clientID}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: key, Value: v}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("alter %v: %v %s", r.Entity, r.Err, r.ErrMessage)
		}
	}
}

// rateBetween is the bytes per second of the samples (time, bytes) that
// fall in [from, to) after start.
type byteSamples struct {
	mu    sync.Mutex
	start time.Time
	at    []time.Duration
	n     []int
}

func (s *byteSamples) add(n int) {
	s.mu.Lock()
	s.at = append(s.at, time.Since(s.start))
	s.n = append(s.n, n)
	s.mu.Unlock()
}

func (s *byteSamples) rate(from, to time.Duration) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	for i, at := range s.at {
		if at >= from && at < to {
			total += s.n[i]
		}
	}
	return float64(total) / (to - from).Seconds()
}

// incompressible is n random bytes: quotas count bytes on the wire, so the
// records must not shrink in compression.
func incompressible(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// The rate is measured over the whole run: with quota.window.num=3, a
// client whose usage all falls into one sample sends two windows' worth at
// once, is throttled until that sample expires (3 s), then bursts again, so
// only whole cycles show the quota's rate. 9 s is three of them.
const (
	quotaRate     = 200_000 // bytes/s
	quotaWarmup   = 0
	quotaMeasured = 9 * time.Second
)

func checkRate(t *testing.T, what string, got float64) {
	t.Helper()
	t.Logf("%s: %.0f B/s against a quota of %d B/s", what, got, quotaRate)
	if got < quotaRate*0.7 || got > quotaRate*1.3 {
		t.Errorf("%s: %.0f B/s, not within 30%% of the %d B/s quota", what, got, quotaRate)
	}
}

func TestProducerByteRateQuota(t *testing.T) {
	addr := quotaBroker(t)
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, "quota-produce"); err != nil {
		t.Fatal(err)
	}
	setClientQuota(t, adm, "quota-producer", "producer_byte_rate", quotaRate)
	hook := &throttleHook{}
	cl := newClient(t, addr, kgo.ClientID("quota-producer"), kgo.WithHooks(hook), kgo.DefaultProduceTopic("quota-produce"),
		kgo.ProducerBatchMaxBytes(16<<10), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	s := &byteSamples{start: time.Now()}
	value := incompressible(1000)
	ctx, cancel := context.WithTimeout(context.Background(), quotaWarmup+quotaMeasured)
	defer cancel()
	for ctx.Err() == nil {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(r *kgo.Record, err error) {
			if err == nil {
				s.add(len(r.Value))
			}
		})
	}
	checkRate(t, "produce", s.rate(quotaWarmup, quotaWarmup+quotaMeasured))
	if hook.n.Load() == 0 {
		t.Error("the producer was never throttled")
	}
	t.Logf("%d throttles, the longest %d ms", hook.n.Load(), hook.max.Load())
}

func TestConsumerByteRateQuota(t *testing.T) {
	addr := quotaBroker(t)
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, "quota-fetch"); err != nil {
		t.Fatal(err)
	}
	// More than the test can read at the quota.
	// Small batches: a fetch returns at least one whole batch, and a batch
	// larger than the quota window allows would be throttled forever.
	p := newClient(t, addr, kgo.DefaultProduceTopic("quota-fetch"), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(16<<10))
	value := incompressible(1000)
	var recs []*kgo.Record
	for range 3 * quotaRate * int((quotaWarmup+quotaMeasured)/time.Second) / 1000 / 2 {
		recs = append(recs, &kgo.Record{Value: value})
	}
	if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	setClientQuota(t, adm, "quota-consumer", "consumer_byte_rate", quotaRate)
	hook := &throttleHook{}
	cl := newClient(t, addr, kgo.ClientID("quota-consumer"), kgo.WithHooks(hook), kgo.ConsumeTopics("quota-fetch"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<10), kgo.FetchMaxPartitionBytes(64<<10))
	s := &byteSamples{start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), quotaWarmup+quotaMeasured)
	defer cancel()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		n := 0
		fs.EachRecord(func(r *kgo.Record) { n += len(r.Value) })
		if n > 0 {
			s.add(n)
		}
	}
	checkRate(t, "fetch", s.rate(quotaWarmup, quotaWarmup+quotaMeasured))
	if hook.n.Load() == 0 {
		t.Error("the consumer was never throttled")
	}
	t.Logf("%d throttles, the longest %d ms", hook.n.Load(), hook.max.Load())
}

func TestDescribeClientQuotasFilters(t *testing.T) {
	addr := newBroker(t)
	adm := kadm.NewClient(newClient(t, addr))
	ctx := context.Background()
	s := func(v string) *string { return &v }
	entities := []kadm.ClientQuotaEntity{
		{{Type: "user", Name: s("alice")}},
		{{Type: "user", Name: nil}},
		{{Type: "user", Name: s("alice")}, {Type: "client-id", Name: s("app")}},
		{{Type: "client-id", Name: s("app")}},
		{{Type: "client-id", Name: nil}},
		{{Type: "ip", Name: s("10.1.2.3")}},
	}
	var entries []kadm.AlterClientQuotaEntry
	for i, e := range entities {
		key := "producer_byte_rate"
		if e[0].Type == "ip" {
			key = "connection_creation_rate"
		}
		entries = append(entries, kadm.AlterClientQuotaEntry{Entity: e, Ops: []kadm.AlterClientQuotaOp{{Key: key, Value: float64(1000 + i)}}})
	}
	res, err := adm.AlterClientQuotas(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%v: %v %s", r.Entity, r.Err, r.ErrMessage)
		}
	}
	describe := func(strict bool, comps ...kadm.DescribeClientQuotaComponent) []string {
		t.Helper()
		got, err := adm.DescribeClientQuotas(ctx, strict, comps)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, q := range got {
			out = append(out, q.Entity.String()+"="+q.Values[0].String())
		}
		return out
	}
	exact := kmsg.QuotasMatchTypeExact
	def := kmsg.QuotasMatchTypeDefault
	anyT := kmsg.QuotasMatchTypeAny
	for _, c := range []struct {
		strict bool
		comps  []kadm.DescribeClientQuotaComponent
		want   int
		has    string
	}{
		{false, nil, 6, "{ip=10.1.2.3}"},
		{false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: s("alice"), MatchType: exact}}, 2, "{user=alice}"},
		{true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: s("alice"), MatchType: exact}}, 1, "{user=alice}=producer_byte_rate=1000"},
		{false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: def}}, 1, "{user=<default>}"},
		{false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: anyT}}, 3, "{user=<default>}"},
		{true, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: anyT}}, 2, "{client-id=<default>}"},
		{false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchName: s("app"), MatchType: exact}, {Type: "user", MatchType: anyT}}, 1, "app"},
		{false, []kadm.DescribeClientQuotaComponent{{Type: "ip", MatchType: anyT}}, 1, "connection_creation_rate=1005"},
	} {
		got := describe(c.strict, c.comps...)
		if len(got) != c.want || !strings.Contains(strings.Join(got, " "), c.has) {
			t.Errorf("strict=%v %+v: got %v, want %d entries with %q", c.strict, c.comps, got, c.want, c.has)
		}
	}
	// A bad filter is refused.
	if _, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "ip", MatchType: anyT}, {Type: "user", MatchType: anyT}}); err == nil {
		t.Error("ip with user: no error")
	}
}

// TestKafkaConfigsQuotas runs Kafka's kafka-configs (ConfigCommand) against
// Moldau: --alter --add-config on a client id, the default user, a user and
// client id pair and an ip, --describe shows each, --delete-config removes.
func TestKafkaConfigsQuotas(t *testing.T) {
	libs := kafkaLibs(t)
	addr := newBroker(t)
	java := testenv.RequireTool(t, "java", "make deps (a JRE)")
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		full := append([]string{"-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlog4j2.level=off",
			"-cp", libs + "/*", "org.apache.kafka.tools.ConfigCommand", "--bootstrap-server", addr}, args...)
		out, err := exec.CommandContext(ctx, java, full...).CombinedOutput()
		if err != nil {
			t.Fatalf("kafka-configs %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("--alter", "--entity-type", "clients", "--entity-name", "x", "--add-config", "producer_byte_rate=1024")
	out := run("--describe", "--entity-type", "clients", "--entity-name", "x")
	if !strings.Contains(out, "producer_byte_rate=1024") {
		t.Fatalf("describe does not show the quota:\n%s", out)
	}
	run("--alter", "--entity-type", "users", "--entity-default", "--add-config", "consumer_byte_rate=2048,request_percentage=50")
	out = run("--describe", "--entity-type", "users", "--entity-default")
	if !strings.Contains(out, "consumer_byte_rate=2048") || !strings.Contains(out, "request_percentage=50") {
		t.Fatalf("describe of the default user:\n%s", out)
	}
	run("--alter", "--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients", "--entity-name", "app",
		"--add-config", "producer_byte_rate=4096")
	out = run("--describe", "--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients", "--entity-name", "app")
	if !strings.Contains(out, "producer_byte_rate=4096") {
		t.Fatalf("describe of user alice, client app:\n%s", out)
	}
	run("--alter", "--entity-type", "ips", "--entity-name", "10.9.8.7", "--add-config", "connection_creation_rate=10")
	out = run("--describe", "--entity-type", "ips", "--entity-name", "10.9.8.7")
	if !strings.Contains(out, "connection_creation_rate=10") {
		t.Fatalf("describe of ip 10.9.8.7:\n%s", out)
	}
	run("--alter", "--entity-type", "clients", "--entity-name", "x", "--delete-config", "producer_byte_rate")
	out = run("--describe", "--entity-type", "clients", "--entity-name", "x")
	if strings.Contains(out, "producer_byte_rate") {
		t.Fatalf("quota still there after --delete-config:\n%s", out)
	}
}

// TestMaxConnectionsPerIP: with max.connections.per.ip=N, the (N+1)th
// connection from 127.0.0.1 is closed without being served, and a slot
// frees when a connection closes.
func TestMaxConnectionsPerIP(t *testing.T) {
	const n = 3
	addr := harness.InProcess(t, func(c *config.Config) {
		c.Security.Quotas.MaxConnectionsPerIP = n
		c.Security.Quotas.MaxConnectionsPerIPSet = true
	}).Addr()
	apiVersions := sendApiVersions
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if err := apiVersions(c); err != nil {
			t.Fatalf("connection %d not served: %v", i+1, err)
		}
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := apiVersions(extra); err == nil {
		t.Fatalf("connection %d was served", n+1)
	}
	extra.Close()
	// Closing one frees a slot (the broker notices the close: poll).
	conns[0].Close()
	conns = conns[1:]
	waitFor(t, "a free connection slot", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		if apiVersions(c) != nil {
			c.Close()
			return false
		}
		conns = append(conns, c)
		return true
	})
}

// TestIPConnectionCreationRate: a connection_creation_rate quota on the
// client's IP (KIP-612, set through kadm on an ip entity) closes the
// connections over the rate, unserved.
func TestIPConnectionCreationRate(t *testing.T) {
	addr := quotaBroker(t) // windows: 3 x 1 s, so 2 s worth may come at once
	adm := kadm.NewClient(newClient(t, addr))
	ip := "127.0.0.1"
	res, err := adm.AlterClientQuotas(context.Background(), []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: &ip}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 2}},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter: %v %v", err, res)
	}
	// Connect ten times at once, then see which connections are served.
	var conns []net.Conn
	for range 10 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	served, refused := 0, 0
	for _, c := range conns {
		if sendApiVersions(c) == nil {
			served++
		} else {
			refused++
		}
	}
	// 2/s over a 2 s minimum window: 4 (fewer if the admin client's own
	// connection counted) of 10 quick connections.
	if served > 4 || refused < 6 {
		t.Fatalf("served %d, refused %d of 10 connections at 2/s", served, refused)
	}
}

// sendApiVersions sends ApiVersions v0 on c and reads the start of the
// answer: an error means the broker closed the connection instead.
func sendApiVersions(c net.Conn) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(0)
	// size, key 18, version 0, correlation id 1, null client id, body.
	frame := []byte{0, 0, 0, 0, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff}
	frame = req.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(frame); err != nil {
		return err
	}
	var size [4]byte
	_, err := io.ReadFull(c, size[:])
	return err
}
