package tests

// The broker's log level changed at run time (KIP-412, issue 17) through
// Kafka 4.4's kafka-configs tool against the real moldau binary: SET root on
// the BROKER_LOGGER resource, --describe reporting it, debug lines appearing
// in the process's stderr afterwards and stopping again after a SET back to
// INFO; Kafka's refusals (a level it does not know, an unknown logger,
// removing the root logger's level; AlterConfigs, which never served
// broker loggers); a restart returns to --log-level (the level is not
// durable, as in Kafka). MOLDAU_LOGLEVEL_REF_ADDR=host:port (node id 1: a
// tests/compat/kafka-ref.sh broker) runs the same expectations against
// Apache Kafka, except the log lines and the restart.

import (
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/tests/harness"
)

// badFrameLine is the debug line the broker logs when a connection sends a
// frame size no request can have.
const badFrameLine = "closing connection: bad frame size"

// sendBadFrame sends a 1-byte frame size and waits for the broker to close
// the connection: by then the broker has logged (or not, at its level) the
// debug line for it.
func sendBadFrame(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("waiting for the broker to close the connection: %v", err)
	}
}

func TestKafkaConfigsBrokerLogLevel(t *testing.T) {
	addr := os.Getenv("MOLDAU_LOGLEVEL_REF_ADDR")
	var p *harness.Proc
	if addr == "" {
		p = harness.Start(t, "--node-id", "1", "--log-level", "info")
		addr = p.Addr
	}
	cli := func(args ...string) (string, error) {
		t.Helper()
		return kafkaTool(t, configsCLI, append([]string{"--bootstrap-server", addr, "--entity-type", "broker-loggers", "--entity-name", "1"}, args...)...)
	}
	ok := func(want string, args ...string) {
		t.Helper()
		out, err := cli(args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("kafka-configs %q: %v, want %q in:\n%s", args, err, want, out)
		}
	}
	refused := func(want string, args ...string) {
		t.Helper()
		out, err := cli(args...)
		if err == nil || !strings.Contains(out, want) {
			t.Fatalf("kafka-configs %q: %v, want a failure with %q:\n%s", args, err, want, out)
		}
	}

	if p == nil {
		// Leave the reference broker as found (kafka-ref.sh runs it at
		// ERROR).
		out, err := cli("--describe")
		m := regexp.MustCompile(`(?m)^\s*root=([A-Z]+) `).FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("the reference broker's root level: %v\n%s", err, out)
		}
		t.Cleanup(func() { _, _ = cli("--alter", "--add-config", "root="+m[1]) })
	} else {
		ok("root=INFO", "--describe")
	}
	if p != nil {
		sendBadFrame(t, p.Addr)
		if strings.Contains(p.Stderr(), badFrameLine) {
			t.Fatalf("a debug line at --log-level info:\n%s", p.Stderr())
		}
	}

	ok("Completed updating config for broker-logger 1", "--alter", "--add-config", "root=DEBUG")
	ok("root=DEBUG", "--describe")
	if p != nil {
		if !strings.Contains(p.Stderr(), "updated the log level") {
			t.Errorf("the change itself was not logged:\n%s", p.Stderr())
		}
		waitFor(t, "a debug line after root=DEBUG", func() bool {
			sendBadFrame(t, p.Addr)
			return strings.Contains(p.Stderr(), badFrameLine)
		})
	}

	// Legacy AlterConfigs never served broker loggers.
	areq := kmsg.NewPtrAlterConfigsRequest()
	ar := kmsg.NewAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
	ac := kmsg.NewAlterConfigsRequestResourceConfig()
	ac.Name, ac.Value = "root", kmsg.StringPtr("INFO")
	ar.Configs = append(ar.Configs, ac)
	areq.Resources = append(areq.Resources, ar)
	aresp, err := areq.RequestWith(ctxT(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	if r := aresp.Resources[0]; r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "Unknown resource type 8") {
		t.Errorf("AlterConfigs on BROKER_LOGGER: %+v (message %v)", r, r.ErrorMessage)
	}

	// Kafka's refusals, and the level stays.
	refused("Cannot set the log level of root to verbose as it is not a supported log level. Valid log levels are DEBUG, ERROR, FATAL, INFO, TRACE, WARN",
		"--alter", "--add-config", "root=verbose")
	// kafka-configs checks logger names against --describe's list itself;
	// the broker's own refusal (Logger NAME does not exist!) is in
	// broker/brokerlogger_test.go.
	refused("Invalid broker logger(s): kafka.server.ReplicaManager", "--alter", "--add-config", "kafka.server.ReplicaManager=DEBUG")
	refused("Removing the log level of the root logger is not allowed", "--alter", "--delete-config", "root")
	ok("root=DEBUG", "--describe")

	// Back to INFO: debug lines stop.
	ok("Completed updating config for broker-logger 1", "--alter", "--add-config", "root=INFO")
	ok("root=INFO", "--describe")
	if p == nil {
		return
	}
	before := strings.Count(p.Stderr(), badFrameLine)
	sendBadFrame(t, p.Addr)
	if n := strings.Count(p.Stderr(), badFrameLine); n != before {
		t.Fatalf("a debug line after root=INFO (%d, was %d)", n, before)
	}

	// Not durable: a restart comes back at --log-level.
	ok("Completed updating config for broker-logger 1", "--alter", "--add-config", "root=TRACE")
	ok("root=TRACE", "--describe")
	p.Stop()
	p.Restart()
	ok("root=INFO", "--describe")
}

// In a three-node cluster each node's level is its own: kafka-configs
// bootstrapped at node 1 changes node 2's level (the admin client sends a
// BROKER_LOGGER request to the node it names); node 2 logs debug lines,
// node 3 stays at INFO.
func TestKafkaConfigsBrokerLogLevelCluster(t *testing.T) {
	c := startProcCluster(t)
	cli := func(id string, args ...string) string {
		t.Helper()
		args = append([]string{"--bootstrap-server", c.node(1).addr, "--entity-type", "broker-loggers", "--entity-name", id}, args...)
		out, err := kafkaTool(t, configsCLI, args...)
		if err != nil {
			t.Fatalf("kafka-configs %q: %v\n%s", args, err, out)
		}
		return out
	}
	if out := cli("2", "--alter", "--add-config", "root=DEBUG"); !strings.Contains(out, "Completed updating config for broker-logger 2") {
		t.Fatalf("alter node 2:\n%s", out)
	}
	if out := cli("2", "--describe"); !strings.Contains(out, "root=DEBUG") {
		t.Fatalf("node 2 after root=DEBUG:\n%s", out)
	}
	if out := cli("3", "--describe"); !strings.Contains(out, "root=INFO") {
		t.Fatalf("node 3 after node 2's change:\n%s", out)
	}
	n2, n3 := c.node(2), c.node(3)
	sendBadFrame(t, n3.addr)
	waitFor(t, "a debug line in node 2's log", func() bool {
		sendBadFrame(t, n2.addr)
		return strings.Contains(grepLines(n2.logPath, badFrameLine), badFrameLine)
	})
	if strings.Contains(grepLines(n3.logPath, badFrameLine), badFrameLine) {
		t.Fatalf("node 3 logged a debug line at INFO:\n%s", grepLines(n3.logPath, badFrameLine))
	}
}
