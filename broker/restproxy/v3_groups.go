package restproxy

// v3 consumer groups, consumers, lags and lag summary (kafka-rest's
// ConsumerGroupsResource, ConsumersResource, ConsumerLagsResource,
// ConsumerGroupLagSummariesResource, ConsumerAssignmentsResource). A group
// is described as KIP-848 consumer group (ConsumerGroupDescribe, "type":
// "CONSUMER") when it is one, else with the classic DescribeGroups API
// ("type": "CLASSIC"), as Kafka's Admin describeConsumerGroups does; lags
// compare committed offsets with the read-committed end offsets, as
// kafka-rest does.

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

type consumerGroupData struct {
	Kind                 string       `json:"kind"`
	Metadata             resourceMeta `json:"metadata"`
	ClusterID            string       `json:"cluster_id"`
	ConsumerGroupID      string       `json:"consumer_group_id"`
	IsSimple             bool         `json:"is_simple"`
	PartitionAssignor    string       `json:"partition_assignor"`
	State                string       `json:"state"`
	Type                 string       `json:"type"`
	IsMixedConsumerGroup bool         `json:"is_mixed_consumer_group"`
	Coordinator          relationship `json:"coordinator"`
	Consumers            relationship `json:"consumers"`
	LagSummary           relationship `json:"lag_summary"`
}

// groupState turns Kafka's state names ("PreparingRebalance") into
// kafka-rest's ("PREPARING_REBALANCE").
func groupState(s string) string {
	if s == "" {
		return "UNKNOWN"
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && unicode.IsUpper(c) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// groupView is a described consumer group, classic or KIP-848.
type groupView struct {
	Group        string
	Coordinator  int32
	State        string // Kafka's name ("PreparingRebalance")
	ProtocolType string // classic groups: "consumer", "" for simple groups
	Assignor     string
	Type         string // CLASSIC or CONSUMER
	Mixed        bool   // a consumer group with classic members
	Members      []memberView
}

type memberView struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	Assigned   map[string][]int32
}

func classicView(g kadm.DescribedGroup) groupView {
	v := groupView{Group: g.Group, Coordinator: g.Coordinator.NodeID, State: g.State,
		ProtocolType: g.ProtocolType, Assignor: g.Protocol, Type: "CLASSIC"}
	for _, m := range g.Members {
		mv := memberView{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, Assigned: map[string][]int32{}}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				mv.Assigned[t.Topic] = append(mv.Assigned[t.Topic], t.Partitions...)
			}
		}
		v.Members = append(v.Members, mv)
	}
	return v
}

func consumerView(g kadm.DescribedConsumerGroup) groupView {
	v := groupView{Group: g.Group, Coordinator: g.Coordinator.NodeID, State: g.State,
		ProtocolType: "consumer", Assignor: g.AssignorName, Type: "CONSUMER"}
	for _, m := range g.Members {
		if m.MemberType == 0 {
			v.Mixed = true
		}
		mv := memberView{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, Assigned: map[string][]int32{}}
		for t, ps := range m.Assignment {
			for p := range ps {
				mv.Assigned[t] = append(mv.Assigned[t], p)
			}
			slices.Sort(mv.Assigned[t])
		}
		v.Members = append(v.Members, mv)
	}
	return v
}

// describeGroups describes groups: as KIP-848 consumer groups first
// (ConsumerGroupDescribe answers GROUP_ID_NOT_FOUND for classic groups),
// the others with DescribeGroups. found holds the groups that exist;
// errs the per-group errors other than not found.
func describeGroups(q *v3Request, names ...string) (found map[string]groupView, errs map[string]error, err error) {
	found, errs = map[string]groupView{}, map[string]error{}
	var classic []string
	// An error here (a broker without ConsumerGroupDescribe) leaves every
	// group to DescribeGroups.
	consumer, _ := q.client.Admin.DescribeConsumerGroups(q.ctx, names...)
	for _, name := range names {
		g, ok := consumer[name]
		switch {
		case ok && g.Err == nil && g.State != "Dead":
			found[name] = consumerView(g)
		case ok && g.Err != nil && !errors.Is(g.Err, kerr.GroupIDNotFound) && !errors.Is(g.Err, kerr.UnsupportedVersion):
			errs[name] = g.Err
		default:
			// Classic, unknown, or a broker without KIP-848 (cerr).
			classic = append(classic, name)
		}
	}
	if len(classic) == 0 {
		return found, errs, nil
	}
	described, err := q.client.Admin.DescribeGroups(q.ctx, classic...)
	if err != nil && len(described) == 0 {
		return nil, nil, err
	}
	for _, name := range classic {
		g, ok := described[name]
		switch {
		case !ok || errors.Is(g.Err, kerr.GroupIDNotFound) || (g.Err == nil && !groupExists(g)):
		case g.Err != nil:
			errs[name] = kafkaError(g.Err, g.ErrMessage)
		default:
			found[name] = classicView(g)
		}
	}
	return found, errs, nil
}

