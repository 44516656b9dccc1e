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

// renderCluster writes W11, W11-lat, W11-lat-eq, W13, W14 and W12.
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
	renderClusterLatency(p, samples, "W11-lat")
	renderClusterLatency(p, samples, "W11-lat-eq")
	renderClusterConsume(p, samples)
	renderFailover(p, samples)
	renderClusterTargets(p, samples)
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

// rateOf describes the rates of w's samples: "8192 records/s" when every
// sample ran at one fixed rate, else "" (the table has a rate column).
func rateOf(samples []sample, w string) (fixed float64, basis string) {
	rates, bases := map[float64]bool{}, map[string]bool{}
	for _, s := range samples {
		if s.Workload == w && s.Cluster != nil && s.Cluster.Rate > 0 {
			rates[s.Cluster.Rate] = true
			bases[s.Cluster.RateBasis] = true
		}
	}
	if len(bases) == 1 {
		basis = slices.Collect(maps.Keys(bases))[0]
	}
	if len(rates) == 1 && (basis == "" || basis == "fixed") {
		return slices.Collect(maps.Keys(rates))[0], "fixed"
	}
	return 0, basis
}

// renderClusterLatency writes W11-lat (each target at a fraction of its own
// W11) or W11-lat-eq (every target at one rate per round).
func renderClusterLatency(p func(string, ...any), samples []sample, w string) {
	ts := targetsOf(samples, w)
	if len(ts) == 0 {
		return
	}
	fixed, basis := rateOf(samples, w)
	switch w {
	case "W11-lat":
		p("## W11-lat: acks=all RF=3 produce latency at a fixed rate\n\n")
	default:
		p("## W11-lat-eq: acks=all RF=3 produce latency, every target at the same rate\n\n")
	}
	p("%s", provenance(samples, w))
	var rate string
	switch {
	case fixed > 0:
		rate = fmt.Sprintf("open loop at %.0f records/s (%.1f MiB/s of 1 KiB records), the same for every target", fixed, fixed*1024/(1<<20))
	case w == "W11-lat":
		rate = fmt.Sprintf("open loop at %s, i.e. the records/s of the same target's closed-loop W11 run just before on the same cluster (its saturation in this round) times that fraction: **each target at the same load relative to its own saturation, so the absolute rates differ** (column \"rate\"; W11-lat-eq below compares at one absolute rate)", orDefault(basis, "a fraction of its own W11"))
	default:
		rate = fmt.Sprintf("open loop at **one absolute rate for every target in a round**, %s, i.e. the slower target's saturation in that round times that fraction (like for like: both answer the same offered load; the faster target is further below its own saturation). Each target on a fresh cluster started after every target's W11 of the round, in the reverse order, W11's topic and producer, %s MiB warm-up", orDefault(basis, "a fraction of the slowest target's W11"), fmtFloat(8**scale))
	}
	intro := "W11's cluster and topic, right after W11's closed-loop run: the same producer settings, "
	if w == "W11-lat-eq" {
		intro = "W11's producer settings, "
	}
	p("%s%s. Latency per record from its due time in the schedule to its acknowledgement (acks=all: replicated to the ISR, at least 2 of 3), so a stall cannot hide queueing (no coordinated omission); ms, median over rounds (each round's p99 in brackets). It includes how late the load tool handed each record to the client (\"send lag\": its sleep overshooting on the busy 2-core machine, or the client blocking because 64k records are already buffered, i.e. backpressure from a target that falls behind the rate; then \"achieved\" is below the rate and the latency is queueing). Broker CPU is the three processes' CPU over the run as %% of one core", intro, rate)
	if w == "W11-lat" {
		p("; \"pause\" is theirs between the closed-loop run and this one (until every ISR is back to 3, then %s), when nothing is produced", w11Settle)
	}
	p(".\n\n")
	p("| target | rate records/s (per round) | achieved MiB/s | p50 ms | p99 ms (per round) | p99.9 ms | max ms | broker CPU %% of a core (3 nodes) |")
	if w == "W11-lat" {
		p(" in the pause before |")
	}
	p(" load tool's send lag p50 / p99 ms | Moldau p50 ÷ target | Moldau p99 ÷ target | Moldau p99.9 ÷ target |\n|---|---|---|---|---|---|---|---|")
	if w == "W11-lat" {
		p("---|")
	}
	p("---|---|---|---|\n")
	for _, t := range ts {
		p99 := clusterValue(samples, w, t, ms("p99"))
		if len(p99) == 0 {
			p("| %s | err |%s\n", t, strings.Repeat(" |", 9))
			continue
		}
		var per []string
		for _, v := range vals(p99) {
			per = append(per, fmt.Sprintf("%.1f", v))
		}
		cv := func(f func(*clusterSample) float64) float64 {
			return median(vals(clusterValue(samples, w, t, f)))
		}
		p("| %s | %s | %.1f | %.2f | %.1f (%s) | %.1f | %.1f | %.0f |", t,
			perRound(samples, w, t, func(s sample) float64 { return s.Cluster.Rate }, "%.0f"),
			median(vals(values(samples, w, t, func(s sample) float64 { return s.MiBPerSec }))),
			cv(ms("p50")), median(vals(p99)), strings.Join(per, " · "), cv(ms("p999")), cv(ms("max")),
			cv(func(c *clusterSample) float64 {
				if c.LoadSec == 0 {
					return 0
				}
				return c.BrokerCPUSec / c.LoadSec * 100
			}))
		if w == "W11-lat" {
			p(" %.0f |", cv(func(c *clusterSample) float64 { return c.SettleCPUPct }))
		}
		if lag := cv(func(c *clusterSample) float64 { return c.SendLagUs["p50"] }); lag > 0 {
			p(" %.2f / %.2f |", lag/1000, cv(func(c *clusterSample) float64 { return c.SendLagUs["p99"] })/1000)
		} else {
			p(" |")
		}
		for _, k := range []string{"p50", "p99", "p999"} {
			p(" %s |", ratioCell(t, clusterValue(samples, w, "moldau", ms(k)), clusterValue(samples, w, t, ms(k))))
		}
		p("\n")
	}
	p("\n")
	for _, t := range ts {
		if n := pendingNote(samples, w, t); n != "" {
			p("%s\n\n", n)
		}
		if n := behindNote(samples, w, t); n != "" {
			p("%s\n\n", n)
		}
	}
}

