package tests

// Kafka Streams against Moldau: the Java application in tests/streams
// (CountSum.java, processing.guarantee=exactly_once_v2) computes per-customer
// counts and sums of an order topic, through a repartition topic and a
// compacted changelog, while the broker is killed with SIGKILL and restarted
// once. The last value per customer in the output, read with read_committed,
// must equal the counts and sums computed here from the input: a lost or a
// duplicated order changes a count.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/tests/harness"
)

var (
	streamsOnce sync.Once
	streamsCP   string
	streamsErr  error
	streamsSkip string
)

// streamsClasspath runs tests/streams/setup.sh once per test process (it
// fetches Kafka Streams with Maven into tests/compat/.cache and compiles the
// application) and returns the java -cp for CountSum. It skips the test when
// Java or Maven is not installed.
func streamsClasspath(t *testing.T) string {
	t.Helper()
	streamsOnce.Do(func() {
		for _, tool := range []string{"java", "javac", "mvn"} {
			if _, err := exec.LookPath(tool); err != nil {
				streamsSkip = tool + " is not installed (Kafka Streams test needs a JDK and Maven)"
				return
			}
		}
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command(filepath.Join(filepath.Dir(file), "streams", "setup.sh"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			streamsErr = fmt.Errorf("tests/streams/setup.sh: %v\n%s", err, stderr.String())
			return
		}
		streamsCP = strings.TrimSpace(string(out))
	})
	if streamsSkip != "" {
		t.Skip(streamsSkip)
	}
	if streamsErr != nil {
		t.Fatal(streamsErr)
	}
	return streamsCP
}

// syncBuffer collects a child process's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// countSum is one customer's aggregate.
type countSum struct{ count, sum int64 }

func parseCountSum(v []byte) (countSum, error) {
	c, s, ok := strings.Cut(string(v), ",")
	if !ok {
		return countSum{}, fmt.Errorf("value %q is not count,sum", v)
	}
	count, err1 := strconv.ParseInt(c, 10, 64)
	sum, err2 := strconv.ParseInt(s, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return countSum{}, fmt.Errorf("value %q: %w", v, err)
	}
	return countSum{count, sum}, nil
}

// TestStreamsExactlyOnceCountSum: see the file comment. MOLDAU_STREAMS_BROKER
// runs it against another broker (for example Apache Kafka started by
// tests/compat/kafka-ref.sh), without the kill -9.
func TestStreamsExactlyOnceCountSum(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cp := streamsClasspath(t)

	var p *harness.Proc
	addr := os.Getenv("MOLDAU_STREAMS_BROKER")
	if addr == "" {
		p = harness.Start(t, "--set", "group.initial.rebalance.delay.ms=0")
		addr = p.Addr
	}
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	in, out, app := "orders-"+suffix, "customer-totals-"+suffix, "countsum-"+suffix
	createTopic(t, addr, in, 4, nil)
	createTopic(t, addr, out, 4, nil)

	// The orders: n records keyed by order id, "customerId,amount"; the
	// first half before the application starts, the second half after the
	// broker's restart.
	const n, customers = 20000, 150
	rng := rand.New(rand.NewSource(6))
	want := map[string]countSum{}
	produce := func(from, to int) {
		prod := newClient(t, addr, kgo.DefaultProduceTopic(in))
		defer prod.Close()
		for i := from; i < to; i++ {
			cust := fmt.Sprintf("c%03d", rng.Intn(customers))
			amount := int64(1 + rng.Intn(1000))
			cs := want[cust]
			cs.count++
			cs.sum += amount
			want[cust] = cs
			prod.Produce(ctxT(t), &kgo.Record{Key: []byte(fmt.Sprintf("o%05d", i)), Value: []byte(fmt.Sprintf("%s,%d", cust, amount))},
				func(r *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
		}
		if err := prod.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, n/2)

	// The Streams application; closing its stdin stops it.
	var appOut syncBuffer
	cmd := exec.Command("java", "-Xmx512m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", cp, "CountSum", addr, in, out, app, t.TempDir())
	cmd.Stdout, cmd.Stderr = &appOut, &appOut
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		stdin.Close()
		select {
		case err := <-exited:
			return err
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("did not stop within 60s of the end of its input")
		}
	}
	t.Cleanup(func() { _ = stop() })

	// Read the output with read_committed until every customer's last value
	// is the expected one, or the output stops moving with all orders
	// counted (a duplicate keeps a count above its expected value forever),
	// or the deadline. The broker is killed once a quarter of the orders
	// show, and the second half of the input follows its restart.
	got := map[string]countSum{}
	total := func() (c int64) {
		for _, cs := range got {
			c += cs.count
		}
		return c
	}
	equal := func() bool {
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	cons := newClient(t, addr, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	read := func(wait time.Duration) int {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fs := cons.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("fetch %s/%d: %v", tp, part, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			cs, err := parseCountSum(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			got[string(r.Key)] = cs
		})
		return len(fs.Records())
	}
	start := time.Now()
	killed := false
	deadline := start.Add(5 * time.Minute)
	lastChange := time.Now()
	for !equal() {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("the Streams application exited (%v) with %d of %d orders counted:\n%s", err, total(), n, appOut.tail(8000))
		default:
		}
		if read(time.Second) > 0 {
			lastChange = time.Now()
		}
		if !killed && total() >= n/4 {
			killed = true
			if p != nil {
				t.Logf("%d orders counted after %v: kill -9 and restart", total(), time.Since(start).Round(time.Millisecond))
				p.Kill9()
				p.Restart()
			}
			produce(n/2, n)
		}
		if total() >= n && time.Since(lastChange) > 15*time.Second {
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	elapsed := time.Since(start)
	if err := stop(); err != nil {
		t.Errorf("the Streams application: %v\n%s", err, appOut.tail(8000))
	}
	// Whatever the application wrote until it stopped.
	for read(2*time.Second) > 0 {
	}
	t.Logf("%d customers, %d orders counted in the output after %v", len(got), total(), elapsed.Round(time.Millisecond))
	if os.Getenv("MOLDAU_TEST_LOG") != "" {
		t.Logf("application output:\n%s", appOut.tail(1<<20))
	}

	var bad []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			bad = append(bad, fmt.Sprintf("%s: missing, want count %d sum %d", k, v.count, v.sum))
		} else if g != v {
			bad = append(bad, fmt.Sprintf("%s: count %d sum %d, want count %d sum %d", k, g.count, g.sum, v.count, v.sum))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			bad = append(bad, fmt.Sprintf("%s: not a customer", k))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("... %d more", len(bad)-20))
		}
		t.Errorf("output differs from the input's counts and sums (%d orders counted, want %d):\n%s\napplication output:\n%s",
			total(), n, strings.Join(bad, "\n"), appOut.tail(8000))
	}
}
