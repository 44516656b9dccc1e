// Command compat runs the cross-client compatibility matrix (issue #3): every
// driver in drivers.go runs every scenario (scenarios/scenarios.go) against a
// fresh Moldau and against Apache Kafka (kafka-ref.sh), side by side. It
// writes MATRIX.md, regenerates the README's compat block, and exits non-zero
// when a Moldau result differs from expectations.txt or any scenario fails
// against Apache Kafka (a driver bug).
//
//	go run ./tests/compat                       # everything (make compat)
//	go run ./tests/compat -clients franz-go,kcat -scenarios roundtrip
//	go run ./tests/compat -kafka-addr 127.0.0.1:9092 -moldau-addr 127.0.0.1:9093
//	go run ./tests/compat -cluster              # three-node Moldau beside three-broker Kafka
//
// -cluster (issue #14) runs the same scenarios against a three-node Moldau
// cluster and a three-broker Apache Kafka (three KRaft processes), both on
// 127.0.0.1..3, with the bootstrap list of all three brokers and topics at
// replication factor 3 ($COMPAT_RF for the drivers). It writes
// MATRIX-cluster.md (not the README) and compares with
// expectations-cluster.txt; franz-go's suite is off unless -franz-suite is
// given (then KGO_TEST_RF=3).
//
// Drivers are installed by tests/compat/setup.sh (make compat runs it).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/moldau/moldau/tests/compat/scenarios"
)

type options struct {
	root        string // repository root
	dir         string // tests/compat
	cache       string // tests/compat/.cache
	clients     []string
	scenarios   []string
	parallel    int
	franzSuite  bool
	moldauBin   string // prebuilt binary (default: build ./cmd/moldau)
	bin         string // this run's binaries (a temp dir: runs may overlap)
	logs        string // the drivers' and brokers' logs: .cache/logs (-cluster: .cache/logs-cluster)
	writeOutput bool
	cluster     bool   // -cluster: three-node Moldau and three-broker Kafka
	moldauAdmin string // -moldau-admin-addr
}

// rf is the replication factor of the topics the drivers create.
func (o options) rf() int {
	if o.cluster {
		return clusterNodes
	}
	return 1
}

// brokers is how many brokers each side runs (the metadata scenario checks
// that clients see all of them).
func (o options) brokers() int {
	if o.cluster {
		return clusterNodes
	}
	return 1
}

// expectationsFile and matrixFile are the mode's files in tests/compat.
func (o options) expectationsFile() string {
	if o.cluster {
		return "expectations-cluster.txt"
	}
	return "expectations.txt"
}

func (o options) matrixFile() string {
	if o.cluster {
		return "MATRIX-cluster.md"
	}
	return "MATRIX.md"
}

