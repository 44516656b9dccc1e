// Command jepsen runs the fault campaign (package tests/jepsen) against a
// three-node process cluster of Moldau or Apache Kafka 4.4 and prints the
// summary; it exits 1 when the checker found any anomaly, 2 when the
// campaign could not run. The 1,000-second soak:
//
//	go run ./tests/jepsen/cmd/jepsen -target moldau -duration 1000s -out /tmp/soak-moldau
//
// It needs root (nftables; Kafka's JVMs run under their own uids) and nft.
// SIGINT/SIGTERM stop the campaign and remove the cluster and its rules.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/moldau/moldau/tests/jepsen"
)

func main() {
	os.Exit(run())
}

func run() int {
	target := flag.String("target", "moldau", "the cluster: moldau or kafka")
	duration := flag.Duration("duration", 2*time.Minute, "the fault phase (then heal, drain and check)")
	out := flag.String("out", "", "`DIR` for history.jsonl, anomalies.txt, summary.md and the node logs (default: a new temporary directory)")
	faults := flag.String("faults", "", "comma-separated fault kinds (default: every kind the target's nemesis serves)")
	seed := flag.Int64("seed", 0, "seed of the fault order and workload choices (default: the time)")
	workloads := flag.String("workloads", "queue,transactions,groups", "comma-separated workloads")
	intervalMin := flag.Duration("interval-min", 10*time.Second, "shortest time between two faults")
	intervalMax := flag.Duration("interval-max", 15*time.Second, "longest time between two faults")
	moldauBin := flag.String("moldau", "", "the moldau `BINARY` (default: built from this module)")
	kafkaLibs := flag.String("kafka-libs", "", "`DIR` of Kafka 4.4's jars (default: $MOLDAU_KAFKA_LIBS or tests/compat/.cache/kafka-4.4.0/libs, fetched by tests/compat/kafka-ref.sh fetch)")
	kafkaHeap := flag.String("kafka-heap", "512m", "the Kafka JVMs' -Xmx")
	quiet := flag.Bool("q", false, "no progress lines")
	recheck := flag.String("check", "", "check a saved `HISTORY` (history.jsonl) again instead of running: prints its anomalies, exits 1 on any")
	flag.Parse()
	if *recheck != "" {
		ops, err := jepsen.ReadJSONL(*recheck)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		anomalies := jepsen.Check(ops)
		for _, a := range anomalies {
			fmt.Printf("%s\t%s\n", a.Kind, a.Detail)
		}
		fmt.Printf("%d operations, %d anomalies\n", len(ops), len(anomalies))
		if len(anomalies) > 0 {
			return 1
		}
		return 0
	}
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
	if *out == "" {
		d, err := os.MkdirTemp("", "jepsen-"+*target+"-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		*out = d
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logf := func(format string, args ...any) {
		if !*quiet {
			fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := jepsen.ProcOptions{
		Dir: filepath.Join(*out, "cluster"), Binary: *moldauBin,
		KafkaLibs: *kafkaLibs, KafkaHeap: *kafkaHeap, Logf: logf,
	}
	var c jepsen.Cluster
	var err error
	switch *target {
	case "moldau":
		c, err = jepsen.NewMoldauCluster(ctx, opts)
	case "kafka":
		c, err = jepsen.NewKafkaCluster(ctx, opts)
	default:
		err = fmt.Errorf("-target %q: moldau or kafka", *target)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		return 2
	}
	defer c.Close()
	nm, err := jepsen.NewProcNemesis(c, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		return 2
	}
	var kinds []jepsen.FaultKind
	for _, k := range split(*faults) {
		kinds = append(kinds, jepsen.FaultKind(k))
	}
	for _, k := range kinds {
		if !contains(nm.Kinds(), k) {
			fmt.Fprintf(os.Stderr, "jepsen: -faults: %s cannot inject %q (it serves %v)\n", *target, k, nm.Kinds())
			return 2
		}
	}
	logf("campaign on %s: seed %d, %v of faults %v, output in %s", *target, *seed, *duration, orAll(kinds, nm.Kinds()), *out)
	res, err := jepsen.Run(ctx, jepsen.Config{
		Cluster: c, Nemesis: nm, Faults: kinds, Duration: *duration,
		IntervalMin: *intervalMin, IntervalMax: *intervalMax,
		Workloads: split(*workloads), OutDir: *out, Seed: *seed, Logf: logf,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 2
	}
	fmt.Println(res.Summary)
	if len(res.Anomalies) > 0 {
		fmt.Fprintf(os.Stderr, "jepsen: %d anomalies (%s)\n", len(res.Anomalies), filepath.Join(*out, "anomalies.txt"))
		return 1
	}
	return 0
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func contains(kinds []jepsen.FaultKind, k jepsen.FaultKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

func orAll(kinds, all []jepsen.FaultKind) []jepsen.FaultKind {
	if len(kinds) == 0 {
		return all
	}
	return kinds
}
