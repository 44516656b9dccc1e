package tests

// kcat (librdkafka) against the secured listeners of the real binary: SCRAM
// over SASL_PLAINTEXT and SASL_SSL, PLAIN, OAUTHBEARER with librdkafka's
// unsecured JWT, and mutual TLS on the SSL listener; a wrong password ends
// kcat with librdkafka's authentication error.

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// kcatRun runs kcat with stdin and returns its stdout, stderr and exit
// error; a run longer than 20 s fails the test.
func kcatRun(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
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

func TestSecurityKcat(t *testing.T) {
	kcatPath(t)
	sp := secureBroker(t)
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
			if _, stderr, err := kcatRun(t, strings.Join(want, "\n")+"\n", append([]string{"-P", "-b", tc.addr, "-t", topic, "-p", "0"}, sec...)...); err != nil {
				t.Fatalf("kcat -P: %v\n%s", err, stderr)
			}
			out, stderr, err := kcatRun(t, "", append([]string{"-C", "-b", tc.addr, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%s\n"}, sec...)...)
			if err != nil {
				t.Fatalf("kcat -C: %v\n%s", err, stderr)
			}
			if out != strings.Join(want, "\n")+"\n" {
				t.Fatalf("kcat read back %q, want %q", out, want)
			}
		})
	}
	for _, tc := range []struct {
		protocol, mechanism, addr string
	}{
		{"SASL_PLAINTEXT", "SCRAM-SHA-256", sp.SASLPlaintext},
		{"SASL_SSL", "SCRAM-SHA-512", sp.SASLSSL},
		{"SASL_PLAINTEXT", "PLAIN", sp.SASLPlaintext},
	} {
		t.Run(tc.protocol+"/"+tc.mechanism+"/wrong password", func(t *testing.T) {
			start := time.Now()
			out, stderr, err := kcatRun(t, "", append([]string{"-L", "-b", tc.addr, "-m", "10"}, kcatSecurity(sp, tc.protocol, tc.mechanism, "wrong")...)...)
			if err == nil {
				t.Fatalf("kcat -L with a wrong password succeeded:\n%s", out)
			}
			if !strings.Contains(stderr, "Authentication failed") && !strings.Contains(stderr, "SASL authentication error") {
				t.Fatalf("kcat -L with a wrong password: %v, no authentication error in its output:\n%s", err, stderr)
			}
			t.Logf("failed after %v: %s", time.Since(start).Round(time.Millisecond), firstLine(stderr))
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
