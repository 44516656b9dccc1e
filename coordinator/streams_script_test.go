package coordinator

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moldau/moldau/internal/scripttest"
)

// Streams group commands of the testdata scripts (streams*.txt):
//
//	shb member=m1 epoch=0 process=p1 topology=SPEC tepoch=1 active=0:0,1;1:2
//	    standby=... warmup=... instance=i endpoint=host:port shutdown=true
//	sdescribe
//	settings standby=1 delay=0s session=45s
//
// A topology SPEC is subtopologies separated by "|", each ID:KEY=V,V;...
// with keys src (source topics), regex, sink (repartition sink topics),
// rsrc (repartition source topics, NAME or NAME/PARTITIONS), changelog,
// copart (a copartition group: indexes into src "s0.s1" and rsrc "r0").
func (e *scriptEnv) runStreams(a scripttest.Cmd, group string) bool {
	switch a.Name {
	case "settings":
		s := DefaultGroupSettings()
		s.StreamsNumStandbyReplicas = int32(a.Int("standby", 0))
		s.StreamsInitialRebalanceDelay = a.Dur("delay", 0)
		s.StreamsSessionTimeout = a.Dur("session", 45*time.Second)
		e.cfg.Settings = func(string) GroupSettings { return s }
		e.c.cfg.Settings = e.cfg.Settings
	case "shb":
		req := StreamsHeartbeatRequest{Group: group, MemberID: a.Str("member", ""), MemberEpoch: int32(a.Int("epoch", 0)),
			InstanceID: a.Ptr("instance"), RebalanceTimeout: a.Dur("rebalance", 10*time.Second), ProcessID: a.Ptr("process"),
			EndpointInformationEpoch: int32(a.Int("endpoint-epoch", 1<<30)), ShutdownApplication: a.Str("shutdown", "") == "true",
			ClientID: "c", ClientHost: "/127.0.0.1"}
		if v, ok := a.Args["topology"]; ok {
			req.Topology = parseTopology(v, int32(a.Int("tepoch", 0)))
		}
		if req.MemberEpoch == 0 && req.Topology == nil {
			req.Topology = parseTopology("0:src=t", 0)
		}
		if req.MemberEpoch == 0 && req.ProcessID == nil {
			p := "p-" + req.MemberID
			req.ProcessID = &p
		}
		if v, ok := a.Args["active"]; ok {
			req.ActiveTasks = parseTasks(v)
			req.StandbyTasks, req.WarmupTasks = Tasks{}, Tasks{}
		}
		if v, ok := a.Args["standby"]; ok {
			req.StandbyTasks = parseTasks(v)
		}
		if v, ok := a.Args["endpoint"]; ok {
			h, p, _ := strings.Cut(v, ":")
			n, _ := strconv.Atoi(p)
			req.UserEndpoint = &StreamsEndpoint{Host: h, Port: uint16(n)}
		}
		r := e.c.StreamsHeartbeat(req)
		if r.Err != nil {
			e.emit("shb %s: %s epoch=%d", req.MemberID, errName(r.Err), r.MemberEpoch)
			break
		}
		line := fmt.Sprintf("shb %s: ok epoch=%d", r.MemberID, r.MemberEpoch)
		if r.Assigned {
			line += fmt.Sprintf(" active=%s standby=%s", formatTasks(r.ActiveTasks), formatTasks(r.StandbyTasks))
			if len(r.WarmupTasks) > 0 {
				line += " warmup=" + formatTasks(r.WarmupTasks)
			}
		} else {
			line += " (unchanged)"
		}
		e.emit("%s", line)
		for _, s := range r.Status {
			e.emit("  status %d: %s", s.Code, s.Detail)
		}
		if len(r.CreateTopics) > 0 {
			var cs []string
			for _, t := range r.CreateTopics {
				c := fmt.Sprintf("%s/%d", t.Name, t.Partitions)
				if len(t.Configs) > 0 {
					var kv []string
					for k, v := range t.Configs {
						kv = append(kv, k+"="+v)
					}
					sort.Strings(kv)
					c += "{" + strings.Join(kv, ",") + "}"
				}
				cs = append(cs, c)
			}
			e.emit("  create %s", strings.Join(cs, " "))
		}
		if r.PartitionsByEndpoint != nil {
			for _, ep := range r.PartitionsByEndpoint {
				e.emit("  endpoint %s:%d (epoch %d) active=%s standby=%s", ep.Endpoint.Host, ep.Endpoint.Port, r.EndpointInformationEpoch,
					formatTPs(ep.Active), formatTPs(ep.Standby))
			}
		}
	case "sdescribe":
		d, err := e.c.DescribeStreamsGroup(group)
		if err != nil {
			e.emit("sdescribe: %s", errName(err))
			break
		}
		te := int32(-1)
		if d.Topology != nil {
			te = d.Topology.Epoch
		}
		e.emit("sdescribe: state=%s epoch=%d target-epoch=%d topology-epoch=%d", d.State, d.GroupEpoch, d.TargetEpoch, te)
		for _, m := range d.Members {
			line := fmt.Sprintf("  %s process=%s epoch=%d active=%s target=%s", m.MemberID, m.ProcessID, m.MemberEpoch,
				formatTasks(m.Active), formatTasks(m.TargetActive))
			if len(m.Standby) > 0 || len(m.TargetStandby) > 0 {
				line += fmt.Sprintf(" standby=%s target=%s", formatTasks(m.Standby), formatTasks(m.TargetStandby))
			}
			e.emit("%s", line)
		}
	default:
		return false
	}
	return true
}

