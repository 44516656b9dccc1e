package config

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestDefault(t *testing.T) {
	c, err := Load(nil, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Addr != "127.0.0.1:9092" || c.DataDir != "./moldau-data" || c.NodeID != 0 || c.LogLevel != "info" ||
		c.LogFormat != "text" || c.AdminAddr != "127.0.0.1:9644" || c.Memory || c.AdvertiseAddr != "" {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if d.LogRetentionMs != 604800000 || d.MessageMaxBytes != 1048588 || d.LogSegmentBytes != 1073741824 ||
		d.LogMessageTimestampAfterMaxMs != 3600000 || d.OffsetsTopicNumPartitions != 50 || d.LogCleanupPolicy != "delete" {
		t.Errorf("unexpected Kafka defaults: %+v", d)
	}
	if len(c.Properties) != 0 {
		t.Errorf("Properties = %v, want empty", c.Properties)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "node.id=1\nlisteners=PLAINTEXT://0.0.0.0:9000\nlog.dirs=/file/a,/file/b\nnum.partitions=3\n")
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantNode int32
		wantAddr string
		wantDir  string
		wantPart int32
	}{
		{"file", []string{"--config", file}, nil, 1, "0.0.0.0:9000", "/file/a", 3},
		{"config from env", nil, map[string]string{EnvConfig: file}, 1, "0.0.0.0:9000", "/file/a", 3},
		{"--set over file", []string{"--config=" + file, "--set", "node.id=2", "--set=num.partitions=5"}, nil, 2, "0.0.0.0:9000", "/file/a", 5},
		{"env over --set", []string{"-config", file, "--set", "node.id=2"}, map[string]string{EnvNodeID: "3", EnvAddr: "127.0.0.1:1", EnvDataDir: "/env"}, 3, "127.0.0.1:1", "/env", 3},
		{"flags over env", []string{"--config", file, "--node-id", "4", "-addr=127.0.0.1:2", "--data-dir", "/flag"}, map[string]string{EnvNodeID: "3", EnvAddr: "127.0.0.1:1", EnvDataDir: "/env"}, 4, "127.0.0.1:2", "/flag", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, env(tt.env), discard())
			if err != nil {
				t.Fatal(err)
			}
			if c.NodeID != tt.wantNode || c.Addr != tt.wantAddr || c.DataDir != tt.wantDir || c.NumPartitions != tt.wantPart {
				t.Errorf("got node=%d addr=%s dir=%s partitions=%d", c.NodeID, c.Addr, c.DataDir, c.NumPartitions)
			}
			if c.Properties["node.id"] != itoa(tt.wantNode) {
				t.Errorf("Properties[node.id] = %q", c.Properties["node.id"])
			}
		})
	}
}

func itoa(n int32) string { return i64(int64(n)) }