func main() {
	var (
		clientsFlag   = flag.String("clients", "", "comma-separated clients (default: all)")
		scenariosFlag = flag.String("scenarios", "", "comma-separated scenarios (default: all)")
		parallel      = flag.Int("parallel", 2, "driver processes at once")
		moldauAddr    = flag.String("moldau-addr", "", "use this running Moldau instead of starting one")
		moldauBin     = flag.String("moldau-bin", "", "start this Moldau binary instead of building ./cmd/moldau")
		moldauAdmin   = flag.String("moldau-admin-addr", "", "with -moldau-addr: its admin HTTP address (/metrics) for the Moldau-only checks")
		kafkaAddr     = flag.String("kafka-addr", "", "use this running Apache Kafka instead of kafka-ref.sh")
		franzSuite    = flag.Bool("franz-suite", os.Getenv("COMPAT_FRANZ_SUITE") != "0", "run franz-go's integration suite against both brokers")
		write         = flag.Bool("write", true, "write MATRIX.md and the README block (only on a full run)")
		cluster       = flag.Bool("cluster", false, "three-node Moldau beside three-broker Apache Kafka: writes MATRIX-cluster.md, compares with expectations-cluster.txt (-moldau-addr and -kafka-addr take bootstrap lists)")
	)
	flag.Parse()
	franzSet := false
	flag.Visit(func(f *flag.Flag) { franzSet = franzSet || f.Name == "franz-suite" })
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "kafka-ref.sh")); err != nil {
		wd, _ := os.Getwd()
		dir = filepath.Join(wd, "tests", "compat")
	}
	o := options{moldauBin: *moldauBin,
		dir: dir, root: filepath.Clean(filepath.Join(dir, "..", "..")), cache: filepath.Join(dir, ".cache"),
		clients: allClients(), scenarios: scenarios.Names, parallel: *parallel, franzSuite: *franzSuite,
		cluster: *cluster,
	}
	o.logs = filepath.Join(o.cache, "logs")
	if o.cluster {
		o.logs = filepath.Join(o.cache, "logs-cluster")
		// franz-go's suite at RF=3 is a separate part of issue #14 and
		// takes minutes: only when asked for.
		o.franzSuite = *franzSuite && franzSet
	}
	full := *clientsFlag == "" && *scenariosFlag == ""
	o.writeOutput = *write && full
	if *clientsFlag != "" {
		o.clients = strings.Split(*clientsFlag, ",")
	}
	if *scenariosFlag != "" {
		o.scenarios = strings.Split(*scenariosFlag, ",")
	}
	o.moldauAdmin = *moldauAdmin
	os.Exit(runAll(o, *moldauAddr, *kafkaAddr, full))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compat %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func runAll(o options, moldauAddr, kafkaAddr string, full bool) int {
	start := time.Now()
	if err := os.MkdirAll(o.logs, 0o755); err != nil {
		logf("%v", err)
		return 1
	}
	bin, err := os.MkdirTemp("", "compat-bin-")
	if err != nil {
		logf("%v", err)
		return 1
	}
	defer os.RemoveAll(bin)
	o.bin = bin
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Start both brokers and build the Go driver concurrently.
	var (
		wg               sync.WaitGroup
		moldau, kafka    *brokerProc
		mErr, kErr, bErr error
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		if moldauAddr != "" {
			moldau = &brokerProc{name: "moldau", addr: moldauAddr, admin: o.moldauAdmin}
			return
		}
		if o.cluster {
			moldau, mErr = startMoldauCluster(ctx, o, clusterNodes)
			return
		}
		moldau, mErr = startMoldau(ctx, o)
	}()
	go func() {
		defer wg.Done()
		if kafkaAddr != "" {
			kafka = &brokerProc{name: "kafka", addr: kafkaAddr}
			return
		}
		if o.cluster {
			kafka, kErr = startKafkaCluster(ctx, o, clusterNodes)
			return
		}
		kafka, kErr = startKafka(ctx, o)
	}()
	go func() { defer wg.Done(); bErr = buildGoDriver(o) }()
	wg.Wait()
	defer func() {
		for _, b := range []*brokerProc{moldau, kafka} {
			if b != nil {
				b.stop()
			}
		}
	}()
	for _, err := range []error{mErr, kErr, bErr} {
		if err != nil {
			logf("setup: %v", err)
			return 1
		}
	}
	logf("moldau at %s, apache kafka at %s (setup %.1fs)", moldau.addr, kafka.addr, time.Since(start).Seconds())

	parity, parityErr := compareApiVersions(moldau.addr, kafka.addr)
	for _, p := range parity {
		if st := p.status(); st != "same" && st != "missing on Moldau" {
			logf("ApiVersions %2d %-28s kafka %-5s moldau %-5s %s", p.key, p.name, p.kafka, p.moldau, st)
		}
	}
	res := runDrivers(o, map[string]string{"moldau": moldau.addr, "kafka": kafka.addr})
	res.parity = parity
	res.moldauOnly = runMoldauOnly(moldau)
	var suite map[string]suiteCount
	if o.franzSuite && full {
		suite = runFranzSuites(o, map[string]string{"moldau": moldau.addr, "kafka": kafka.addr})
	}

	exp, err := readExpectations(filepath.Join(o.dir, o.expectationsFile()))
	if err != nil {
		logf("%v", err)
		return 1
	}
	problems := check(o, res, exp)
	if parityErr != nil {
		problems = append(problems, "ApiVersions parity: "+parityErr.Error())
	}
	problems = append(problems, checkParity(o, parity, exp)...)
	problems = append(problems, checkMoldauOnly(o, res.moldauOnly, exp)...)
	if o.writeOutput {
		md := renderMatrix(o, res, exp, suite)
		if err := os.WriteFile(filepath.Join(o.dir, o.matrixFile()), []byte(md), 0o644); err != nil {
			logf("%v", err)
			return 1
		}
		// The README's block is the single-node matrix's.
		if !o.cluster {
			if err := updateReadme(filepath.Join(o.root, "README.md"), renderReadmeBlock(o, res, suite)); err != nil {
				logf("%v", err)
				return 1
			}
		}
	}
	printSummary(o, res)
	logf("compat took %.0fs", time.Since(start).Seconds())
	if len(problems) > 0 {
		fmt.Printf("compat: results differ from tests/compat/%s or Apache Kafka:\n", o.expectationsFile())
		for _, p := range problems {
			fmt.Println("  " + p)
		}
		return 1
	}
	fmt.Printf("compat: every result matches %s; every scenario passes or is n/a against Apache Kafka\n", o.expectationsFile())
	return 0
}