func parseTopology(spec string, epoch int32) *StreamsTopology {
	t := &StreamsTopology{Epoch: epoch}
	for _, part := range strings.Split(spec, "|") {
		id, rest, _ := strings.Cut(part, ":")
		st := StreamsSubtopology{ID: id}
		for _, kv := range strings.Split(rest, ";") {
			k, v, _ := strings.Cut(kv, "=")
			vs := strings.Split(v, ",")
			switch k {
			case "src":
				st.SourceTopics = vs
			case "regex":
				st.SourceTopicRegex = vs
			case "sink":
				st.RepartitionSinkTopics = vs
			case "rsrc":
				for _, r := range vs {
					name, n, _ := strings.Cut(r, "/")
					p, _ := strconv.Atoi(n)
					st.RepartitionSourceTopics = append(st.RepartitionSourceTopics, StreamsTopicInfo{Name: name, Partitions: int32(p)})
				}
			case "changelog":
				for _, c := range vs {
					st.StateChangelogTopics = append(st.StateChangelogTopics, StreamsTopicInfo{Name: c,
						Configs: map[string]string{"cleanup.policy": "compact"}})
				}
			case "copart":
				var cg StreamsCopartitionGroup
				for _, ix := range strings.Split(v, ".") {
					n, _ := strconv.Atoi(ix[1:])
					if ix[0] == 's' {
						cg.SourceTopics = append(cg.SourceTopics, int16(n))
					} else {
						cg.RepartitionSourceTopics = append(cg.RepartitionSourceTopics, int16(n))
					}
				}
				st.CopartitionGroups = append(st.CopartitionGroups, cg)
			}
		}
		t.Subtopologies = append(t.Subtopologies, st)
	}
	return t
}

// parseTasks reads "0:0,1;1:2" ("-" is none).
func parseTasks(v string) Tasks {
	out := Tasks{}
	if v == "-" {
		return out
	}
	for _, part := range strings.Split(v, ";") {
		st, ps, _ := strings.Cut(part, ":")
		out[st] = []int32{}
		for _, p := range strings.Split(ps, ",") {
			n, _ := strconv.Atoi(p)
			out[st] = append(out[st], int32(n))
		}
	}
	return out
}

func formatTasks(t Tasks) string {
	var subs []string
	for st, ps := range t {
		if len(ps) > 0 {
			subs = append(subs, st)
		}
	}
	if len(subs) == 0 {
		return "-"
	}
	sort.Strings(subs)
	var parts []string
	for _, st := range subs {
		ps := append([]int32(nil), t[st]...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		var ns []string
		for _, p := range ps {
			ns = append(ns, strconv.Itoa(int(p)))
		}
		parts = append(parts, st+":"+strings.Join(ns, ","))
	}
	return strings.Join(parts, ";")
}

func formatTPs(tps []TopicPartition) string {
	if len(tps) == 0 {
		return "-"
	}
	var parts []string
	for _, tp := range tps {
		parts = append(parts, fmt.Sprintf("%s-%d", tp.Topic, tp.Partition))
	}
	return strings.Join(parts, ",")
}
