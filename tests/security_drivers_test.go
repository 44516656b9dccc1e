package tests

// The Java client, confluent-kafka (Python, librdkafka) and kafkajs against
// the secured listeners of the real binary. Their programs are in
// tests/security; the clients themselves are the ones tests/compat/setup.sh
// installs (kafka-clients 4.4 jars, the Python venv, node_modules), run once
// per test process. Under CI a missing JDK, Python venv or npm fails.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moldau/moldau/internal/testenv"
)

var (
	compatSetupOnce sync.Once
	compatSetupErr  error
	javaBuildOnce   sync.Once
	javaBuildDir    string
	javaBuildErr    error
)

// testsDir is this package's directory.
func testsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// compatCache is where tests/compat/setup.sh keeps what it installs.
func compatCache() string {
	if c := os.Getenv("COMPAT_CACHE"); c != "" {
		return c
	}
	return filepath.Join(testsDir(), "compat", ".cache")
}

// compatClients runs tests/compat/setup.sh once per test process: each of
// its steps is skipped when already done, so a warm cache costs a second.
func compatClients(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		testenv.RequireTool(t, tool, "make deps (apt-get install default-jdk-headless maven python3-venv npm)")
	}
	compatSetupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(testsDir(), "compat", "setup.sh"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			compatSetupErr = fmt.Errorf("tests/compat/setup.sh: %v\n%s", err, out)
		}
	})
	if compatSetupErr != nil {
		t.Fatal(compatSetupErr)
	}
}

// runDriver runs a client program and returns its output; a run longer than
// limit fails the test.
func runDriver(t *testing.T, limit time.Duration, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s hung for %v:\n%s", filepath.Base(name), limit, out.String())
	}
	return out.String(), err
}

// driverResult is the JSON line the Python and Node programs print last.
type driverResult struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func lastJSON(t *testing.T, out string) driverResult {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r driverResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("no result line (%v) in:\n%s", err, out)
	}
	return r
}

// javaClasspath compiles tests/security/java/SecureClient.java against the
// kafka-clients 4.4 jars once per test process.
func javaClasspath(t *testing.T) string {
	t.Helper()
	compatClients(t, "java", "javac", "mvn")
	jars := filepath.Join(compatCache(), "java-4.4.0", "*")
	javaBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "moldau-secure-java-")
		if err != nil {
			javaBuildErr = err
			return
		}
		javaBuildDir = dir
		out, err := exec.Command("javac", "-nowarn", "-d", dir, "-cp", jars,
			filepath.Join(testsDir(), "security", "java", "SecureClient.java")).CombinedOutput()
		if err != nil {
			javaBuildErr = fmt.Errorf("javac SecureClient.java: %v\n%s", err, out)
		}
	})
	if javaBuildErr != nil {
		t.Fatal(javaBuildErr)
	}
	// kafka-clients' OAUTHBEARER login (the unsecured JWS it makes) needs
	// Jackson, an optional dependency: take Kafka's broker jars' copy.
	jackson, _ := filepath.Glob(filepath.Join(compatCache(), "kafka-4.4.0", "libs", "jackson-*.jar"))
	if len(jackson) == 0 {
		t.Fatalf("no Jackson jars in %s (tests/compat/setup.sh fetches Kafka's)", filepath.Join(compatCache(), "kafka-4.4.0", "libs"))
	}
	return strings.Join(append([]string{javaBuildDir, jars}, jackson...), string(os.PathListSeparator))
}

