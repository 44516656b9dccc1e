package restproxy

// v3 clusters, brokers, topics, partitions and replicas
// (kafka-rest's ClustersResource, BrokersResource, TopicsResource,
// PartitionsResource, ReplicasResource).

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type clusterData struct {
	Kind                   string        `json:"kind"`
	Metadata               resourceMeta  `json:"metadata"`
	ClusterID              string        `json:"cluster_id"`
	Controller             *relationship `json:"controller,omitempty"`
	ACLs                   relationship  `json:"acls"`
	Brokers                relationship  `json:"brokers"`
	BrokerConfigs          relationship  `json:"broker_configs"`
	ConsumerGroups         relationship  `json:"consumer_groups"`
	Topics                 relationship  `json:"topics"`
	PartitionReassignments relationship  `json:"partition_reassignments"`
}

func (s *Server) cluster(q *v3Request) (clusterData, error) {
	meta, err := q.client.Admin.BrokerMetadata(q.ctx)
	if err != nil {
		return clusterData{}, err
	}
	c := clusterData{
		Kind:                   "KafkaCluster",
		Metadata:               resourceMeta{Self: q.url(), ResourceName: q.crn()},
		ClusterID:              q.cluster,
		ACLs:                   relationship{q.url("acls")},
		Brokers:                relationship{q.url("brokers")},
		BrokerConfigs:          relationship{q.url("broker-configs")},
		ConsumerGroups:         relationship{q.url("consumer-groups")},
		Topics:                 relationship{q.url("topics")},
		PartitionReassignments: relationship{q.url("topics", "-", "partitions", "-", "reassignment")},
	}
	if meta.Controller >= 0 {
		c.Controller = &relationship{q.url("brokers", strconv.Itoa(int(meta.Controller)))}
	}
	return c, nil
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	c, err := s.cluster(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList("KafkaClusterList", q.base+"/v3/clusters", []clusterData{c}))
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	c, err := s.cluster(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

type brokerData struct {
	Kind              string       `json:"kind"`
	Metadata          resourceMeta `json:"metadata"`
	ClusterID         string       `json:"cluster_id"`
	BrokerID          int32        `json:"broker_id"`
	Host              string       `json:"host"`
	Port              int32        `json:"port"`
	Rack              *string      `json:"rack"`
	Configs           relationship `json:"configs"`
	PartitionReplicas relationship `json:"partition_replicas"`
}

func toBrokerData(q *v3Request, b kadm.BrokerDetail) brokerData {
	id := strconv.Itoa(int(b.NodeID))
	return brokerData{
		Kind:              "KafkaBroker",
		Metadata:          resourceMeta{Self: q.url("brokers", id), ResourceName: q.crn("broker", id)},
		ClusterID:         q.cluster,
		BrokerID:          b.NodeID,
		Host:              b.Host,
		Port:              b.Port,
		Rack:              b.Rack,
		Configs:           relationship{q.url("brokers", id, "configs")},
		PartitionReplicas: relationship{q.url("brokers", id, "partition-replicas")},
	}
}

func (s *Server) listBrokers(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	meta, err := q.client.Admin.BrokerMetadata(q.ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var out []brokerData
	for _, b := range meta.Brokers {
		out = append(out, toBrokerData(q, b))
	}
	slices.SortFunc(out, func(a, b brokerData) int { return cmp.Compare(a.BrokerID, b.BrokerID) })
	writeJSON(w, http.StatusOK, newList("KafkaBrokerList", q.url("brokers"), out))
}

// brokerID parses the {broker_id} path value; on failure it has answered.
func brokerID(w http.ResponseWriter, r *http.Request) (int32, bool) {
	id, err := strconv.ParseInt(r.PathValue("broker_id"), 10, 32)
	if err != nil {
		writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
		return 0, false
	}
	return int32(id), true
}

func (s *Server) getBroker(w http.ResponseWriter, r *http.Request) {
	id, ok := brokerID(w, r)
	if !ok {
		return
	}
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	meta, err := q.client.Admin.BrokerMetadata(q.ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, b := range meta.Brokers {
		if b.NodeID == id {
			writeJSON(w, http.StatusOK, toBrokerData(q, b))
			return
		}
	}
	writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
}

type topicData struct {
	Kind                   string       `json:"kind"`
	Metadata               resourceMeta `json:"metadata"`
	ClusterID              string       `json:"cluster_id"`
	TopicName              string       `json:"topic_name"`
	IsInternal             bool         `json:"is_internal"`
	ReplicationFactor      int          `json:"replication_factor"`
	PartitionsCount        int          `json:"partitions_count"`
	Partitions             relationship `json:"partitions"`
	Configs                relationship `json:"configs"`
	PartitionReassignments relationship `json:"partition_reassignments"`
}

func toTopicData(q *v3Request, name string, internal bool, rf, partitions int) topicData {
	return topicData{
		Kind:                   "KafkaTopic",
		Metadata:               resourceMeta{Self: q.url("topics", name), ResourceName: q.crn("topic", name)},
		ClusterID:              q.cluster,
		TopicName:              name,
		IsInternal:             internal,
		ReplicationFactor:      rf,
		PartitionsCount:        partitions,
		Partitions:             relationship{q.url("topics", name, "partitions")},
		Configs:                relationship{q.url("topics", name, "configs")},
		PartitionReassignments: relationship{q.url("topics", name, "partitions", "-", "reassignment")},
	}
}

func topicDetailData(q *v3Request, t kadm.TopicDetail) topicData {
	rf := 0
	if p, ok := t.Partitions[0]; ok {
		rf = len(p.Replicas)
	}
	return toTopicData(q, t.Topic, t.IsInternal, rf, len(t.Partitions))
}

func (s *Server) listTopics(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	tds, err := q.client.Admin.ListTopics(q.ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var out []topicData
	for _, t := range tds.Sorted() {
		if t.Err != nil {
			continue // e.g. not authorized to describe it: not listed
		}
		out = append(out, topicDetailData(q, t))
	}
	writeJSON(w, http.StatusOK, newList("KafkaTopicList", q.url("topics"), out))
}

// topic describes one topic: 404 40403 when it does not exist.
func (q *v3Request) topic(name string) (kadm.TopicDetail, error) {
	tds, err := q.client.Admin.ListTopicsWithInternal(q.ctx, name)
	if err != nil {
		return kadm.TopicDetail{}, err
	}
	t, ok := tds[name]
	if !ok {
		return t, kerr.UnknownTopicOrPartition
	}
	if t.Err != nil {
		return t, t.Err
	}
	return t, nil
}

func (s *Server) getTopic(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	t, err := q.topic(r.PathValue("topic_name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, topicDetailData(q, t))
}

// createTopicRequest is CreateTopicRequestData.
type createTopicRequest struct {
	TopicName           string             `json:"topic_name"`
	PartitionsCount     *int32             `json:"partitions_count"`
	ReplicationFactor   *int16             `json:"replication_factor"`
	ReplicasAssignments map[string][]int32 `json:"replicas_assignments"`
	Configs             []struct {
		Name  string  `json:"name"`
		Value *string `json:"value"`
	} `json:"configs"`
	ValidateOnly bool `json:"validate_only"`
}

// validTopicName is Kafka's Topic.validate.
func validTopicName(t string) bool {
	if t == "" || t == "." || t == ".." || len(t) > 249 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// maxAdminBodyBytes bounds the body of a v3 admin request (a topic to
// create, configs to alter).
const maxAdminBodyBytes = 1 << 20

// decodeBody decodes a JSON request body; on failure it has answered as
// kafka-rest does (422 42206 for an empty body, 400 for bad JSON).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ae := decodeAdminBody(http.MaxBytesReader(w, r.Body, maxAdminBodyBytes), v); ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return false
	}
	return true
}

// decodeAdminBody decodes the JSON of a v3 admin request (body: at most
// maxAdminBodyBytes, http.MaxBytesReader's error beyond): 413 too large,
// 422 42206 empty, 400 malformed or of the wrong shape.
func decodeAdminBody(body io.Reader, v any) *apiError {
	err := json.NewDecoder(body).Decode(v)
	var tooLarge *http.MaxBytesError
	var syn *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("Request Entity Too Large: the body may not exceed %d bytes.", maxAdminBodyBytes)}
	case errors.Is(err, io.EOF):
		return invalidPayload("Request body is empty. Data is required.")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("Error processing JSON: " + err.Error())
	}
	return badRequest(jsonErrorDetail(err))
}

// parseCreateTopic reads a topic creation body (CreateTopicRequestData)
// into the CreateTopics request's topic. What Kafka checks itself (counts,
// replication factors, replica lists, configs) is left to the broker, so
// its errors and messages are Kafka's; what the request cannot even say is
// refused here: an invalid topic name (422 42206, as kafka-rest), an
// assignment key that is not a partition number, an assignment with a
// partition count or replication factor (Kafka's InvalidRequest).
func parseCreateTopic(body io.Reader) (createTopicRequest, kmsg.CreateTopicsRequestTopic, *apiError) {
	var req createTopicRequest
	rt := kmsg.NewCreateTopicsRequestTopic()
	if ae := decodeAdminBody(body, &req); ae != nil {
		return req, rt, ae
	}
	if !validTopicName(req.TopicName) {
		return req, rt, invalidPayload("Invalid topic name.")
	}
	rt.Topic = req.TopicName
	rt.NumPartitions, rt.ReplicationFactor = -1, -1
	if req.PartitionsCount != nil {
		rt.NumPartitions = *req.PartitionsCount
	}
	if req.ReplicationFactor != nil {
		rt.ReplicationFactor = *req.ReplicationFactor
	}
	if len(req.ReplicasAssignments) > 0 {
		if req.PartitionsCount != nil || req.ReplicationFactor != nil {
			return req, rt, &apiError{http.StatusBadRequest, codeKafkaBadRequest,
				"Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."}
		}
		for p, replicas := range req.ReplicasAssignments {
			id, err := strconv.ParseInt(p, 10, 32)
			if err != nil {
				return req, rt, badRequest(fmt.Sprintf("replicas_assignments key %q is not a partition id", p))
			}
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(id), replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		slices.SortFunc(rt.ReplicaAssignment, func(a, b kmsg.CreateTopicsRequestTopicReplicaAssignment) int {
			return cmp.Compare(a.Partition, b.Partition)
		})
	}
	for _, c := range req.Configs {
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = c.Name, c.Value
		rt.Configs = append(rt.Configs, rc)
	}
	return req, rt, nil
}

func (s *Server) createTopic(w http.ResponseWriter, r *http.Request) {
	body, rt, ae := parseCreateTopic(http.MaxBytesReader(w, r.Body, maxAdminBodyBytes))
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.ValidateOnly = body.ValidateOnly
	req.TimeoutMillis = int32(v3Timeout.Milliseconds())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(q.ctx, q.client.Kgo)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(resp.Topics) != 1 {
		writeError(w, http.StatusInternalServerError, codeKafkaError, "Kafka error: CreateTopics answered no topic")
		return
	}
	res := resp.Topics[0]
	if err := kerr.ErrorForCode(res.ErrorCode); err != nil {
		msg := ""
		if res.ErrorMessage != nil {
			msg = *res.ErrorMessage
		}
		if err == kerr.TopicAlreadyExists && msg == "" {
			msg = fmt.Sprintf("Topic '%s' already exists.", body.TopicName)
		}
		ae := kafkaError(err, msg)
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	partitions, rf := int(res.NumPartitions), int(res.ReplicationFactor)
	if len(body.ReplicasAssignments) > 0 && partitions <= 0 {
		partitions = len(body.ReplicasAssignments)
		for _, rs := range body.ReplicasAssignments {
			rf = len(rs)
			break
		}
	}
	if partitions < 0 && body.PartitionsCount != nil {
		partitions = int(*body.PartitionsCount)
	}
	if rf < 0 {
		rf = 0
		if body.ReplicationFactor != nil {
			rf = int(*body.ReplicationFactor)
		}
	}
	td := toTopicData(q, body.TopicName, false, rf, max(partitions, 0))
	status := http.StatusCreated
	if body.ValidateOnly {
		status = http.StatusOK
	}
	w.Header().Set("Location", td.Metadata.Self)
	writeJSON(w, status, td)
}

func (s *Server) deleteTopic(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	name := r.PathValue("topic_name")
	resps, err := q.client.Admin.DeleteTopics(q.ctx, name)
	if err == nil {
		if res, ok := resps[name]; ok && res.Err != nil {
			ae := kafkaError(res.Err, res.ErrMessage)
			writeError(w, ae.status, ae.code, ae.msg)
			return
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type partitionData struct {
	Kind         string        `json:"kind"`
	Metadata     resourceMeta  `json:"metadata"`
	ClusterID    string        `json:"cluster_id"`
	TopicName    string        `json:"topic_name"`
	PartitionID  int32         `json:"partition_id"`
	Leader       *relationship `json:"leader,omitempty"`
	Replicas     relationship  `json:"replicas"`
	Reassignment relationship  `json:"reassignment"`
}

func toPartitionData(q *v3Request, p kadm.PartitionDetail) partitionData {
	id := strconv.Itoa(int(p.Partition))
	d := partitionData{
		Kind:         "KafkaPartition",
		Metadata:     resourceMeta{Self: q.url("topics", p.Topic, "partitions", id), ResourceName: q.crn("topic", p.Topic, "partition", id)},
		ClusterID:    q.cluster,
		TopicName:    p.Topic,
		PartitionID:  p.Partition,
		Replicas:     relationship{q.url("topics", p.Topic, "partitions", id, "replicas")},
		Reassignment: relationship{q.url("topics", p.Topic, "partitions", id, "reassignment")},
	}
	if p.Leader >= 0 {
		d.Leader = &relationship{q.url("topics", p.Topic, "partitions", id, "replicas", strconv.Itoa(int(p.Leader)))}
	}
	return d
}

func (s *Server) listPartitions(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	name := r.PathValue("topic_name")
	t, err := q.topic(name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var out []partitionData
	for _, p := range t.Partitions.Sorted() {
		out = append(out, toPartitionData(q, p))
	}
	writeJSON(w, http.StatusOK, newList("KafkaPartitionList", q.url("topics", name, "partitions"), out))
}

// partition finds {topic_name}/{partition_id}; on failure it has answered
// (40403 for an unknown topic as kafka-rest's PartitionManager words it,
// 404 for an unknown partition of a known topic).
func (s *Server) partition(w http.ResponseWriter, r *http.Request, q *v3Request) (kadm.PartitionDetail, bool) {
	name := r.PathValue("topic_name")
	id, perr := strconv.ParseInt(r.PathValue("partition_id"), 10, 32)
	if perr != nil {
		writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
		return kadm.PartitionDetail{}, false
	}
	t, err := q.topic(name)
	if err != nil {
		ae := kafkaError(err, "")
		if ae.code == codeUnknownTopicOrPart {
			ae.msg = fmt.Sprintf("This server does not host topic-partition %d for topic %s", id, name)
		}
		writeError(w, ae.status, ae.code, ae.msg)
		return kadm.PartitionDetail{}, false
	}
	p, ok := t.Partitions[int32(id)]
	if !ok {
		writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
		return p, false
	}
	return p, true
}

func (s *Server) getPartition(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	p, ok := s.partition(w, r, q)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, toPartitionData(q, p))
}

type replicaData struct {
	Kind        string       `json:"kind"`
	Metadata    resourceMeta `json:"metadata"`
	ClusterID   string       `json:"cluster_id"`
	TopicName   string       `json:"topic_name"`
	PartitionID int32        `json:"partition_id"`
	BrokerID    int32        `json:"broker_id"`
	IsLeader    bool         `json:"is_leader"`
	IsInSync    bool         `json:"is_in_sync"`
	Broker      relationship `json:"broker"`
}

func replicas(q *v3Request, p kadm.PartitionDetail) []replicaData {
	pid := strconv.Itoa(int(p.Partition))
	var out []replicaData
	for _, b := range p.Replicas {
		bid := strconv.Itoa(int(b))
		out = append(out, replicaData{
			Kind: "KafkaReplica",
			Metadata: resourceMeta{
				Self:         q.url("topics", p.Topic, "partitions", pid, "replicas", bid),
				ResourceName: q.crn("topic", p.Topic, "partition", pid, "replica", bid),
			},
			ClusterID:   q.cluster,
			TopicName:   p.Topic,
			PartitionID: p.Partition,
			BrokerID:    b,
			IsLeader:    b == p.Leader,
			IsInSync:    slices.Contains(p.ISR, b),
			Broker:      relationship{q.url("brokers", bid)},
		})
	}
	return out
}

func (s *Server) listReplicas(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	p, ok := s.partition(w, r, q)
	if !ok {
		return
	}
	self := q.url("topics", p.Topic, "partitions", strconv.Itoa(int(p.Partition)), "replicas")
	writeJSON(w, http.StatusOK, newList("KafkaReplicaList", self, replicas(q, p)))
}

func (s *Server) getReplica(w http.ResponseWriter, r *http.Request) {
	id, ok := brokerID(w, r)
	if !ok {
		return
	}
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	p, ok := s.partition(w, r, q)
	if !ok {
		return
	}
	for _, rd := range replicas(q, p) {
		if rd.BrokerID == id {
			writeJSON(w, http.StatusOK, rd)
			return
		}
	}
	writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
}

// listBrokerReplicas answers every partition replica a broker holds
// (kafka-rest's SearchReplicasByBrokerAction, which brokers link to as
// "partition_replicas"), sorted by topic and partition.
func (s *Server) listBrokerReplicas(w http.ResponseWriter, r *http.Request) {
	id, ok := brokerID(w, r)
	if !ok {
		return
	}
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	meta, err := q.client.Admin.Metadata(q.ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.ContainsFunc(meta.Brokers, func(b kadm.BrokerDetail) bool { return b.NodeID == id }) {
		writeError(w, http.StatusNotFound, 0, msgHTTPNotFound)
		return
	}
	var out []replicaData
	for _, t := range meta.Topics.Sorted() {
		if t.Err != nil {
			continue
		}
		for _, p := range t.Partitions.Sorted() {
			for _, rd := range replicas(q, p) {
				if rd.BrokerID == id {
					out = append(out, rd)
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, newList("KafkaReplicaList", q.url("brokers", strconv.Itoa(int(id)), "partition-replicas"), out))
}
