package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// clusterValue is f of the successful cluster samples of (w, t), by round.
func clusterValue(samples []sample, w, t string, f func(*clusterSample) float64) map[int]float64 {
	return values(samples, w, t, func(s sample) float64 {
		if s.Cluster == nil {
			return 0
		}
		return f(s.Cluster)
	})
}

// ms is a latency percentile of a cluster sample in milliseconds.
func ms(k string) func(*clusterSample) float64 {
	return func(c *clusterSample) float64 { return c.AckUs[k] / 1000 }
}

// pendingNote says why a target has no successful sample of w (the first
// error), or "" when it has one.
func pendingNote(samples []sample, w, t string) string {
	first := ""
	for _, s := range samples {
		if s.Workload != w || s.Target != t {
			continue
		}
		if s.Err == "" {
			return ""
		}
		if first == "" {
			first = s.Err
		}
	}
	if first == "" {
		return ""
	}
	first, _, _ = strings.Cut(first, "\n")
	return fmt.Sprintf("**%s: not measured** (every round failed; first error: `%s`).", t, first)
}

// renderCluster writes W11, W11-lat and W12.
func renderCluster(p func(string, ...any), samples []sample) {
	if ts := targetsOf(samples, "W11"); len(ts) > 0 {
		p("## W11: three-node cluster, acks=all, RF=3\n\n")
		p("%s", provenance(samples, "W11"))
		p("Three processes on one machine, one per loopback address (127.0.0.1, .2, .3, the same ports on each), a fresh cluster on fresh data dirs for every (target, round), started until Metadata on every node lists three brokers. " +
			"`kafka`: three Apache Kafka 4.4.0 combined broker+controller KRaft processes (`controller.quorum.voters=1@127.0.0.1:C,2@127.0.0.2:C,3@127.0.0.3:C`, one cluster id, kafka-ref.sh's JVM flags `-Xms256m -Xmx768m -XX:+UseG1GC -XX:TieredStopAtLevel=1` each; Kafka's default flush policy, no fsync per produce). " +
			"`moldau`: three `moldau --node-id N --addr 127.0.0.N:P --peer-addr 127.0.0.N:C --peers 1@127.0.0.1:C,2@127.0.0.2:C,3@127.0.0.3:C` processes. " +
			"One topic, 6 partitions, replication factor 3, `min.insync.replicas=2`, produced to once every partition has a leader and an ISR of at least 2; bench/load with one idempotent acks=all franz-go producer (linger 0, 1 MiB batches, 64 MiB buffered), 1 KiB records, seeded through node 1. " +
			"Closed loop first (throughput; its per-record latency, send to acknowledgement, is mostly the record's wait in the client's buffer, so read it as queueing at saturation), then open loop at a fixed rate on the same cluster (W11-lat below). " +
			"Broker CPU is utime+stime of the three processes summed (`/proc/PID/stat`) over the load run, warm-up included. Client and all three brokers share the machine's two cores.\n\n")
		p("| target | MiB/s per round | median MiB/s | MB/s | records/s | latency p50 / p99 ms (closed loop) | broker CPU-s per GiB (3 nodes) | cluster start-up ms | Moldau ÷ target (MiB/s) |\n|---|---|---|---|---|---|---|---|---|\n")
		mibs := func(s sample) float64 { return s.MiBPerSec }
		ours := values(samples, "W11", "moldau", mibs)
		for _, t := range ts {
			v := values(samples, "W11", t, mibs)
			if len(v) == 0 {
				p("| %s | %s | | | | | | | |\n", t, perRound(samples, "W11", t, mibs, "%.0f"))
				continue
			}
			cv := func(f func(*clusterSample) float64) float64 { return median(vals(clusterValue(samples, "W11", t, f))) }
			p("| %s | %s | %.1f | %.1f | %.0f | %.0f / %.0f | %.2f | %.0f | %s |\n", t, perRound(samples, "W11", t, mibs, "%.0f"), median(vals(v)), median(vals(v))*1.048576,
				cv(func(c *clusterSample) float64 { return c.RecordsPerSec }), cv(ms("p50")), cv(ms("p99")),
				median(vals(values(samples, "W11", t, func(s sample) float64 {
					if s.ProducedGiB == 0 || s.Cluster == nil {
						return 0
					}
					return s.Cluster.BrokerCPUSec / s.ProducedGiB
				}))), cv(func(c *clusterSample) float64 { return c.StartupMs }), ratioCell(t, ours, v))
		}
		p("\n")
		for _, t := range ts {
			if n := pendingNote(samples, "W11", t); n != "" {
				p("%s\n\n", n)
			}
		}
	}
	if ts := targetsOf(samples, "W11-lat"); len(ts) > 0 {
		rate := 0.0
		for _, s := range samples {
			if s.Workload == "W11-lat" && s.Cluster != nil && s.Cluster.Rate > 0 {
				rate = s.Cluster.Rate
			}
		}
		p("## W11-lat: acks=all RF=3 produce latency at a fixed rate\n\n")
		p("%s", provenance(samples, "W11-lat"))
		p("W11's cluster and topic, right after W11's closed-loop run: the same producer settings, open loop at %.0f records/s (%.1f MiB/s of 1 KiB records). Latency per record from its due time in the schedule to its acknowledgement (acks=all: replicated to the ISR, at least 2 of 3), so a stall cannot hide queueing (no coordinated omission); ms, median over rounds (each round's p99 in brackets). Broker CPU is the three processes' CPU over the run as %% of one core; \"pause\" is theirs between the closed-loop run and this one (until every ISR is back to 3, then %s), when nothing is produced.\n\n", rate, rate*1024/(1<<20), w11Settle)
		p("| target | achieved MiB/s | p50 ms | p99 ms (per round) | p99.9 ms | max ms | broker CPU %% of a core (3 nodes) | in the pause before | Moldau p99 ÷ target p99 |\n|---|---|---|---|---|---|---|---|---|\n")
		ours := clusterValue(samples, "W11-lat", "moldau", ms("p99"))
		for _, t := range ts {
			p99 := clusterValue(samples, "W11-lat", t, ms("p99"))
			if len(p99) == 0 {
				p("| %s | err | | | | | | | |\n", t)
				continue
			}
			var per []string
			for _, v := range vals(p99) {
				per = append(per, fmt.Sprintf("%.1f", v))
			}
			cv := func(f func(*clusterSample) float64) float64 {
				return median(vals(clusterValue(samples, "W11-lat", t, f)))
			}
			p("| %s | %.1f | %.2f | %.1f (%s) | %.1f | %.1f | %.0f | %.0f | %s |\n", t,
				median(vals(values(samples, "W11-lat", t, func(s sample) float64 { return s.MiBPerSec }))),
				cv(ms("p50")), median(vals(p99)), strings.Join(per, " · "), cv(ms("p999")), cv(ms("max")),
				cv(func(c *clusterSample) float64 {
					if c.LoadSec == 0 {
						return 0
					}
					return c.BrokerCPUSec / c.LoadSec * 100
				}), cv(func(c *clusterSample) float64 { return c.SettleCPUPct }), ratioCell(t, ours, p99))
		}
		p("\n")
		for _, t := range ts {
			if n := pendingNote(samples, "W11-lat", t); n != "" {
				p("%s\n\n", n)
			}
		}
	}
	if ts := targetsOf(samples, "W12"); len(ts) > 0 {
		renderIdle(p, samples)
	}
}

