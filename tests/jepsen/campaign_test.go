package jepsen

// The campaign in CI: a Moldau process cluster, every process fault kind at
// least once (8 kinds, one every 10-15 s), all three workloads, then heal,
// drain and check; any anomaly fails the test. The history and the node
// logs go to a temporary directory that is kept (and named in the log)
// when the test fails. TestCampaignKafka is the same against Apache Kafka
// 4.4, run only with MOLDAU_JEPSEN_KAFKA=1 (three JVMs beside the checker
// are too heavy for CI's machine; the README shows how to run it).
//
// MOLDAU_JEPSEN_SEED fixes the seed (default: the time, logged) and
// MOLDAU_JEPSEN_DURATION the fault phase (default: 18 s per fault kind, so each comes up with heals in between).

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moldau/moldau/internal/testenv"
)

// recordingNemesis notes the kinds injected, to check that each one was.
type recordingNemesis struct {
	Nemesis
	mu   sync.Mutex
	seen map[FaultKind]int
}

func (r *recordingNemesis) Inject(ctx context.Context, kind FaultKind, topic string) (Fault, error) {
	f, err := r.Nemesis.Inject(ctx, kind, topic)
	if err == nil {
		r.mu.Lock()
		r.seen[kind]++
		r.mu.Unlock()
	}
	return f, err
}

// campaignDir is a directory kept when t fails.
func campaignDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "jepsen-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("history, anomalies, summary and node logs kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

func campaignSeed(t *testing.T) int64 {
	t.Helper()
	if s := os.Getenv("MOLDAU_JEPSEN_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("MOLDAU_JEPSEN_SEED=%q: %v", s, err)
		}
		return n
	}
	return time.Now().UnixNano()
}

// runCampaign runs every kind nm serves against c and checks the result.
func runCampaign(t *testing.T, ctx context.Context, c Cluster, dir string) {
	t.Helper()
	seed := campaignSeed(t)
	nm, err := NewProcNemesis(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	kinds := nm.Kinds()
	duration := 18 * time.Second * time.Duration(len(kinds))
	if s := os.Getenv("MOLDAU_JEPSEN_DURATION"); s != "" {
		if duration, err = time.ParseDuration(s); err != nil {
			t.Fatalf("MOLDAU_JEPSEN_DURATION=%q: %v", s, err)
		}
	}
	t.Logf("campaign on %s: seed %d (MOLDAU_JEPSEN_SEED=%d repeats it), %v of faults %v, output in %s",
		c.Name(), seed, seed, duration, kinds, dir)
	rec := &recordingNemesis{Nemesis: nm, seen: map[FaultKind]int{}}
	res, err := Run(ctx, Config{
		Cluster:   c,
		Nemesis:   rec,
		Faults:    kinds,
		Duration:  duration,
		Workloads: []string{WorkloadQueue, WorkloadTransactions, WorkloadGroups},
		OutDir:    dir,
		Seed:      seed,
		Logf:      t.Logf,
	})
	if err != nil {
		t.Fatalf("campaign: %v", err)
	}
	t.Logf("summary (%s):\n%s", filepath.Join(dir, "summary.md"), res.Summary)
	for _, a := range res.Anomalies {
		t.Errorf("anomaly %s: %s", a.Kind, a.Detail)
	}
	var missing []FaultKind
	for _, k := range kinds {
		if rec.seen[k] == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("fault kinds never injected in %v: %v (injected: %v)", duration, missing, rec.seen)
	}
}

func TestCampaignMoldau(t *testing.T) {
	requireNFT(t)
	dir := campaignDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c, err := NewMoldauCluster(ctx, ProcOptions{Dir: filepath.Join(dir, "cluster"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer dumpLogsOnFailure(t, c.procCluster)
	runCampaign(t, ctx, c, dir)
}

func TestCampaignKafka(t *testing.T) {
	if os.Getenv("MOLDAU_JEPSEN_KAFKA") != "1" {
		t.Skip("the Kafka side by side runs with MOLDAU_JEPSEN_KAFKA=1 (three JVMs: too heavy for CI; tests/jepsen/README.md)")
	}
	requireNFT(t)
	testenv.RequireTool(t, "java", "make deps: apt-get install default-jdk-headless")
	dir := campaignDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c, err := NewKafkaCluster(ctx, ProcOptions{Dir: filepath.Join(dir, "cluster"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer dumpLogsOnFailure(t, c.procCluster)
	runCampaign(t, ctx, c, dir)
}
