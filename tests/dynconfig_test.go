package tests

// Dynamic BROKER and GROUP configs (issue 17) through Kafka 4.4's
// kafka-configs tool against the real moldau binary: per-broker and
// cluster-default broker configs with Kafka's refusals, values, sources and
// synonyms; a dynamic log.retention.ms default actually deleting old
// segments of a topic without an override; a dynamic message.max.bytes
// refusing a larger batch; GROUP configs with Kafka's bounds, a KIP-848
// heartbeat answering with the group's heartbeat interval; all of it again
// after a restart. MOLDAU_DYNCONFIG_REF_ADDR=host:port (node id 1: a
// tests/compat/kafka-ref.sh broker) runs the same expectations against
// Apache Kafka, except the retention wait (Kafka checks retention every 5
// minutes by default) and the restart.

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/tests/harness"
)

func TestKafkaConfigsDynamic(t *testing.T) {
	addr := os.Getenv("MOLDAU_DYNCONFIG_REF_ADDR")
	var p *harness.Proc
	if addr == "" {
		p = harness.Start(t, "--node-id", "1", "--set", "log.retention.check.interval.ms=200")
		addr = p.Addr
	}
	suffix := strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000")
	retTopic, sizeTopic, group := "dyn-ret-"+suffix, "dyn-size-"+suffix, "dyn-group-"+suffix
	createTopic(t, addr, retTopic, 1, nil)
	createTopic(t, addr, sizeTopic, 1, nil)

	cli := func(args ...string) (string, error) {
		t.Helper()
		return kafkaTool(t, configsCLI, append([]string{"--bootstrap-server", addr}, args...)...)
	}
	ok := func(want string, args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("kafka-configs %q: %v, want %q in:\n%s", args, err, want, out)
		}
		return out
	}
	refused := func(want string, args ...string) {
		t.Helper()
		out, err := cli(args...)
		if err == nil || !strings.Contains(out, want) {
			t.Fatalf("kafka-configs %q: %v, want a failure with %q:\n%s", args, err, want, out)
		}
	}

	if p == nil {
		// Leave the reference broker as found.
		t.Cleanup(func() {
			_, _ = cli("--alter", "--entity-type", "brokers", "--entity-default", "--delete-config", "log.retention.ms,log.roll.ms,message.max.bytes")
			_, _ = cli("--alter", "--entity-type", "brokers", "--entity-name", "1", "--delete-config", "log.retention.ms")
		})
	}

	// Before any dynamic config: a 5000-byte record fits, and records an
	// hour old stay (retention is 7 days).
	cl := newClient(t, addr, kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordRetries(0))
	big := incompressible(5000) // the limit is on the batch as sent, compressed
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: sizeTopic, Value: big}).FirstErr(); err != nil {
		t.Fatalf("5000-byte record before the change: %v", err)
	}
	old := time.Now().Add(-time.Hour)
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: retTopic, Value: []byte("old"), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// Kafka's refusals, with Kafka's messages.
	refused("InvalidRequestException: Cannot update these configs dynamically: [log.retention.hours]",
		"--alter", "--entity-type", "brokers", "--entity-name", "1", "--add-config", "log.retention.hours=5")
	refused("InvalidRequestException: Invalid value 10 for configuration log.segment.bytes: Value must be at least 1048576",
		"--alter", "--entity-type", "brokers", "--entity-default", "--add-config", "log.segment.bytes=10")
	refused("InvalidRequestException: Cannot update these configs at default cluster level, broker id must be specified: [listeners]",
		"--alter", "--entity-type", "brokers", "--entity-default", "--add-config", "listeners=PLAINTEXT://:9999")

	// The cluster default and this broker's own value.
	ok("Completed updating default config for brokers in the cluster.",
		"--alter", "--entity-type", "brokers", "--entity-default", "--add-config", "log.retention.ms=60000,log.roll.ms=300,message.max.bytes=2000")
	ok("Completed updating config for broker 1.",
		"--alter", "--entity-type", "brokers", "--entity-name", "1", "--add-config", "log.retention.ms=50000")
	check := func() {
		t.Helper()
		ok("log.retention.ms=50000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=50000, DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=60000, DEFAULT_CONFIG:log.retention.hours=168}",
			"--describe", "--entity-type", "brokers", "--entity-name", "1")
		out := ok("message.max.bytes=2000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=2000}",
			"--describe", "--entity-type", "brokers", "--entity-default")
		if !strings.Contains(out, "log.retention.ms=60000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=60000}") {
			t.Errorf("default resource:\n%s", out)
		}
		ok("retention.ms=50000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=50000, DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=60000, DEFAULT_CONFIG:log.retention.hours=168}",
			"--describe", "--all", "--entity-type", "topics", "--entity-name", retTopic)
		// message.max.bytes applies to topics without max.message.bytes.
		err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: sizeTopic, Value: big}).FirstErr()
		if err == nil || !strings.Contains(err.Error(), kerr.MessageTooLarge.Message) {
			t.Errorf("5000-byte record under message.max.bytes=2000: %v", err)
		}
	}
	check()

	// Groups (KIP-848 group configs), with Kafka's bounds.
	refused("InvalidConfigurationException: consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive.",
		"--alter", "--entity-type", "groups", "--entity-name", group, "--add-config", "consumer.session.timeout.ms=70000")
	refused("InvalidConfigurationException: Unknown group config name: foo.bar",
		"--alter", "--entity-type", "groups", "--entity-name", group, "--add-config", "foo.bar=1")
	ok("Completed updating config for group "+group+".",
		"--alter", "--entity-type", "groups", "--entity-name", group, "--add-config", "consumer.session.timeout.ms=50000,consumer.heartbeat.interval.ms=6000")
	checkGroup := func() {
		t.Helper()
		out := ok("consumer.session.timeout.ms=50000 sensitive=false synonyms={DYNAMIC_GROUP_CONFIG:consumer.session.timeout.ms=50000, DEFAULT_CONFIG:group.consumer.session.timeout.ms=45000}",
			"--describe", "--entity-type", "groups", "--entity-name", group)
		if !strings.Contains(out, "consumer.heartbeat.interval.ms=6000 ") {
			t.Errorf("group describe:\n%s", out)
		}
		// A KIP-848 member of the group is told the group's interval.
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberEpoch, req.RebalanceTimeoutMillis = group, 0, 30000
		req.MemberID = "dynconfig-member-" + time.Now().Format("150405.000000")
		req.SubscribedTopicNames = []string{sizeTopic}
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		var resp *kmsg.ConsumerGroupHeartbeatResponse
		waitFor(t, "a consumer group heartbeat", func() bool {
			r, err := req.RequestWith(ctxT(t), cl)
			if err != nil || r.ErrorCode != 0 {
				return false
			}
			resp = r
			return true
		})
		if resp.HeartbeatIntervalMillis != 6000 {
			t.Errorf("heartbeat interval %d ms, want the group's 6000", resp.HeartbeatIntervalMillis)
		}
		leave := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		leave.Group, leave.MemberID, leave.MemberEpoch = group, req.MemberID, -1
		_, _ = leave.RequestWith(ctxT(t), cl)
	}
	checkGroup()

	if p == nil {
		return // Kafka: retention is checked every 5 minutes; no restart
	}

	// The dynamic retention deletes the hour-old segment (rolled by the
	// dynamic log.roll.ms) of a topic without its own retention.
	adm := kadm.NewClient(cl)
	waitFor(t, "the dynamic log.retention.ms to delete the old records", func() bool {
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: retTopic, Value: []byte("new")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		starts, err := adm.ListStartOffsets(ctxT(t), retTopic)
		if err != nil {
			return false
		}
		o, _ := starts.Lookup(retTopic, 0)
		return o.Err == nil && o.Offset >= 10
	})

	// Durable: the same after a restart.
	p.Stop()
	p.Restart()
	cl = newClient(t, addr, kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordRetries(0))
	check()
	checkGroup()

	// Deleting the configs brings back the defaults.
	ok("Completed updating default config for brokers in the cluster.",
		"--alter", "--entity-type", "brokers", "--entity-default", "--delete-config", "log.retention.ms,log.roll.ms,message.max.bytes")
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: sizeTopic, Value: big}).FirstErr(); err != nil {
		t.Errorf("5000-byte record after deleting message.max.bytes: %v", err)
	}
}
