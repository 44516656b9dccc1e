package tests

// Kafka's own command-line tools against a secured Moldau, each connecting
// as the admin user over SASL_SSL with SCRAM-SHA-512 (a --command-config
// file as an operator writes it): kafka-configs adds and describes a SCRAM
// credential (AlterUserScramCredentials, DescribeUserScramCredentials,
// DescribeClientQuotas), and the new user authenticates with it.
// security_cli_acls_test.go and security_cli_tokens_test.go do the same
// with kafka-acls and kafka-delegation-tokens.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// kafkaTool runs one of Kafka's command-line tools (its main class, as the
// kafka-*.sh scripts do) from the jars tests/compat/setup.sh caches.
func kafkaTool(t *testing.T, class string, args ...string) (string, error) {
	t.Helper()
	compatClients(t, "java")
	libs := filepath.Join(compatCache(), "kafka-4.4.0", "libs", "*")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	full := append([]string{"-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlog4j2.level=off", "-cp", libs, class}, args...)
	cmd := exec.CommandContext(ctx, "java", full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s hung:\n%s", class, out.String())
	}
	return out.String(), err
}

// adminCommandConfig writes the --command-config of the admin super user
// over SASL_SSL with SCRAM-SHA-512.
func (sp *secureProc) adminCommandConfig(t *testing.T) string {
	t.Helper()
	props := []string{
		"security.protocol=SASL_SSL",
		"sasl.mechanism=SCRAM-SHA-512",
		fmt.Sprintf(`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";`, secAdmin, secAdminPass),
		"ssl.truststore.location=" + sp.pki.TrustJKS,
		"ssl.truststore.password=" + storePass,
		"ssl.truststore.type=JKS",
	}
	file := filepath.Join(t.TempDir(), "admin.properties")
	if err := os.WriteFile(file, []byte(strings.Join(props, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// scramPing reports the error of a franz-go client authenticating as
// user/pass with SCRAM-SHA-512 on SASL_PLAINTEXT and pinging.
func scramPing(t *testing.T, sp *secureProc, user, pass string, token bool) error {
	t.Helper()
	return franzPingErr(t, sp.SASLPlaintext, kgo.SASL(scram.Auth{User: user, Pass: pass, IsToken: token}.AsSha512Mechanism()))
}

// kafkaCLI runs one of Kafka's tools against sp's SASL_SSL listener as the
// admin user; a non-zero exit fails t.
func kafkaCLI(t *testing.T, sp *secureProc, class string, args ...string) string {
	t.Helper()
	out, err := kafkaTool(t, class, append([]string{"--bootstrap-server", sp.SASLSSL, "--command-config", sp.adminCommandConfig(t)}, args...)...)
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", class, args, err, out)
	}
	return out
}

// Kafka's command-line tools' main classes.
const (
	configsCLI = "org.apache.kafka.tools.ConfigCommand"
	aclsCLI    = "org.apache.kafka.tools.AclCommand"
	tokensCLI  = "org.apache.kafka.tools.DelegationTokenCommand"
)

func TestSecurityKafkaConfigsCLI(t *testing.T) {
	sp := secureBroker(t)
	if err := scramPing(t, sp, "bob", "bob-secret", false); err == nil {
		t.Fatal("bob authenticated before he had a credential")
	}
	kafkaCLI(t, sp, configsCLI, "--alter", "--add-config", "SCRAM-SHA-512=[iterations=8192,password=bob-secret]", "--entity-type", "users", "--entity-name", "bob")
	waitFor(t, "bob's new SCRAM credential", func() bool { return scramPing(t, sp, "bob", "bob-secret", false) == nil })
	if err := scramPing(t, sp, "bob", "wrong", false); err == nil {
		t.Fatal("bob authenticated with a wrong password")
	}
	// kafka-configs describes a user's client quotas with its SCRAM
	// credentials.
	out := kafkaCLI(t, sp, configsCLI, "--describe", "--entity-type", "users", "--entity-name", "bob")
	if !strings.Contains(out, "SCRAM-SHA-512=iterations=8192") {
		t.Fatalf("kafka-configs --describe bob:\n%s", out)
	}
	kafkaCLI(t, sp, configsCLI, "--alter", "--delete-config", "SCRAM-SHA-512", "--entity-type", "users", "--entity-name", "bob")
	waitFor(t, "bob's deleted credential to stop working", func() bool { return scramPing(t, sp, "bob", "bob-secret", false) != nil })
}
