package tests

// The web console in a real browser (issue #19): the moldau binary with
// --console-addr and --schema-registry-addr on free ports, and
// tests/console/scenario.mjs driving Debian's headless chromium through
// playwright-core (installed by tests/console/setup.sh, cached; no browser
// download) through a newcomer's first minutes: the overview, a topic
// created through the form, a message produced through the Produce tab and
// seen decoded in the message browser, the message count rising and a
// group's lag falling without a reload while this test produces and
// consumes with franz-go, an Avro value (registered over the registry's
// HTTP API, framed by pkg/sr's Serde) decoded as JSON, and the Schemas page.
//
// The scenario prints "@@signal NAME" when it is ready to watch something;
// this test then does it. Screenshots go to $MOLDAU_ARTIFACTS/console, or
// tests/console/artifacts (git-ignored). Under CI a missing node, npm or
// chromium fails the test.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

const (
	consoleTopic   = "clicks"
	consoleGroup   = "readers"
	consoleBurst   = 2000
	consoleAvro    = "pageviews"
	consoleSubject = consoleAvro + "-value"
	// pageViewSchema is the Avro schema of consoleAvro's values.
	pageViewSchema = `{"type":"record","name":"PageView","namespace":"moldau.console.test","fields":[` +
		`{"name":"url","type":"string"},{"name":"user","type":"string"},{"name":"ms","type":"long"}]}`
)

// pageView is one pageViewSchema record.
type pageView struct {
	URL  string `json:"url"`
	User string `json:"user"`
	MS   int64  `json:"ms"`
}

// avroBinary is v in Avro's binary encoding: the fields in schema order,
// a string as its zig-zag varint length and UTF-8 bytes, a long as a
// zig-zag varint (binary.AppendVarint's encoding). Written here, apart from
// the broker's decoder, so that the browser shows what an independent
// encoder produced.
func avroBinary(v any) ([]byte, error) {
	pv, ok := v.(pageView)
	if !ok {
		return nil, fmt.Errorf("avroBinary: %T is not a pageView", v)
	}
	var b []byte
	for _, s := range []string{pv.URL, pv.User} {
		b = binary.AppendVarint(b, int64(len(s)))
		b = append(b, s...)
	}
	return binary.AppendVarint(b, pv.MS), nil
}

var (
	consoleSetupOnce sync.Once
	consoleModules   string
	consoleSetupErr  error
)

// consoleDriver runs tests/console/setup.sh once per test process and
// returns the node_modules directory holding playwright-core.
func consoleDriver(t *testing.T) string {
	t.Helper()
	testenv.RequireTool(t, "node", "make deps (apt-get install npm)")
	testenv.RequireTool(t, "npm", "make deps (apt-get install npm)")
	consoleSetupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, filepath.Join(testsDir(), "console", "setup.sh"))
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			consoleSetupErr = fmt.Errorf("tests/console/setup.sh: %v\n%s", err, stderr.String())
			return
		}
		consoleModules = strings.TrimSpace(string(out))
	})
	if consoleSetupErr != nil {
		t.Fatal(consoleSetupErr)
	}
	return consoleModules
}

// consoleArtifacts is the screenshot directory: $MOLDAU_ARTIFACTS/console,
// else tests/console/artifacts.
func consoleArtifacts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testsDir(), "console", "artifacts")
	if a := os.Getenv("MOLDAU_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "console")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range append(old, filepath.Join(dir, "failure.txt")) {
		_ = os.Remove(f)
	}
	return dir
}