func TestFlagsAndEnv(t *testing.T) {
	c, err := Load([]string{"--memory", "--log-level", "DEBUG", "--log-format=json", "--advertise-addr", "broker.example:19092", "--admin-addr", ""}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if !c.Memory || c.LogLevel != "debug" || c.LogFormat != "json" || c.AdvertiseAddr != "broker.example:19092" || c.AdminAddr != "" {
		t.Errorf("got %+v", c)
	}
	c, err = Load(nil, env(map[string]string{EnvMemory: "1", EnvLogLevel: "warn", EnvAdminAddr: "127.0.0.1:1"}), discard())
	if err != nil {
		t.Fatal(err)
	}
	if !c.Memory || c.LogLevel != "warn" || c.AdminAddr != "127.0.0.1:1" {
		t.Errorf("got %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // substring of the error
	}{
		{"bad addr", []string{"--addr", "nonsense"}, nil, "--addr"},
		{"bad addr port", []string{"--addr", "host:99999"}, nil, "--addr"},
		{"bad env addr", nil, map[string]string{EnvAddr: "x"}, EnvAddr},
		{"negative node id", []string{"--node-id", "-1"}, nil, "--node-id"},
		{"negative node id env", nil, map[string]string{EnvNodeID: "-5"}, EnvNodeID},
		{"unknown log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"unknown log format", []string{"--log-format", "xml"}, nil, "--log-format"},
		{"advertise unspecified", []string{"--advertise-addr", "0.0.0.0:9092"}, nil, "--advertise-addr"},
		{"bad memory env", nil, map[string]string{EnvMemory: "yes please"}, EnvMemory},
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"positional", []string{"extra"}, nil, `"extra"`},
		{"bad --set", []string{"--set", "novalue"}, nil, "--set"},
		{"unknown --set key", []string{"--set", "foo.bar=1"}, nil, `unknown key "foo.bar" in --set`},
		{"invalid --set value", []string{"--set", "num.partitions=0"}, nil, `"0" for num.partitions in --set: must be at least 1`},
		{"missing file", []string{"--config", "/does/not/exist"}, nil, "/does/not/exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.args, env(tt.env), discard())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Load([]string{"-h"}, env(nil), discard()); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
}

func TestFileKeys(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // error substring, "" = success
	}{
		{"unknown key names key and line", "num.partitions=2\n\n# x\nfoo.bar = 1\n", `config: unknown key "foo.bar" in FILE (line 4)`},
		{"typo of supported key", "num.partitons=2\n", `unknown key "num.partitons"`},
		{"invalid value names key, value and line", "a.b.c=1\n", `unknown key "a.b.c"`},
		{"bad int", "\nnum.partitions=zero\n", `invalid value "zero" for num.partitions in FILE (line 2)`},
		{"range", "num.partitions=0\n", "must be at least 1"},
		{"segment min", "log.segment.bytes=1048575\n", "log.segment.bytes"},
		{"bad bool", "auto.create.topics.enable=yes\n", "auto.create.topics.enable"},
		{"bad compression", "compression.type=brotli\n", "compression.type"},
		{"bad cleanup", "log.cleanup.policy=delete,shred\n", "log.cleanup.policy"},
		{"bad timestamp type", "log.message.timestamp.type=createtime\n", "log.message.timestamp.type"},
		{"zero retention", "log.retention.ms=0\n", "log.retention.ms"},
		{"node vs broker id", "broker.id=1\nnode.id=2\n", "node.id"},
		{"bad listener", "listeners=PLAINTEXT://nohostport\n", "listeners"},
		{"only the final duplicate is validated", "num.partitions=0\nnum.partitions=4\n", ""},
		{"ignored keys", "process.roles=broker,controller\ncontroller.quorum.bootstrap.servers=localhost:9093\nlistener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\nssl.keystore.location=/k\nnum.network.threads=3\nzookeeper.connect=localhost:2181\nlog.flush.offset.checkpoint.interval.ms=1\noffsets.topic.replication.factor=1\ntransaction.state.log.min.isr=1\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.text)
			_, err := Load([]string{"--config", file}, env(nil), discard())
			want := strings.ReplaceAll(tt.want, "FILE", file)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to contain %q", err, want)
			}
		})
	}
	file := writeFile(t, "foo.bar=1\n")
	_, err := Load([]string{"--config", file}, env(nil), discard())
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.Key != "foo.bar" || uk.Line != 1 || !errors.Is(err, ErrUnknownConfig) {
		t.Errorf("err = %#v", err)
	}
}

func TestIgnoredKeyLoggedOnce(t *testing.T) {
	file := writeFile(t, "num.io.threads=8\nnum.io.threads=16\nsocket.send.buffer.bytes=102400\n")
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	c, err := Load([]string{"--config", file, "--set", "num.io.threads=4"}, env(nil), logger)
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, "key=num.io.threads"); n != 1 {
		t.Errorf("num.io.threads logged %d times:\n%s", n, out)
	}
	if !strings.Contains(out, `msg="ignoring Kafka config key not used by Moldau" key=socket.send.buffer.bytes`) {
		t.Errorf("log:\n%s", out)
	}
	if c.Properties["num.io.threads"] != "4" {
		t.Errorf("Properties[num.io.threads] = %q, want the --set value", c.Properties["num.io.threads"])
	}
}

