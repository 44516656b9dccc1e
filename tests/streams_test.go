package tests

// Kafka Streams against Moldau: the Java application in tests/streams
// (CountSum.java, processing.guarantee=exactly_once_v2) computes per-customer
// counts and sums of an order topic, through a repartition topic and a
// compacted changelog, in two instances, while the broker is killed with
// SIGKILL and restarted, one instance is killed with SIGKILL, and the broker
// is killed and restarted again. The last value per customer in the output, read with read_committed,
// must equal the counts and sums computed here from the input: a lost or a
// duplicated order changes a count.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

var (
	streamsOnce sync.Once
	streamsCP   string
	streamsErr  error
)

// streamsClasspath runs tests/streams/setup.sh once per test process (it
// fetches Kafka Streams with Maven into tests/compat/.cache and compiles the
// application) and returns the java -cp for CountSum. Without Java or Maven
// the test is skipped, and fails under CI (testenv.RequireTool).
func streamsClasspath(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"java", "javac", "mvn"} {
		testenv.RequireTool(t, tool, "make deps (apt-get install default-jdk-headless maven)")
	}
	streamsOnce.Do(func() {
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
	if streamsErr != nil {
		t.Fatal(streamsErr)
	}
	return streamsCP
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

// countSumApp is one instance of CountSum, a child JVM; closing its stdin
// stops it.
type countSumApp struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     harness.LockedBuffer
	exited  chan error
	done    bool // exited was read
	killed  bool
	stopErr error
}

func startCountSum(t *testing.T, cp, name, addr, in, out, app, protocol string) *countSumApp {
	t.Helper()
	a := &countSumApp{name: name, exited: make(chan error, 1)}
	a.cmd = exec.Command("java", "-Xmx256m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", cp, "CountSum", addr, in, out, app, t.TempDir(), protocol)
	a.cmd.Stdout, a.cmd.Stderr = &a.out, &a.out
	var err error
	if a.stdin, err = a.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.exited <- a.cmd.Wait() }()
	t.Cleanup(func() { _ = a.stop() })
	return a
}

// exitedEarly reports whether the instance exited without being told to.
func (a *countSumApp) exitedEarly() (error, bool) {
	if a.done {
		return nil, false
	}
	select {
	case err := <-a.exited:
		a.done = true
		return err, true
	default:
		return nil, false
	}
}

