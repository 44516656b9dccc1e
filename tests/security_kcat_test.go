package tests

// kcat (librdkafka) against the secured listeners of the real binary: SCRAM
// over SASL_PLAINTEXT and SASL_SSL, PLAIN, OAUTHBEARER with librdkafka's
// unsecured JWT, and mutual TLS on the SSL listener; a wrong password ends
// kcat with librdkafka's authentication error.
//
// SCRAM runs with a current librdkafka, the one confluent-kafka's wheel
// bundles (tests/compat/setup.sh installs it), loaded through
// LD_LIBRARY_PATH; the other cases run with Debian's. Debian's kcat links
// librdkafka 2.0.2, whose SCRAM client-final-message puts its client nonce
// again in front of the server's (librdkafka before 2.6.1,
// confluentinc/librdkafka#4895): Moldau accepts a final nonce that ends with
// the server's, and TestSecurityKcat checks that Debian's kcat logs in with
// SCRAM; Apache Kafka 4.4 refuses it ("invalid credentials"), which the same
// case expects under MOLDAU_SECURITY_REF=kafka.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// kcatRun runs kcat with stdin and returns its stdout, stderr and exit
// error; a run longer than 20 s fails the test.
func kcatRun(t *testing.T, env []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kcat %q hung for 20 s\nstderr:\n%s", args, stderr.String())
	}
	return stdout.String(), stderr.String(), err
}

// kcatSecurity is the -X settings of one secured connection.
func kcatSecurity(sp *secureProc, protocol, mechanism, password string) []string {
	x := []string{"security.protocol=" + protocol}
	if strings.HasPrefix(protocol, "SASL_") {
		x = append(x, "sasl.mechanisms="+mechanism)
		switch mechanism {
		case "OAUTHBEARER":
			x = append(x, "enable.sasl.oauthbearer.unsecure.jwt=true", "sasl.oauthbearer.config=principal="+secUser)
		default:
			x = append(x, "sasl.username="+secUser, "sasl.password="+password)
		}
	}
	if strings.HasSuffix(protocol, "SSL") {
		x = append(x, "ssl.ca.location="+sp.pki.CA)
	}
	if protocol == "SSL" {
		x = append(x, "ssl.certificate.location="+sp.pki.ClientCert, "ssl.key.location="+sp.pki.ClientKey)
	}
	var args []string
	for _, kv := range x {
		args = append(args, "-X", kv)
	}
	return args
}

var (
	rdkafkaOnce sync.Once
	rdkafkaDir  string
	rdkafkaErr  error
)

// currentLibrdkafka is the LD_LIBRARY_PATH setting that makes kcat load the
// librdkafka of confluent-kafka's wheel.
func currentLibrdkafka(t *testing.T) []string {
	t.Helper()
	compatClients(t, "python3")
	rdkafkaOnce.Do(func() {
		libs, _ := filepath.Glob(filepath.Join(compatCache(), "venv", "lib", "python3*", "site-packages", "confluent_kafka.libs", "librdkafka*.so.1"))
		if len(libs) != 1 {
			rdkafkaErr = fmt.Errorf("want one librdkafka in confluent-kafka's wheel, found %q", libs)
			return
		}
		dir, err := os.MkdirTemp("", "moldau-librdkafka-")
		if err != nil {
			rdkafkaErr = err
			return
		}
		rdkafkaDir = dir
		rdkafkaErr = os.Symlink(libs[0], filepath.Join(dir, "librdkafka.so.1"))
	})
	if rdkafkaErr != nil {
		t.Fatal(rdkafkaErr)
	}
	return []string{"LD_LIBRARY_PATH=" + rdkafkaDir}
}