func TestKafkaConfigMapping(t *testing.T) {
	file := writeFile(t, `
process.roles=broker,controller
node.id=7
controller.listener.names=CONTROLLER
listeners=CONTROLLER://:9093,PLAINTEXT://:9092,EXTERNAL://0.0.0.0:19092
advertised.listeners=EXTERNAL://kafka.example:19092,PLAINTEXT://kafka-0.internal:9092
log.dirs=/var/lib/kafka/data,/var/lib/kafka/data2
log.dir=/ignored
log.retention.hours=24
log.retention.minutes=90
log.roll.hours=2
log.cleanup.policy = delete , compact
`)
	c, err := Load([]string{"--config", file}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != 7 || c.Addr != ":9092" || c.AdvertiseAddr != "kafka-0.internal:9092" || c.DataDir != "/var/lib/kafka/data" {
		t.Errorf("got node=%d addr=%q adv=%q dir=%q", c.NodeID, c.Addr, c.AdvertiseAddr, c.DataDir)
	}
	if c.LogRetentionMs != 90*60000 {
		t.Errorf("LogRetentionMs = %d, want minutes to win over hours", c.LogRetentionMs)
	}
	if c.LogSegmentMs != 2*hourMs {
		t.Errorf("LogSegmentMs = %d", c.LogSegmentMs)
	}
	if c.LogCleanupPolicy != "delete,compact" {
		t.Errorf("LogCleanupPolicy = %q", c.LogCleanupPolicy)
	}
	// ms beats minutes and hours whatever the order in the file.
	file = writeFile(t, "log.retention.ms=-5\nlog.retention.hours=1\nlog.dir=/only\n")
	c, err = Load([]string{"--config", file}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if c.LogRetentionMs != -1 || c.DataDir != "/only" {
		t.Errorf("LogRetentionMs = %d DataDir = %q", c.LogRetentionMs, c.DataDir)
	}
	// Flags still win over log.dirs and listeners.
	c, err = Load([]string{"--config", file, "--data-dir", "/flag", "--addr", "localhost:1"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/flag" || c.Addr != "localhost:1" || c.Properties["log.dirs"] != "/flag" || c.Properties["listeners"] != "PLAINTEXT://localhost:1" {
		t.Errorf("got %q %q %v", c.DataDir, c.Addr, c.Properties)
	}
}

func TestKafkaKeyList(t *testing.T) {
	for _, k := range []string{"listeners", "log.dirs", "process.roles", "controller.quorum.voters", "num.network.threads",
		"zookeeper.connect", "ssl.keystore.location", "sasl.enabled.mechanisms", "listener.name.internal.ssl.keystore.type",
		"inter.broker.listener.name", "controller.listener.names", "num.io.threads", "socket.send.buffer.bytes",
		"group.coordinator.rebalance.protocols", "offsets.topic.replication.factor", "transaction.state.log.min.isr",
		"log.flush.offset.checkpoint.interval.ms", "metric.reporters", "remote.log.storage.system.enable", "log.cleaner.threads",
		"quota.window.num", "auto.leader.rebalance.enable", "replica.fetch.max.bytes", "super.users"} {
		if !IsKafkaBrokerKey(k) {
			t.Errorf("%s is not known as a Kafka key", k)
		}
	}
	for _, k := range []string{"foo.bar", "confluent.license", "num.partitons", "log.retention"} {
		if IsKafkaBrokerKey(k) {
			t.Errorf("%s is known as a Kafka key", k)
		}
	}
	exact, _ := kafkaKeys()
	if len(exact) < 250 {
		t.Errorf("only %d Kafka keys", len(exact))
	}
}

// TestHTTPFrontEndAddrs: the web console and the HTTP proxy are on by
// default through Load (and under --dev) but off in Default(); a flag or the
// environment moves or disables them, and a bad address is refused naming
// where it came from.
func TestHTTPFrontEndAddrs(t *testing.T) {
	if d := Default(); d.ConsoleAddr != "" || d.HTTPProxyAddr != "" {
		t.Errorf("Default() console %q http proxy %q, want both off", d.ConsoleAddr, d.HTTPProxyAddr)
	}
	for _, args := range [][]string{nil, {"--dev"}} {
		c, err := Load(args, env(nil), discard())
		if err != nil {
			t.Fatal(err)
		}
		if c.ConsoleAddr != "127.0.0.1:8080" || c.HTTPProxyAddr != "127.0.0.1:8082" {
			t.Errorf("Load(%q): console %q http proxy %q, want 127.0.0.1:8080 and 127.0.0.1:8082", args, c.ConsoleAddr, c.HTTPProxyAddr)
		}
	}
	c, err := Load([]string{"--console-addr", "", "--http-proxy-addr=0.0.0.0:18082"}, env(map[string]string{EnvConsoleAddr: "127.0.0.1:1", EnvHTTPProxyAddr: ""}), discard())
	if err != nil {
		t.Fatal(err)
	}
	if c.ConsoleAddr != "" || c.HTTPProxyAddr != "0.0.0.0:18082" {
		t.Errorf("flags: console %q http proxy %q", c.ConsoleAddr, c.HTTPProxyAddr)
	}
	c, err = Load(nil, env(map[string]string{EnvConsoleAddr: "127.0.0.1:18080", EnvHTTPProxyAddr: "127.0.0.1:18082"}), discard())
	if err != nil {
		t.Fatal(err)
	}
	if c.ConsoleAddr != "127.0.0.1:18080" || c.HTTPProxyAddr != "127.0.0.1:18082" {
		t.Errorf("env: console %q http proxy %q", c.ConsoleAddr, c.HTTPProxyAddr)
	}
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--console-addr", "nonsense"}, nil, "--console-addr"},
		{[]string{"--http-proxy-addr", "host:99999"}, nil, "--http-proxy-addr"},
		{nil, map[string]string{EnvConsoleAddr: "x"}, EnvConsoleAddr},
		{nil, map[string]string{EnvHTTPProxyAddr: "x"}, EnvHTTPProxyAddr},
	} {
		if _, err := Load(tt.args, env(tt.env), discard()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q, %v) err = %v, want it to name %s", tt.args, tt.env, err, tt.want)
		}
	}
}

// TestHTTPAllowedHosts: --http-allowed-hosts (and its env) is a comma list
// of host names; a URL or user part is refused.
func TestHTTPAllowedHosts(t *testing.T) {
	c, err := Load([]string{"--http-allowed-hosts", " kafka.example , ui.example:8080,"}, env(nil), discard())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.HTTPAllowedHosts, []string{"kafka.example", "ui.example:8080"}) {
		t.Errorf("flag: %q", c.HTTPAllowedHosts)
	}
	c, err = Load(nil, env(map[string]string{EnvHTTPAllowedHosts: "a.example"}), discard())
	if err != nil || !slices.Equal(c.HTTPAllowedHosts, []string{"a.example"}) {
		t.Errorf("env: %q %v", c.HTTPAllowedHosts, err)
	}
	if c, err := Load(nil, env(nil), discard()); err != nil || len(c.HTTPAllowedHosts) != 0 {
		t.Errorf("default: %q %v", c.HTTPAllowedHosts, err)
	}
	for _, bad := range []string{"http://x.example", "x.example/ui", "u@x.example"} {
		if _, err := Load([]string{"--http-allowed-hosts", bad}, env(nil), discard()); err == nil {
			t.Errorf("--http-allowed-hosts %q accepted", bad)
		}
	}
}