// renderIdle writes W12: one table per partition count (merge keeps the
// newest run of each count, so 1,000 and 10,000 come from different runs).
func renderIdle(p func(string, ...any), samples []sample) {
	byCount := map[int][]sample{}
	idle := 0.0
	for _, s := range samples {
		if s.Workload != "W12" || s.Cluster == nil {
			continue
		}
		byCount[s.Cluster.Partitions] = append(byCount[s.Cluster.Partitions], s)
		if s.Err == "" {
			idle = s.Cluster.IdleSec
		}
	}
	counts := slices.Sorted(maps.Keys(byCount))
	var names []string
	for _, n := range counts {
		names = append(names, thousands(n))
	}
	p("## W12: three-node cluster, idle cost at %s partitions RF=3\n\n", strings.Join(names, " and "))
	p("W11's clusters (fresh for every round), then topics of 10 partitions, replication factor 3, in CreateTopics requests of at most %d topics and %s partitions each, one after another (Kafka's controller refuses one request writing more than 10,000 metadata records), until Metadata gives every partition a leader (\"create\", from the first request); %s later, CPU (utime+stime, `/proc/PID/stat`) of each of the three processes over %.0f s and their RSS (`VmRSS`) at its end, summed over the nodes (each node's value in brackets). \"RSS at start\" is the sum right after the cluster started, before any topic. No client is connected during the window. Kafka's heap is kafka-ref.sh's `-Xmx768m` unless the row says otherwise.\n\n", createChunkTopics, thousands(createChunkPartitions), w12SettleAfter, idle)
	for _, n := range counts {
		samples := byCount[n]
		ts := targetsOf(samples, "W12")
		p("### %s partitions\n\n%s", thousands(n), provenance(samples, "W12"))
		p("| target | partitions | create ms | RSS at start MiB (3 nodes) | idle RSS MiB, sum (per node) | idle CPU %% of a core, sum (per node) | Moldau ÷ target: RSS | Moldau ÷ target: CPU |\n|---|---|---|---|---|---|---|---|\n")
		rss := func(c *clusterSample) float64 { return c.IdleRSSMiB }
		cpu := func(c *clusterSample) float64 { return c.IdleCPUPct }
		oursRSS, oursCPU := clusterValue(samples, "W12", "moldau", rss), clusterValue(samples, "W12", "moldau", cpu)
		for _, t := range ts {
			r, c := clusterValue(samples, "W12", t, rss), clusterValue(samples, "W12", t, cpu)
			if len(r) == 0 {
				p("| %s | %d | err | | | | | |\n", t, n)
				continue
			}
			cv := func(f func(*clusterSample) float64) float64 { return median(vals(clusterValue(samples, "W12", t, f))) }
			var perRSS, perCPU []string
			heap := ""
			for _, s := range samples {
				if s.Target == t && s.Err == "" {
					perRSS = append(perRSS, joinFloats(s.Cluster.NodeRSSMiB, "%.0f"))
					perCPU = append(perCPU, joinFloats(s.Cluster.NodeCPUPct, "%.2f"))
					if s.Cluster.KafkaHeap != "" && s.Cluster.KafkaHeap != "768m" {
						heap = " (`-Xmx" + s.Cluster.KafkaHeap + "`)"
					}
				}
			}
			p("| %s%s | %d | %.0f | %.0f | %.0f (%s) | %.2f (%s) | %s | %s |\n", t, heap, n,
				cv(func(c *clusterSample) float64 { return c.CreateMs }), cv(func(c *clusterSample) float64 { return c.EmptyRSSMiB }),
				median(vals(r)), strings.Join(perRSS, "; "), median(vals(c)), strings.Join(perCPU, "; "), ratioCell(t, oursRSS, r), ratioCell(t, oursCPU, c))
		}
		p("\n")
		for _, t := range ts {
			if note := pendingNote(samples, "W12", t); note != "" {
				p("%s\n\n", note)
			}
		}
	}
}

// thousands is n with commas between groups of three digits (10,000).
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func joinFloats(xs []float64, format string) string {
	var out []string
	for _, x := range xs {
		out = append(out, fmt.Sprintf(format, x))
	}
	return strings.Join(out, " + ")
}