// behindNote flags the rounds in which t did not keep up with w's rate
// (achieved below 95% of it): the open-loop schedule then queues in the
// client, and the percentiles measure that backlog.
func behindNote(samples []sample, w, t string) string {
	var rounds []string
	for _, s := range samples {
		if s.Workload == w && s.Target == t && s.Err == "" && s.Cluster != nil && s.Cluster.Rate > 0 && s.Cluster.RecordsPerSec < 0.95*s.Cluster.Rate {
			rounds = append(rounds, fmt.Sprintf("round %d: %.0f%% of %.0f records/s", s.Round, s.Cluster.RecordsPerSec/s.Cluster.Rate*100, s.Cluster.Rate))
		}
	}
	if len(rounds) == 0 {
		return ""
	}
	return fmt.Sprintf("**%s fell behind the rate** (%s): its latencies there are the client's backlog, not the latency at that load.", t, strings.Join(rounds, "; "))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// renderClusterConsume writes W13.
func renderClusterConsume(p func(string, ...any), samples []sample) {
	ts := targetsOf(samples, "W13")
	if len(ts) == 0 {
		return
	}
	p("## W13: three-node cluster, RF=3, consume throughput\n\n")
	p("%s", provenance(samples, "W13"))
	p("W11's clusters (fresh for every round) and topic (6 partitions, replication factor 3, `min.insync.replicas=2`), preloaded with %s MiB of 1 KiB records by W11's idempotent acks=all producer (\"preload\"), then, once every ISR is 3 again, one franz-go consumer (bench/load `-mode consume`: every partition assigned, no group, from the start; fetch max 50 MiB, 1 MiB per partition, max wait 500 ms) reads all of it back, each partition from its leader (no rack, so no follower fetching), the page cache hot. Broker CPU is the three processes' over the read.\n\n", fmtFloat(*w13MiB**scale))
	p("| target | MiB/s per round | median MiB/s | records/s | preload MiB/s (acks=all) | broker CPU-s per GiB read (3 nodes) | client CPU-s per GiB | Moldau ÷ target (MiB/s) |\n|---|---|---|---|---|---|---|---|\n")
	mibs := func(s sample) float64 { return s.MiBPerSec }
	ours := values(samples, "W13", "moldau", mibs)
	for _, t := range ts {
		v := values(samples, "W13", t, mibs)
		if len(v) == 0 {
			p("| %s | %s | | | | | | |\n", t, perRound(samples, "W13", t, mibs, "%.0f"))
			continue
		}
		cv := func(f func(*clusterSample) float64) float64 { return median(vals(clusterValue(samples, "W13", t, f))) }
		perGiB := func(x func(*clusterSample) float64) func(*clusterSample) float64 {
			return func(c *clusterSample) float64 {
				if c.ConsumedGiB == 0 {
					return 0
				}
				return x(c) / c.ConsumedGiB
			}
		}
		p("| %s | %s | %.1f | %.0f | %.1f | %.2f | %.2f | %s |\n", t, perRound(samples, "W13", t, mibs, "%.0f"), median(vals(v)),
			cv(func(c *clusterSample) float64 { return c.RecordsPerSec }), cv(func(c *clusterSample) float64 { return c.PreloadMiBPerSec }),
			cv(perGiB(func(c *clusterSample) float64 { return c.BrokerCPUSec })), cv(perGiB(func(c *clusterSample) float64 { return c.ClientCPUSec })),
			ratioCell(t, ours, v))
	}
	p("\n")
	for _, t := range ts {
		if n := pendingNote(samples, "W13", t); n != "" {
			p("%s\n\n", n)
		}
	}
}

// failoverTimes gathers target t's measured kills of W14 over every round
// (a round that stopped early keeps the kills it measured): leader and
// produce times in ms, the number of kills tried and per-round medians of the
// produce time (for the ratio).
func failoverTimes(samples []sample, t string) (leader, produce []float64, tried int, perRound map[int]float64, perRoundLeader map[int]float64) {
	perRound, perRoundLeader = map[int]float64{}, map[int]float64{}
	for _, s := range samples {
		if s.Workload != "W14" || s.Target != t || s.Cluster == nil || s.Cluster.Failover == nil {
			continue
		}
		var rp, rl []float64
		for _, k := range s.Cluster.Failover.Kills {
			tried++
			if k.Err != "" || k.LeaderMs <= 0 || k.ProduceMs <= 0 {
				continue
			}
			leader, produce = append(leader, k.LeaderMs), append(produce, k.ProduceMs)
			rl, rp = append(rl, k.LeaderMs), append(rp, k.ProduceMs)
		}
		if len(rp) > 0 {
			perRound[s.Round], perRoundLeader[s.Round] = median(rp), median(rl)
		}
	}
	return leader, produce, tried, perRound, perRoundLeader
}

// renderFailover writes W14.
func renderFailover(p func(string, ...any), samples []sample) {
	ts := targetsOf(samples, "W14")
	if len(ts) == 0 {
		return
	}
	var fs *failoverSample
	for _, s := range samples {
		if s.Workload == "W14" && s.Cluster != nil && s.Cluster.Failover != nil {
			fs = s.Cluster.Failover
		}
	}
	if fs == nil {
		return
	}
	p("## W14: three-node cluster, recovery after a leader is killed\n\n")
	p("%s", provenance(samples, "W14"))
	p("A fresh cluster per (target, round), one topic of %d partitions, replication factor 3, `min.insync.replicas=2`; an idempotent acks=all franz-go producer in the runner sends 1 KiB records round-robin over the partitions at a fixed %.0f records/s for the whole run (seeded with all three nodes; retry backoff 100 ms doubling to 1 s and a metadata refresh at most every 100 ms after an error, the Java producer's defaults, instead of franz-go's 250 ms–5 s and 5 s). "+
		"Each kill: once every ISR is 3 and the producer has run %s on the healed cluster, `kill -9` of the node leading the most partitions (its process group); "+
		"**leader** = from the kill until Metadata, polled every %s from a surviving node, gives every partition a leader that is neither -1 nor the dead node; "+
		"**first ack** = from the kill until every partition the dead node led has acknowledged a record handed to the producer after the dead process was reaped (so not an answer of the old leader), the latest of those partitions. "+
		"Then the node is restarted on its data dir (\"rejoin\": until it answers Metadata listing three brokers and a leader for every partition, and every ISR is 3 again; Moldau keeps a dead replica in the ISR until it has lagged `replica.lag.time.max.ms`, so its rejoin is mostly its start-up) before the next kill. Both brokers at their default timeouts: Kafka's controller fences a broker after `broker.session.timeout.ms` (9 s) without a heartbeat. p50 and max over every kill of every round.\n\n",
		fs.Partitions, fs.Rate, w14Settle, w14Poll)
	p("| target | kills measured | leader p50 ms | leader max ms | first ack p50 ms | first ack max ms | rejoin ms (median) | records acked / failed | Moldau ÷ target: leader p50 | Moldau ÷ target: first ack p50 |\n|---|---|---|---|---|---|---|---|---|---|\n")
	_, _, _, oursP, oursL := failoverTimes(samples, "moldau")
	for _, t := range ts {
		leader, produce, tried, perP, perL := failoverTimes(samples, t)
		var rejoin []float64
		var acked, failed int64
		for _, s := range samples {
			if s.Workload == "W14" && s.Target == t && s.Cluster != nil && s.Cluster.Failover != nil {
				for _, k := range s.Cluster.Failover.Kills {
					if k.RejoinMs > 0 {
						rejoin = append(rejoin, k.RejoinMs)
					}
				}
				acked += s.Cluster.Failover.Acked
				failed += s.Cluster.Failover.Failed
			}
		}
		if len(leader) == 0 {
			p("| %s | 0 of %d | | | | | | %d / %d | | |\n", t, tried, acked, failed)
			continue
		}
		p("| %s | %d of %d | %.0f | %.0f | %.0f | %.0f | %.0f | %d / %d | %s | %s |\n", t, len(leader), tried,
			median(leader), slices.Max(leader), median(produce), slices.Max(produce), median(rejoin), acked, failed,
			ratioCell(t, oursL, perL), ratioCell(t, oursP, perP))
	}
	p("\nEvery kill (round, node killed, how many partitions it led and whether it led the metadata quorum (DescribeQuorum), i.e. a new controller had to be elected too: leader / first ack ms):\n\n")
	for _, t := range ts {
		var parts []string
		for _, s := range samples {
			if s.Workload != "W14" || s.Target != t || s.Cluster == nil || s.Cluster.Failover == nil {
				continue
			}
			for _, k := range s.Cluster.Failover.Kills {
				if k.Err != "" {
					parts = append(parts, fmt.Sprintf("r%d node %d (%d): %s", s.Round, k.Victim, len(k.Led), k.Err))
					continue
				}
				ctl := ""
				if k.Controller {
					ctl = ", controller"
				}
				parts = append(parts, fmt.Sprintf("r%d node %d (%d%s): %.0f / %.0f", s.Round, k.Victim, len(k.Led), ctl, k.LeaderMs, k.ProduceMs))
			}
		}
		p("- %s: %s\n", t, strings.Join(parts, "; "))
	}
	p("\n")
	for _, t := range ts {
		for _, s := range samples {
			if s.Workload == "W14" && s.Target == t && s.Err != "" {
				e, _, _ := strings.Cut(s.Err, "\n")
				p("%s round %d stopped early: `%s`.\n\n", t, s.Round, e)
			}
		}
	}
}

// renderClusterTargets checks issue 15's cluster targets against Kafka:
// acks=all RF=3 throughput ≥ 1.5×, p99 ≤ 0.5× (both latency comparisons),
// failover to a serving leader within 2 s.
func renderClusterTargets(p func(string, ...any), samples []sample) {
	if !slices.ContainsFunc(samples, func(s sample) bool {
		return s.Target == "kafka" && slices.Contains([]string{"W11", "W11-lat", "W11-lat-eq", "W14"}, s.Workload)
	}) {
		return
	}
	p("## Targets (issue 15, three-node cluster against Kafka)\n\n| target | measured | met? |\n|---|---|---|\n")
	row := func(what string, r ratio, ok func(float64) bool) {
		if !r.ok {
			p("| %s | no run | – |\n", what)
			return
		}
		met := "missed"
		if ok(r.med) {
			met = "met"
			if r.lo != r.hi && (!ok(r.lo) || !ok(r.hi)) {
				met = "met (median; the range straddles the target)"
			}
		}
		if rounded, _ := strconv.ParseFloat(fmt.Sprintf("%.2f", r.med), 64); ok(rounded) != ok(r.med) {
			// 1.4953 prints as 1.50×: say why it still misses.
			met += fmt.Sprintf(" (unrounded %.4f×)", r.med)
		}
		p("| %s | %s | %s |\n", what, r, met)
	}
	mibs := func(s sample) float64 { return s.MiBPerSec }
	row("W11 acks=all RF=3 throughput ≥ 1.5× Kafka", pairRatio(values(samples, "W11", "moldau", mibs), values(samples, "W11", "kafka", mibs)), func(v float64) bool { return v >= 1.5 })
	for _, w := range []string{"W11-lat", "W11-lat-eq"} {
		how := "each at 50% of its own saturation"
		if w == "W11-lat-eq" {
			how = "both at one rate"
		} else if fixed, _ := rateOf(samples, w); fixed > 0 {
			how = "both at " + fmtFloat(fixed) + " records/s"
		}
		row(fmt.Sprintf("%s p99 ≤ 0.5× Kafka's (%s)", w, how), pairRatio(clusterValue(samples, w, "moldau", ms("p99")), clusterValue(samples, w, "kafka", ms("p99"))), func(v float64) bool { return v <= 0.5 })
	}
	_, ours, _, _, _ := failoverTimes(samples, "moldau")
	_, theirs, _, _, _ := failoverTimes(samples, "kafka")
	switch {
	case len(ours) == 0:
		p("| W14 a serving new leader (first ack) within 2 s of a leader kill | no run | – |\n")
	default:
		met := "missed"
		if slices.Max(ours) <= 2000 {
			met = "met (every kill)"
		} else if median(ours) <= 2000 {
			met = "met at the median, missed at the max"
		}
		kafka := "Kafka not measured"
		if len(theirs) > 0 {
			kafka = fmt.Sprintf("Kafka %.2f s / %.2f s", median(theirs)/1000, slices.Max(theirs)/1000)
		}
		p("| W14 a serving new leader (first ack) within 2 s of a leader kill | Moldau p50 %.2f s, max %.2f s (%s) | %s |\n", median(ours)/1000, slices.Max(ours)/1000, kafka, met)
	}
	p("\n")
}
