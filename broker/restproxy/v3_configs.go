package restproxy

// v3 topic and broker configs (kafka-rest's TopicConfigsResource,
// AlterTopicConfigBatchAction, BrokerConfigsResource). Describe goes
// through kmsg DescribeConfigs (kadm's Config has no read-only flag);
// alterations through kadm's incremental AlterConfigs.

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type configSynonym struct {
	Name   string  `json:"name"`
	Value  *string `json:"value"`
	Source string  `json:"source"`
}

// configData is TopicConfigData or BrokerConfigData: TopicName or
// BrokerID is set.
type configData struct {
	Kind        string          `json:"kind"`
	Metadata    resourceMeta    `json:"metadata"`
	ClusterID   string          `json:"cluster_id"`
	TopicName   string          `json:"topic_name,omitempty"`
	BrokerID    *int32          `json:"broker_id,omitempty"`
	Name        string          `json:"name"`
	Value       *string         `json:"value"`
	IsDefault   bool            `json:"is_default"`
	IsReadOnly  bool            `json:"is_read_only"`
	IsSensitive bool            `json:"is_sensitive"`
	Source      string          `json:"source"`
	Synonyms    []configSynonym `json:"synonyms"`
}

// describeConfigs describes one topic's or broker's configs, by name.
func (q *v3Request) describeConfigs(typ kmsg.ConfigResourceType, name string) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = typ, name
	req.Resources = append(req.Resources, res)
	req.IncludeSynonyms = true
	resp, err := req.RequestWith(q.ctx, q.client.Kgo)
	if err != nil {
		return nil, err
	}
	if len(resp.Resources) != 1 {
		return nil, fmt.Errorf("restproxy: DescribeConfigs answered %d resources", len(resp.Resources))
	}
	rr := resp.Resources[0]
	if err := kerr.ErrorForCode(rr.ErrorCode); err != nil {
		msg := ""
		if rr.ErrorMessage != nil {
			msg = *rr.ErrorMessage
		}
		return nil, kafkaError(err, msg)
	}
	cs := rr.Configs
	slices.SortFunc(cs, func(a, b kmsg.DescribeConfigsResponseResourceConfig) int { return cmp.Compare(a.Name, b.Name) })
	return cs, nil
}

func toConfigData(q *v3Request, kind, self, crn string, c kmsg.DescribeConfigsResponseResourceConfig) configData {
	d := configData{
		Kind:        kind,
		Metadata:    resourceMeta{Self: self, ResourceName: crn},
		ClusterID:   q.cluster,
		Name:        c.Name,
		Value:       c.Value,
		IsDefault:   c.Source == kmsg.ConfigSourceDefaultConfig || c.IsDefault,
		IsReadOnly:  c.ReadOnly,
		IsSensitive: c.IsSensitive,
		Source:      c.Source.String(),
		Synonyms:    []configSynonym{},
	}
	for _, syn := range c.ConfigSynonyms {
		d.Synonyms = append(d.Synonyms, configSynonym{Name: syn.Name, Value: syn.Value, Source: syn.Source.String()})
	}
	return d
}

func topicConfigData(q *v3Request, topic string, c kmsg.DescribeConfigsResponseResourceConfig) configData {
	d := toConfigData(q, "KafkaTopicConfig", q.url("topics", topic, "configs", c.Name), q.crn("topic", topic, "config", c.Name), c)
	d.TopicName = topic
	return d
}

func brokerConfigData(q *v3Request, broker int32, c kmsg.DescribeConfigsResponseResourceConfig) configData {
	id := strconv.Itoa(int(broker))
	d := toConfigData(q, "KafkaBrokerConfig", q.url("brokers", id, "configs", c.Name), q.crn("broker", id, "config", c.Name), c)
	d.BrokerID = &broker
	return d
}

func (s *Server) listTopicConfigs(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	topic := r.PathValue("topic_name")
	cs, err := q.describeConfigs(kmsg.ConfigResourceTypeTopic, topic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]configData, 0, len(cs))
	for _, c := range cs {
		out = append(out, topicConfigData(q, topic, c))
	}
	writeJSON(w, http.StatusOK, newList("KafkaTopicConfigList", q.url("topics", topic, "configs"), out))
}