func TestSecurityJava(t *testing.T) {
	cp := javaClasspath(t)
	sp := startSecureBroker(t, secureSetup{})
	p := sp.pki
	jaas := func(module, user, pass string) string {
		return fmt.Sprintf(`org.apache.kafka.common.security.%s required username="%s" password="%s";`, module, user, pass)
	}
	trustJKS := []string{"ssl.truststore.location=" + p.TrustJKS, "ssl.truststore.type=JKS", "ssl.truststore.password=" + storePass}
	trustP12 := []string{"ssl.truststore.location=" + p.TrustP12, "ssl.truststore.type=PKCS12", "ssl.truststore.password=" + storePass}
	for _, tc := range []struct {
		name   string
		addr   string
		props  []string
		expect string
	}{
		{"SASL_SSL/SCRAM-SHA-512", sp.SASLSSL, append([]string{"security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512",
			"sasl.jaas.config=" + jaas("scram.ScramLoginModule", secUser, secPassword)}, trustJKS...), "ok"},
		{"SSL/mTLS PKCS12 keystore", sp.SSL, append([]string{"security.protocol=SSL", "ssl.keystore.location=" + p.ClientP12,
			"ssl.keystore.type=PKCS12", "ssl.keystore.password=" + storePass, "ssl.key.password=" + storePass}, trustP12...), "ok"},
		{"SSL/mTLS JKS keystore", sp.SSL, append([]string{"security.protocol=SSL", "ssl.keystore.location=" + p.ClientJKS,
			"ssl.keystore.type=JKS", "ssl.keystore.password=" + storePass, "ssl.key.password=" + storePass}, trustJKS...), "ok"},
		{"SASL_PLAINTEXT/SCRAM-SHA-256", sp.SASLPlaintext, []string{"security.protocol=SASL_PLAINTEXT", "sasl.mechanism=SCRAM-SHA-256",
			"sasl.jaas.config=" + jaas("scram.ScramLoginModule", secUser, secPassword)}, "ok"},
		{"SASL_PLAINTEXT/PLAIN", sp.SASLPlaintext, []string{"security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN",
			"sasl.jaas.config=" + jaas("plain.PlainLoginModule", secUser, secPassword)}, "ok"},
		{"SASL_PLAINTEXT/OAUTHBEARER unsecured", sp.SASLPlaintext, []string{"security.protocol=SASL_PLAINTEXT", "sasl.mechanism=OAUTHBEARER",
			`sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="` + secUser + `";`}, "ok"},
		{"SASL_SSL/SCRAM-SHA-512 wrong password", sp.SASLSSL, append([]string{"security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512",
			"sasl.jaas.config=" + jaas("scram.ScramLoginModule", secUser, "wrong")}, trustJKS...), "auth_failure"},
		{"SASL_PLAINTEXT/PLAIN wrong password", sp.SASLPlaintext, []string{"security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN",
			"sasl.jaas.config=" + jaas("plain.PlainLoginModule", secUser, "wrong")}, "auth_failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := sp.secTopic(t, "sec-java-"+topicSafe(tc.name))
			file := filepath.Join(t.TempDir(), "client.properties")
			props := append([]string{"bootstrap.servers=" + tc.addr}, tc.props...)
			if err := os.WriteFile(file, []byte(strings.Join(props, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			values := secRecords("java", 5)
			args := append([]string{"-Xmx128m", "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.defaultLogLevel=off", "-cp", cp,
				"SecureClient", file, topic, tc.expect}, values...)
			out, err := runDriver(t, 60*time.Second, nil, "java", args...)
			last := lastLine(out)
			if err != nil || !strings.HasPrefix(last, "OK") {
				t.Fatalf("java client: %v, %s\n%s", err, last, out)
			}
			t.Log(last)
			if tc.expect == "ok" {
				sp.readBack(t, topic, values)
			} else {
				sp.assertEmpty(t, topic)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func topicSafe(name string) string {
	return strings.NewReplacer("/", "-", " ", "-").Replace(name)
}

func TestSecurityConfluentKafka(t *testing.T) {
	compatClients(t, "python3")
	python := filepath.Join(compatCache(), "venv", "bin", "python")
	script := filepath.Join(testsDir(), "security", "python", "ck_secure.py")
	sp := startSecureBroker(t, secureSetup{})
	p := sp.pki
	sasl := func(mech, password string) map[string]string {
		return map[string]string{"sasl.mechanisms": mech, "sasl.username": secUser, "sasl.password": password}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		conf   map[string]string
		expect string
	}{
		{"SASL_PLAINTEXT/SCRAM-SHA-256", with(sasl("SCRAM-SHA-256", secPassword), "bootstrap.servers", sp.SASLPlaintext, "security.protocol", "SASL_PLAINTEXT"), "ok"},
		{"SASL_SSL/SCRAM-SHA-512", with(sasl("SCRAM-SHA-512", secPassword), "bootstrap.servers", sp.SASLSSL, "security.protocol", "SASL_SSL", "ssl.ca.location", p.CA), "ok"},
		{"SASL_PLAINTEXT/OAUTHBEARER unsecured", map[string]string{"bootstrap.servers": sp.SASLPlaintext, "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanisms": "OAUTHBEARER", "sasl.oauthbearer.method": "default", "enable.sasl.oauthbearer.unsecure.jwt": "true",
			"sasl.oauthbearer.config": "principal=" + secUser}, "ok"},
		{"SASL_PLAINTEXT/PLAIN", with(sasl("PLAIN", secPassword), "bootstrap.servers", sp.SASLPlaintext, "security.protocol", "SASL_PLAINTEXT"), "ok"},
		{"SSL/mTLS", map[string]string{"bootstrap.servers": sp.SSL, "security.protocol": "SSL", "ssl.ca.location": p.CA,
			"ssl.certificate.location": p.ClientCert, "ssl.key.location": p.ClientKey}, "ok"},
		{"SASL_PLAINTEXT/SCRAM-SHA-256 wrong password", with(sasl("SCRAM-SHA-256", "wrong"), "bootstrap.servers", sp.SASLPlaintext, "security.protocol", "SASL_PLAINTEXT"), "auth_failure"},
		{"SASL_SSL/PLAIN wrong password", with(sasl("PLAIN", "wrong"), "bootstrap.servers", sp.SASLSSL, "security.protocol", "SASL_SSL", "ssl.ca.location", p.CA), "auth_failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := sp.secTopic(t, "sec-ck-"+topicSafe(tc.name))
			values := secRecords("ck", 5)
			in, err := json.Marshal(map[string]any{"conf": tc.conf, "topic": topic, "values": values, "expect": tc.expect})
			if err != nil {
				t.Fatal(err)
			}
			out, _ := runDriver(t, 60*time.Second, nil, python, script, string(in))
			r := lastJSON(t, out)
			if !r.OK {
				t.Fatalf("confluent-kafka: %s\n%s", r.Detail, out)
			}
			t.Log(r.Detail)
			if tc.expect == "ok" {
				sp.readBack(t, topic, values)
			} else {
				sp.assertEmpty(t, topic)
			}
		})
	}
}

func TestSecurityKafkaJS(t *testing.T) {
	compatClients(t, "node", "npm")
	script := filepath.Join(testsDir(), "security", "node", "secure.js")
	env := []string{"NODE_PATH=" + filepath.Join(testsDir(), "compat", "node", "node_modules")}
	sp := startSecureBroker(t, secureSetup{extra: []string{"group.initial.rebalance.delay.ms=0"}})
	ca, err := os.ReadFile(sp.pki.CA)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mech, addr, password, expect string
		tls                                bool
	}{
		{"SASL_PLAINTEXT/PLAIN", "plain", sp.SASLPlaintext, secPassword, "ok", false},
		{"SASL_PLAINTEXT/SCRAM-SHA-256", "scram-sha-256", sp.SASLPlaintext, secPassword, "ok", false},
		{"SASL_SSL/SCRAM-SHA-512", "scram-sha-512", sp.SASLSSL, secPassword, "ok", true},
		{"SASL_PLAINTEXT/PLAIN wrong password", "plain", sp.SASLPlaintext, "wrong", "auth_failure", false},
		{"SASL_PLAINTEXT/SCRAM-SHA-256 wrong password", "scram-sha-256", sp.SASLPlaintext, "wrong", "auth_failure", false},
		{"SASL_SSL/SCRAM-SHA-512 wrong password", "scram-sha-512", sp.SASLSSL, "wrong", "auth_failure", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := sp.secTopic(t, "sec-kafkajs-"+topicSafe(tc.name))
			values := secRecords("kafkajs", 5)
			cfg := map[string]any{
				"brokers": []string{tc.addr}, "topic": topic, "values": values, "expect": tc.expect,
				"sasl": map[string]string{"mechanism": tc.mech, "username": secUser, "password": tc.password},
			}
			if tc.tls {
				cfg["ssl"] = map[string]any{"ca": []string{string(ca)}}
			}
			in, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := runDriver(t, 60*time.Second, env, "node", script, string(in))
			r := lastJSON(t, out)
			if !r.OK {
				t.Fatalf("kafkajs: %s\n%s", r.Detail, out)
			}
			t.Log(r.Detail)
			if tc.expect == "ok" {
				sp.readBack(t, topic, values)
			} else {
				sp.assertEmpty(t, topic)
			}
		})
	}
}