func toConsumerGroupData(q *v3Request, g groupView) consumerGroupData {
	return consumerGroupData{
		Kind:                 "KafkaConsumerGroup",
		Metadata:             resourceMeta{Self: q.url("consumer-groups", g.Group), ResourceName: q.crn("consumer-group", g.Group)},
		ClusterID:            q.cluster,
		ConsumerGroupID:      g.Group,
		IsSimple:             g.ProtocolType == "",
		PartitionAssignor:    g.Assignor,
		State:                groupState(g.State),
		Type:                 g.Type,
		IsMixedConsumerGroup: g.Mixed,
		Coordinator:          relationship{q.url("brokers", strconv.Itoa(int(g.Coordinator)))},
		Consumers:            relationship{q.url("consumer-groups", g.Group, "consumers")},
		LagSummary:           relationship{q.url("consumer-groups", g.Group, "lag-summary")},
	}
}

// groupExists says whether a described classic group is a real one (Kafka
// describes an unknown group as Dead with no protocol type).
func groupExists(g kadm.DescribedGroup) bool {
	return g.Err == nil && !(g.State == "Dead" && g.ProtocolType == "")
}

func (s *Server) listConsumerGroups(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	listed, err := q.client.Admin.ListGroups(q.ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var names []string
	for name, g := range listed {
		if g.ProtocolType == "consumer" || g.ProtocolType == "" {
			names = append(names, name)
		}
	}
	var out []consumerGroupData
	if len(names) > 0 {
		found, _, err := describeGroups(q, names...)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, g := range found {
			out = append(out, toConsumerGroupData(q, g))
		}
	}
	slices.SortFunc(out, func(a, b consumerGroupData) int { return cmp.Compare(a.ConsumerGroupID, b.ConsumerGroupID) })
	writeJSON(w, http.StatusOK, newList("KafkaConsumerGroupList", q.url("consumer-groups"), out))
}

// group describes {consumer_group_id}; on failure it has answered (404
// with notFoundMsg for an unknown group).
func (s *Server) group(w http.ResponseWriter, r *http.Request, q *v3Request, notFoundMsg string) (groupView, bool) {
	name := r.PathValue("consumer_group_id")
	found, errs, err := describeGroups(q, name)
	if err != nil {
		s.fail(w, r, err)
		return groupView{}, false
	}
	if err := errs[name]; err != nil {
		s.fail(w, r, err)
		return groupView{}, false
	}
	g, ok := found[name]
	if !ok {
		writeError(w, http.StatusNotFound, 0, notFoundMsg)
		return g, false
	}
	return g, true
}

func (s *Server) getConsumerGroup(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	g, ok := s.group(w, r, q, msgHTTPNotFound)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, toConsumerGroupData(q, g))
}

type consumerData struct {
	Kind            string       `json:"kind"`
	Metadata        resourceMeta `json:"metadata"`
	ClusterID       string       `json:"cluster_id"`
	ConsumerGroupID string       `json:"consumer_group_id"`
	ConsumerID      string       `json:"consumer_id"`
	InstanceID      *string      `json:"instance_id"`
	ClientID        string       `json:"client_id"`
	Assignments     relationship `json:"assignments"`
}

func toConsumerData(q *v3Request, group string, m memberView) consumerData {
	return consumerData{
		Kind: "KafkaConsumer",
		Metadata: resourceMeta{
			Self:         q.url("consumer-groups", group, "consumers", m.MemberID),
			ResourceName: q.crn("consumer-group", group, "consumer", m.MemberID),
		},
		ClusterID:       q.cluster,
		ConsumerGroupID: group,
		ConsumerID:      m.MemberID,
		InstanceID:      m.InstanceID,
		ClientID:        m.ClientID,
		Assignments:     relationship{q.url("consumer-groups", group, "consumers", m.MemberID, "assignments")},
	}
}

func (s *Server) listConsumers(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	g, ok := s.group(w, r, q, fmt.Sprintf("Consumer Group %s could not be found.", r.PathValue("consumer_group_id")))
	if !ok {
		return
	}
	var out []consumerData
	for _, m := range g.Members {
		out = append(out, toConsumerData(q, g.Group, m))
	}
	slices.SortFunc(out, func(a, b consumerData) int { return cmp.Compare(a.ConsumerID, b.ConsumerID) })
	writeJSON(w, http.StatusOK, newList("KafkaConsumerList", q.url("consumer-groups", g.Group, "consumers"), out))
}