func TestConsoleBrowser(t *testing.T) {
	testenv.SkipIfShort(t, "starts the binary and a browser for about a minute")
	chromium := testenv.RequireTool(t, "chromium", "make deps (apt-get install chromium)")
	modules := consoleDriver(t)
	artifacts := consoleArtifacts(t)

	ports := freeLoopbackPorts(t, 2)
	consoleAddr, registryAddr := ports[0], ports[1]
	p := harness.Start(t, "--console-addr", consoleAddr, "--schema-registry-addr", registryAddr,
		"--set", "group.initial.rebalance.delay.ms=0")
	consoleURL, registryURL := "http://"+consoleAddr, "http://"+registryAddr
	for _, u := range []string{consoleURL + "/api/overview", registryURL + "/subjects"} {
		testenv.WaitFor(t, 30*time.Second, u+" to answer 200", func() bool {
			resp, err := http.Get(u)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.DefaultProduceTopic(consoleTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	// The Avro topic is there before the newcomer arrives: a schema
	// registered over the registry's HTTP API, one record framed by sr.Serde.
	want := pageView{URL: "/pricing", User: "ada", MS: 1234}
	id := registerAvro(t, registryURL, consoleSubject, pageViewSchema)
	var serde sr.Serde
	serde.Register(id, pageView{}, sr.EncodeFn(avroBinary))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, consoleAvro); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: consoleAvro, Key: []byte("ada"), Value: serde.MustEncode(want)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)

	cmd := exec.CommandContext(ctx, "node", filepath.Join(testsDir(), "console", "scenario.mjs"))
	cmd.Env = append(os.Environ(),
		"CONSOLE_URL="+consoleURL,
		"ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
		"NODE_PATH="+modules,
		fmt.Sprintf("BURST=%d", consoleBurst),
		"AVRO_TOPIC="+consoleAvro,
		"AVRO_SUBJECT="+consoleSubject,
		"AVRO_VALUE="+string(wantJSON),
	)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	t.Logf("screenshots go to %s", artifacts)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// The scenario's output goes to t.Log line by line; its signals to the
	// Go side, which acts on them in order.
	signals := make(chan string, 4)
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(signals)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			t.Logf("[%5.1fs] %s", time.Since(start).Seconds(), line)
			if name, ok := strings.CutPrefix(line, "@@signal "); ok {
				signals <- name
			}
		}
	}()
	// actCtx ends when the scenario does: a Go-side step still running then
	// (the scenario failed meanwhile) stops without a failure of its own.
	actCtx, actCancel := context.WithCancel(ctx)
	defer actCancel()
	acted := make(chan []string, 1)
	go func() {
		var done []string
		defer func() { acted <- done }()
		for name := range signals {
			var err error
			switch name {
			case "produce-burst":
				err = produceBurst(actCtx, t, cl, adm)
			case "group-watch":
				err = consumeSlowly(actCtx, t, p.Addr)
			default:
				err = fmt.Errorf("unknown signal %q", name)
			}
			if err != nil && actCtx.Err() != nil {
				t.Logf("acting on the scenario's signal %s: stopped when the scenario ended: %v", name, err)
				for range signals {
				}
				return
			}
			if err != nil {
				t.Errorf("acting on the scenario's signal %s: %v", name, err)
				cancel() // the scenario waits in vain otherwise
				for range signals {
				}
				return
			}
			done = append(done, name)
		}
	}()

	runErr := cmd.Wait()
	actCancel()
	pw.Close()
	<-read
	done := <-acted
	if ctx.Err() != nil && runErr != nil {
		t.Fatalf("the scenario was stopped (%v) after %v", ctx.Err(), time.Since(start).Round(time.Second))
	}
	if runErr != nil {
		t.Fatalf("the browser scenario failed (%v); screenshots and failure.png/failure.txt in %s\nbroker stderr (tail):\n%s",
			runErr, artifacts, p.Stderr()[max(0, len(p.Stderr())-4000):])
	}
	if strings.Join(done, ",") != "produce-burst,group-watch" {
		t.Fatalf("the scenario passed having signalled %v, want produce-burst and group-watch", done)
	}

	// What the browser did, seen from a Kafka client: the form made three
	// partitions and the Produce tab wrote k1's JSON value.
	checkConsoleTopic(ctx, t, adm, p.Addr)
	t.Logf("browser scenario passed in %v; screenshots in %s", time.Since(start).Round(time.Second), artifacts)
}

