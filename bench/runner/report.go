package main

import (
	"fmt"
	"os"
	"os/exec"
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
	for r := 1; r <= *rounds; r++ {
		if v, ok := m[r]; ok {
			out = append(out, v)
		}
	}
	return out
}

// ratio is median(ours)/median(peer) and the min..max of the per-round ratios.
type ratio struct {
	med, lo, hi float64
	ok          bool
}

func pairRatio(ours, peer map[int]float64) ratio {
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

func render(wls []workload, ts []target, samples []sample) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Moldau benchmark results\n\n")
	p("Written by `make bench` (bench/runner) on %s. Raw runs, one JSON line each with the load tool's full output: [results/runs.jsonl](results/runs.jsonl).\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	p("- **Hardware**: %s CPUs (`nproc`), %s, kernel %s, %s RAM; Go %s, GOMAXPROCS %d.\n", sh("nproc"), cpuModel(), sh("uname", "-r"), memTotal(), runtime.Version(), runtime.GOMAXPROCS(0))
	p("- **Commit**: %s. **Client**: franz-go kgo as pinned in go.mod (the `client` field of each JSON line).\n", sh("git", "rev-parse", "--short=12", "HEAD"))
	p("- **Targets**, each its own process on a fresh data directory for every (workload, round):\n")
	p("  - `moldau`: bin/moldau, default profile (`--data-dir` fresh, fsync before answering acks=all, 1 GiB segments).\n")
	p("  - `kafka`: Apache Kafka 4.4.0 single-node KRaft via tests/compat/kafka-ref.sh, JVM `-Xms256m -Xmx768m -XX:+UseG1GC -XX:TieredStopAtLevel=1` (the script's heap; Kafka's default flush policy: no fsync per produce).\n")
	p("  - `kfake`: franz-go's kfake as a process (bench/kfake, `kfake.DataDir` on, no `SyncWrites`: page cache only, like Kafka).\n")
	p("  - `null`: bench/nullbroker, the ceiling: decode Produce with kmsg, check CRC-32C, append to one file (fdatasync per request for acks=all), ack. No Fetch, so no consume row.\n")
	if *baseline != "" {
		p("  - `baseline`: another Moldau binary (%s), same flags, to measure a change before/after; its ratio is the speed-up.\n", *baseline)
	}
	p("- **Reading them**: what bounds each workload, and the profiles behind it: [README.md#findings](README.md#findings).\n")
	p("- **Method**: %d rounds per workload; within a round targets run one at a time, order reversed every other round (A B C D, D C B A, …), so each Moldau/peer pair is interleaved. The load tool warms up (produce and flush) before measuring. Ratios are median(Moldau) ÷ median(peer); \"pairs\" is the range of the per-round ratios, the noise band. The machine was shared with other builds, so single runs drift; trust the ranges.\n\n", *rounds)

	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	mibs := func(s sample) float64 { return s.MiBPerSec }
	for _, w := range wls {
		p("## %s: %s\n\n", w.Name, w.Title)
		if w.Latency {
			renderLatency(p, w, ts, samples)
			continue
		}
		p("| target | MiB/s per round | median MiB/s | Moldau ÷ target |\n|---|---|---|---|\n")
		ours := values(samples, w.Name, "moldau", mibs)
		for _, t := range ts {
			if w.Consume && !t.consume {
				continue
			}
			v := values(samples, w.Name, t.Name, mibs)
			var per []string
			for r := 1; r <= *rounds; r++ {
				if x, ok := v[r]; ok {
					per = append(per, fmt.Sprintf("%.0f", x))
				} else {
					per = append(per, "err")
				}
			}
			rs := "—"
			if t.Name != "moldau" {
				rs = pairRatio(ours, v).String()
			}
			p("| %s | %s | %.1f | %s |\n", t.Name, strings.Join(per, " · "), median(vals(v)), rs)
		}
		p("\n")
	}

	// W7: start-up (every start), idle RSS (every start), peak RSS and CPU/GiB under W2.
	p("## W7: footprint\n\nStart-up is from exec to the first answered Metadata request (for Kafka this includes kafka-ref.sh formatting the log dir with a JVM); idle RSS 1 s after start-up, both over every start in this run; peak RSS (VmHWM) and broker CPU seconds per GiB produced (utime+stime from /proc/<pid>/stat, warm-up included) under W2.\n\n")
	p("| target | start-up ms (median, range) | idle RSS MiB | peak RSS MiB under W2 | CPU-s per GiB under W2 |\n|---|---|---|---|---|\n")
	type fp struct{ start, idle, peak, cpu float64 }
	foot := map[string]fp{}
	w7 := ""
	for _, w := range wls {
		if w.W7 {
			w7 = w.Name
		}
	}
	for _, t := range ts {
		var st, idle, peak, cpu []float64
		for _, s := range samples {
			if s.Target != t.Name || s.StartupMs == 0 {
				continue
			}
			st = append(st, s.StartupMs)
			idle = append(idle, s.IdleRSSMiB)
			if s.Workload == w7 && s.Err == "" {
				peak = append(peak, s.PeakRSSMiB)
				if s.ProducedGiB > 0 {
					cpu = append(cpu, s.CPUSec/s.ProducedGiB)
				}
			}
		}
		f := fp{median(st), median(idle), median(peak), median(cpu)}
		foot[t.Name] = f
		lo, hi := 0.0, 0.0
		if len(st) > 0 {
			lo, hi = slices.Min(st), slices.Max(st)
		}
		p("| %s | %.0f (%.0f–%.0f, n=%d) | %.1f | %.1f | %.2f |\n", t.Name, f.start, lo, hi, len(st), f.idle, f.peak, f.cpu)
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
		}
		p("| %s | %s | %s |\n", what, r, met)
	}
	ge := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	le := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	for _, w := range []string{"W1", "W2"} {
		ours := values(samples, w, "moldau", mibs)
		check(w+" produce ≥ 1.5× Kafka", pairRatio(ours, values(samples, w, "kafka", mibs)), ge(1.5))
		check(w+" produce ≥ 1.2× kfake", pairRatio(ours, values(samples, w, "kfake", mibs)), ge(1.2))
		check(w+" produce ≥ 0.75× null ceiling", pairRatio(ours, values(samples, w, "null", mibs)), ge(0.75))
	}
	check("W3 acks=all ≥ 1.5× Kafka", pairRatio(values(samples, "W3", "moldau", mibs), values(samples, "W3", "kafka", mibs)), ge(1.5))
	check("W4 four producers acks=all ≥ 1.5× Kafka", pairRatio(values(samples, "W4", "moldau", mibs), values(samples, "W4", "kafka", mibs)), ge(1.5))
	check("W6 end-to-end p99 ≤ 0.5× Kafka's (at a fixed 32 MiB/s)", pairRatio(values(samples, "W6", "moldau", func(s sample) float64 { return s.E2E["p99"] }), values(samples, "W6", "kafka", func(s sample) float64 { return s.E2E["p99"] })), le(0.5))
	check("W5 catch-up ≥ 1.2× Kafka", pairRatio(values(samples, "W5", "moldau", mibs), values(samples, "W5", "kafka", mibs)), ge(1.2))
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
			errs = append(errs, fmt.Sprintf("- %s round %d %s: %s", s.Workload, s.Round, s.Target, s.Err))
		}
	}
	if len(errs) > 0 {
		p("\n## Failed runs\n\n%s\n", strings.Join(errs, "\n"))
	}
	return b.String()
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
func renderLatency(p func(string, ...any), w workload, ts []target, samples []sample) {
	p("Latency counts from each record's due time in the open-loop schedule (no coordinated omission) to its receipt by a consumer tailing the topic; µs, median over rounds (each round's value in brackets for p99).\n\n")
	p("| target | achieved MiB/s | p50 µs | p99 µs (per round) | p99.9 µs | max µs | Moldau p99 ÷ target p99 |\n|---|---|---|---|---|---|---|\n")
	pct := func(k string) func(sample) float64 { return func(s sample) float64 { return s.E2E[k] } }
	ours := values(samples, w.Name, "moldau", pct("p99"))
	for _, t := range ts {
		if !t.consume {
			continue
		}
		p99 := values(samples, w.Name, t.Name, pct("p99"))
		var per []string
		for _, v := range vals(p99) {
			per = append(per, fmt.Sprintf("%.0f", v))
		}
		rs := "—"
		if t.Name != "moldau" {
			rs = pairRatio(ours, p99).String()
		}
		p("| %s | %.1f | %.0f | %.0f (%s) | %.0f | %.0f | %s |\n", t.Name,
			median(vals(values(samples, w.Name, t.Name, func(s sample) float64 { return s.MiBPerSec }))),
			median(vals(values(samples, w.Name, t.Name, pct("p50")))), median(vals(p99)), strings.Join(per, " · "),
			median(vals(values(samples, w.Name, t.Name, pct("p999")))), median(vals(values(samples, w.Name, t.Name, pct("max")))), rs)
	}
	p("\n")
}
