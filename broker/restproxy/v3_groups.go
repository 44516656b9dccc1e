package restproxy

// v3 consumer groups, consumers, lags and lag summary (kafka-rest's
// ConsumerGroupsResource, ConsumersResource, ConsumerLagsResource,
// ConsumerGroupLagSummariesResource). Groups are described with the
// classic DescribeGroups API; lags compare committed offsets with the
// read-committed end offsets, as kafka-rest does.

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

func toConsumerGroupData(q *v3Request, g kadm.DescribedGroup) consumerGroupData {
	return consumerGroupData{
		Kind:              "KafkaConsumerGroup",
		Metadata:          resourceMeta{Self: q.url("consumer-groups", g.Group), ResourceName: q.crn("consumer-group", g.Group)},
		ClusterID:         q.cluster,
		ConsumerGroupID:   g.Group,
		IsSimple:          g.ProtocolType == "",
		PartitionAssignor: g.Protocol,
		State:             groupState(g.State),
		Type:              "CLASSIC",
		Coordinator:       relationship{q.url("brokers", strconv.Itoa(int(g.Coordinator.NodeID)))},
		Consumers:         relationship{q.url("consumer-groups", g.Group, "consumers")},
		LagSummary:        relationship{q.url("consumer-groups", g.Group, "lag-summary")},
	}
}

// groupExists says whether a described group is a real one (Kafka
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
		described, err := q.client.Admin.DescribeGroups(q.ctx, names...)
		if err != nil && len(described) == 0 {
			s.fail(w, r, err)
			return
		}
		for _, g := range described {
			if groupExists(g) {
				out = append(out, toConsumerGroupData(q, g))
			}
		}
	}
	slices.SortFunc(out, func(a, b consumerGroupData) int { return cmp.Compare(a.ConsumerGroupID, b.ConsumerGroupID) })
	writeJSON(w, http.StatusOK, newList("KafkaConsumerGroupList", q.url("consumer-groups"), out))
}

// group describes {consumer_group_id}; on failure it has answered (404
// with notFoundMsg for an unknown group).
func (s *Server) group(w http.ResponseWriter, r *http.Request, q *v3Request, notFoundMsg string) (kadm.DescribedGroup, bool) {
	name := r.PathValue("consumer_group_id")
	described, err := q.client.Admin.DescribeGroups(q.ctx, name)
	g, ok := described[name]
	if err != nil && !ok {
		s.fail(w, r, err)
		return g, false
	}
	if !ok || errors.Is(g.Err, kerr.GroupIDNotFound) || (g.Err == nil && !groupExists(g)) {
		writeError(w, http.StatusNotFound, 0, notFoundMsg)
		return g, false
	}
	if g.Err != nil {
		ae := kafkaError(g.Err, g.ErrMessage)
		writeError(w, ae.status, ae.code, ae.msg)
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

func toConsumerData(q *v3Request, group string, m kadm.DescribedGroupMember) consumerData {
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
func (s *Server) lags(w http.ResponseWriter, r *http.Request, q *v3Request) (kadm.DescribedGroup, []consumerLagData, bool) {
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
	type owner struct{ m kadm.DescribedGroupMember }
	owners := map[string]map[int32]owner{}
	for _, m := range g.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range a.Topics {
			if owners[t.Topic] == nil {
				owners[t.Topic] = map[int32]owner{}
			}
			for _, p := range t.Partitions {
				owners[t.Topic][p] = owner{m}
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