// registerAvro registers schema under subject with a plain HTTP POST, as
// the registry's API documents, and returns its id.
func registerAvro(t *testing.T, registryURL, subject, schema string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"schema": schema, "schemaType": "AVRO"})
	resp, err := http.Post(registryURL+"/subjects/"+subject+"/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		ID int `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &r) != nil || r.ID <= 0 {
		t.Fatalf("registering %s: %s %s", subject, resp.Status, b)
	}
	return r.ID
}

// produceBurst writes consoleBurst records into consoleTopic over about
// eight seconds, long enough for the topic page to refresh several times
// meanwhile, then commits offset 0 on every partition for consoleGroup so
// that the group exists, empty, with the whole topic as its lag.
func produceBurst(ctx context.Context, t *testing.T, cl *kgo.Client, adm *kadm.Client) error {
	const rounds = 40
	start := time.Now()
	for r := range rounds {
		recs := make([]*kgo.Record, 0, consoleBurst/rounds)
		for i := range consoleBurst / rounds {
			n := r*consoleBurst/rounds + i
			recs = append(recs, &kgo.Record{
				Key:   fmt.Appendf(nil, "user-%d", n%97),
				Value: fmt.Appendf(nil, `{"page":"/p/%d","n":%d}`, n%13, n),
			})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("go: produced %d records into %s in %v", consoleBurst, consoleTopic, time.Since(start).Round(time.Millisecond))
	var offsets kadm.Offsets
	for part := range int32(3) {
		offsets.Add(kadm.Offset{Topic: consoleTopic, Partition: part, At: 0, LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, consoleGroup, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("committing offset 0 for %s: %w", consoleGroup, err)
	}
	return nil
}

// consumeSlowly reads consoleTopic as consoleGroup, 100 records a poll,
// committing each poll and pausing between polls (about ten seconds for
// the whole topic), until every record is consumed and committed.
func consumeSlowly(ctx context.Context, t *testing.T, addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(consoleGroup), kgo.ConsumeTopics(consoleTopic),
		kgo.DisableAutoCommit(), kgo.FetchMaxBytes(64<<10))
	if err != nil {
		return err
	}
	defer cl.Close()
	start := time.Now()
	total := 0
	for total < 1+consoleBurst {
		fs := cl.PollRecords(ctx, 100)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consumed %d of %d: %w", total, 1+consoleBurst, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch: %v", errs[0].Err)
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		total += len(recs)
		time.Sleep(400 * time.Millisecond)
	}
	t.Logf("go: group %s consumed and committed %d records in %v", consoleGroup, total, time.Since(start).Round(time.Millisecond))
	return nil
}

// checkConsoleTopic reads consoleTopic back with franz-go: three
// partitions, 1+consoleBurst records, one of them k1 with the JSON value the
// scenario typed into the Produce tab.
func checkConsoleTopic(ctx context.Context, t *testing.T, adm *kadm.Client, addr string) {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, consoleTopic)
	if err != nil {
		t.Fatal(err)
	}
	var parts int
	var records int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Errorf("end offset of %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		parts++
		records += o.Offset
	})
	if parts != 3 || records != 1+consoleBurst {
		t.Fatalf("%s has %d partitions and %d records, want 3 and %d", consoleTopic, parts, records, 1+consoleBurst)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(consoleTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for seen := 0; seen < 1+consoleBurst; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("k1 not found among %d records of %s: %v", seen, consoleTopic, err)
		}
		for _, e := range fs.Errors() {
			t.Fatal(e.Err)
		}
		for _, r := range fs.Records() {
			seen++
			if string(r.Key) != "k1" {
				continue
			}
			var v map[string]any
			if err := json.Unmarshal(r.Value, &v); err != nil || v["page"] != "/welcome" || v["user"] != "newcomer" || v["n"] != 1.0 {
				t.Fatalf("k1's value is %q, want the JSON the scenario typed", r.Value)
			}
			return
		}
	}
	t.Fatalf("no record with key k1 in %s", consoleTopic)
}
