package jepsen

// The checker: it reads a finished history (completions only) and reports
// every violated promise. What each kind means, exactly:
//
//   - lost-write: a value acknowledged (a send ok with its offset, or a
//     record of a committed transaction) is not in the final drain of its
//     topic. Sends that timed out (info) may be missing.
//   - duplicate: one value at two different (partition, offset) places of
//     one topic, among every read and every acknowledgement. Values are
//     unique per topic by construction (the copier keeps the source's
//     value, in another topic), so a retry that appended twice, or a copy
//     that ran twice, shows here.
//   - inconsistent-offset: one (topic, partition, offset) with two values
//     among every read and every acknowledgement.
//   - non-monotonic-send: one process's acknowledged sends to one partition,
//     in invocation order, whose offsets do not strictly increase.
//   - non-monotonic-poll: an assign-mode reader received, for one
//     partition, an offset not above the previous one it received.
//   - poll-skip: an assign-mode reader jumped from offset a to b > a+1 and
//     the drain has a data record strictly between them (aborted records
//     and control records are absent from a read_committed drain, so their
//     gaps are allowed).
//   - aborted-read: a value of a transaction that definitely aborted (fail)
//     read from its topic by anyone (every reader of a transactional topic
//     reads read_committed: the readers, the copier, the drain).
//   - partial-txn: a producer transaction of unknown outcome (info) some of
//     whose values are in the read_committed drain and some not: after the
//     heal every transaction has ended, and it ended as a whole.
//   - phantom-read: a value read that no one ever tried to write to that
//     topic (for the copy's destination: that the copier never read).
//   - lost-copy: a value in the drain of the copy's source that the drain of
//     its destination lacks (the copier ran until caught up, or the run's
//     deadline).
//   - g1c-cycle: a cycle in the graph of completed transactions (committed
//     or unknown producer transactions, committed copier transactions) whose
//     edges are: write-read (the copier read a value a producer transaction
//     wrote), process order (one transactional id's transactions follow one
//     another), and real time between a write-read pair (a copier
//     transaction that completed before the transaction whose value it read
//     was invoked). Write-write order by offsets is left out on purpose:
//     Kafka assigns offsets at append time, not at commit, so two
//     concurrent transactions may interleave differently on two partitions
//     without violating anything Kafka promises.
//   - offset-regression: a group's committed offset for a partition seen
//     lower (OffsetFetch, or an acknowledged commit) than a value committed
//     or observed by an operation that completed before it started. The
//     workload never resets offsets.
//   - double-assignment: records of one partition polled by two members of
//     one group stamped with the same generation (classic) or member epoch
//     (KIP-848). Members poll with BlockRebalanceOnPoll and read their
//     generation before allowing the next rebalance, so a poll's stamp is a
//     generation in which the member owned the partition. For KIP-848 a
//     member keeps its epoch until it has revoked what it must give up and
//     the receiver gets the partition only afterwards, so two members at one
//     epoch never own one partition. Polls stamped with a generation <= 0
//     (a member fenced or rejoining: kgo resets its epoch at once, while a
//     poll may still return what was fetched before) are left out, and so
//     are polls whose commit (the member commits after each poll) the
//     coordinator refused or did not answer: a client takes its generation
//     from the JoinGroup answer, before SyncGroup, and goes on reading the
//     partitions it owned; when that generation is not confirmed (a
//     coordinator that lost its partition answered the join, or the group
//     moved on) the commit is fenced (ILLEGAL_GENERATION), as Kafka fences a
//     zombie: its reads are the at-least-once redelivery Kafka allows, not
//     an assignment.
//   - group-lost: a value acknowledged to a topic a group consumes that no
//     member of the group ever polled (members commit after processing, so
//     at-least-once delivery is the promise).

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// AnomalyKinds lists every kind the checker reports, in summary order.
var AnomalyKinds = []string{
	"lost-write", "duplicate", "inconsistent-offset", "non-monotonic-send", "non-monotonic-poll", "poll-skip",
	"aborted-read", "partial-txn", "phantom-read", "lost-copy", "g1c-cycle", "offset-regression", "double-assignment", "group-lost",
}

