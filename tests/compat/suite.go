package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// suiteCount is franz-go's integration suite result against one broker.
type suiteCount struct {
	pass, fail, skip int
	failed           []string
	skipped          map[string]string // top-level test -> the suite's skip reason
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
	// -json (test2json): each event names its test, so a skipped test's
	// reason is its own output even when parallel tests interleave.
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-timeout", limit, "-json", "github.com/twmb/franz-go/pkg/kgo")
	cmd.Dir = o.root
	cmd.Env = append(os.Environ(), "KGO_SEEDS="+addr, "KGO_TEST_RF="+strconv.Itoa(o.rf()), "KGO_LOG_LEVEL=none",
		"KGO_TEST_RECORDS="+envOr("KGO_TEST_RECORDS", "50000"))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	sc, text := parseSuiteJSON(buf.Bytes(), limit)
	_ = os.WriteFile(filepath.Join(o.logs, "franz-suite-"+broker+".log"), text, 0o644)
	if sc.err == "" && err != nil && sc.fail == 0 {
		sc.err = err.Error()
	}
	return sc
}

// parseSuiteJSON counts go test -json's top-level test results (subtests
// are not counted), keeps each skipped test's reason (its t.Skip output),
// notes a timeout, and returns the -v text for the log.
func parseSuiteJSON(out []byte, limit string) (suiteCount, []byte) {
	var (
		sc       suiteCount
		text     bytes.Buffer
		timedOut bool
		output   = map[string][]string{}
	)
	sc.skipped = map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(out))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		var ev struct {
			Action, Test, Output string
		}
		if json.Unmarshal(s.Bytes(), &ev) != nil {
			text.Write(s.Bytes())
			text.WriteByte('\n')
			continue
		}
		text.WriteString(ev.Output)
		if strings.HasPrefix(ev.Output, "panic: test timed out") {
			timedOut = true
		}
		if timedOut && ev.Test == "" && strings.HasPrefix(ev.Output, "\t") && strings.Contains(ev.Output, "Test") {
			sc.failed = append(sc.failed, strings.Fields(ev.Output)[0]+" (still running at the "+limit+" cap)")
		}
		if ev.Test == "" || strings.Contains(ev.Test, "/") {
			continue // package events and subtests
		}
		switch ev.Action {
		case "output":
			if strings.HasPrefix(ev.Output, "    ") {
				output[ev.Test] = append(output[ev.Test], strings.TrimSpace(ev.Output))
			}
		case "pass":
			sc.pass++
		case "fail":
			sc.fail++
			sc.failed = append(sc.failed, ev.Test)
		case "skip":
			sc.skip++
			sc.skipped[ev.Test] = strings.Join(output[ev.Test], " ")
		}
	}
	if timedOut {
		sc.err = "timed out at " + limit
	}
	return sc, text.Bytes()
}

// skipList is MATRIX.md's list of the suite's skipped tests and reasons.
func skipList(suite map[string]suiteCount) string {
	var b strings.Builder
	for _, br := range []string{"moldau", "kafka"} {
		sc, ok := suite[br]
		if !ok || len(sc.skipped) == 0 {
			continue
		}
		name := map[string]string{"moldau": "Moldau", "kafka": "Apache Kafka " + kafkaVersion}[br]
		fmt.Fprintf(&b, "\nSkipped on %s:\n\n", name)
		var names []string
		for t := range sc.skipped {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			fmt.Fprintf(&b, "- `%s`: %s\n", t, md(sc.skipped[t]))
		}
	}
	return b.String()
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