func TestSecurityKcat(t *testing.T) {
	kcatPath(t)
	current := currentLibrdkafka(t)
	if stdout, stderr, err := kcatRun(t, current, "", "-V"); err != nil || !strings.Contains(stdout+stderr, "librdkafka 2.") {
		t.Fatalf("kcat -V with the wheel's librdkafka: %v\n%s%s", err, stdout, stderr)
	} else {
		out := stdout + stderr
		t.Logf("SCRAM cases with %s", firstLine(out[strings.Index(out, "librdkafka 2."):]))
	}
	sp := secureBroker(t)
	env := func(mechanism string) []string {
		if strings.HasPrefix(mechanism, "SCRAM") {
			return current
		}
		return nil
	}
	for _, tc := range []struct {
		protocol, mechanism, addr string
	}{
		{"SASL_PLAINTEXT", "SCRAM-SHA-256", sp.SASLPlaintext},
		{"SASL_SSL", "SCRAM-SHA-512", sp.SASLSSL},
		{"SASL_PLAINTEXT", "PLAIN", sp.SASLPlaintext},
		{"SASL_PLAINTEXT", "OAUTHBEARER", sp.SASLPlaintext},
		{"SSL", "", sp.SSL},
	} {
		name := tc.protocol + "/" + tc.mechanism
		t.Run(name, func(t *testing.T) {
			topic := sp.secTopic(t, "sec-kcat-"+tc.protocol+"-"+tc.mechanism)
			sec := kcatSecurity(sp, tc.protocol, tc.mechanism, secPassword)
			want := secRecords("kcat", 5)
			if _, stderr, err := kcatRun(t, env(tc.mechanism), strings.Join(want, "\n")+"\n", append([]string{"-P", "-b", tc.addr, "-t", topic, "-p", "0"}, sec...)...); err != nil {
				t.Fatalf("kcat -P: %v\n%s", err, stderr)
			}
			out, stderr, err := kcatRun(t, env(tc.mechanism), "", append([]string{"-C", "-b", tc.addr, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%s\n"}, sec...)...)
			if err != nil {
				t.Fatalf("kcat -C: %v\n%s", err, stderr)
			}
			if out != strings.Join(want, "\n")+"\n" {
				t.Fatalf("kcat read back %q, want %q", out, want)
			}
		})
	}
	t.Run("SASL_SSL/SCRAM-SHA-512/Debian's librdkafka", func(t *testing.T) {
		stdout, stderr, err := kcatRun(t, nil, "", append([]string{"-L", "-b", sp.SASLSSL, "-m", "10"}, kcatSecurity(sp, "SASL_SSL", "SCRAM-SHA-512", secPassword)...)...)
		if os.Getenv("MOLDAU_SECURITY_REF") == "kafka" {
			if err == nil || !strings.Contains(stderr, "invalid credentials") {
				t.Fatalf("Kafka 4.4 and librdkafka 2.0.2's SCRAM nonce: %v, want invalid credentials\n%s", err, stderr)
			}
			return
		}
		if err != nil || !strings.Contains(stdout, "1 brokers:") {
			t.Fatalf("kcat -L with Debian's librdkafka: %v\n%s%s", err, stdout, stderr)
		}
	})
	for _, tc := range []struct {
		protocol, mechanism, addr string
	}{
		{"SASL_PLAINTEXT", "SCRAM-SHA-256", sp.SASLPlaintext},
		{"SASL_SSL", "SCRAM-SHA-512", sp.SASLSSL},
		{"SASL_PLAINTEXT", "PLAIN", sp.SASLPlaintext},
	} {
		t.Run(tc.protocol+"/"+tc.mechanism+"/wrong password", func(t *testing.T) {
			// kcat -P ends at the first authentication failure (all
			// brokers down); -L would wait for its metadata timeout.
			topic := sp.secTopic(t, "sec-kcat-denied-"+tc.protocol+"-"+tc.mechanism)
			start := time.Now()
			_, stderr, err := kcatRun(t, env(tc.mechanism), "must not be written\n", append([]string{"-P", "-b", tc.addr, "-t", topic, "-p", "0"}, kcatSecurity(sp, tc.protocol, tc.mechanism, "wrong")...)...)
			if err == nil {
				t.Fatalf("kcat -P with a wrong password succeeded:\n%s", stderr)
			}
			if !strings.Contains(stderr, "SASL authentication error") {
				t.Fatalf("kcat -P with a wrong password: %v, no authentication error in its output:\n%s", err, stderr)
			}
			t.Logf("failed after %v: %s", time.Since(start).Round(time.Millisecond), firstLine(stderr))
			sp.assertEmpty(t, topic)
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