// describe names an op for an anomaly's detail.
func describe(op *Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s %s %s %s", op.Time.UTC().Format("15:04:05.000"), op.Process, op.F, op.Type)
	if op.Txn != "" {
		fmt.Fprintf(&b, " txn=%s", op.Txn)
	}
	if op.Group != "" {
		fmt.Fprintf(&b, " group=%s member=%s gen=%d", op.Group, shortID(op.Member), op.Generation)
	}
	if op.Topic != "" {
		fmt.Fprintf(&b, " %s", op.Topic)
		if op.Partition >= 0 && op.F == FnSend {
			fmt.Fprintf(&b, "/%d@%d %q", op.Partition, op.Offset, op.Value)
		}
	}
	if op.Fault != "" {
		fmt.Fprintf(&b, " during %s", op.Fault)
	}
	b.WriteString("]")
	return b.String()
}

func shortID(s string) string {
	if len(s) > 12 {
		return s[len(s)-12:]
	}
	return s
}

// place is one record's position.
type place struct {
	topic     string
	partition int32
	offset    int64
}

// sighting is a value seen at a place by an op.
type sighting struct {
	value string
	op    int // index into ops
}

// Check runs every check over a finished history.
func Check(ops []Op) []Anomaly {
	c := newChecker(ops)
	var out []Anomaly
	out = append(out, c.checkPlaces()...)
	out = append(out, c.checkWrites()...)
	out = append(out, c.checkSends()...)
	out = append(out, c.checkPolls()...)
	out = append(out, c.checkCopy()...)
	out = append(out, c.checkCycles()...)
	out = append(out, c.checkGroups()...)
	return out
}

type checker struct {
	ops       []Op
	drained   map[string]bool                       // topics with a drain
	drain     map[string]map[int32]map[int64]string // topic -> p -> offset -> value
	drainVals map[string]map[string]bool
	reads     map[string][]readAt // topic -> every value read
	acked     map[string][]readAt // topic -> every acknowledged write with its place
	written   map[string]map[string]bool
	aborted   map[string]map[string]int // topic -> value -> index of the failed txn op
	writer    map[string]int            // "topic\x00value" -> index of the txn op that wrote it

	sortedDrain map[topicPartition][]int64 // drainOffsets' cache
}

type readAt struct {
	rec Rec
	op  int
}

func newChecker(ops []Op) *checker {
	c := &checker{ops: ops, drained: map[string]bool{}, drain: map[string]map[int32]map[int64]string{},
		drainVals: map[string]map[string]bool{}, reads: map[string][]readAt{}, acked: map[string][]readAt{},
		written: map[string]map[string]bool{}, aborted: map[string]map[string]int{}, writer: map[string]int{},
		sortedDrain: map[topicPartition][]int64{}}
	addWritten := func(topic, v string) {
		if c.written[topic] == nil {
			c.written[topic] = map[string]bool{}
		}
		c.written[topic][v] = true
	}
	for i := range ops {
		op := &ops[i]
		switch {
		case op.F == FnSend && op.Type == OpInvoke:
			addWritten(op.Topic, op.Value)
		case op.F == FnSend && op.Type == OpOK:
			addWritten(op.Topic, op.Value)
			c.acked[op.Topic] = append(c.acked[op.Topic], readAt{Rec{op.Partition, op.Offset, op.Value}, i})
		case op.F == FnTxn && op.Type != OpInvoke:
			for _, r := range op.Records {
				addWritten(op.Topic, r.Value)
				c.writer[op.Topic+"\x00"+r.Value] = i
				switch op.Type {
				case OpOK:
					c.acked[op.Topic] = append(c.acked[op.Topic], readAt{r, i})
				case OpFail:
					if c.aborted[op.Topic] == nil {
						c.aborted[op.Topic] = map[string]int{}
					}
					c.aborted[op.Topic][r.Value] = i
				}
			}
		case op.F == FnCopy && op.Type != OpInvoke:
			for _, r := range op.Records {
				addWritten(op.To, r.Value)
				c.reads[op.Topic] = append(c.reads[op.Topic], readAt{r, i}) // polled, whatever the outcome
			}
		case (op.F == FnPoll || op.F == FnGroupPoll) && op.Type == OpOK:
			for _, r := range op.Records {
				c.reads[op.Topic] = append(c.reads[op.Topic], readAt{r, i})
			}
		case op.F == FnDrain && op.Type == OpOK:
			c.drained[op.Topic] = true
			if c.drain[op.Topic] == nil {
				c.drain[op.Topic] = map[int32]map[int64]string{}
				c.drainVals[op.Topic] = map[string]bool{}
			}
			for _, r := range op.Records {
				if c.drain[op.Topic][r.Partition] == nil {
					c.drain[op.Topic][r.Partition] = map[int64]string{}
				}
				c.drain[op.Topic][r.Partition][r.Offset] = r.Value
				c.drainVals[op.Topic][r.Value] = true
				c.reads[op.Topic] = append(c.reads[op.Topic], readAt{r, i})
			}
		}
	}
	return c
}

