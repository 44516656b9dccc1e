package coordinator

// The streams group's server-side task assignor, after Kafka's
// StickyTaskAssignor:
//
//   - Active tasks: every task (subtopology × partition) goes to one
//     member. Members hold at most ceil(tasks/members) each, and at most
//     floor(...) plus the remainder's share; a task stays with the member
//     that holds it in the current target, or else with a member of the
//     process that held it (stickiness across member restarts: the state
//     is on that process's disk), while that member has room; the rest go,
//     in task order, to the member with the fewest tasks whose process has
//     the fewest tasks per member (ties: member id).
//   - Standby tasks: numStandby copies of each stateful task (its
//     subtopology has changelog topics) on members of processes that hold
//     neither the active task nor another copy, previous holders first,
//     then the least loaded member; copies for which no such process
//     exists are not assigned.
//   - Warm-up tasks are not assigned.
//
// Everything is deterministic (sorted members and tasks), so the script
// tests pin the assignment.

import "sort"

// computeStreamsTargetLocked computes the target assignment for the
// group's epoch (with no tasks while delayed).
func (g *group) computeStreamsTargetLocked(numStandby int32, delayed bool) {
	ss := g.streams
	ids := make([]string, 0, len(ss.members))
	for id := range ss.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	target := make(map[string]streamsTasks, len(ids))
	for _, id := range ids {
		target[id] = newStreamsTasks()
	}
	if ss.configured.ready() && len(ids) > 0 && !delayed {
		assignStreamsTasks(ss, ids, target, numStandby)
	}
	for _, t := range target {
		sortTasks(t.active)
		sortTasks(t.standby)
	}
	ss.target = target
	ss.targetEpoch = ss.epoch
	ss.targetTime = g.c.clock.Now().UnixMilli()
	ss.numStandby = numStandby
	ss.allDirty = true
}

func assignStreamsTasks(ss *streamsState, ids []string, target map[string]streamsTasks, numStandby int32) {
	var tasks []taskID
	subs := make([]string, 0, len(ss.configured.tasks))
	for st := range ss.configured.tasks {
		subs = append(subs, st)
	}
	sort.Strings(subs)
	// Interleave subtopologies (0_0, 1_0, 0_1, 1_1, ...) so that each
	// member gets a mix.
	var maxN int32
	for _, st := range subs {
		maxN = max(maxN, ss.configured.tasks[st])
	}
	for p := int32(0); p < maxN; p++ {
		for _, st := range subs {
			if p < ss.configured.tasks[st] {
				tasks = append(tasks, taskID{st, p})
			}
		}
	}
	process := map[string]string{}
	members := map[string][]string{} // process → member ids
	for _, id := range ids {
		pid := ss.members[id].processID
		process[id] = pid
		members[pid] = append(members[pid], id)
	}
	load := map[string]int{}        // member → tasks
	processLoad := map[string]int{} // process → tasks
	n := len(ids)
	minQuota, extra := len(tasks)/n, len(tasks)%n
	quota := func(id string) int {
		q := minQuota
		if extra > 0 {
			q++
		}
		return q
	}
	give := func(id string, t taskID, kind func(streamsTasks) Tasks) {
		tt := kind(target[id])
		tt[t.subtopology] = append(tt[t.subtopology], t.partition)
		load[id]++
		processLoad[process[id]]++
	}
	active := func(s streamsTasks) Tasks { return s.active }
	standby := func(s streamsTasks) Tasks { return s.standby }
	// Previous owners: the current target's, then the members' current
	// assignment; by process too.
	prevMember := map[taskID]string{}
	prevProcess := map[taskID]string{}
	note := func(id string, t Tasks) {
		m := ss.members[id]
		for st, ps := range t {
			for _, p := range ps {
				tid := taskID{st, p}
				if _, ok := prevMember[tid]; !ok && m != nil {
					prevMember[tid] = id
				}
				if m != nil {
					if _, ok := prevProcess[tid]; !ok {
						prevProcess[tid] = m.processID
					}
				}
			}
		}
	}
	prevIDs := make([]string, 0, len(ss.target))
	for id := range ss.target {
		prevIDs = append(prevIDs, id)
	}
	sort.Strings(prevIDs)
	for _, id := range prevIDs {
		note(id, ss.target[id].active)
	}
	for _, id := range ids {
		note(id, ss.members[id].assigned.active)
	}
	var rest []taskID
	// Sticky: at most minQuota each first, extra slots to owners next.
	var over []taskID
	for _, t := range tasks {
		if o, ok := prevMember[t]; ok && target[o].active != nil {
			if load[o] < minQuota {
				give(o, t, active)
				continue
			}
			over = append(over, t)
			continue
		}
		rest = append(rest, t)
	}
	for _, t := range over {
		o := prevMember[t]
		if extra > 0 && load[o] == minQuota {
			give(o, t, active)
			extra--
			continue
		}
		rest = append(rest, t)
	}
	// The same process, then the least loaded.
	var rest2 []taskID
	for _, t := range rest {
		if pid, ok := prevProcess[t]; ok {
			best := ""
			for _, id := range members[pid] {
				if load[id] < quota(id) && (best == "" || load[id] < load[best]) {
					best = id
				}
			}
			if best != "" {
				if load[best] == minQuota {
					extra--
				}
				give(best, t, active)
				continue
			}
		}
		rest2 = append(rest2, t)
	}
	for _, t := range rest2 {
		best := ""
		for _, id := range ids {
			if best == "" || less(id, best, load, processLoad, members, process) {
				best = id
			}
		}
		if load[best] == minQuota && extra > 0 {
			extra--
		}
		give(best, t, active)
	}
	if numStandby <= 0 {
		return
	}
	// Standby copies on other processes.
	prevStandby := map[taskID][]string{}
	for _, id := range ids {
		for st, ps := range ss.target[id].standby {
			for _, p := range ps {
				prevStandby[taskID{st, p}] = append(prevStandby[taskID{st, p}], id)
			}
		}
	}
	hosts := func(t taskID) map[string]bool {
		h := map[string]bool{}
		for _, id := range ids {
			if hasTask(target[id].active, t.subtopology, t.partition) || hasTask(target[id].standby, t.subtopology, t.partition) {
				h[process[id]] = true
			}
		}
		return h
	}
	stateful := map[string]bool{}
	if ss.topology != nil {
		for _, st := range ss.topology.Subtopologies {
			stateful[st.ID] = len(st.StateChangelogTopics) > 0
		}
	}
	for _, t := range tasks {
		if !stateful[t.subtopology] {
			continue
		}
		for c := int32(0); c < numStandby; c++ {
			h := hosts(t)
			best := ""
			for _, id := range prevStandby[t] {
				if target[id].standby != nil && !h[process[id]] {
					best = id
					break
				}
			}
			if best == "" {
				for _, id := range ids {
					if h[process[id]] {
						continue
					}
					if best == "" || less(id, best, load, processLoad, members, process) {
						best = id
					}
				}
			}
			if best == "" {
				break // no process left without a copy
			}
			give(best, t, standby)
		}
	}
}

// less orders candidate members: fewer tasks, then a process with fewer
// tasks per member, then the member id.
func less(a, b string, load, processLoad map[string]int, members map[string][]string, process map[string]string) bool {
	if load[a] != load[b] {
		return load[a] < load[b]
	}
	pa, pb := process[a], process[b]
	// processLoad[pa]/len(members[pa]) < processLoad[pb]/len(members[pb])
	la, lb := processLoad[pa]*len(members[pb]), processLoad[pb]*len(members[pa])
	if la != lb {
		return la < lb
	}
	return a < b
}