func (s *Server) getTopicConfig(w http.ResponseWriter, r *http.Request) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	topic, name := r.PathValue("topic_name"), r.PathValue("name")
	cs, err := q.describeConfigs(kmsg.ConfigResourceTypeTopic, topic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, c := range cs {
		if c.Name == name {
			writeJSON(w, http.StatusOK, topicConfigData(q, topic, c))
			return
		}
	}
	writeError(w, http.StatusNotFound, 0, fmt.Sprintf("Config %s cannot be found for topic %s in cluster %s.", name, topic, q.cluster))
}

func (s *Server) listBrokerConfigs(w http.ResponseWriter, r *http.Request) {
	id, ok := brokerID(w, r)
	if !ok {
		return
	}
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	cs, err := q.describeConfigs(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(id)))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]configData, 0, len(cs))
	for _, c := range cs {
		out = append(out, brokerConfigData(q, id, c))
	}
	writeJSON(w, http.StatusOK, newList("KafkaBrokerConfigList", q.url("brokers", strconv.Itoa(int(id)), "configs"), out))
}

func (s *Server) getBrokerConfig(w http.ResponseWriter, r *http.Request) {
	id, ok := brokerID(w, r)
	if !ok {
		return
	}
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	name := r.PathValue("name")
	cs, err := q.describeConfigs(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(id)))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, c := range cs {
		if c.Name == name {
			writeJSON(w, http.StatusOK, brokerConfigData(q, id, c))
			return
		}
	}
	writeError(w, http.StatusNotFound, 0, fmt.Sprintf("Config %s cannot be found for broker %d in cluster %s.", name, id, q.cluster))
}

// alterTopicConfigs applies incremental alterations to one topic.
func (s *Server) alterTopicConfigs(w http.ResponseWriter, r *http.Request, alters []kadm.AlterConfig, validateOnly bool) {
	q, cancel := s.begin(w, r)
	if q == nil {
		return
	}
	defer cancel()
	topic := r.PathValue("topic_name")
	alter := q.client.Admin.AlterTopicConfigs
	if validateOnly {
		alter = q.client.Admin.ValidateAlterTopicConfigs
	}
	resps, err := alter(q.ctx, alters, topic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, res := range resps {
		if res.Err != nil {
			ae := kafkaError(res.Err, res.ErrMessage)
			writeError(w, ae.status, ae.code, ae.msg)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) updateTopicConfig(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Value *string `json:"value"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.alterTopicConfigs(w, r, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: r.PathValue("name"), Value: body.Value}}, false)
}

func (s *Server) resetTopicConfig(w http.ResponseWriter, r *http.Request) {
	s.alterTopicConfigs(w, r, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: r.PathValue("name")}}, false)
}

func (s *Server) alterTopicConfigBatch(w http.ResponseWriter, r *http.Request) {
	alters, validateOnly, ae := parseAlterConfigBatch(http.MaxBytesReader(w, r.Body, maxAdminBodyBytes))
	if ae != nil {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	s.alterTopicConfigs(w, r, alters, validateOnly)
}

// parseAlterConfigBatch reads a configs:alter body
// (AlterTopicConfigBatchRequestData): {"data":[{"name","value","operation"}],
// "validate_only"}; operation SET (the default) or DELETE. Names and values
// are the broker's to judge.
func parseAlterConfigBatch(body io.Reader) (alters []kadm.AlterConfig, validateOnly bool, _ *apiError) {
	var req struct {
		Data []struct {
			Name      string  `json:"name"`
			Value     *string `json:"value"`
			Operation *string `json:"operation"`
		} `json:"data"`
		ValidateOnly bool `json:"validate_only"`
	}
	if ae := decodeAdminBody(body, &req); ae != nil {
		return nil, false, ae
	}
	for _, d := range req.Data {
		op := kadm.SetConfig
		if d.Operation != nil {
			switch strings.ToUpper(*d.Operation) {
			case "SET":
			case "DELETE":
				op = kadm.DeleteConfig
			default:
				return nil, false, badRequest(fmt.Sprintf("unknown operation %q (SET or DELETE)", *d.Operation))
			}
		}
		alters = append(alters, kadm.AlterConfig{Op: op, Name: d.Name, Value: d.Value})
	}
	return alters, req.ValidateOnly, nil
}
