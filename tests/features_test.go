package tests

// Kafka 4.4's kafka-features.sh (FeatureCommand) against the moldau binary:
// describe, upgrade, downgrade, disable, with Kafka's refusals; the levels
// survive kill -9. In a three-node in-process cluster a change made through
// one broker reaches the others.

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/embed"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

func featuresTool(t *testing.T, libs, bootstrap string, args ...string) (string, error) {
	t.Helper()
	return javaTool(t, libs, "", "org.apache.kafka.tools.FeatureCommand", append([]string{"--bootstrap-server", bootstrap}, args...)...)
}

var featureLine = regexp.MustCompile(`Feature: (\S+)\s+SupportedMinVersion: (\S+)\s+SupportedMaxVersion: (\S+)\s+FinalizedVersionLevel: (\S+)\s+Epoch: (\S+)`)

// describeFeatures runs kafka-features describe: feature -> [min, max,
// finalized, epoch].
func describeFeatures(t *testing.T, libs, bootstrap string) map[string][4]string {
	t.Helper()
	out, err := featuresTool(t, libs, bootstrap, "describe")
	if err != nil {
		t.Fatalf("kafka-features describe: %v\n%s", err, out)
	}
	m := map[string][4]string{}
	for _, f := range featureLine.FindAllStringSubmatch(out, -1) {
		m[f[1]] = [4]string{f[2], f[3], f[4], f[5]}
	}
	if len(m) == 0 {
		t.Fatalf("kafka-features describe: no features\n%s", out)
	}
	return m
}

func TestKafkaFeaturesTool(t *testing.T) {
	libs := kafkaLibs(t)
	p := harness.Start(t)
	fs := describeFeatures(t, libs, p.Addr)
	for name, want := range map[string][3]string{
		"group.version":                    {"0", "1", "1"},
		"transaction.version":              {"0", "2", "2"},
		"eligible.leader.replicas.version": {"0", "1", "1"},
		"kraft.version":                    {"0", "1", "0"},
		"metadata.version":                 {"3.3-IV3", "4.4-IV2", "4.4-IV2"},
	} {
		if got := fs[name]; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("describe %s: %v, want %v", name, got, want)
		}
	}
	epoch := fs["group.version"][3]

	for _, tc := range []struct {
		args []string
		ok   bool
		want string
	}{
		{[]string{"upgrade", "--feature", "group.version=2"}, false,
			"Could not upgrade group.version to 2. The update failed for all features since the following feature had an error: Invalid update version 2 for feature group.version. Local controller 0 only supports versions 0-1"},
		{[]string{"downgrade", "--feature", "transaction.version=1"}, false,
			"Invalid update version 1 for feature transaction.version. Moldau serves transactions v2 (KIP-890) only"},
		{[]string{"downgrade", "--metadata", "4.3"}, false,
			"Refusing to perform the requested downgrade because it might delete metadata information."},
		{[]string{"upgrade", "--feature", "nope.version=1"}, false, "Local controller 0 does not support this feature."},
		{[]string{"disable", "--feature", "group.version", "--dry-run"}, true, "group.version can be disabled."},
		{[]string{"disable", "--feature", "group.version"}, true, "group.version was disabled."},
		{[]string{"downgrade", "--feature", "eligible.leader.replicas.version=0", "--unsafe"}, true, "eligible.leader.replicas.version was downgraded to 0."},
	} {
		out, err := featuresTool(t, libs, p.Addr, tc.args...)
		if (err == nil) != tc.ok || !strings.Contains(out, tc.want) {
			t.Errorf("kafka-features %s: %v\n%s\nwant %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	fs = describeFeatures(t, libs, p.Addr)
	if fs["group.version"][2] != "0" || fs["eligible.leader.replicas.version"][2] != "0" || fs["group.version"][3] == epoch {
		t.Fatalf("after disable: %v (epoch was %s)", fs, epoch)
	}
	epoch = fs["group.version"][3]

	// Durable: kill -9 and restart keeps the levels and the epoch.
	p.Kill9()
	p.Restart()
	fs = describeFeatures(t, libs, p.Addr)
	if fs["group.version"][2] != "0" || fs["group.version"][3] != epoch {
		t.Fatalf("after kill -9: %v, want group.version 0 at epoch %s", fs, epoch)
	}
	out, err := featuresTool(t, libs, p.Addr, "upgrade", "--feature", "group.version=1", "--feature", "eligible.leader.replicas.version=1")
	if err != nil || !strings.Contains(out, "group.version was upgraded to 1.") {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	if fs = describeFeatures(t, libs, p.Addr); fs["group.version"][2] != "1" || fs["group.version"][3] == epoch {
		t.Fatalf("after upgrade: %v", fs)
	}
}

// apiVersionsFeatures asks one broker for its finalized features and epoch.
func apiVersionsFeatures(ctx context.Context, addr string) (map[string]int16, int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "moldau-test", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, 0, err
	}
	m := map[string]int16{}
	for _, f := range resp.FinalizedFeatures {
		m[f.Name] = f.MaxVersionLevel
	}
	return m, resp.FinalizedFeaturesEpoch, nil
}

func TestKafkaFeaturesToolCluster(t *testing.T) {
	libs := kafkaLibs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := embed.StartCluster(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fs := describeFeatures(t, libs, c.Addrs()[0])
	if fs["kraft.version"][2] != "1" {
		t.Errorf("kraft.version in a cluster: %v, want finalized 1 (dynamic voters)", fs["kraft.version"])
	}
	out, err := featuresTool(t, libs, c.Addrs()[1], "disable", "--feature", "group.version")
	if err != nil || !strings.Contains(out, "group.version was disabled.") {
		t.Fatalf("disable through node 2: %v\n%s", err, out)
	}
	for i, addr := range c.Addrs() {
		testenv.WaitFor(t, 30*time.Second, "node "+string(rune('1'+i))+" sees group.version 0", func() bool {
			m, epoch, err := apiVersionsFeatures(ctx, addr)
			_, on := m["group.version"]
			return err == nil && !on && epoch > 1
		})
	}
}

// metadataTopicID is topic's id as the cluster's Metadata names it (raw
// TxnOffsetCommit requests name topics by id from v6, KIP-1319).
func metadataTopicID(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("Metadata %s: %v %+v", topic, err, resp)
	}
	return resp.Topics[0].TopicID
}