// stop closes the instance's stdin and waits for its exit.
func (a *countSumApp) stop() error {
	if a.done {
		return a.stopErr
	}
	a.done = true
	a.stdin.Close()
	select {
	case a.stopErr = <-a.exited:
	case <-time.After(60 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
		a.stopErr = errors.New("did not stop within 60s of the end of its input")
	}
	return a.stopErr
}

func (a *countSumApp) kill9() {
	a.killed = true
	a.done = true
	_ = a.cmd.Process.Kill()
	<-a.exited
}

// logOngoingTxns logs the open transactions (ListTransactions and
// DescribeTransactions), for the record.
func logOngoingTxns(t *testing.T, addr string) {
	adm := kadm.NewClient(newClient(t, addr))
	listed, err := adm.ListTransactions(context.Background(), nil, []string{"Ongoing"})
	if err != nil {
		t.Logf("list transactions: %v", err)
		return
	}
	described, err := adm.DescribeTransactions(context.Background(), listed.TransactionalIDs()...)
	if err != nil {
		t.Logf("describe transactions: %v", err)
		return
	}
	for _, d := range described.Sorted() {
		t.Logf("open transaction %s (listed %s): producer %d/%d, %s, partitions %v", d.TxnID, listed[d.TxnID].State, d.ProducerID, d.ProducerEpoch, d.State, d.Topics.Sorted())
	}
}

// TestStreamsExactlyOnceCountSum: see the file comment. MOLDAU_STREAMS_BROKER
// runs it against another broker (for example Apache Kafka started by
// tests/compat/kafka-ref.sh), without the kill -9.
func TestStreamsExactlyOnceCountSum(t *testing.T) {
	testenv.SkipIfShort(t, "a long run with real clients")
	runCountSum(t, "classic")
}

// TestStreamsExactlyOnceCountSumStreamsProtocol is the same run with the
// Streams rebalance protocol (KIP-1071, group.protocol=streams): the broker
// creates the repartition and changelog topics and assigns the tasks, and
// Kafka's kafka-streams-groups tool describes the group while it runs. A
// killed instance's members leave the group at the end of their session
// (group.streams.session.timeout.ms, 45 s by default), so its tasks move
// later than with the classic protocol's 6 s.
func TestStreamsExactlyOnceCountSumStreamsProtocol(t *testing.T) {
	testenv.SkipIfShort(t, "a long run with real clients")
	runCountSum(t, "streams")
}

func runCountSum(t *testing.T, protocol string) {
	cp := streamsClasspath(t)

	var p *harness.Proc
	addr := os.Getenv("MOLDAU_STREAMS_BROKER")
	if addr == "" {
		// The cleaner looks for work every second (CountSum's changelog
		// rolls segments every 2 s and is always cleanable).
		p = harness.Start(t, "--set", "group.initial.rebalance.delay.ms=0", "--set", "log.retention.check.interval.ms=1000")
		addr = p.Addr
	}
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	in, out, app := "orders-"+suffix, "customer-totals-"+suffix, "countsum-"+suffix
	createTopic(t, addr, in, 4, nil)
	createTopic(t, addr, out, 4, nil)

	// The orders: n records keyed by order id, "customerId,amount"; the
	// first half before the application starts, the rest in two quarters
	// (below).
	const n, customers = 100000, 1000
	rng := rand.New(rand.NewSource(6))
	want := map[string]countSum{}
	produce := func(from, to int) {
		prod := newClient(t, addr, kgo.DefaultProduceTopic(in))
		defer prod.Close()
		ctx := ctxT(t)
		for i := from; i < to; i++ {
			cust := fmt.Sprintf("c%03d", rng.Intn(customers))
			amount := int64(1 + rng.Intn(1000))
			cs := want[cust]
			cs.count++
			cs.sum += amount
			want[cust] = cs
			prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("o%05d", i)), Value: []byte(fmt.Sprintf("%s,%d", cust, amount))},
				func(r *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, n/2)

	// Two instances of the application; B is killed with SIGKILL later.
	appA := startCountSum(t, cp, "A", addr, in, out, app, protocol)
	appB := startCountSum(t, cp, "B", addr, in, out, app, protocol)
	described := protocol != "streams"

	// Read the output with read_committed until every customer's last value
	// is the expected one, or the output stops moving with all orders
	// counted (a duplicate keeps a count above its expected value forever),
	// or the deadline. The broker is killed once a quarter of the orders
	// show, and the third quarter of the input follows its restart; instance
	// B is killed once half show, and the last quarter follows: B's open
	// transactions stay open (its transactional ids die with it) until the
	// broker aborts them at their timeout, and A takes over B's tasks,
	// restoring their state from the changelog. At 60% the broker is killed
	// and restarted again (B's open transaction, if any, is then aborted by
	// the restarted broker).
	got := map[string]countSum{}
	outputs := 0 // committed output records: one per order (no record cache)
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
			outputs++
		})
		return len(fs.Records())
	}
	start := time.Now()
	killed, killedAgain := false, false
	deadline := start.Add(5 * time.Minute)
	lastChange := time.Now()
	for !equal() {
		for _, a := range []*countSumApp{appA, appB} {
			if err, ok := a.exitedEarly(); ok {
				t.Fatalf("instance %s exited (%v) with %d of %d orders counted:\n%s", a.name, err, total(), n, a.out.Tail(8000))
			}
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
			produce(n/2, 3*n/4)
		}
		if killed && !appB.killed && total() >= n/2 {
			t.Logf("%d orders counted after %v: kill -9 instance B", total(), time.Since(start).Round(time.Millisecond))
			appB.kill9()
			logOngoingTxns(t, addr)
			produce(3*n/4, n)
		}
		if appB.killed && !killedAgain && total() >= 6*n/10 {
			killedAgain = true
			if p != nil {
				t.Logf("%d orders counted after %v: kill -9 and restart again", total(), time.Since(start).Round(time.Millisecond))
				p.Kill9()
				p.Restart()
			}
		}
		if !described && total() >= n/8 && !killed {
			// Both instances run (four stream threads): the tool shows the
			// group with its members and their tasks.
			described = describeStreamsGroup(t, addr, app)
		}
		if total() >= n && time.Since(lastChange) > 15*time.Second {
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	elapsed := time.Since(start)
	if !described {
		t.Errorf("kafka-streams-groups --describe never showed the group %s with four members", app)
	}

	// Streams purges the repartition topic up to its committed offsets with
	// DeleteRecords (every second, repartition.purge.interval.ms): every
	// partition's start offset moves.
	adm := kadm.NewClient(cons)
	repartition := app + "-by-customer-repartition"
	purgeDeadline := time.Now().Add(60 * time.Second)
	for {
		starts, err := adm.ListStartOffsets(context.Background(), repartition)
		purged := 0
		if err == nil {
			starts.Each(func(o kadm.ListedOffset) {
				if o.Err == nil && o.Offset > 0 {
					purged++
				}
			})
		}
		if purged == 4 {
			break
		}
		if time.Now().After(purgeDeadline) {
			t.Errorf("%s: %d of 4 partitions purged (err %v)", repartition, purged, err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The changelog was created compacted, as Streams asked.
	changelog := app + "-totals-changelog"
	rc, err := adm.DescribeTopicConfigs(context.Background(), changelog)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rc.On(changelog, nil); err != nil {
		t.Errorf("describe %s: %v", changelog, err)
	} else {
		policy := "(absent)"
		for _, cfg := range c.Configs {
			if cfg.Key == "cleanup.policy" {
				policy = cfg.MaybeValue()
			}
		}
		if policy != "compact" {
			t.Errorf("%s: cleanup.policy %s, want compact", changelog, policy)
		}
	}

	if err := appA.stop(); err != nil {
		t.Errorf("instance A: %v\n%s", err, appA.out.Tail(8000))
	}
	// Whatever the application wrote until it stopped.
	for read(2*time.Second) > 0 {
	}
	t.Logf("%d customers, %d orders counted in the output after %v", len(got), total(), elapsed.Round(time.Millisecond))
	if p != nil {
		t.Logf("since its restart the broker aborted %d timed-out transactions and compacted %d times", strings.Count(p.Stderr(), "aborting a timed-out transaction"),
			strings.Count(p.Stderr(), "msg=compacted"))
	}
	if os.Getenv("MOLDAU_TEST_LOG") != "" {
		t.Logf("instance A:\n%s\ninstance B:\n%s", appA.out.Tail(1<<20), appB.out.Tail(1<<20))
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
	if outputs != n {
		bad = append(bad, fmt.Sprintf("%d output records under read_committed, want one per order, %d", outputs, n))
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("... %d more", len(bad)-20))
		}
		t.Errorf("output differs from the input's counts and sums (%d orders counted, want %d):\n%s\ninstance A:\n%s\ninstance B:\n%s",
			total(), n, strings.Join(bad, "\n"), appA.out.Tail(8000), appB.out.Tail(8000))
	}
}

// describeStreamsGroup runs Kafka's kafka-streams-groups --describe
// --members on app's group and reports whether it shows the group Stable
// with four members (two instances of two stream threads); a tool failure
// fails the test.
func describeStreamsGroup(t *testing.T, addr, app string) bool {
	t.Helper()
	libs := kafkaLibs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlog4j2.level=off",
		"-cp", libs+"/*", "org.apache.kafka.tools.streams.StreamsGroupCommand", "--bootstrap-server", addr,
		"--describe", "--members", "--group", app)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	out := buf.String()
	if err != nil {
		t.Fatalf("kafka-streams-groups --describe: %v\n%s", err, out)
	}
	members := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == app && strings.Contains(line, "ACTIVE:") {
			members++
		}
	}
	t.Logf("kafka-streams-groups --describe --members (%d members):\n%s", members, out)
	return members == 4
}
