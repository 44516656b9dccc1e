package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// kcatPath finds kcat; it is skipped only outside CI (make deps installs it).
func kcatPath(t *testing.T) string {
	t.Helper()
	return testenv.RequireTool(t, "kcat", "make deps (apt-get install kcat)")
}

// kcat runs kcat with stdin and returns its stdout, failing on a non-zero exit.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestKcatMetadata(t *testing.T) {
	kcatPath(t)
	b := harness.InProcess(t, nil)
	createTopic(t, b.Addr(), "kcat-meta", 3, nil)
	out := kcat(t, "", "-b", b.Addr(), "-L")
	for _, want := range []string{
		"1 brokers:",
		fmt.Sprintf("broker 0 at %s", b.Addr()),
		`topic "kcat-meta" with 3 partitions:`,
		"partition 0, leader 0, replicas: 0, isrs: 0",
		"partition 2, leader 0, replicas: 0, isrs: 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kcat -L output lacks %q:\n%s", want, out)
		}
	}

	var md struct {
		Brokers []struct {
			ID   int32  `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string `json:"topic"`
			Partitions []struct {
				Partition int32 `json:"partition"`
				Leader    int32 `json:"leader"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	jout := kcat(t, "", "-b", b.Addr(), "-L", "-J", "-t", "kcat-meta")
	if err := json.Unmarshal([]byte(jout), &md); err != nil {
		t.Fatalf("kcat -L -J: %v\n%s", err, jout)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].Name != b.Addr() || len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 3 {
		t.Fatalf("kcat -L -J: %+v", md)
	}
}

func TestKcatProduceConsume(t *testing.T) {
	kcatPath(t)
	b := harness.InProcess(t, nil)
	var in strings.Builder
	for i := range 200 {
		fmt.Fprintf(&in, "key-%d:value %d with spaces, colons: and \ttabs\n", i%13, i)
	}
	input := in.String()
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		for _, idempotent := range []bool{false, true} {
			name := fmt.Sprintf("%s-idempotent-%v", codec, idempotent)
			ok := t.Run(name, func(t *testing.T) {
				topic := "kcat-" + name
				createTopic(t, b.Addr(), topic, 1, nil)
				args := []string{"-P", "-b", b.Addr(), "-t", topic, "-K:", "-z", codec, "-X", "linger.ms=5"}
				if idempotent {
					args = append(args, "-X", "enable.idempotence=true")
				}
				kcat(t, input, args...)
				out := kcat(t, "", "-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-f", "%k:%s\n")
				if out != input {
					t.Fatalf("kcat read back differs:\n got %q\nwant %q", head(out), head(input))
				}
				// Offsets, partition and the last two via a relative offset.
				out = kcat(t, "", "-C", "-b", b.Addr(), "-t", topic, "-o", "-2", "-e", "-f", "%p/%o %k\n")
				if out != "0/198 key-3\n0/199 key-4\n" {
					t.Fatalf("kcat -o -2: %q", out)
				}
			})
			if !ok {
				t.Fatalf("stopping after the first failure (a kcat failure usually repeats for every codec and takes the full timeout)")
			}
		}
	}
}

func head(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func TestKcatPartitionsHeadersAndQuery(t *testing.T) {
	kcatPath(t)
	clock := newTestClock()
	b := harness.InProcess(t, nil, broker.WithClock(clock.Now))
	topic := "kcat-partitioned"
	createTopic(t, b.Addr(), topic, 3, nil)
	var lines []string
	for i := range 90 {
		lines = append(lines, fmt.Sprintf("k%d:v%d", i, i))
	}
	kcat(t, strings.Join(lines, "\n")+"\n", "-P", "-b", b.Addr(), "-t", topic, "-K:", "-H", "trace=abc", "-H", "empty=")
	out := kcat(t, "", "-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-f", "%k:%s|%h\n")
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("read %d lines, want %d:\n%s", len(got), len(lines), head(out))
	}
	var plain []string
	for _, g := range got {
		kv, hdrs, _ := strings.Cut(g, "|")
		if hdrs != "trace=abc,empty=" {
			t.Fatalf("headers %q, want trace=abc,empty=", hdrs)
		}
		plain = append(plain, kv)
	}
	slices.Sort(plain)
	want := slices.Clone(lines)
	slices.Sort(want)
	if !slices.Equal(plain, want) {
		t.Fatalf("records differ")
	}
	// Each partition got some (the key hash spreads 90 keys).
	for p := range 3 {
		out := kcat(t, "", "-C", "-b", b.Addr(), "-t", topic, "-p", fmt.Sprint(p), "-o", "beginning", "-e", "-f", "%o\n")
		if strings.Count(out, "\n") == 0 {
			t.Errorf("partition %d is empty", p)
		}
	}

	// Query mode: the offset for a timestamp. The broker stamps the
	// records (LogAppendTime) from a clock the test moves between batches.
	qt := "kcat-query"
	createTopic(t, b.Addr(), qt, 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")})
	kcat(t, "a\nb\n", "-P", "-b", b.Addr(), "-t", qt)
	clock.Advance(5 * time.Millisecond)
	mid := clock.Now().UnixMilli()
	clock.Advance(5 * time.Millisecond)
	kcat(t, "c\n", "-P", "-b", b.Addr(), "-t", qt)
	out = kcat(t, "", "-Q", "-b", b.Addr(), "-t", fmt.Sprintf("%s:0:%d", qt, mid))
	if !strings.Contains(out, "offset 2") {
		t.Fatalf("kcat -Q at %d: %q, want offset 2", mid, out)
	}
	out = kcat(t, "", "-C", "-b", b.Addr(), "-t", qt, "-o", fmt.Sprintf("s@%d", mid), "-e", "-f", "%s\n")
	if out != "c\n" {
		t.Fatalf("kcat -o s@%d: %q, want c", mid, out)
	}
}
