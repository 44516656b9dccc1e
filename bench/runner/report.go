package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// values returns field f of the successful samples of (workload, target), by round.
func values(samples []sample, w, t string, f func(sample) float64) map[int]float64 {
	out := map[int]float64{}
	for _, s := range samples {
		if s.Workload == w && s.Target == t && s.Err == "" {
			out[s.Round] = f(s)
		}
	}
	return out
}

func vals(m map[int]float64) []float64 {
	var out []float64
	for _, r := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[r])
	}
	return out
}

// ratio is median(ours)/median(peer) and the min..max of the per-round ratios.
type ratio struct {
	med, lo, hi float64
	ok          bool
}

func pairRatio(ours, peer map[int]float64) ratio {
	// Only rounds both targets completed: a round one of them failed would
	// compare medians of different rounds (the load moves between rounds).
	po, pp := map[int]float64{}, map[int]float64{}
	for round, o := range ours {
		if p, ok := peer[round]; ok {
			po[round], pp[round] = o, p
		}
	}
	if len(po) > 0 {
		ours, peer = po, pp
	}
	mo, mp := median(vals(ours)), median(vals(peer))
	if mo == 0 || mp == 0 {
		return ratio{}
	}
	r := ratio{med: mo / mp, lo: 1e18, hi: 0, ok: true}
	for round, o := range ours {
		if p, ok := peer[round]; ok && p > 0 {
			r.lo, r.hi = min(r.lo, o/p), max(r.hi, o/p)
		}
	}
	return r
}

func (r ratio) String() string {
	if !r.ok {
		return "–"
	}
	if r.lo == r.hi {
		return fmt.Sprintf("**%.3g×**", r.med)
	}
	return fmt.Sprintf("**%.2f×** (pairs %.2f–%.2f)", r.med, r.lo, r.hi)
}

func sh(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "?"
}

// canonical is the order targets appear in tables.
var canonical = []string{"moldau", "baseline", "kafka", "kafka-c2", "kfake", "null"}

// targetsOf lists the targets with samples of workload w, in canonical order.
func targetsOf(samples []sample, w string) []string {
	var out []string
	for _, t := range canonical {
		if slices.ContainsFunc(samples, func(s sample) bool { return s.Workload == w && s.Target == t }) {
			out = append(out, t)
		}
	}
	return out
}

// loadRuns reads the JSON lines of earlier runs in dir (runs.jsonl and
// runs-*.jsonl). Lines written before runs carried an id get "legacy:<file>".
func loadRuns(dir string) []sample {
	files, _ := filepath.Glob(filepath.Join(dir, "runs*.jsonl"))
	var out []sample
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var s sample
			if json.Unmarshal(sc.Bytes(), &s) != nil || s.Workload == "" || s.Target == "" {
				continue
			}
			s.src = filepath.Base(f)
			if s.Run == "" {
				s.Run = "legacy:" + s.src
			}
			out = append(out, s)
		}
		fh.Close()
	}
	return out
}

// runRank orders runs: runs.jsonl's runs with an id (a UTC time) by time,
// after runs.jsonl's lines from before ids, after the side files
// (runs-*.jsonl: before/after experiments, used only for workloads
// runs.jsonl lacks). This run's samples have no src and rank as runs.jsonl's.
func runRank(s sample) string {
	switch {
	case s.src != "" && s.src != "runs.jsonl":
		return "0" + s.src + s.Run
	case strings.HasPrefix(s.Run, "legacy:"):
		return "1"
	}
	return "2" + s.Run
}

// mergeKey is what one run's samples stand for: a workload, or for W9 and
// W12 a workload at one partition count.
func mergeKey(s sample) string {
	if s.Scale != nil {
		return fmt.Sprintf("%s/%d", s.Workload, s.Scale.Partitions)
	}
	if s.Workload == "W12" && s.Cluster != nil {
		return fmt.Sprintf("%s/%d", s.Workload, s.Cluster.Partitions)
	}
	return s.Workload
}