// checkPlaces: inconsistent offsets and duplicates across every read and
// acknowledgement.
func (c *checker) checkPlaces() []Anomaly {
	var out []Anomaly
	topics := sortedKeys(c.reads, c.acked)
	for _, t := range topics {
		at := map[place]sighting{}
		flaggedPlace := map[place]bool{}
		where := map[string]map[place]int{} // value -> places -> an op
		flaggedValue := map[string]bool{}
		all := append(append([]readAt(nil), c.acked[t]...), c.reads[t]...)
		for _, ra := range all {
			if ra.rec.Offset < 0 {
				continue
			}
			pl := place{t, ra.rec.Partition, ra.rec.Offset}
			if s, ok := at[pl]; !ok {
				at[pl] = sighting{ra.rec.Value, ra.op}
			} else if s.value != ra.rec.Value && !flaggedPlace[pl] {
				flaggedPlace[pl] = true
				out = append(out, Anomaly{Kind: "inconsistent-offset", Detail: fmt.Sprintf("%s/%d@%d is %q in %s and %q in %s",
					t, pl.partition, pl.offset, s.value, describe(&c.ops[s.op]), ra.rec.Value, describe(&c.ops[ra.op]))})
			}
			if where[ra.rec.Value] == nil {
				where[ra.rec.Value] = map[place]int{}
			}
			if _, ok := where[ra.rec.Value][pl]; !ok {
				where[ra.rec.Value][pl] = ra.op
			}
			if len(where[ra.rec.Value]) > 1 && !flaggedValue[ra.rec.Value] {
				flaggedValue[ra.rec.Value] = true
				var places []string
				for p, o := range where[ra.rec.Value] {
					places = append(places, fmt.Sprintf("%d@%d in %s", p.partition, p.offset, describe(&c.ops[o])))
				}
				sort.Strings(places)
				out = append(out, Anomaly{Kind: "duplicate", Detail: fmt.Sprintf("%s: %q at %s", t, ra.rec.Value, strings.Join(places, " and "))})
			}
		}
	}
	return out
}

// checkWrites: lost writes, aborted reads, phantom reads.
func (c *checker) checkWrites() []Anomaly {
	var out []Anomaly
	for _, t := range sortedKeys(c.acked) {
		if !c.drained[t] {
			continue
		}
		for _, ra := range c.acked[t] {
			if !c.drainVals[t][ra.rec.Value] {
				out = append(out, Anomaly{Kind: "lost-write", Detail: fmt.Sprintf("%s: %q acknowledged at %d@%d by %s, not in the drain",
					t, ra.rec.Value, ra.rec.Partition, ra.rec.Offset, describe(&c.ops[ra.op]))})
			}
		}
	}
	for i := range c.ops {
		op := &c.ops[i]
		if op.F != FnTxn || op.Type != OpInfo || !c.drained[op.Topic] {
			continue
		}
		var visible, missing []string
		for _, r := range op.Records {
			if c.drainVals[op.Topic][r.Value] {
				visible = append(visible, r.Value)
			} else {
				missing = append(missing, r.Value)
			}
		}
		if len(visible) > 0 && len(missing) > 0 {
			out = append(out, Anomaly{Kind: "partial-txn", Detail: fmt.Sprintf("%s: %s visible %q, missing %q", op.Topic, describe(op), visible, missing)})
		}
	}
	for _, t := range sortedKeys(c.reads) {
		flagged := map[string]bool{}
		for _, ra := range c.reads[t] {
			v := ra.rec.Value
			if flagged[v] {
				continue
			}
			if i, ok := c.aborted[t][v]; ok {
				flagged[v] = true
				out = append(out, Anomaly{Kind: "aborted-read", Detail: fmt.Sprintf("%s: %q of the aborted %s read at %d@%d by %s",
					t, v, describe(&c.ops[i]), ra.rec.Partition, ra.rec.Offset, describe(&c.ops[ra.op]))})
			} else if !c.written[t][v] {
				flagged[v] = true
				out = append(out, Anomaly{Kind: "phantom-read", Detail: fmt.Sprintf("%s: %q read at %d@%d by %s was never written",
					t, v, ra.rec.Partition, ra.rec.Offset, describe(&c.ops[ra.op]))})
			}
		}
	}
	return out
}

