package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// suiteCount is franz-go's integration suite result against one broker.
type suiteCount struct {
	pass, fail, skip int
	failed           []string
	dur              time.Duration
	err              string
}

// runFranzSuites runs franz-go's own integration suite (the same command
// as tests/franz-suite.sh, which can only target a Moldau it starts) against
// both brokers at once (its tests mostly wait on the broker), each capped at
// $COMPAT_FRANZ_TIMEOUT (default 6m): a test stuck waiting on an API Moldau
// lacks would otherwise hold the run for go test's whole timeout.
// Report-only: its counts vary with timing and with franz-go's version, and
// its transaction tests fail until those land, so it is a column in the
// matrix, not a gate.
func runFranzSuites(o options, brokers map[string]string) map[string]suiteCount {
	out := map[string]suiteCount{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, b := range []string{"moldau", "kafka"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			sc := runFranzSuite(o, b, brokers[b])
			sc.dur = time.Since(start)
			mu.Lock()
			out[b] = sc
			mu.Unlock()
			logf("franz-go suite on %-6s %d passed, %d failed, %d skipped (%.0fs) %s", b, sc.pass, sc.fail, sc.skip, sc.dur.Seconds(), sc.err)
		}()
	}
	wg.Wait()
	return out
}

func runFranzSuite(o options, broker, addr string) suiteCount {
	limit := envOr("COMPAT_FRANZ_TIMEOUT", "6m")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-timeout", limit, "-v", "github.com/twmb/franz-go/pkg/kgo")
	cmd.Dir = o.root
	cmd.Env = append(os.Environ(), "KGO_SEEDS="+addr, "KGO_TEST_RF="+strconv.Itoa(o.rf()), "KGO_LOG_LEVEL=none",
		"KGO_TEST_RECORDS="+envOr("KGO_TEST_RECORDS", "50000"))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	_ = os.WriteFile(filepath.Join(o.logs, "franz-suite-"+broker+".log"), buf.Bytes(), 0o644)
	var sc suiteCount
	s := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	timedOut := false
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "panic: test timed out") {
			timedOut = true
		}
		if timedOut && strings.HasPrefix(line, "\t") && strings.Contains(line, "Test") {
			// "running tests:" lists what was still running.
			sc.failed = append(sc.failed, strings.Fields(line)[0]+" (still running at the "+limit+" cap)")
		}
		if !strings.HasPrefix(line, "--- ") {
			continue // subtests are indented: count top-level tests only
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[1] {
		case "PASS:":
			sc.pass++
		case "FAIL:":
			sc.fail++
			sc.failed = append(sc.failed, f[2])
		case "SKIP:":
			sc.skip++
		}
	}
	if timedOut {
		sc.err = "timed out at " + limit
	} else if err != nil && sc.fail == 0 {
		sc.err = err.Error()
	}
	return sc
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func suiteTable(suite map[string]suiteCount) string {
	var b strings.Builder
	b.WriteString("| broker | passed | failed | skipped | time | failed tests |\n|---|---|---|---|---|---|\n")
	for _, br := range []string{"moldau", "kafka"} {
		sc, ok := suite[br]
		if !ok {
			continue
		}
		name := map[string]string{"moldau": "Moldau", "kafka": "Apache Kafka " + kafkaVersion}[br]
		failed := strings.Join(sc.failed, ", ")
		if sc.err != "" {
			failed = strings.TrimSpace(failed + " (" + sc.err + ")")
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0fs | %s |\n", name, sc.pass, sc.fail, sc.skip, sc.dur.Seconds(), md(failed))
	}
	return b.String()
}