func (s *Server) getConsumer(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	g, ok := s.group(w, r, q, fmt.Sprintf("Consumer Group %s could not be found.", r.PathValue("consumer_group_id")))
	if !ok {
		return
	}
	id := r.PathValue("consumer_id")
	for _, m := range g.Members {
		if m.MemberID == id {
			writeJSON(w, http.StatusOK, toConsumerData(q, g.Group, m))
			return
		}
	}
	writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
}

type consumerLagData struct {
	Kind            string       `json:"kind"`
	Metadata        resourceMeta `json:"metadata"`
	ClusterID       string       `json:"cluster_id"`
	ConsumerGroupID string       `json:"consumer_group_id"`
	TopicName       string       `json:"topic_name"`
	PartitionID     int32        `json:"partition_id"`
	CurrentOffset   int64        `json:"current_offset"`
	LogEndOffset    int64        `json:"log_end_offset"`
	Lag             int64        `json:"lag"`
	ConsumerID      string       `json:"consumer_id"`
	InstanceID      *string      `json:"instance_id"`
	ClientID        string       `json:"client_id"`
}

// lags computes the group's lag per partition with a committed offset; on
// failure it has answered.
func (s *Server) lags(w http.ResponseWriter, r *http.Request, q *v3Request) (groupView, []consumerLagData, bool) {
	name := r.PathValue("consumer_group_id")
	g, ok := s.group(w, r, q, fmt.Sprintf("Consumer Group %s could not be found.", name))
	if !ok {
		return g, nil, false
	}
	committed, err := q.client.Admin.FetchOffsets(q.ctx, name)
	if err != nil {
		s.fail(w, r, err)
		return g, nil, false
	}
	var topics []string
	for t, ps := range committed {
		for _, o := range ps {
			if o.Err == nil && o.At >= 0 {
				topics = append(topics, t)
				break
			}
		}
	}
	if len(topics) == 0 {
		writeError(w, http.StatusNotFound, 0, "Consumer group offsets could not be found.")
		return g, nil, false
	}
	ends, err := q.client.Admin.ListCommittedOffsets(q.ctx, topics...)
	if err != nil && len(ends) == 0 {
		s.fail(w, r, err)
		return g, nil, false
	}
	// Who is assigned each partition.
	type owner struct{ m memberView }
	owners := map[string]map[int32]owner{}
	for _, m := range g.Members {
		for t, ps := range m.Assigned {
			if owners[t] == nil {
				owners[t] = map[int32]owner{}
			}
			for _, p := range ps {
				owners[t][p] = owner{m}
			}
		}
	}
	var out []consumerLagData
	for t, ps := range committed {
		for p, o := range ps {
			if o.Err != nil || o.At < 0 {
				continue
			}
			end, ok := ends.Lookup(t, p)
			if !ok || end.Err != nil || end.Offset < 0 {
				continue
			}
			pid := strconv.Itoa(int(p))
			d := consumerLagData{
				Kind: "KafkaConsumerLag",
				Metadata: resourceMeta{
					Self:         q.url("consumer-groups", name, "lags", t, "partitions", pid),
					ResourceName: q.crn("consumer-group", name, "lag", t, "partition", pid),
				},
				ClusterID:       q.cluster,
				ConsumerGroupID: name,
				TopicName:       t,
				PartitionID:     p,
				CurrentOffset:   o.At,
				LogEndOffset:    end.Offset,
				Lag:             end.Offset - o.At,
			}
			if own, ok := owners[t][p]; ok {
				d.ConsumerID, d.InstanceID, d.ClientID = own.m.MemberID, own.m.InstanceID, own.m.ClientID
			}
			out = append(out, d)
		}
	}
	// kafka-rest's order: lag descending, then topic, then partition.
	slices.SortFunc(out, func(a, b consumerLagData) int {
		if c := cmp.Compare(b.Lag, a.Lag); c != 0 {
			return c
		}
		if c := cmp.Compare(a.TopicName, b.TopicName); c != 0 {
			return c
		}
		return cmp.Compare(a.PartitionID, b.PartitionID)
	})
	return g, out, true
}

func (s *Server) listConsumerLags(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	g, lags, ok := s.lags(w, r, q)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, newList("KafkaConsumerLagList", q.url("consumer-groups", g.Group, "lags"), lags))
}

func (s *Server) getConsumerLag(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	_, lags, ok := s.lags(w, r, q)
	if !ok {
		return
	}
	topic, partition := r.PathValue("topic_name"), r.PathValue("partition_id")
	for _, l := range lags {
		if l.TopicName == topic && strconv.Itoa(int(l.PartitionID)) == partition {
			writeJSON(w, http.StatusOK, l)
			return
		}
	}
	writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
}