// checkSends: each process's acknowledged sends to one partition have
// increasing offsets in invocation order.
func (c *checker) checkSends() []Anomaly {
	type key struct {
		process, topic string
		partition      int32
	}
	sends := map[key][]int{}
	for i := range c.ops {
		op := &c.ops[i]
		if op.F == FnSend && op.Type == OpOK && op.Offset >= 0 {
			k := key{op.Process, op.Topic, op.Partition}
			sends[k] = append(sends[k], i)
		}
	}
	var out []Anomaly
	for _, idx := range sends {
		sort.SliceStable(idx, func(a, b int) bool { return c.ops[idx[a]].Start.Before(c.ops[idx[b]].Start) })
		for j := 1; j < len(idx); j++ {
			prev, cur := &c.ops[idx[j-1]], &c.ops[idx[j]]
			if cur.Offset <= prev.Offset {
				out = append(out, Anomaly{Kind: "non-monotonic-send", Detail: fmt.Sprintf("%s/%d: %s sent %q after %q but got offset %d <= %d: %s then %s",
					cur.Topic, cur.Partition, cur.Process, cur.Value, prev.Value, cur.Offset, prev.Offset, describe(prev), describe(cur))})
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Detail < out[b].Detail })
	return out
}

// checkPolls: an assign-mode reader's offsets per partition increase, and
// every gap holds no data record of the drain.
func (c *checker) checkPolls() []Anomaly {
	type key struct {
		process, topic string
		partition      int32
	}
	type last struct {
		offset int64
		op     int
	}
	pos := map[key]last{}
	var out []Anomaly
	for i := range c.ops {
		op := &c.ops[i]
		if op.F != FnPoll || op.Type != OpOK {
			continue
		}
		for _, r := range op.Records {
			k := key{op.Process, op.Topic, r.Partition}
			l, seen := pos[k]
			if !seen {
				l = last{-1, -1}
			}
			switch {
			case r.Offset <= l.offset:
				out = append(out, Anomaly{Kind: "non-monotonic-poll", Detail: fmt.Sprintf("%s/%d: %s polled offset %d (%q) after %d: %s",
					op.Topic, r.Partition, op.Process, r.Offset, r.Value, l.offset, describe(op))})
			case r.Offset > l.offset+1 && c.drained[op.Topic]:
				var skipped []string
				offs := c.drainOffsets(op.Topic, r.Partition)
				for j := sort.Search(len(offs), func(j int) bool { return offs[j] > l.offset }); j < len(offs) && offs[j] < r.Offset; j++ {
					if len(skipped) == 10 {
						skipped = append(skipped, "...")
						break
					}
					skipped = append(skipped, fmt.Sprintf("%d=%q", offs[j], c.drain[op.Topic][r.Partition][offs[j]]))
				}
				if len(skipped) > 0 {
					prev := "the start"
					if l.op >= 0 {
						prev = describe(&c.ops[l.op])
					}
					out = append(out, Anomaly{Kind: "poll-skip", Detail: fmt.Sprintf("%s/%d: %s jumped from %d (%s) to %d (%s), skipping %s",
						op.Topic, r.Partition, op.Process, l.offset, prev, r.Offset, describe(op), strings.Join(skipped, " "))})
				}
			}
			if r.Offset > l.offset {
				pos[k] = last{r.Offset, i}
			}
		}
	}
	return out
}

// drainOffsets returns the sorted offsets of topic/p's drain (cached).
func (c *checker) drainOffsets(topic string, p int32) []int64 {
	k := topicPartition{topic, p}
	if offs, ok := c.sortedDrain[k]; ok {
		return offs
	}
	offs := make([]int64, 0, len(c.drain[topic][p]))
	for o := range c.drain[topic][p] {
		offs = append(offs, o)
	}
	slices.Sort(offs)
	c.sortedDrain[k] = offs
	return offs
}

// checkCopy: every value of the copy's source drain is in its destination's.
func (c *checker) checkCopy() []Anomaly {
	pairs := map[[2]string]bool{}
	for i := range c.ops {
		if op := &c.ops[i]; op.F == FnCopy && op.To != "" {
			pairs[[2]string{op.Topic, op.To}] = true
		}
	}
	var out []Anomaly
	for pr := range pairs {
		from, to := pr[0], pr[1]
		if !c.drained[from] || !c.drained[to] {
			continue
		}
		var missing []string
		for v := range c.drainVals[from] {
			if !c.drainVals[to][v] {
				missing = append(missing, v)
			}
		}
		sort.Strings(missing)
		for _, v := range missing {
			out = append(out, Anomaly{Kind: "lost-copy", Detail: fmt.Sprintf("%q committed in %s never reached %s", v, from, to)})
		}
	}
	return out
}

// checkCycles: G1c-style cycles (see the file comment for the edges).
func (c *checker) checkCycles() []Anomaly {
	nodes := []int{}
	id := map[int]int{} // op index -> node
	for i := range c.ops {
		op := &c.ops[i]
		if (op.F == FnTxn && (op.Type == OpOK || op.Type == OpInfo)) || (op.F == FnCopy && op.Type == OpOK) {
			id[i] = len(nodes)
			nodes = append(nodes, i)
		}
	}
	edges := make([][]int, len(nodes))
	why := map[[2]int]string{}
	add := func(a, b int, w string) {
		edges[a] = append(edges[a], b)
		why[[2]int{a, b}] = w
	}
	lastOf := map[string]int{}
	for n, i := range nodes {
		op := &c.ops[i]
		if p, ok := lastOf[op.Process]; ok {
			add(p, n, "process order")
		}
		lastOf[op.Process] = n
		if op.F != FnCopy {
			continue
		}
		for _, r := range op.Records {
			w, ok := c.writer[op.Topic+"\x00"+r.Value]
			if !ok {
				continue
			}
			wn, ok := id[w]
			if !ok {
				continue // an aborted writer: aborted-read reports it
			}
			add(wn, n, fmt.Sprintf("wr %q", r.Value))
			if op.Time.Before(c.ops[w].Start) {
				add(n, wn, "real time (completed before the writer was invoked)")
			}
		}
	}
	var out []Anomaly
	for _, scc := range tarjan(edges) {
		if len(scc) < 2 {
			continue
		}
		in := map[int]bool{}
		for _, n := range scc {
			in[n] = true
		}
		var parts []string
		for _, n := range scc {
			for _, m := range edges[n] {
				if in[m] {
					parts = append(parts, fmt.Sprintf("%s -%s-> %s", describe(&c.ops[nodes[n]]), why[[2]int{n, m}], describe(&c.ops[nodes[m]])))
				}
			}
		}
		sort.Strings(parts)
		out = append(out, Anomaly{Kind: "g1c-cycle", Detail: strings.Join(parts, "; ")})
	}
	return out
}

// tarjan returns the strongly connected components of a graph.
func tarjan(edges [][]int) [][]int {
	n := len(edges)
	index, low := make([]int, n), make([]int, n)
	for i := range index {
		index[i] = -1
	}
	onStack := make([]bool, n)
	var stack []int
	var out [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			out = append(out, scc)
		}
	}
	for v := range n {
		if index[v] < 0 {
			visit(v)
		}
	}
	return out
}

