package tests

// Kafka's kafka-delegation-tokens.sh (DelegationTokenCommand, run from the
// jars the compat harness caches, as reassign_cli_test.go runs its tool)
// against an embedded Moldau with a SASL_PLAINTEXT listener: alice (SCRAM)
// creates a token with a renewer, describes, renews it; Kafka's console
// producer logs in with the token (tokenauth=true in its JAAS line) and
// produces; alice reads the record; the tool expires the token, which then
// no longer logs in.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/moldau/moldau/embed"
	"github.com/moldau/moldau/internal/testenv"
)

// javaTool runs Kafka's tool class mainClass with args, stdin as input.
func javaTool(t *testing.T, libs, stdin, mainClass string, args ...string) (string, error) {
	t.Helper()
	java := testenv.RequireTool(t, "java", "make deps (a JRE)")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	full := append([]string{"-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlog4j2.level=off",
		"-cp", libs + "/*", mainClass}, args...)
	cmd := exec.CommandContext(ctx, java, full...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// clientProps writes a client config file for SCRAM-SHA-512 login as user.
func clientProps(t *testing.T, user, password, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client.properties")
	text := "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n" +
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="` + user +
		`" password="` + password + `"` + extra + ";\n"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tokenRow is a token line of the tool's table: id, base64 HMAC, owner.
var tokenRow = regexp.MustCompile(`(?m)^(\S{22}) (\S{88}) (User:\S+)`)

func TestKafkaDelegationTokenCommand(t *testing.T) {
	libs := kafkaLibs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := embed.Start(ctx,
		embed.WithProperty("listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"),
		embed.WithProperty("delegation.token.secret.key", "cli-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.ListenerAddr("SASL_PLAINTEXT")

	// alice's SCRAM credential, set over PLAINTEXT (no authorizer).
	plain, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	res, err := kadm.NewClient(plain).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "alice-secret"},
	})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("alice's SCRAM credential: %v", err)
	}
	alice := clientProps(t, "alice", "alice-secret", "")
	tool := func(args ...string) string {
		t.Helper()
		out, err := javaTool(t, libs, "", "org.apache.kafka.tools.DelegationTokenCommand",
			append([]string{"--bootstrap-server", addr, "--command-config", alice}, args...)...)
		if err != nil {
			t.Fatalf("kafka-delegation-tokens %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	out := tool("--create", "--max-life-time-period", "-1", "--renewer-principal", "User:bob")
	m := tokenRow.FindStringSubmatch(out)
	if m == nil || m[3] != "User:alice" || !strings.Contains(out, "[User:bob]") {
		t.Fatalf("create: no token of User:alice renewable by User:bob in\n%s", out)
	}
	id, hmacB64 := m[1], m[2]
	out = tool("--describe", "--owner-principal", "User:alice")
	if !strings.Contains(out, "Total number of tokens : 1") || !strings.Contains(out, id+" "+hmacB64+" User:alice") {
		t.Errorf("describe:\n%s", out)
	}
	if out = tool("--renew", "--renew-time-period", "3600000", "--hmac", hmacB64); !strings.Contains(out, "Completed renew operation") {
		t.Errorf("renew:\n%s", out)
	}

	// Kafka's console producer logs in with the token.
	tokenLogin := clientProps(t, id, hmacB64, ` tokenauth="true"`)
	if out, err := javaTool(t, libs, "from-java-with-a-token\n", "org.apache.kafka.tools.ConsoleProducer",
		"--bootstrap-server", addr, "--topic", "cli-token", "--command-config", tokenLogin); err != nil {
		t.Fatalf("console producer with the token: %v\n%s", err, out)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()),
		kgo.ConsumeTopics("cli-token"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	fs := cons.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "from-java-with-a-token" {
		t.Errorf("records %v, want the one the token's producer wrote", recs)
	}

	if out = tool("--expire", "--expiry-time-period", "-1", "--hmac", hmacB64); !strings.Contains(out, "Completed expire operation") {
		t.Errorf("expire:\n%s", out)
	}
	if out = tool("--describe", "--owner-principal", "User:alice"); !strings.Contains(out, "Total number of tokens : 0") {
		t.Errorf("describe after expire:\n%s", out)
	}
	// The expired token no longer logs in.
	late, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: id, Pass: hmacB64, IsToken: true}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if err := late.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("login with the expired token: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}
