package tests

// Other projects' own SASL tests against Moldau, configured as those
// projects' CI configures Kafka:
//   - franz-go's TestSCRAMAuth, TestSCRAMAuthBadCredentials and TestOAuthAuth
//     (pkg/kgo; KGO_TEST_SCRAM=user:pass[:256|512], KGO_TEST_SCRAM_SEEDS,
//     KGO_TEST_OAUTH_SEEDS), once with SCRAM-SHA-256 and once with -512;
//   - segmentio/kafka-go's sasl package tests (TestSASL), which dial a
//     SASL_PLAINTEXT listener at localhost:9093 with the PLAIN user
//     adminplain/admin-secret and, for KAFKA_VERSION 4.0.0 and later, the
//     SCRAM users adminscram256/admin-secret-256 and
//     adminscram512/admin-secret-512 (its docker-compose-400.yml), and read
//     partition 0 of test-writer-0.
// Each run must report every listed test as passed: a skip (an unset
// variable) fails here.

import (
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// goTestSuite runs go test -v -run run pkg from the module root with env and
// fails unless each of tests passed.
func goTestSuite(t *testing.T, pkg, run string, env []string, tests ...string) {
	t.Helper()
	goBin := testenvGo(t)
	out, err := runDriver(t, 5*time.Minute, env, goBin, "-C", filepath.Join(testsDir(), ".."), "test", "-count=1", "-v", "-timeout", "3m", "-run", run, pkg)
	for _, name := range tests {
		if !regexp.MustCompile(`(?m)^\s*--- PASS: ` + regexp.QuoteMeta(name) + `[ /]`).MatchString(out) {
			t.Errorf("%s %s did not pass", pkg, name)
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("go test %s -run %s: %v\n%s", pkg, run, err, out)
	}
	t.Logf("%s: %d tests passed", pkg, strings.Count(out, "--- PASS"))
}

func testenvGo(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	return p
}

func TestSecurityFranzGoSuite(t *testing.T) {
	sp := secureBroker(t)
	for _, bits := range []string{"256", "512"} {
		t.Run("SCRAM-SHA-"+bits, func(t *testing.T) {
			goTestSuite(t, "github.com/twmb/franz-go/pkg/kgo", "^(TestSCRAMAuth|TestSCRAMAuthBadCredentials|TestOAuthAuth)$",
				[]string{
					"KGO_SEEDS=" + sp.Plaintext,
					"KGO_TEST_SCRAM_SEEDS=" + sp.SASLPlaintext,
					"KGO_TEST_SCRAM=" + secUser + ":" + secPassword + ":" + bits,
					"KGO_TEST_OAUTH_SEEDS=" + sp.SASLPlaintext,
					"KGO_LOG_LEVEL=none",
				},
				"TestSCRAMAuth", "TestSCRAMAuthBadCredentials", "TestOAuthAuth")
		})
	}
}

func TestSecurityKafkaGoSuite(t *testing.T) {
	const saslAddr = "127.0.0.1:9093" // kafka-go's sasl tests dial localhost:9093
	if l, err := net.Listen("tcp", saslAddr); err != nil {
		t.Fatalf("kafka-go's SASL tests need %s free: %v", saslAddr, err)
	} else {
		l.Close()
	}
	plainJAAS := `org.apache.kafka.common.security.plain.PlainLoginModule required username="adminplain" password="admin-secret" user_adminplain="admin-secret";`
	sp := startSecureBroker(t, secureSetup{
		fixed: secureListeners{SASLPlaintext: saslAddr},
		extra: []string{
			"listener.name.sasl_plaintext.plain.sasl.jaas.config=" + plainJAAS,
		},
		args: []string{
			"--add-scram", "SCRAM-SHA-256=[name=adminscram256,password=admin-secret-256]",
			"--add-scram", "SCRAM-SHA-512=[name=adminscram512,password=admin-secret-512]",
		},
	})
	_ = sp.secTopic(t, "test-writer-0")
	goTestSuite(t, "github.com/segmentio/kafka-go/sasl", "^TestSASL$", []string{"KAFKA_VERSION=4.0.0"},
		"TestSASL/PLAIN_success", "TestSASL/PLAIN_failure", "TestSASL/PLAIN_is_reusable",
		"TestSASL/SCRAM-SHA-256_success", "TestSASL/SCRAM-SHA-256_failure", "TestSASL/SCRAM-SHA-256_is_reusable",
		"TestSASL/SCRAM-SHA-512_success", "TestSASL/SCRAM-SHA-512_failure", "TestSASL/SCRAM-SHA-512_is_reusable")
}