// checkGroups: double assignment, committed offsets going backwards, and
// acknowledged records a group never delivered.
func (c *checker) checkGroups() []Anomaly {
	var out []Anomaly
	// Double assignment.
	type genKey struct {
		group, topic string
		partition    int32
		gen          int32
	}
	owners := map[genKey]map[string]int{}
	flagged := map[genKey]bool{}
	// fenced: polls whose member's next commit completed without success.
	fenced := map[int]bool{}
	lastPoll := map[string]int{}
	for i := range c.ops {
		op := &c.ops[i]
		switch {
		case op.F == FnGroupPoll && op.Type == OpOK:
			lastPoll[op.Process] = i
		case op.F == FnCommit && op.Type != OpInvoke:
			if p, ok := lastPoll[op.Process]; ok {
				if op.Type != OpOK {
					fenced[p] = true
				}
				delete(lastPoll, op.Process)
			}
		}
	}
	polled := map[string]map[string]map[string]bool{} // group -> topic -> values
	for i := range c.ops {
		op := &c.ops[i]
		if op.F != FnGroupPoll || op.Type != OpOK {
			continue
		}
		if polled[op.Group] == nil {
			polled[op.Group] = map[string]map[string]bool{}
		}
		if polled[op.Group][op.Topic] == nil {
			polled[op.Group][op.Topic] = map[string]bool{}
		}
		for _, r := range op.Records {
			polled[op.Group][op.Topic][r.Value] = true
			if op.Generation <= 0 || fenced[i] {
				continue // fenced or rejoining: no generation to compare
			}
			k := genKey{op.Group, op.Topic, r.Partition, op.Generation}
			if owners[k] == nil {
				owners[k] = map[string]int{}
			}
			if _, ok := owners[k][op.Member]; !ok {
				owners[k][op.Member] = i
			}
			if len(owners[k]) > 1 && !flagged[k] {
				flagged[k] = true
				var who []string
				for _, o := range owners[k] {
					who = append(who, describe(&c.ops[o]))
				}
				sort.Strings(who)
				out = append(out, Anomaly{Kind: "double-assignment", Detail: fmt.Sprintf("%s %s/%d generation %d polled by %s",
					op.Group, op.Topic, r.Partition, op.Generation, strings.Join(who, " and "))})
			}
		}
	}
	// Offset regressions.
	type offKey struct {
		group     string
		partition int32
	}
	type obs struct {
		start, end time.Time
		offset     int64
		op         int
	}
	series := map[offKey][]obs{}
	for i := range c.ops {
		op := &c.ops[i]
		if (op.F != FnCommit && op.F != FnCommitted) || op.Type != OpOK {
			continue
		}
		for p, o := range op.Offsets {
			if o < 0 {
				continue
			}
			k := offKey{op.Group, p}
			series[k] = append(series[k], obs{op.Start, op.Time, o, i})
		}
	}
	keys := make([]offKey, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].group != keys[b].group {
			return keys[a].group < keys[b].group
		}
		return keys[a].partition < keys[b].partition
	})
	for _, k := range keys {
		byStart := slices.Clone(series[k])
		byEnd := slices.Clone(series[k])
		sort.SliceStable(byStart, func(a, b int) bool { return byStart[a].start.Before(byStart[b].start) })
		sort.SliceStable(byEnd, func(a, b int) bool { return byEnd[a].end.Before(byEnd[b].end) })
		best := -1 // index into byEnd of the highest offset completed so far
		j := 0
		for _, cur := range byStart {
			for j < len(byEnd) && byEnd[j].end.Before(cur.start) {
				if best < 0 || byEnd[j].offset > byEnd[best].offset {
					best = j
				}
				j++
			}
			if best >= 0 && cur.offset < byEnd[best].offset {
				out = append(out, Anomaly{Kind: "offset-regression", Detail: fmt.Sprintf("%s partition %d: %d in %s after %d in %s",
					k.group, k.partition, cur.offset, describe(&c.ops[cur.op]), byEnd[best].offset, describe(&c.ops[byEnd[best].op]))})
			}
		}
	}
	// Records a group never delivered.
	for _, g := range sortedKeys(polled) {
		for _, t := range sortedKeys(polled[g]) {
			for _, ra := range c.acked[t] {
				if !polled[g][t][ra.rec.Value] {
					out = append(out, Anomaly{Kind: "group-lost", Detail: fmt.Sprintf("%s: %q acknowledged at %s/%d@%d by %s never polled",
						g, ra.rec.Value, t, ra.rec.Partition, ra.rec.Offset, describe(&c.ops[ra.op]))})
				}
			}
		}
	}
	return out
}

// sortedKeys returns the union of the maps' keys, sorted.
func sortedKeys[V any](ms ...map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
