package coordinator

// Configuring a streams topology against the cluster's topics (Kafka's
// InternalTopicManager.configureTopics): the number of tasks of each
// subtopology, the partition counts of its internal topics, and what is
// missing or wrong.
//
//   - A subtopology's source topics (names, and topics matching its
//     regexes) must exist, else MISSING_SOURCE_TOPICS and nothing further is
//     derived.
//   - A repartition source topic without a partition count gets the largest
//     task count of the subtopologies writing to it (repartition sink), to a
//     fixed point; topics of one copartition group get the same count (an
//     explicit count of a repartition topic in the group, else the largest
//     source topic count of the group); source topics of a copartition group
//     whose counts differ are INCORRECTLY_PARTITIONED_TOPICS.
//   - A subtopology has as many tasks as its largest source or repartition
//     source topic has partitions; its changelog topics have as many
//     partitions as it has tasks.
//   - Internal topics that do not exist are to be created (returned to the
//     broker) and reported as MISSING_INTERNAL_TOPICS; existing ones with
//     another partition count are INCORRECTLY_PARTITIONED_TOPICS.

import (
	"regexp"
	"sort"
	"strings"
)

// configuredTopology is a topology resolved against the topics.
type configuredTopology struct {
	tasks           map[string]int32    // subtopology → number of tasks; nil unless ready
	sourceTopics    map[string][]string // subtopology → source and repartition source topics
	partitions      map[string]int32    // topic → partition count (existing or derived)
	status          []StreamsStatus
	missingInternal []StreamsTopicInfo
}

// ready reports whether tasks can be assigned.
func (ct *configuredTopology) ready() bool { return ct != nil && ct.tasks != nil }

