package console

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/webclient"
)

type groupRow struct {
	GroupID      string `json:"group_id"`
	Type         string `json:"type"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Protocol     string `json:"protocol"`
	Members      int    `json:"members"`
	Coordinator  int32  `json:"coordinator"`
	Lag          int64  `json:"lag"`
	// LagUnknown counts the partitions left out of Lag: without a
	// committed offset (or a known share lag) or a log end offset.
	LagUnknown int `json:"lag_unknown_partitions"`
}

type memberAssignment struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

type groupMember struct {
	MemberID    string             `json:"member_id"`
	InstanceID  *string            `json:"instance_id"`
	ClientID    string             `json:"client_id"`
	Host        string             `json:"host"`
	Assignments []memberAssignment `json:"assignments"`
}

type groupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	LogEnd    int64  `json:"log_end"`
	Lag       int64  `json:"lag"`
	MemberID  string `json:"member_id"`
}

type groupDetail struct {
	GroupID      string        `json:"group_id"`
	Type         string        `json:"type"`
	State        string        `json:"state"`
	ProtocolType string        `json:"protocol_type"`
	Protocol     string        `json:"protocol"`
	Coordinator  int32         `json:"coordinator"`
	Members      []groupMember `json:"members"`
	Offsets      []groupOffset `json:"offsets"`
	Lag          int64         `json:"lag"`
	LagUnknown   int           `json:"lag_unknown_partitions"`
}

// Group types as ListGroups v5 names them.
const (
	typeClassic  = "classic"
	typeConsumer = "consumer"
	typeShare    = "share"
	typeStreams  = "streams"
)

func groupType(l kadm.ListedGroup) string {
	if l.GroupType == "" {
		return typeClassic // brokers before ListGroups v5 only have classic groups
	}
	return strings.ToLower(l.GroupType)
}

// describedGroup is a group described by its type's API, in one shape.
type describedGroup struct {
	row     groupRow
	members []groupMember
}

// describe describes listed groups with their type's describe API. A
// group whose describe failed keeps the listed facts.
func describe(ctx context.Context, cl *webclient.Client, listed []kadm.ListedGroup) (map[string]*describedGroup, error) {
	adm, kcl := cl.Admin, cl.Kgo
	out := map[string]*describedGroup{}
	byType := map[string][]string{}
	for _, l := range listed {
		t := groupType(l)
		out[l.Group] = &describedGroup{row: groupRow{GroupID: l.Group, Type: t, State: l.State,
			ProtocolType: l.ProtocolType, Coordinator: l.Coordinator, Lag: -1}, members: []groupMember{}}
		byType[t] = append(byType[t], l.Group)
	}
	if names := byType[typeClassic]; len(names) > 0 {
		ds, err := adm.DescribeGroups(ctx, names...)
		if err := fatalShardErr(err); err != nil {
			return nil, err
		}
		for _, d := range ds {
			g := out[d.Group]
			if g == nil || d.Err != nil {
				continue
			}
			g.row.State, g.row.ProtocolType, g.row.Protocol = d.State, d.ProtocolType, d.Protocol
			g.row.Coordinator, g.row.Members = d.Coordinator.NodeID, len(d.Members)
			for _, m := range d.Members {
				gm := groupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID,
					Host: m.ClientHost, Assignments: []memberAssignment{}}
				if a, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range a.Topics {
						ps := slices.Clone(t.Partitions)
						slices.Sort(ps)
						gm.Assignments = append(gm.Assignments, memberAssignment{Topic: t.Topic, Partitions: orEmpty(ps)})
					}
				}
				g.members = append(g.members, gm)
			}
		}
	}
	if names := byType[typeConsumer]; len(names) > 0 {
		ds, err := adm.DescribeConsumerGroups(ctx, names...)
		if err := fatalShardErr(err); err != nil {
			return nil, err
		}
		for _, d := range ds {
			g := out[d.Group]
			if g == nil || d.Err != nil {
				continue
			}
			g.row.State, g.row.ProtocolType, g.row.Protocol = d.State, "consumer", d.AssignorName
			g.row.Coordinator, g.row.Members = d.Coordinator.NodeID, len(d.Members)
			for _, m := range d.Members {
				g.members = append(g.members, groupMember{MemberID: m.MemberID, InstanceID: m.InstanceID,
					ClientID: m.ClientID, Host: m.ClientHost, Assignments: assignments(m.Assignment)})
			}
		}
	}
	if names := byType[typeShare]; len(names) > 0 {
		ds, err := adm.DescribeShareGroups(ctx, names...)
		if err := fatalShardErr(err); err != nil {
			return nil, err
		}
		for _, d := range ds {
			g := out[d.GroupID]
			if g == nil || d.Err != nil {
				continue
			}
			g.row.State, g.row.ProtocolType, g.row.Protocol = d.GroupState, "share", d.Assignor
			g.row.Coordinator, g.row.Members = d.Coordinator.NodeID, len(d.Members)
			for _, m := range d.Members {
				g.members = append(g.members, groupMember{MemberID: m.MemberID, ClientID: m.ClientID,
					Host: m.ClientHost, Assignments: assignments(m.Assignment)})
			}
		}
	}
	if names := byType[typeStreams]; len(names) > 0 {
		coordinators := map[string]int32{}
		for _, l := range listed {
			coordinators[l.Group] = l.Coordinator
		}
		if err := describeStreams(ctx, kcl, names, coordinators, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// describeStreams describes streams groups (KIP-1071) with
// StreamsGroupDescribe, which kadm lacks, sent to each group's coordinator
// as listed. A member's assignment is its active tasks as topic
// partitions: task (subtopology, p) reads partition p of each of the
// subtopology's source and repartition source topics. A group whose
// describe failed keeps the listed facts; only an authorization failure of
// the whole request fails the page.
func describeStreams(ctx context.Context, kcl *kgo.Client, names []string, coordinators map[string]int32, out map[string]*describedGroup) error {
	byCoordinator := map[int32][]string{}
	for _, n := range names {
		byCoordinator[coordinators[n]] = append(byCoordinator[coordinators[n]], n)
	}
	for coordinator, groups := range byCoordinator {
		req := kmsg.NewPtrStreamsGroupDescribeRequest()
		req.Groups = groups
		resp, err := req.RequestWith(ctx, kcl.Broker(int(coordinator)))
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			continue // the listed facts
		}
		for _, d := range resp.Groups {
			g := out[d.Group]
			if err := kerr.ErrorForCode(d.ErrorCode); g == nil || err != nil {
				if errors.Is(err, kerr.GroupAuthorizationFailed) {
					return err
				}
				continue
			}
			g.row.State, g.row.ProtocolType, g.row.Coordinator, g.row.Members = d.State, "streams", coordinator, len(d.Members)
			if d.AssignorName != nil {
				g.row.Protocol = *d.AssignorName
			}
			sources := map[string][]string{}
			if d.Topology != nil {
				for _, st := range d.Topology.Subtopologies {
					sources[st.SubtopologyID] = slices.Clone(st.SourceTopics)
					for _, t := range st.RepartitionSourceTopics {
						sources[st.SubtopologyID] = append(sources[st.SubtopologyID], t.Topic)
					}
				}
			}
			for _, m := range d.Members {
				set := kadm.TopicsSet{}
				for _, task := range m.Assignment.ActiveTasks {
					for _, t := range sources[task.SubtopologyID] {
						set.Add(t, task.Partitions...)
					}
				}
				g.members = append(g.members, groupMember{MemberID: m.MemberID, InstanceID: m.InstanceID,
					ClientID: m.ClientID, Host: m.ClientHost, Assignments: assignments(set)})
			}
		}
	}
	return nil
}

// fatalShardErr passes on err unless it is a partial shard failure (the
// groups of the brokers that answered are still worth showing).
func fatalShardErr(err error) error {
	if se, ok := errors.AsType[*kadm.ShardErrors](err); ok && !se.AllFailed {
		return nil
	}
	return err
}

func assignments(s kadm.TopicsSet) []memberAssignment {
	out := []memberAssignment{}
	for _, t := range s.Sorted() {
		out = append(out, memberAssignment{Topic: t.Topic, Partitions: orEmpty(t.Partitions)})
	}
	return out
}

// groupOffsets computes per-partition lag from committed offsets and end
// offsets: log end minus committed, -1 without a commit (as
// kafka-consumer-groups shows "-"). The total sums the known lags and is
// -1 when none is known; the partitions left out are counted.
func groupOffsets(committed kadm.OffsetResponses, ends kadm.ListedOffsets, members []groupMember) ([]groupOffset, lagTotal) {
	owner := map[string]map[int32]string{}
	for _, m := range members {
		for _, a := range m.Assignments {
			if owner[a.Topic] == nil {
				owner[a.Topic] = map[int32]string{}
			}
			for _, p := range a.Partitions {
				owner[a.Topic][p] = m.MemberID
			}
		}
	}
	seen := map[string]map[int32]bool{}
	out := []groupOffset{}
	add := func(topic string, p int32, commit int64) {
		if seen[topic] == nil {
			seen[topic] = map[int32]bool{}
		}
		seen[topic][p] = true
		o := groupOffset{Topic: topic, Partition: p, Committed: commit, LogEnd: -1, Lag: -1, MemberID: owner[topic][p]}
		if e, ok := ends.Lookup(topic, p); ok && e.Err == nil {
			o.LogEnd = e.Offset
			if commit >= 0 {
				o.Lag = max(0, e.Offset-commit)
			}
		}
		out = append(out, o)
	}
	for _, ps := range committed {
		for _, r := range ps {
			if r.Err != nil {
				continue
			}
			add(r.Topic, r.Partition, r.At)
		}
	}
	for topic, ps := range owner {
		for p := range ps {
			if !seen[topic][p] {
				add(topic, p, -1)
			}
		}
	}
	slices.SortFunc(out, func(a, b groupOffset) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, sumLags(out)
}

// lagTotal is a group's total lag: the sum of its partitions' known lags
// (-1 when none is known) and how many partitions were left out.
type lagTotal struct {
	lag     int64
	unknown int
}

func sumLags(offsets []groupOffset) lagTotal {
	t := lagTotal{lag: -1}
	for _, o := range offsets {
		switch {
		case o.Lag < 0:
			t.unknown++
		case t.lag < 0:
			t.lag = o.Lag
		default:
			t.lag += o.Lag
		}
	}
	return t
}

// shareGroupOffsets is a share group's offsets (KIP-932): per partition the
// share-partition start offset as "committed" and the broker's share lag
// (DescribeShareGroupOffsets v1, KIP-1226: records from the start offset
// to the high watermark not yet acknowledged), -1 when the broker does not
// know it; the total as groupOffsets'.
func shareGroupOffsets(so kadm.ShareOffsets, ends kadm.ListedOffsets, members []groupMember) ([]groupOffset, lagTotal) {
	owner := map[string]map[int32]string{}
	for _, m := range members {
		for _, a := range m.Assignments {
			for _, p := range a.Partitions {
				if owner[a.Topic] == nil {
					owner[a.Topic] = map[int32]string{}
				}
				owner[a.Topic][p] = m.MemberID // one of them: a share partition has many consumers
			}
		}
	}
	out := []groupOffset{}
	for _, o := range so.Sorted() {
		if o.Err != nil {
			continue
		}
		row := groupOffset{Topic: o.Topic, Partition: o.Partition, Committed: o.StartOffset, LogEnd: -1, Lag: -1,
			MemberID: owner[o.Topic][o.Partition]}
		if e, ok := ends.Lookup(o.Topic, o.Partition); ok && e.Err == nil {
			row.LogEnd = e.Offset
		}
		if o.StartOffset >= 0 && o.Lag >= 0 {
			row.Lag = o.Lag
		}
		out = append(out, row)
	}
	return out, sumLags(out)
}

// shareOffsetsAndEnds describes share groups' offsets and the end offsets
// of their topics. A group whose offsets could not be described is left
// out of the answer.
func shareOffsetsAndEnds(ctx context.Context, adm *kadm.Client, groups []string) (kadm.DescribedShareGroupsOffsets, kadm.ListedOffsets, error) {
	if len(groups) == 0 {
		return nil, nil, nil
	}
	described, err := adm.DescribeShareGroupOffsets(ctx, groups...)
	if err := fatalShardErr(err); err != nil {
		return nil, nil, err
	}
	set := map[string]bool{}
	for _, d := range described {
		for t := range d.Offsets {
			set[t] = true
		}
	}
	if len(set) == 0 {
		return described, kadm.ListedOffsets{}, nil
	}
	ends, err := adm.ListEndOffsets(ctx, slices.Sorted(maps.Keys(set))...)
	return described, ends, fatalShardErr(err)
}

// endOffsetsFor lists end offsets of every topic in committed and members.
func endOffsetsFor(ctx context.Context, adm *kadm.Client, committed []kadm.OffsetResponses, groups []*describedGroup) (kadm.ListedOffsets, error) {
	set := map[string]bool{}
	for _, c := range committed {
		for t := range c {
			set[t] = true
		}
	}
	for _, g := range groups {
		for _, m := range g.members {
			for _, a := range m.Assignments {
				set[a.Topic] = true
			}
		}
	}
	if len(set) == 0 {
		return kadm.ListedOffsets{}, nil
	}
	topics := make([]string, 0, len(set))
	for t := range set {
		topics = append(topics, t)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	return ends, fatalShardErr(err)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	listed, err := cl.Admin.ListGroupsByType(ctx, nil)
	if err := fatalShardErr(err); err != nil {
		return err
	}
	sorted := listed.Sorted()
	described, err := describe(ctx, cl, sorted)
	if err != nil {
		return err
	}
	var names, shares []string
	for _, l := range sorted {
		if groupType(l) == typeShare { // share groups have no committed offsets: their lag is the broker's
			shares = append(shares, l.Group)
		} else {
			names = append(names, l.Group)
		}
	}
	shareOffsets, shareEnds, err := shareOffsetsAndEnds(ctx, cl.Admin, shares)
	if err != nil {
		return err
	}
	fetched := cl.Admin.FetchManyOffsets(ctx, names...)
	var commits []kadm.OffsetResponses
	for _, f := range fetched {
		if f.Err == nil {
			commits = append(commits, f.Fetched)
		}
	}
	all := make([]*describedGroup, 0, len(described))
	for _, g := range described {
		all = append(all, g)
	}
	ends, err := endOffsetsFor(ctx, cl.Admin, commits, all)
	if err != nil {
		return err
	}
	out := make([]groupRow, 0, len(sorted))
	for _, l := range sorted {
		g := described[l.Group]
		var total lagTotal
		if f, ok := fetched[l.Group]; ok && f.Err == nil {
			_, total = groupOffsets(f.Fetched, ends, g.members)
			g.row.Lag, g.row.LagUnknown = total.lag, total.unknown
		}
		if d, ok := shareOffsets[l.Group]; ok && d.Err == nil {
			_, total = shareGroupOffsets(d.Offsets, shareEnds, g.members)
			g.row.Lag, g.row.LagUnknown = total.lag, total.unknown
		}
		out = append(out, g.row)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// findGroup lists the groups to learn group's type: 404 when the broker
// does not know it.
func findGroup(ctx context.Context, cl *webclient.Client, group string) (*describedGroup, error) {
	listed, err := cl.Admin.ListGroupsByType(ctx, nil)
	if err := fatalShardErr(err); err != nil {
		return nil, err
	}
	l, ok := listed[group]
	if !ok {
		return nil, notFound("group %q not found", group)
	}
	described, err := describe(ctx, cl, []kadm.ListedGroup{l})
	if err != nil {
		return nil, err
	}
	return described[group], nil
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	group := r.PathValue("group")
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	g, err := findGroup(ctx, cl, group)
	if err != nil {
		return err
	}
	out := groupDetail{GroupID: group, Type: g.row.Type, State: g.row.State, ProtocolType: g.row.ProtocolType,
		Protocol: g.row.Protocol, Coordinator: g.row.Coordinator, Members: g.members, Offsets: []groupOffset{}, Lag: -1}
	if g.row.Type != typeShare {
		committed, err := cl.Admin.FetchOffsets(ctx, group)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return err
		}
		ends, err := endOffsetsFor(ctx, cl.Admin, []kadm.OffsetResponses{committed}, []*describedGroup{g})
		if err != nil {
			return err
		}
		var total lagTotal
		out.Offsets, total = groupOffsets(committed, ends, g.members)
		out.Lag, out.LagUnknown = total.lag, total.unknown
	} else {
		described, ends, err := shareOffsetsAndEnds(ctx, cl.Admin, []string{group})
		if err != nil {
			return err
		}
		if d, ok := described[group]; ok && d.Err == nil {
			var total lagTotal
			out.Offsets, total = shareGroupOffsets(d.Offsets, ends, g.members)
			out.Lag, out.LagUnknown = total.lag, total.unknown
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type resetRequest struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
	To         string  `json:"to"`
	Offset     *int64  `json:"offset"`
	Timestamp  *int64  `json:"timestamp"`
}

type resetOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// parseResetRequest reads a reset-offsets body (API.md): a topic, the
// partitions (none: all; each from 0), and where to: earliest, latest, an
// offset (clamped to the partition's range later, as Kafka's tool does) or
// a timestamp, neither negative.
func parseResetRequest(r *http.Request) (resetRequest, error) {
	var req resetRequest
	if err := decodeRequest(r, &req); err != nil {
		return req, err
	}
	if req.Topic == "" {
		return req, badRequest("topic is required")
	}
	for _, p := range req.Partitions {
		if p < 0 {
			return req, badRequest("partitions: %d is not a partition number (they start at 0)", p)
		}
	}
	switch req.To {
	case "earliest", "latest":
	case "offset":
		if req.Offset == nil || *req.Offset < 0 {
			return req, badRequest(`to "offset" needs a non-negative offset`)
		}
	case "timestamp":
		if req.Timestamp == nil || *req.Timestamp < 0 {
			return req, badRequest(`to "timestamp" needs a non-negative timestamp (Unix milliseconds)`)
		}
	default:
		return req, badRequest(`to must be "earliest", "latest", "offset" or "timestamp"`)
	}
	return req, nil
}

func (s *Server) resetOffsets(w http.ResponseWriter, r *http.Request) error {
	group := r.PathValue("group")
	req, err := parseResetRequest(r)
	if err != nil {
		return err
	}
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// Kafka's rule (kafka-consumer-groups --reset-offsets): only an empty
	// group's offsets are reset. A group the broker does not know yet is
	// empty: the commit creates it.
	if g, err := findGroup(ctx, cl, group); err == nil {
		if g.row.Type == typeShare {
			return badRequest("group %q is a share group: it has no committed offsets to reset", group)
		}
		if g.row.Members > 0 {
			return conflict("group %q has %d members (state %s): stop them before resetting its offsets", group, g.row.Members, g.row.State)
		}
	} else if _, ok := errors.AsType[*httpError](err); !ok {
		return err
	}
	_, td, err := topicMetadata(ctx, cl, req.Topic)
	if err != nil {
		return err
	}
	parts := req.Partitions
	if len(parts) == 0 {
		for p := range td.Partitions {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	for _, p := range parts {
		if _, ok := td.Partitions[p]; !ok {
			return badRequest("topic %q has no partition %d", req.Topic, p)
		}
	}
	starts, err := cl.Admin.ListStartOffsets(ctx, req.Topic)
	if err != nil {
		return err
	}
	ends, err := cl.Admin.ListEndOffsets(ctx, req.Topic)
	if err != nil {
		return err
	}
	var at kadm.ListedOffsets
	if req.To == "timestamp" {
		if at, err = cl.Admin.ListOffsetsAfterMilli(ctx, *req.Timestamp, req.Topic); err != nil {
			return err
		}
	}
	offsets := kadm.Offsets{}
	out := []resetOffset{}
	for _, p := range parts {
		start, okS := starts.Lookup(req.Topic, p)
		end, okE := ends.Lookup(req.Topic, p)
		if !okS || !okE || start.Err != nil || end.Err != nil {
			return errors.Join(errors.New("console: listing the partition's offsets failed"), start.Err, end.Err)
		}
		var o int64
		switch req.To {
		case "earliest":
			o = start.Offset
		case "latest":
			o = end.Offset
		case "offset":
			o = min(max(*req.Offset, start.Offset), end.Offset) // as Kafka's tool clamps
		case "timestamp":
			o = end.Offset
			if a, ok := at.Lookup(req.Topic, p); ok && a.Err == nil && a.Offset >= 0 {
				o = min(max(a.Offset, start.Offset), end.Offset)
			}
		}
		offsets.Add(kadm.Offset{Topic: req.Topic, Partition: p, At: o, LeaderEpoch: -1})
		out = append(out, resetOffset{Topic: req.Topic, Partition: p, Offset: o})
	}
	resps, err := cl.Admin.CommitOffsets(ctx, group, offsets)
	if err != nil {
		return err
	}
	if err := resps.Error(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"offsets": out})
	return nil
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	group := r.PathValue("group")
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	resp, err := cl.Admin.DeleteGroup(r.Context(), group)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
		return nil
	case errors.Is(err, kerr.GroupIDNotFound):
		return notFound("group %q not found", group)
	case errors.Is(err, kerr.NonEmptyGroup):
		return conflict("group %q is not empty: stop its members first", group)
	}
	return err
}