// merge takes each workload (W9: each partition count) from the newest run
// that has it: this run if it ran it, else an earlier one.
func merge(wls []workload, current, previous []sample) []sample {
	all := append(slices.Clone(previous), current...)
	best := map[string]string{}
	for _, s := range all {
		if k := mergeKey(s); runRank(s) > best[k] {
			best[k] = runRank(s)
		}
	}
	var out []sample
	for _, w := range wls {
		for _, s := range all {
			if s.Workload == w.Name && runRank(s) == best[mergeKey(s)] {
				out = append(out, s)
			}
		}
	}
	return out
}

// provenance is the line under each table: which run, which commit, the load.
func provenance(samples []sample, w string) string {
	runs := map[string]bool{}
	commits := map[string]bool{}
	lo, hi := 1e9, 0.0
	for _, s := range samples {
		if s.Workload != w {
			continue
		}
		runs[s.Run] = true
		if s.Commit != "" {
			commits[s.Commit] = true
		}
		for _, l := range []float64{s.Load1Start, s.Load1End} {
			if l > 0 {
				lo, hi = min(lo, l), max(hi, l)
			}
		}
	}
	if len(runs) == 0 {
		return ""
	}
	out := "Run " + strings.Join(slices.Sorted(maps.Keys(runs)), ", ")
	if len(commits) > 0 {
		out += ", commit " + strings.Join(slices.Sorted(maps.Keys(commits)), ", ")
	}
	if hi > 0 {
		out += fmt.Sprintf("; 1-minute load average %.1f–%.1f on 2 cores during it (the benchmark's own broker and client account for up to about 2 of it; the rest is other engineers' builds and tests)", lo, hi)
	} else {
		out += "; machine load not recorded (a run from before the runner recorded it)"
	}
	return "_" + out + "._\n\n"
}

