package jepsen

// The one-page summary: operations by workload, faults by kind with
// recovery times, anomalies by kind (every kind listed, zeros included).
//
// Recovery time of a fault, from a reference instant (the heal; for the
// kill kinds also the injection): the time until every partition the
// producers write (queue and groups topics) has acknowledged a send at or
// after that instant (the sends are sequential per partition and retried
// by the client, so a send stuck in the fault counts when it succeeds);
// the partition last to recover sets it.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// workloadOf is the workload an op belongs to: its process's prefix.
func workloadOf(op *Op) string {
	w, _, _ := strings.Cut(op.Process, "-")
	return w
}

// isKill reports whether kind kills a node (recovery also from injection).
func isKill(kind FaultKind) bool {
	return kind == FaultKillLeader || kind == FaultKillController || kind == FaultKillRandom
}

// faultStat is one fault kind's row.
type faultStat struct {
	injected, injectErrors, healErrors int
	fromHeal, fromInject               []time.Duration
	unrecovered                        int
}

// Recovery is the recovery time of one injected fault.
type Recovery struct {
	Kind       FaultKind
	FromHeal   time.Duration // -1 when some partition never recovered
	FromInject time.Duration // kill kinds only; -1 otherwise or never
}

// Recoveries computes each injected fault's recovery times (see the file
// comment).
func Recoveries(ops []Op) []Recovery {
	type tp struct {
		topic string
		p     int32
	}
	sends := map[tp][]int{} // ok sends per partition, in history order
	for i := range ops {
		if ops[i].F == FnSend && ops[i].Type == OpOK {
			k := tp{ops[i].Topic, ops[i].Partition}
			sends[k] = append(sends[k], i)
		}
	}
	recoverAt := func(ref time.Time) time.Duration {
		worst := time.Duration(0)
		for _, idx := range sends {
			first := time.Duration(-1)
			for _, i := range idx {
				if !ops[i].Time.Before(ref) {
					d := ops[i].Time.Sub(ref)
					if first < 0 || d < first {
						first = d
					}
				}
			}
			if first < 0 {
				return -1
			}
			worst = max(worst, first)
		}
		return worst
	}
	var out []Recovery
	for i := range ops {
		op := &ops[i]
		if op.F != FnFault || op.Type != OpOK {
			continue
		}
		kind := FaultKind(op.Value)
		rec := Recovery{Kind: kind, FromHeal: -1, FromInject: -1}
		for j := i + 1; j < len(ops); j++ {
			if ops[j].F == FnHeal {
				if ops[j].Type == OpOK {
					rec.FromHeal = recoverAt(ops[j].Time)
				}
				break
			}
		}
		if isKill(kind) {
			rec.FromInject = recoverAt(op.Time)
		}
		out = append(out, rec)
	}
	return out
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

func secs(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// Summarize renders the one-page markdown summary of a run: faultPhase is
// Config.Duration, elapsed the whole run (setup, heal, catch-up, drain).
func Summarize(cluster string, faultPhase, elapsed time.Duration, ops []Op, anomalies []Anomaly) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fault campaign: %s\n\n", cluster)
	fmt.Fprintf(&b, "| cluster | fault phase | whole run | operations | faults injected | anomalies |\n|---|---|---|---|---|---|\n")
	completions, injected := 0, 0
	for i := range ops {
		if ops[i].Type != OpInvoke && ops[i].F != FnMember && ops[i].F != FnFault && ops[i].F != FnHeal {
			completions++
		}
		if ops[i].F == FnFault && ops[i].Type == OpOK {
			injected++
		}
	}
	fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d |\n\n", cluster, faultPhase.Round(time.Second), elapsed.Round(time.Second), completions, injected, len(anomalies))

	// Operations by workload and function.
	type wf struct{ w, f string }
	counts := map[wf]map[OpType]int{}
	for i := range ops {
		op := &ops[i]
		if op.Type == OpInvoke || op.F == FnMember || op.F == FnFault || op.F == FnHeal {
			continue
		}
		k := wf{workloadOf(op), op.F}
		if counts[k] == nil {
			counts[k] = map[OpType]int{}
		}
		counts[k][op.Type]++
	}
	keys := make([]wf, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].w != keys[j].w {
			return keys[i].w < keys[j].w
		}
		return keys[i].f < keys[j].f
	})
	b.WriteString("## Operations\n\n| workload | operation | ok | fail | info |\n|---|---|---|---|---|\n")
	for _, k := range keys {
		c := counts[k]
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |\n", k.w, k.f, c[OpOK], c[OpFail], c[OpInfo])
	}

	// Faults.
	stats := map[FaultKind]*faultStat{}
	stat := func(k FaultKind) *faultStat {
		if stats[k] == nil {
			stats[k] = &faultStat{}
		}
		return stats[k]
	}
	var last FaultKind
	for i := range ops {
		op := &ops[i]
		switch {
		case op.F == FnFault && op.Type == OpOK:
			last = FaultKind(op.Value)
			stat(last).injected++
		case op.F == FnFault && op.Type == OpFail:
			stat(FaultKind(op.Detail)).injectErrors++
		case op.F == FnHeal && op.Type == OpFail && last != "":
			stat(last).healErrors++
		}
	}
	for _, rc := range Recoveries(ops) {
		s := stat(rc.Kind)
		if rc.FromHeal < 0 {
			s.unrecovered++
		} else {
			s.fromHeal = append(s.fromHeal, rc.FromHeal)
		}
		if rc.FromInject >= 0 {
			s.fromInject = append(s.fromInject, rc.FromInject)
		}
	}
	kinds := make([]FaultKind, 0, len(stats))
	for k := range stats {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	b.WriteString("\n## Faults and recovery\n\nRecovery: time until every produced partition acknowledged a send after the heal (kills: also after the injection).\n\n")
	b.WriteString("| fault | injected | inject errors | heal errors | from heal p50 | from heal max | not recovered | from inject p50 | from inject max |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range kinds {
		s := stats[k]
		fi50, fimax := "–", "–"
		if isKill(k) {
			fi50, fimax = secs(quantile(s.fromInject, 0.5)), secs(quantile(s.fromInject, 1))
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s | %d | %s | %s |\n", k, s.injected, s.injectErrors, s.healErrors,
			secs(quantile(s.fromHeal, 0.5)), secs(quantile(s.fromHeal, 1)), s.unrecovered, fi50, fimax)
	}
	if len(kinds) == 0 {
		b.WriteString("| (none) | 0 | 0 | 0 | – | – | 0 | – | – |\n")
	}

	// Anomalies.
	byKind := map[string]int{}
	for _, a := range anomalies {
		byKind[a.Kind]++
	}
	b.WriteString("\n## Anomalies\n\n| kind | count |\n|---|---|\n")
	listed := map[string]bool{}
	for _, k := range AnomalyKinds {
		listed[k] = true
		fmt.Fprintf(&b, "| %s | %d |\n", k, byKind[k])
	}
	for _, k := range sortedKeys(byKind) {
		if !listed[k] {
			fmt.Fprintf(&b, "| %s | %d |\n", k, byKind[k])
		}
	}
	return b.String()
}
