package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// produceSeq produces values seq-from..seq-(to-1) with franz-go's defaults
// (idempotent, acks=all), synchronously in chunks, and fails on any error.
func produceSeq(t *testing.T, addr, topic string, from, to int) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	for i := from; i < to; i += 50 {
		var rs []*kgo.Record
		for j := i; j < min(i+50, to); j++ {
			rs = append(rs, &kgo.Record{Key: []byte(strconv.Itoa(j % 5)), Value: []byte(seqValue(j))})
		}
		if err := cl.ProduceSync(ctxT(t), rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

func seqValue(i int) string { return fmt.Sprintf("seq-%06d", i) }

func seqOf(t *testing.T, r *kgo.Record) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(string(r.Value), "seq-"))
	if err != nil {
		t.Fatalf("unexpected record value %q at %d/%d", r.Value, r.Partition, r.Offset)
	}
	return n
}

// readAll reads every record of topic: as many as the end offsets say.
func readAll(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ends, err := adm.ListEndOffsets(ctxT(t), topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("list end offsets: %v %v", err, ends.Error())
	}
	total := 0
	ends.Each(func(o kadm.ListedOffset) { total += int(o.Offset) })
	if total == 0 {
		return nil
	}
	return consumeN(t, addr, topic, total)
}

// checkSeqs checks that every acked sequence number is present exactly once,
// that nothing is duplicated, and that each partition is in producing order.
// Sequence numbers at or above upTo were never sent.
func checkSeqs(t *testing.T, recs []*kgo.Record, upTo int, acked func(int) bool) {
	t.Helper()
	seen := map[int]string{}
	last := map[int32]int{}
	for _, r := range recs {
		s := seqOf(t, r)
		where := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
		if prev, dup := seen[s]; dup {
			t.Errorf("duplicate: %s at %s and %s", seqValue(s), prev, where)
		}
		seen[s] = where
		if l, ok := last[r.Partition]; ok && s < l {
			t.Errorf("out of order in partition %d: %s after %s", r.Partition, seqValue(s), seqValue(l))
		}
		last[r.Partition] = s
	}
	missing := 0
	for s := range upTo {
		if !acked(s) {
			continue
		}
		if _, ok := seen[s]; !ok {
			if missing < 10 {
				t.Errorf("lost acked record %s", seqValue(s))
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d acked records lost", missing)
	}
}

// waitOpenLines waits (briefly) until the broker's stderr, which is copied
// asynchronously and may lag its "listening on" stdout line, shows want
// partition-open lines for topic, and returns them.
func waitOpenLines(p *harness.Proc, topic string, want int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := partitionOpenLines(p.Stderr(), topic)
		if len(lines) >= want || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// partitionOpenLines returns the debug lines in which the broker reports
// opening topic's partition logs.
func partitionOpenLines(stderr, topic string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "opened partition log") && strings.Contains(l, topic+"-") {
			out = append(out, l)
		}
	}
	return out
}

func TestRestartCleanShutdown(t *testing.T) {
	p := harness.Start(t, "--log-level", "debug")
	topic := "restart-clean"
	createTopic(t, p.Addr, topic, 3, nil)
	const n = 1000
	produceSeq(t, p.Addr, topic, 0, n)
	p.Stop()
	if !strings.Contains(p.Stderr(), "stopped cleanly") {
		t.Errorf("no clean-stop line in the log:\n%s", tail(p.Stderr()))
	}
	p.Restart()

	lines := waitOpenLines(p, topic, 3)
	if len(lines) != 3 {
		t.Errorf("expected 3 'opened partition log' lines for %s, got %d:\n%s", topic, len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !strings.Contains(l, "clean=true") {
			t.Errorf("partition reopened as unclean after SIGTERM (a recovery scan was needed): %s", l)
		}
	}
	for _, bad := range []string{"truncating", "recovery dropped", "recovering as after a crash"} {
		if strings.Contains(p.Stderr(), bad) {
			t.Errorf("log after a clean restart mentions %q:\n%s", bad, tail(p.Stderr()))
		}
	}
	recs := readAll(t, p.Addr, topic)
	if len(recs) != n {
		t.Errorf("read %d records after restart, want %d", len(recs), n)
	}
	checkSeqs(t, recs, n, func(int) bool { return true })

	// Appends continue after the recovered end.
	produceSeq(t, p.Addr, topic, n, n+100)
	recs = readAll(t, p.Addr, topic)
	if len(recs) != n+100 {
		t.Errorf("read %d records after producing more, want %d", len(recs), n+100)
	}
	checkSeqs(t, recs, n+100, func(int) bool { return true })
}

func TestRestartKill9(t *testing.T) {
	p := harness.Start(t, "--log-level", "debug")
	topic := "restart-kill9"
	createTopic(t, p.Addr, topic, 3, nil)
	const n = 1000
	produceSeq(t, p.Addr, topic, 0, n)
	p.Kill9()
	p.Restart()
	lines := waitOpenLines(p, topic, 3)
	if len(lines) != 3 {
		t.Errorf("expected 3 'opened partition log' lines for %s, got %d", topic, len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, "clean=false") {
			t.Errorf("partition reopened as clean after kill -9: %s", l)
		}
	}
	recs := readAll(t, p.Addr, topic)
	if len(recs) != n {
		t.Errorf("read %d records after kill -9, want %d", len(recs), n)
	}
	checkSeqs(t, recs, n, func(int) bool { return true })

	// The topic is usable, and a second kill right after more appends loses nothing.
	produceSeq(t, p.Addr, topic, n, n+200)
	p.Kill9()
	p.Restart()
	recs = readAll(t, p.Addr, topic)
	if len(recs) != n+200 {
		t.Errorf("read %d records after the second kill -9, want %d", len(recs), n+200)
	}
	checkSeqs(t, recs, n+200, func(int) bool { return true })
}

func TestRestartIdempotentProducerAcrossKill9(t *testing.T) {
	p := harness.Start(t)
	topic := "restart-idempotent"
	createTopic(t, p.Addr, topic, 2, nil)

	prod := newClient(t, p.Addr, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(2*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	var (
		mu      sync.Mutex
		acked   = map[int]bool{}
		failed  []error
		sent    int
		stop    = make(chan struct{})
		stopped = make(chan struct{})
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := &kgo.Record{Key: []byte(strconv.Itoa(i % 7)), Value: []byte(seqValue(i))}
			prod.Produce(ctx, r, func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, err)
					return
				}
				acked[seqOf(t, r)] = true
			})
			mu.Lock()
			sent = i + 1
			mu.Unlock()
			if i%20 == 0 {
				time.Sleep(time.Millisecond) // pace it: a few thousand records a second
			}
		}
	}()
	waitAcked := func(n int) {
		t.Helper()
		for {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("only %d records acked, waiting for %d", got, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAcked(500)
	for round := range 2 {
		p.Kill9()
		p.Restart()
		mu.Lock()
		before := len(acked)
		mu.Unlock()
		waitAcked(before + 500)
		t.Logf("round %d: %d acked before restart", round, before)
	}
	close(stop)
	<-stopped
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	defer fcancel()
	if err := prod.Flush(fctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 {
		t.Errorf("%d produces failed (an idempotent producer should retry across the restart); first: %v", len(failed), failed[0])
	}
	recs := readAll(t, p.Addr, topic)
	t.Logf("sent %d, acked %d, stored %d", sent, len(acked), len(recs))
	checkSeqs(t, recs, sent, func(s int) bool { return acked[s] })
	for _, r := range recs {
		if s := seqOf(t, r); s >= sent {
			t.Errorf("record %s was never sent", r.Value)
		}
	}
}

func TestStartMemory(t *testing.T) {
	dir := t.TempDir()
	p := harness.Start(t, "--memory", "--data-dir", dir)
	if !waitLog(p, "(memory)") {
		t.Errorf("ready line does not say (memory):\n%s", tail(p.Stderr()))
	}
	topic := "memory-topic"
	createTopic(t, p.Addr, topic, 2, nil)
	produceSeq(t, p.Addr, topic, 0, 200)
	recs := readAll(t, p.Addr, topic)
	checkSeqs(t, recs, 200, func(int) bool { return true })
	p.Stop()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("--memory wrote to the data dir: %v", names)
	}
	// Nothing survives a restart.
	p.Restart()
	adm := kadm.NewClient(newClient(t, p.Addr))
	tds, err := adm.ListTopics(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if tds.Has(topic) {
		t.Errorf("topic survived a restart of a --memory broker")
	}
}

func TestStartMemoryDefaultDataDir(t *testing.T) {
	// Without --data-dir the default is ./moldau-data, relative to the
	// working directory: an empty one, which the child inherits.
	t.Chdir(t.TempDir())
	p := harness.Start(t, "--memory")
	createTopic(t, p.Addr, "memory-default-dir", 1, nil)
	produceSeq(t, p.Addr, "memory-default-dir", 0, 10)
	p.Stop()
	if _, err := os.Stat("moldau-data"); err == nil {
		t.Errorf("--memory created ./moldau-data")
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStartConfigFile(t *testing.T) {
	cfg := writeFile(t, "# a Kafka server.properties\nnum.partitions=3\nnum.network.threads=8\n")
	p := harness.Start(t, "--config", cfg)
	if !waitLog(p, "num.network.threads") {
		t.Errorf("ignored key num.network.threads not logged:\n%s", tail(p.Stderr()))
	}
	// Auto-create by producing to a new topic.
	topic := "config-auto-created"
	cl := newClient(t, p.Addr, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to an auto-created topic: %v", err)
	}
	adm := kadm.NewClient(newClient(t, p.Addr))
	tds, err := adm.ListTopics(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tds[topic].Partitions); n != 3 {
		t.Errorf("auto-created topic has %d partitions, want 3 (num.partitions=3)", n)
	}
	rcs, err := adm.DescribeBrokerConfigs(ctxT(t), 0)
	if err == nil {
		if rc, err := rcs.On("0", nil); err == nil {
			for _, c := range rc.Configs {
				if c.Key == "num.partitions" && (c.MaybeValue() != "3" || c.Source.String() != "STATIC_BROKER_CONFIG") {
					t.Errorf("num.partitions described as %q (%s), want 3 (STATIC_BROKER_CONFIG)", c.MaybeValue(), c.Source)
				}
			}
		}
	}
}

func TestStartConfigFileUnknownKey(t *testing.T) {
	cfg := writeFile(t, "num.partitions=3\n# comment\nfoo.bar=1\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Binary(t), "--config", cfg, "--addr", "127.0.0.1:0", "--admin-addr", "", "--schema-registry-addr", "", "--console-addr", "", "--http-proxy-addr", "", "--data-dir", t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("moldau with an unknown config key: %v (want a non-zero exit)\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "foo.bar") || !strings.Contains(stderr.String(), "line 3") {
		t.Errorf("error does not name foo.bar and line 3:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String(), "listening on") {
		t.Errorf("moldau started listening despite the unknown key")
	}
}

func TestStopWithLongPollingConsumer(t *testing.T) {
	p := harness.Start(t)
	topic := "stop-long-poll"
	createTopic(t, p.Addr, topic, 1, nil)
	produceSeq(t, p.Addr, topic, 0, 1)
	fetches := &fetchWrites{}
	cons, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(30*time.Second), kgo.WithHooks(fetches))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx := ctxT(t)
	if got := pollRecords(t, ctx, cons, 1); seqOf(t, got[0]) != 0 {
		t.Fatalf("unexpected record %q", got[0].Value)
	}
	// The consumer's next fetch now waits up to 30 s at the broker.
	sent := fetches.n.Load()
	polling := make(chan struct{})
	go func() {
		defer close(polling)
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		cons.PollFetches(pctx)
	}()
	testenv.WaitFor(t, 10*time.Second, "the long-poll fetch to be sent", func() bool { return fetches.n.Load() > sent })
	start := time.Now()
	p.Stop() // fails the test unless the exit status is 0
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("SIGTERM with a long-polling consumer took %v to exit", d)
	}
	cons.Close()
	<-polling
}

// fetchWrites counts the Fetch requests a client wrote to a broker.
type fetchWrites struct{ n atomic.Int64 }

func (f *fetchWrites) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 1 && err == nil {
		f.n.Add(1)
	}
}

// waitLog polls p's log for substr (the ready line follows the "listening
// on" line that Start waits for).
func waitLog(p *harness.Proc, substr string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Stderr(), substr) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

// TestRestartKeepsAdminState: what admin APIs change survives a restart
// (clean and kill -9): partition counts, config overrides, deleted topics,
// and log start offsets moved by DeleteRecords.
func TestRestartKeepsAdminState(t *testing.T) {
	p := harness.Start(t)
	keep, gone := "restart-admin-keep", "restart-admin-gone"
	createTopic(t, p.Addr, keep, 1, map[string]*string{"retention.ms": strp("3600000")})
	createTopic(t, p.Addr, gone, 1, nil)
	produceSeq(t, p.Addr, keep, 0, 100)
	adm := func() *kadm.Client { return kadm.NewClient(newClient(t, p.Addr)) }
	ctx := ctxT(t)
	if resp, err := adm().UpdatePartitions(ctx, 3, keep); err != nil || resp[keep].Err != nil {
		t.Fatalf("update partitions: %v %+v", err, resp)
	}
	if resp, err := adm().AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("123456")}}, keep); err != nil || resp[0].Err != nil {
		t.Fatalf("alter configs: %v %+v", err, resp)
	}
	if resp, err := adm().DeleteTopics(ctx, gone); err != nil || resp[gone].Err != nil {
		t.Fatalf("delete topic: %v %+v", err, resp)
	}
	if resp, err := adm().DeleteRecords(ctx, kadm.Offsets{keep: {0: {Topic: keep, Partition: 0, At: 40}}}); err != nil || resp[keep][0].Err != nil {
		t.Fatalf("delete records: %v %+v", err, resp)
	}
	check := func(how string) {
		t.Helper()
		tds, err := adm().ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tds.Has(gone) {
			t.Errorf("%s: deleted topic is back", how)
		}
		if n := len(tds[keep].Partitions); n != 3 {
			t.Errorf("%s: %d partitions, want 3", how, n)
		}
		cs := describeTopic(t, adm(), keep)
		rc, mc := cs["retention.ms"], cs["max.message.bytes"]
		if v := rc.MaybeValue(); v != "3600000" {
			t.Errorf("%s: retention.ms = %q", how, v)
		}
		if v := mc.MaybeValue(); v != "123456" {
			t.Errorf("%s: max.message.bytes = %q", how, v)
		}
		lo, err := adm().ListStartOffsets(ctx, keep)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := lo.Lookup(keep, 0); o.Offset != 40 {
			t.Errorf("%s: log start offset %d, want 40", how, o.Offset)
		}
		lo, err = adm().ListEndOffsets(ctx, keep)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := lo.Lookup(keep, 0); o.Offset != 100 {
			t.Errorf("%s: end offset %d, want 100", how, o.Offset)
		}
	}
	p.Stop()
	p.Restart()
	check("after SIGTERM")
	p.Kill9()
	p.Restart()
	check("after kill -9")
}