func render(wls []workload, samples []sample) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Moldau benchmark results\n\n")
	p("Written by `make bench` (bench/runner) on %s. Raw runs, one JSON line each with the load tool's full output: [results/runs.jsonl](results/runs.jsonl) (append-only; each table below comes from the newest run of its workload, named under it).\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	p("- **Hardware**: %s CPUs (`nproc`), %s, kernel %s, %s RAM; Go %s, GOMAXPROCS %d. `uptime` when this report was written: %s.\n", sh("nproc"), cpuModel(), sh("uname", "-r"), memTotal(), runtime.Version(), runtime.GOMAXPROCS(0), sh("uptime"))
	if fileLimit >= 1<<20 {
		p("- **Open-files limit** (RLIMIT_NOFILE) the brokers inherit: %d (raised by the runner).\n", fileLimit)
	} else {
		p("- **Open-files limit** (RLIMIT_NOFILE) the brokers inherit: %d, the hard limit: the runner could not raise it (that needs CAP_SYS_RESOURCE, which this machine withholds even from root), so a broker keeping more files than that open at 10,000 partitions fails.\n", fileLimit)
	}
	p("- **Client**: franz-go kgo as pinned in go.mod (the `client` field of each JSON line); W8 uses Kafka's own Java tools.\n")
	p("- **Targets**, each its own process on a fresh data directory for every (workload, round):\n")
	p("  - `moldau`: bin/moldau, default profile (`--data-dir` fresh, fsync before answering acks=all, 1 GiB segments).\n")
	p("  - `kafka`: Apache Kafka 4.4.0 single-node KRaft via tests/compat/kafka-ref.sh (W9: the same jars, JVM flags and properties, started directly so a restart keeps the log dir), JVM `-Xms256m -Xmx768m -XX:+UseG1GC -XX:TieredStopAtLevel=1` (the script's heap; Kafka's default flush policy: no fsync per produce).\n")
	if slices.ContainsFunc(samples, func(s sample) bool { return s.Target == "kafka-c2" }) {
		p("  - `kafka-c2`: the same Kafka, jars, properties and heap, started by the runner without `-XX:TieredStopAtLevel=1`, so the JVM's C2 compiler runs (kafka-ref.sh stops at C1 for a fast start; a production Kafka runs C2).\n")
	}
	p("  - `kfake`: franz-go's kfake as a process (bench/kfake, `kfake.DataDir` on, no `SyncWrites`: page cache only, like Kafka).\n")
	p("  - `null`: bench/nullbroker, the ceiling: decode Produce with kmsg, check CRC-32C, append to one file (fdatasync per request for acks=all), ack. No Fetch, so no consume row.\n")
	if *baseline != "" {
		p("  - `baseline`: another Moldau binary (%s), same flags, to measure a change before/after; its ratio is the speed-up.\n", *baseline)
	} else if slices.ContainsFunc(samples, func(s sample) bool { return s.Target == "baseline" }) {
		p("  - `baseline`: another Moldau binary (named where its table describes it), same flags, to measure a change before/after; its ratio is the speed-up.\n")
	}
	p("- **Reading them**: what bounds each workload, and the profiles behind it: [README.md#findings](README.md#findings).\n")
	p("- **Method**: within a round targets run one at a time, order reversed every other round (A B C D, D C B A, …), so each Moldau/peer pair is interleaved. The load tool warms up (produce and flush) before measuring. Ratios are median(Moldau) ÷ median(peer); \"pairs\" is the range of the per-round ratios, the noise band. The machine (2 cores) was shared with other engineers' builds and tests, so single runs drift; trust the ranges and read the load average under each table.\n\n")
	p("Plots: [throughput](results/throughput.png) · [W6 latency](results/w6-latency.png) · [W8 producer latency](results/w8-latency.png) · [W9 scale](results/w9-scale.png) · [cluster throughput (W11, W13)](results/cluster-throughput.png) · [cluster latency (W11-lat, W11-lat-eq)](results/cluster-latency.png) · [W14 failover](results/w14-failover.png)\n\n")

	mibs := func(s sample) float64 { return s.MiBPerSec }
	for _, w := range wls {
		if w.Kind != "" {
			continue
		}
		ts := targetsOf(samples, w.Name)
		if len(ts) == 0 {
			continue
		}
		p("## %s: %s\n\n", w.Name, w.Title)
		p("%s", provenance(samples, w.Name))
		switch {
		case w.Latency:
			renderLatency(p, w, ts, samples)
			continue
		case w.Name == "W8-produce":
			renderPerfProduce(p, ts, samples)
			continue
		case w.Name == "W8-consume":
			renderPerfConsume(p, ts, samples)
			continue
		}
		p("| target | MiB/s per round | median MiB/s | Moldau ÷ target |\n|---|---|---|---|\n")
		ours := values(samples, w.Name, "moldau", mibs)
		for _, t := range ts {
			v := values(samples, w.Name, t, mibs)
			p("| %s | %s | %.1f | %s |\n", t, perRound(samples, w.Name, t, mibs, "%.0f"), median(vals(v)), ratioCell(t, ours, v))
		}
		p("\n")
	}
	renderScale(p, samples)
	renderAdmin(p, samples)
	renderCluster(p, samples)

	// W7: start-up (every start), idle RSS (every start), peak RSS and CPU/GiB under W2.
	p("## W7: footprint\n\nStart-up is from exec to the first answered Metadata request (for Kafka this includes kafka-ref.sh formatting the log dir with a JVM); idle RSS 1 s after start-up, both over every start of the workloads above (W9's starts are in its own table); peak RSS (VmHWM) and broker CPU seconds per GiB produced (utime+stime from /proc/<pid>/stat, warm-up included) under W2.\n\n")
	p("%s", provenance(samples, "W2"))
	p("| target | start-up ms (median, range) | idle RSS MiB | peak RSS MiB under W2 | CPU-s per GiB under W2 |\n|---|---|---|---|---|\n")
	type fp struct{ start, idle, peak, cpu float64 }
	foot := map[string]fp{}
	for _, t := range canonical {
		var st, idle, peak, cpu []float64
		for _, s := range samples {
			if s.Target != t || s.StartupMs == 0 || s.Workload == "W9" {
				continue
			}
			st = append(st, s.StartupMs)
			if s.IdleRSSMiB > 0 {
				idle = append(idle, s.IdleRSSMiB)
			}
			if s.Workload == "W2" && s.Err == "" {
				peak = append(peak, s.PeakRSSMiB)
				if s.ProducedGiB > 0 {
					cpu = append(cpu, s.CPUSec/s.ProducedGiB)
				}
			}
		}
		if len(st) == 0 {
			continue
		}
		f := fp{median(st), median(idle), median(peak), median(cpu)}
		foot[t] = f
		p("| %s | %.0f (%.0f–%.0f, n=%d) | %.1f | %.1f | %.2f |\n", t, f.start, slices.Min(st), slices.Max(st), len(st), f.idle, f.peak, f.cpu)
	}
	p("\n")

	// Targets from issue 8.
	p("## Targets (issue 8)\n\n| target | measured | met? |\n|---|---|---|\n")
	check := func(what string, r ratio, cmp func(float64) bool) {
		if !r.ok {
			p("| %s | not measured | – |\n", what)
			return
		}
		met := "missed"
		if cmp(r.med) {
			met = "met"
			if r.lo != r.hi && (!cmp(r.lo) || !cmp(r.hi)) {
				met = "met (median; the range straddles the target)"
			}
		}
		p("| %s | %s | %s |\n", what, r, met)
	}
	ge := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	le := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	pair := func(w string, f func(sample) float64, peer string) ratio {
		return pairRatio(values(samples, w, "moldau", f), values(samples, w, peer, f))
	}
	for _, w := range []string{"W1", "W2"} {
		check(w+" produce ≥ 1.5× Kafka", pair(w, mibs, "kafka"), ge(1.5))
		check(w+" produce ≥ 1.2× kfake", pair(w, mibs, "kfake"), ge(1.2))
		check(w+" produce ≥ 0.75× null ceiling", pair(w, mibs, "null"), ge(0.75))
	}
	check("W3 acks=all ≥ 1.5× Kafka", pair("W3", mibs, "kafka"), ge(1.5))
	check("W4 four producers acks=all ≥ 1.5× Kafka", pair("W4", mibs, "kafka"), ge(1.5))
	check("W6 end-to-end p99 ≤ 0.5× Kafka's (at a fixed 32 MiB/s)", pair("W6", func(s sample) float64 { return s.E2E["p99"] }, "kafka"), le(0.5))
	check("W5 catch-up (hot) ≥ 1.2× Kafka", pair("W5", mibs, "kafka"), ge(1.2))
	check("W5 catch-up (cold page cache) ≥ 1.2× Kafka", pair("W5-cold", mibs, "kafka"), ge(1.2))
	check("W8 kafka-producer-perf-test ≥ 1.5× Kafka (MB/s)", pair("W8-produce", mibs, "kafka"), ge(1.5))
	check("W8 kafka-consumer-perf-test ≥ 1.2× Kafka (fetch MB/s)", pair("W8-consume", mibs, "kafka"), ge(1.2))
	m := foot["moldau"]
	single := func(a, b float64) ratio {
		if a == 0 || b == 0 {
			return ratio{}
		}
		return ratio{med: a / b, lo: a / b, hi: a / b, ok: true}
	}
	check("start-up ≤ kfake's (ratio ≤ 1)", single(m.start, foot["kfake"].start), le(1))
	check("start-up ≤ 1/50 of Kafka's", single(m.start, foot["kafka"].start), le(0.02))
	check("idle RSS ≤ 2× kfake's", single(m.idle, foot["kfake"].idle), le(2))
	check("idle RSS ≤ 1/20 of Kafka's", single(m.idle, foot["kafka"].idle), le(0.05))
	check("CPU-s per GiB ≤ 0.5× Kafka's", single(m.cpu, foot["kafka"].cpu), le(0.5))
	p("\nFootprint ratios compare medians over all starts, so they have no per-pair range.\n")

	var errs []string
	for _, s := range samples {
		if s.Err != "" {
			errs = append(errs, fmt.Sprintf("- %s round %d %s (run %s): %s", s.Workload, s.Round, s.Target, s.Run, s.Err))
		}
	}
	if len(errs) > 0 {
		p("\n## Failed or skipped runs\n\n%s\n", strings.Join(errs, "\n"))
	}
	return b.String()
}