func configureTopology(t *StreamsTopology, topics []TopicMeta) *configuredTopology {
	ct := &configuredTopology{sourceTopics: map[string][]string{}, partitions: map[string]int32{}}
	existing := map[string]int32{}
	for _, tm := range topics {
		existing[tm.Name] = tm.Partitions
	}
	// Source topics (regexes resolved) must exist.
	var missing []string
	sources := map[string][]string{} // subtopology → user source topics
	for _, st := range t.Subtopologies {
		var names []string
		names = append(names, st.SourceTopics...)
		for _, expr := range st.SourceTopicRegex {
			re, err := regexp.Compile("^(?:" + expr + ")$")
			if err != nil {
				continue
			}
			for _, tm := range topics {
				if re.MatchString(tm.Name) && !isInternal(tm.Name) {
					names = append(names, tm.Name)
				}
			}
		}
		for _, n := range st.SourceTopics {
			if _, ok := existing[n]; !ok {
				missing = append(missing, n)
			}
		}
		sources[st.ID] = names
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		ct.status = append(ct.status, StreamsStatus{StreamsMissingSourceTopics,
			"Source topics " + strings.Join(dedup(missing), ", ") + " are missing."})
		return ct
	}
	for _, names := range sources {
		for _, n := range names {
			ct.partitions[n] = existing[n]
		}
	}
	// Repartition topics: explicit counts first, then derived to a fixed
	// point from the subtopologies writing to them.
	explicit := map[string]bool{}
	for _, st := range t.Subtopologies {
		for _, rt := range st.RepartitionSourceTopics {
			if rt.Partitions > 0 {
				ct.partitions[rt.Name] = rt.Partitions
				explicit[rt.Name] = true
			}
		}
	}
	tasksOf := func(st StreamsSubtopology) int32 {
		var n int32
		for _, s := range sources[st.ID] {
			n = max(n, ct.partitions[s])
		}
		for _, rt := range st.RepartitionSourceTopics {
			n = max(n, ct.partitions[rt.Name])
		}
		return n
	}
	for changed, rounds := true, 0; changed && rounds <= len(t.Subtopologies)+1; rounds++ {
		changed = false
		for _, st := range t.Subtopologies {
			n := tasksOf(st)
			if n == 0 {
				continue
			}
			for _, sink := range st.RepartitionSinkTopics {
				if explicit[sink] {
					continue
				}
				if n > ct.partitions[sink] {
					ct.partitions[sink] = n
					changed = true
				}
			}
		}
	}
	// Copartition groups.
	var incorrect []string
	for _, st := range t.Subtopologies {
		for _, cg := range st.CopartitionGroups {
			var srcs, reps []string
			for _, i := range cg.SourceTopics {
				if i >= 0 && int(i) < len(st.SourceTopics) {
					srcs = append(srcs, st.SourceTopics[i])
				}
			}
			for _, i := range cg.RepartitionSourceTopics {
				if i >= 0 && int(i) < len(st.RepartitionSourceTopics) {
					reps = append(reps, st.RepartitionSourceTopics[i].Name)
				}
			}
			var want int32
			for _, s := range srcs {
				if want != 0 && ct.partitions[s] != want {
					incorrect = append(incorrect, s)
				}
				want = max(want, ct.partitions[s])
			}
			for _, r := range reps {
				if explicit[r] {
					want = ct.partitions[r]
				}
			}
			if want == 0 {
				for _, r := range reps {
					want = max(want, ct.partitions[r])
				}
			}
			for _, r := range reps {
				if !explicit[r] {
					ct.partitions[r] = want
				}
			}
		}
	}
	if len(incorrect) > 0 {
		sort.Strings(incorrect)
		ct.status = append(ct.status, StreamsStatus{StreamsIncorrectlyPartitionedTopic,
			"Following topics do not have the same number of partitions: [" + strings.Join(dedup(incorrect), ", ") + "]"})
		return ct
	}
	tasks := map[string]int32{}
	var internal []StreamsTopicInfo
	for _, st := range t.Subtopologies {
		n := tasksOf(st)
		tasks[st.ID] = n
		all := append([]string(nil), sources[st.ID]...)
		for _, rt := range st.RepartitionSourceTopics {
			all = append(all, rt.Name)
			rt.Partitions = ct.partitions[rt.Name]
			internal = append(internal, rt)
		}
		ct.sourceTopics[st.ID] = all
		for _, cl := range st.StateChangelogTopics {
			cl.Partitions = n
			ct.partitions[cl.Name] = n
			internal = append(internal, cl)
		}
	}
	seen := map[string]bool{}
	for _, it := range internal {
		if seen[it.Name] {
			continue
		}
		seen[it.Name] = true
		have, ok := existing[it.Name]
		switch {
		case !ok:
			if it.Partitions > 0 {
				ct.missingInternal = append(ct.missingInternal, it)
			}
		case have != it.Partitions:
			incorrect = append(incorrect, it.Name)
		}
	}
	if len(incorrect) > 0 {
		sort.Strings(incorrect)
		ct.status = append(ct.status, StreamsStatus{StreamsIncorrectlyPartitionedTopic,
			"Internal topics " + strings.Join(incorrect, ", ") + " have the wrong number of partitions."})
		return ct
	}
	if len(ct.missingInternal) > 0 {
		names := make([]string, 0, len(ct.missingInternal))
		for _, it := range ct.missingInternal {
			names = append(names, it.Name)
		}
		sort.Strings(names)
		ct.status = append(ct.status, StreamsStatus{StreamsMissingInternalTopics,
			"Internal topics are missing: [" + strings.Join(names, ", ") + "]"})
		return ct
	}
	ct.tasks = tasks
	return ct
}

func dedup(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// topicsHashLocked fingerprints the metadata of every topic the topology
// names or matches (a change bumps the group epoch and reconfigures).
func (ss *streamsState) topicsHashLocked(topics []TopicMeta) int64 {
	if ss.topology == nil {
		return 0
	}
	names := map[string]bool{}
	var regexes []*regexp.Regexp
	for _, st := range ss.topology.Subtopologies {
		for _, n := range st.SourceTopics {
			names[n] = true
		}
		for _, n := range st.RepartitionSinkTopics {
			names[n] = true
		}
		for _, it := range st.RepartitionSourceTopics {
			names[it.Name] = true
		}
		for _, it := range st.StateChangelogTopics {
			names[it.Name] = true
		}
		for _, expr := range st.SourceTopicRegex {
			if re, err := regexp.Compile("^(?:" + expr + ")$"); err == nil {
				regexes = append(regexes, re)
			}
		}
	}
	var matched []TopicMeta
	for _, t := range topics {
		match := names[t.Name]
		for _, re := range regexes {
			if !match && !isInternal(t.Name) && re.MatchString(t.Name) {
				match = true
			}
		}
		if match {
			matched = append(matched, t)
		}
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].Name < matched[j].Name })
	var b strings.Builder
	for _, t := range matched {
		b.WriteString(t.Name)
		b.Write(t.ID[:])
		b.WriteString(itoa(t.Partitions))
		b.WriteByte(';')
	}
	return hashMetadata(b.String())
}