type lagSummaryData struct {
	Kind              string       `json:"kind"`
	Metadata          resourceMeta `json:"metadata"`
	ClusterID         string       `json:"cluster_id"`
	ConsumerGroupID   string       `json:"consumer_group_id"`
	MaxLagConsumerID  string       `json:"max_lag_consumer_id"`
	MaxLagInstanceID  *string      `json:"max_lag_instance_id"`
	MaxLagClientID    string       `json:"max_lag_client_id"`
	MaxLagTopicName   string       `json:"max_lag_topic_name"`
	MaxLagPartitionID int32        `json:"max_lag_partition_id"`
	MaxLag            int64        `json:"max_lag"`
	TotalLag          int64        `json:"total_lag"`
	MaxLagConsumer    relationship `json:"max_lag_consumer"`
	MaxLagPartition   relationship `json:"max_lag_partition"`
}

func (s *Server) getLagSummary(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	g, lags, ok := s.lags(w, r, q)
	if !ok {
		return
	}
	d := lagSummaryData{
		Kind: "KafkaConsumerGroupLagSummary",
		Metadata: resourceMeta{
			Self:         q.url("consumer-groups", g.Group, "lag-summary"),
			ResourceName: q.crn("consumer-group", g.Group, "lag-summary"),
		},
		ClusterID:       q.cluster,
		ConsumerGroupID: g.Group,
	}
	// lags are sorted by lag descending: the first is the maximum.
	for _, l := range lags {
		d.TotalLag += l.Lag
	}
	if len(lags) > 0 {
		m := lags[0]
		d.MaxLagConsumerID, d.MaxLagInstanceID, d.MaxLagClientID = m.ConsumerID, m.InstanceID, m.ClientID
		d.MaxLagTopicName, d.MaxLagPartitionID, d.MaxLag = m.TopicName, m.PartitionID, m.Lag
	}
	d.MaxLagConsumer = relationship{q.url("consumer-groups", g.Group, "consumers", d.MaxLagConsumerID)}
	d.MaxLagPartition = relationship{q.url("topics", d.MaxLagTopicName, "partitions", strconv.Itoa(int(d.MaxLagPartitionID)))}
	writeJSON(w, http.StatusOK, d)
}

type consumerAssignmentData struct {
	Kind            string       `json:"kind"`
	Metadata        resourceMeta `json:"metadata"`
	ClusterID       string       `json:"cluster_id"`
	ConsumerGroupID string       `json:"consumer_group_id"`
	ConsumerID      string       `json:"consumer_id"`
	TopicName       string       `json:"topic_name"`
	PartitionID     int32        `json:"partition_id"`
	Partition       relationship `json:"partition"`
}

// assignments lists {consumer_id}'s partitions, sorted by topic and
// partition; on failure it has answered (404 for an unknown group or
// member).
func (s *Server) assignments(w http.ResponseWriter, r *http.Request, q *v3Request) ([]consumerAssignmentData, bool) {
	g, ok := s.group(w, r, q, msgHTTPNotFound)
	if !ok {
		return nil, false
	}
	id := r.PathValue("consumer_id")
	i := slices.IndexFunc(g.Members, func(m memberView) bool { return m.MemberID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
		return nil, false
	}
	var out []consumerAssignmentData
	for t, ps := range g.Members[i].Assigned {
		for _, p := range ps {
			pid := strconv.Itoa(int(p))
			out = append(out, consumerAssignmentData{
				Kind: "KafkaConsumerAssignment",
				Metadata: resourceMeta{
					Self:         q.url("consumer-groups", g.Group, "consumers", id, "assignments", t, "partitions", pid),
					ResourceName: q.crn("consumer-group", g.Group, "consumer", id, "assignment", t, "partition", pid),
				},
				ClusterID:       q.cluster,
				ConsumerGroupID: g.Group,
				ConsumerID:      id,
				TopicName:       t,
				PartitionID:     p,
				Partition:       relationship{q.url("topics", t, "partitions", pid)},
			})
		}
	}
	slices.SortFunc(out, func(a, b consumerAssignmentData) int {
		if c := cmp.Compare(a.TopicName, b.TopicName); c != 0 {
			return c
		}
		return cmp.Compare(a.PartitionID, b.PartitionID)
	})
	return out, true
}

func (s *Server) listConsumerAssignments(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	out, ok := s.assignments(w, r, q)
	if !ok {
		return
	}
	group, id := r.PathValue("consumer_group_id"), r.PathValue("consumer_id")
	writeJSON(w, http.StatusOK, newList("KafkaConsumerAssignmentList", q.url("consumer-groups", group, "consumers", id, "assignments"), out))
}

func (s *Server) getConsumerAssignment(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	out, ok := s.assignments(w, r, q)
	if !ok {
		return
	}
	topic, partition := r.PathValue("topic_name"), r.PathValue("partition_id")
	for _, a := range out {
		if a.TopicName == topic && strconv.Itoa(int(a.PartitionID)) == partition {
			writeJSON(w, http.StatusOK, a)
			return
		}
	}
	writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
}