func ratioCell(t string, ours, peer map[int]float64) string {
	if t == "moldau" {
		return "—"
	}
	return pairRatio(ours, peer).String()
}

// perRound formats f of each round's sample ("err" for a failed round).
func perRound(samples []sample, w, t string, f func(sample) float64, format string) string {
	var per []string
	for _, s := range samples {
		if s.Workload == w && s.Target == t {
			if s.Err != "" {
				per = append(per, "err")
			} else {
				per = append(per, fmt.Sprintf(format, f(s)))
			}
		}
	}
	return strings.Join(per, " · ")
}

func renderPerfProduce(p func(string, ...any), ts []string, samples []sample) {
	p("The tool's own summary line (its MB is 2^20 bytes; latency is per record, send to acknowledgement, in ms); median over rounds.\n\n")
	p("| target | MB/s per round | median MB/s | records/s | avg ms | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms | Moldau ÷ target (MB/s) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	mibs := func(s sample) float64 { return s.MiBPerSec }
	ours := values(samples, "W8-produce", "moldau", mibs)
	for _, t := range ts {
		k := func(key string) float64 {
			return median(vals(values(samples, "W8-produce", t, func(s sample) float64 { return s.Perf[key] })))
		}
		p("| %s | %s | %.1f | %.0f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %s |\n", t, perRound(samples, "W8-produce", t, mibs, "%.0f"),
			median(vals(values(samples, "W8-produce", t, mibs))), k("records_per_s"), k("avg_ms"), k("p50_ms"), k("p95_ms"), k("p99_ms"), k("p999_ms"), k("max_ms"),
			ratioCell(t, ours, values(samples, "W8-produce", t, mibs)))
	}
	p("\n")
}

func renderPerfConsume(p func(string, ...any), ts []string, samples []sample) {
	p("`fetch.MB.sec` is the tool's rate after the consumer joined its group; `MB.sec` counts from start, group join (`rebalance.time.ms`) included.\n\n")
	p("| target | fetch MB/s per round | median fetch MB/s | MB/s incl. join | join (rebalance) ms | Moldau ÷ target (fetch MB/s) |\n|---|---|---|---|---|---|\n")
	mibs := func(s sample) float64 { return s.MiBPerSec }
	ours := values(samples, "W8-consume", "moldau", mibs)
	for _, t := range ts {
		k := func(key string) float64 {
			return median(vals(values(samples, "W8-consume", t, func(s sample) float64 { return s.Perf[key] })))
		}
		p("| %s | %s | %.1f | %.1f | %.0f | %s |\n", t, perRound(samples, "W8-consume", t, mibs, "%.0f"),
			median(vals(values(samples, "W8-consume", t, mibs))), k("MB.sec"), k("rebalance.time.ms"), ratioCell(t, ours, values(samples, "W8-consume", t, mibs)))
	}
	p("\n")
}

// renderScale writes W9's table: one row per (target, partition count).
func renderScale(p func(string, ...any), samples []sample) {
	ts := targetsOf(samples, "W9")
	if len(ts) == 0 {
		return
	}
	p("## W9: partition-count scale\n\n")
	p("%s", provenance(samples, "W9"))
	p("One topic with N partitions on a fresh data dir, N × 16 KiB of 1 KiB records written with acks=1 (spread by franz-go's default partitioner, so at 10,000 partitions not every partition gets a record), then: RSS and open files (`/proc/PID/fd`) 3 s later, idle CPU over %s; a clean stop (SIGTERM) and start-up until every partition answers ListOffsets; `kill -9` and recovery, likewise; \"records kept\" is the sum of high watermarks after recovery over those written. Create is CreateTopics until every partition has a leader; above 5,000 partitions it is CreateTopics for 5,000 and then CreatePartitions 5,000 at a time, on every target, because Kafka's controller refuses a request writing more than 10,000 metadata records (POLICY_VIOLATION). Median over rounds where there are several.\n\n", *scaleIdle)
	p("| target | partitions | create ms | idle RSS MiB | idle CPU %% of a core | open files | start-up ms | recovery ms (kill -9) | records kept | RSS after recovery MiB |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range ts {
		byN := map[int][]scaleSample{}
		errs := map[int]string{}
		for _, s := range samples {
			if s.Workload != "W9" || s.Target != t || s.Scale == nil {
				continue
			}
			if s.Err != "" {
				errs[s.Scale.Partitions] = s.Err
				continue
			}
			byN[s.Scale.Partitions] = append(byN[s.Scale.Partitions], *s.Scale)
		}
		for _, n := range slices.Sorted(maps.Keys(merged(byN, errs))) {
			ss := byN[n]
			if len(ss) == 0 {
				p("| %s | %d | %s | | | | | | | |\n", t, n, errs[n])
				continue
			}
			med := func(f func(scaleSample) float64) float64 {
				var xs []float64
				for _, s := range ss {
					xs = append(xs, f(s))
				}
				return median(xs)
			}
			p("| %s | %d | %.0f | %.1f | %.2f | %.0f | %.0f | %.0f | %.0f / %.0f | %.1f |\n", t, n,
				med(func(s scaleSample) float64 { return s.CreateMs }), med(func(s scaleSample) float64 { return s.IdleRSSMiB }),
				med(func(s scaleSample) float64 { return s.IdleCPUPct }), med(func(s scaleSample) float64 { return float64(s.OpenFiles) }),
				med(func(s scaleSample) float64 { return s.StartupMs }), med(func(s scaleSample) float64 { return s.RecoveryMs }),
				med(func(s scaleSample) float64 { return float64(s.RecoveredRec) }), med(func(s scaleSample) float64 { return float64(s.RecordsIn) }),
				med(func(s scaleSample) float64 { return s.RSSAfterMiB }))
		}
	}
	p("\n")
}

func merged(a map[int][]scaleSample, b map[int]string) map[int]bool {
	out := map[int]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return fmt.Sprintf("%.0f GiB", kb/(1<<20))
		}
	}
	return "?"
}

