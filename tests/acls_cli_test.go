package tests

// Kafka's kafka-acls.sh (org.apache.kafka.tools.AclCommand, run from the
// cached jars as the reassignment tool test does) against Moldau: with the
// authorizer on it adds, lists and removes ACLs (LITERAL and PREFIXED,
// ALLOW and DENY, a host); with none it prints Kafka's SECURITY_DISABLED
// error.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/embed"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

func aclTool(t *testing.T, libs, bootstrap string, args ...string) (string, error) {
	t.Helper()
	java := testenv.RequireTool(t, "java", "make deps (a JRE)")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	full := append([]string{"-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlog4j2.level=off",
		"-cp", libs + "/*", "org.apache.kafka.tools.AclCommand", "--bootstrap-server", bootstrap}, args...)
	cmd := exec.CommandContext(ctx, java, full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestKafkaAclsTool(t *testing.T) {
	libs := kafkaLibs(t)
	addr := harness.InProcess(t, func(c *config.Config) {
		// kafka-acls connects over PLAINTEXT: User:ANONYMOUS.
		c.Security.Authz = config.AuthzConfig{Enabled: true, SuperUsers: []string{"User:ANONYMOUS"}}
	}).Addr()

	out, err := aclTool(t, libs, addr, "--add", "--allow-principal", "User:alice", "--operation", "Read", "--operation", "Describe",
		"--topic", "orders", "--group", "billing")
	if err != nil || !strings.Contains(out, "Adding ACLs for resource") {
		t.Fatalf("--add: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--add", "--deny-principal", "User:mallory", "--deny-host", "10.0.0.9", "--operation", "Write",
		"--topic", "pay-", "--resource-pattern-type", "prefixed")
	if err != nil {
		t.Fatalf("--add prefixed deny: %v\n%s", err, out)
	}
	// The convenience forms: --producer (WRITE, DESCRIBE, CREATE on the
	// topic) and --consumer (READ, DESCRIBE on the topic, READ on the group).
	out, err = aclTool(t, libs, addr, "--add", "--allow-principal", "User:bob", "--producer", "--topic", "events")
	if err != nil {
		t.Fatalf("--add --producer: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--add", "--allow-principal", "User:carol", "--consumer", "--topic", "events", "--group", "readers")
	if err != nil {
		t.Fatalf("--add --consumer: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--list", "--principal", "User:bob")
	if err != nil || strings.Count(out, "principal=User:bob") != 3 || !strings.Contains(out, "operation=CREATE") {
		t.Errorf("--list --principal User:bob: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--list")
	if err != nil {
		t.Fatalf("--list: %v\n%s", err, out)
	}
	t.Logf("--list:\n%s", out)
	for _, want := range []string{
		"ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)",
		"ResourcePattern(resourceType=GROUP, name=billing, patternType=LITERAL)",
		"ResourcePattern(resourceType=TOPIC, name=pay-, patternType=PREFIXED)",
		"(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
		"(principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)",
		"(principal=User:mallory, host=10.0.0.9, operation=WRITE, permissionType=DENY)",
		"ResourcePattern(resourceType=GROUP, name=readers, patternType=LITERAL)",
		"(principal=User:carol, host=*, operation=READ, permissionType=ALLOW)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--list lacks %s", want)
		}
	}
	// --list --topic orders with MATCH shows what applies to a name.
	out, err = aclTool(t, libs, addr, "--list", "--topic", "pay-eu", "--resource-pattern-type", "match")
	if err != nil || !strings.Contains(out, "name=pay-, patternType=PREFIXED") || strings.Contains(out, "name=orders") {
		t.Errorf("--list match pay-eu: %v\n%s", err, out)
	}

	out, err = aclTool(t, libs, addr, "--remove", "--force", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "orders")
	if err != nil {
		t.Fatalf("--remove: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--list", "--topic", "orders")
	if err != nil || strings.Contains(out, "operation=READ") || !strings.Contains(out, "operation=DESCRIBE") {
		t.Errorf("after removing READ on orders: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--remove", "--force", "--topic", "orders")
	if err != nil {
		t.Fatalf("--remove all on orders: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--list", "--topic", "orders")
	if err != nil || strings.Contains(out, "principal=") {
		t.Errorf("orders still has ACLs: %v\n%s", err, out)
	}
}

func TestKafkaAclsToolWithoutAuthorizer(t *testing.T) {
	libs := kafkaLibs(t)
	addr := newBroker(t)
	out, _ := aclTool(t, libs, addr, "--list")
	if !strings.Contains(out, "SecurityDisabledException") || !strings.Contains(out, "No Authorizer is configured") {
		t.Fatalf("--list without an authorizer:\n%s", out)
	}
	t.Logf("--list without an authorizer:\n%s", out)
}

// TestKafkaAclsToolSASL: kafka-acls authenticating with SASL PLAIN
// (--command-config): the super user manages ACLs; a user without ALTER
// and DESCRIBE on the cluster gets Kafka's ClusterAuthorizationException,
// then may list once granted DESCRIBE.
func TestKafkaAclsToolSASL(t *testing.T) {
	libs := kafkaLibs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx,
		embed.WithProperty("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
		embed.WithProperty("sasl.enabled.mechanisms", "PLAIN"),
		embed.WithProperty("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";`),
		embed.WithProperty("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		embed.WithProperty("super.users", "User:admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.ListenerAddr("SASL_PLAINTEXT")
	clientConfig := func(user string) string {
		p := filepath.Join(t.TempDir(), user+".properties")
		text := "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n" +
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="` + user + `" password="` + user + `-secret";` + "\n"
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	admin, alice := clientConfig("admin"), clientConfig("alice")

	out, err := aclTool(t, libs, addr, "--command-config", alice, "--list")
	if !strings.Contains(out, "ClusterAuthorizationException") {
		t.Fatalf("alice --list without DESCRIBE on the cluster: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--command-config", admin, "--add", "--allow-principal", "User:alice", "--operation", "Describe", "--cluster")
	if err != nil {
		t.Fatalf("admin --add: %v\n%s", err, out)
	}
	out, err = aclTool(t, libs, addr, "--command-config", alice, "--list")
	if err != nil || !strings.Contains(out, "ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)") {
		t.Fatalf("alice --list with DESCRIBE on the cluster: %v\n%s", err, out)
	}
	t.Logf("alice --list:\n%s", out)
	out, err = aclTool(t, libs, addr, "--command-config", alice, "--add", "--allow-principal", "User:alice", "--operation", "All", "--topic", "*")
	if !strings.Contains(out, "ClusterAuthorizationException") {
		t.Fatalf("alice --add without ALTER on the cluster: %v\n%s", err, out)
	}
}