// renderLatency writes the end-to-end latency table of a fixed-rate workload:
// per target the median over rounds of each percentile; ratios are Moldau's
// p99 over the peer's (lower is better).
func renderLatency(p func(string, ...any), w workload, ts []string, samples []sample) {
	p("Latency counts from each record's due time in the open-loop schedule (no coordinated omission) to its receipt by a consumer tailing the topic; µs, median over rounds (each round's value in brackets for p99).\n\n")
	p("| target | achieved MiB/s | p50 µs | p99 µs (per round) | p99.9 µs | max µs | Moldau p99 ÷ target p99 |\n|---|---|---|---|---|---|---|\n")
	pct := func(k string) func(sample) float64 { return func(s sample) float64 { return s.E2E[k] } }
	ours := values(samples, w.Name, "moldau", pct("p99"))
	for _, t := range ts {
		p99 := values(samples, w.Name, t, pct("p99"))
		var per []string
		for _, v := range vals(p99) {
			per = append(per, fmt.Sprintf("%.0f", v))
		}
		p("| %s | %.1f | %.0f | %.0f (%s) | %.0f | %.0f | %s |\n", t,
			median(vals(values(samples, w.Name, t, func(s sample) float64 { return s.MiBPerSec }))),
			median(vals(values(samples, w.Name, t, pct("p50")))), median(vals(p99)), strings.Join(per, " · "),
			median(vals(values(samples, w.Name, t, pct("p999")))), median(vals(values(samples, w.Name, t, pct("max")))), ratioCell(t, ours, p99))
	}
	p("\n")
}
