package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/webclient"
)

// topicSummary is a row of GET /api/topics.
type topicSummary struct {
	Name              string  `json:"name"`
	Internal          bool    `json:"internal"`
	Partitions        int     `json:"partitions"`
	ReplicationFactor int     `json:"replication_factor"`
	SizeBytes         int64   `json:"size_bytes"`
	Messages          int64   `json:"messages"`
	UnderReplicated   int     `json:"under_replicated"`
	BytesInPerSec     float64 `json:"bytes_in_per_sec"`
	RecordsInPerSec   float64 `json:"records_in_per_sec"`
}

// partitionInfo is a partition of GET /api/topics/{topic}.
type partitionInfo struct {
	Partition     int32   `json:"partition"`
	Leader        int32   `json:"leader"`
	LeaderEpoch   int32   `json:"leader_epoch"`
	Replicas      []int32 `json:"replicas"`
	ISR           []int32 `json:"isr"`
	Offline       []int32 `json:"offline"`
	LogStart      int64   `json:"log_start"`
	HighWatermark int64   `json:"high_watermark"`
	SizeBytes     int64   `json:"size_bytes"`
}

type configEntry struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive"`
	ReadOnly  bool    `json:"read_only"`
	Default   bool    `json:"default"`
}

type topicDetail struct {
	Name       string          `json:"name"`
	Internal   bool            `json:"internal"`
	SizeBytes  int64           `json:"size_bytes"`
	Messages   int64           `json:"messages"`
	Partitions []partitionInfo `json:"partitions"`
	Configs    []configEntry   `json:"configs"`
}

// topicFacts are the offsets and sizes of a set of topics.
type topicFacts struct {
	start, end kadm.ListedOffsets
	// size is each partition's size: the leader's replica when it reports
	// one, else the largest replica.
	size map[string]map[int32]int64
}

// gatherFacts lists start and end offsets and log dir sizes of topics
// (all partitions of each). Sizes are best effort: a broker that cannot
// describe its log dirs leaves them 0.
func gatherFacts(ctx context.Context, adm *kadm.Client, md kadm.Metadata, topics []string) (topicFacts, error) {
	f := topicFacts{size: map[string]map[int32]int64{}}
	if len(topics) == 0 {
		return f, nil
	}
	var err error
	if f.start, err = adm.ListStartOffsets(ctx, topics...); err != nil {
		return f, err
	}
	if f.end, err = adm.ListEndOffsets(ctx, topics...); err != nil {
		return f, err
	}
	set := kadm.TopicsSet{}
	for _, t := range topics {
		for p := range md.Topics[t].Partitions {
			set.Add(t, p) // a topic without partitions asks for none
		}
	}
	// Sizes need cluster DESCRIBE, and a broker may fail to answer: show
	// what could be had (0 otherwise) rather than fail the page.
	dirs, err := adm.DescribeAllLogDirs(ctx, set)
	if err != nil {
		if _, ok := errors.AsType[*kadm.ShardErrors](err); !ok {
			return f, nil
		}
	}
	fromLeader := map[string]map[int32]bool{}
	for broker, ds := range dirs {
		for _, d := range ds {
			for t, ps := range d.Topics {
				for p, dp := range ps {
					if f.size[t] == nil {
						f.size[t], fromLeader[t] = map[int32]int64{}, map[int32]bool{}
					}
					switch {
					case md.Topics[t].Partitions[p].Leader == broker:
						f.size[t][p], fromLeader[t][p] = dp.Size, true
					case !fromLeader[t][p]:
						f.size[t][p] = max(f.size[t][p], dp.Size)
					}
				}
			}
		}
	}
	return f, nil
}

func (f topicFacts) offsets(t string, p int32) (start, end int64) {
	start, end = -1, -1
	if o, ok := f.start.Lookup(t, p); ok && o.Err == nil {
		start = o.Offset
	}
	if o, ok := f.end.Lookup(t, p); ok && o.Err == nil {
		end = o.Offset
	}
	return start, end
}

func (f topicFacts) messages(td kadm.TopicDetail) int64 {
	var n int64
	for p := range td.Partitions {
		if s, e := f.offsets(td.Topic, p); s >= 0 && e >= s {
			n += e - s
		}
	}
	return n
}

func (f topicFacts) sizeOf(t string) int64 {
	var n int64
	for _, s := range f.size[t] {
		n += s
	}
	return n
}

func underReplicated(pd kadm.PartitionDetail) bool {
	return len(pd.ISR) < len(pd.Replicas)
}

func (s *Server) summarize(td kadm.TopicDetail, f topicFacts) topicSummary {
	ts := topicSummary{Name: td.Topic, Internal: td.IsInternal, Partitions: len(td.Partitions),
		SizeBytes: f.sizeOf(td.Topic), Messages: f.messages(td)}
	for _, pd := range td.Partitions {
		ts.ReplicationFactor = max(ts.ReplicationFactor, len(pd.Replicas))
		if underReplicated(pd) {
			ts.UnderReplicated++
		}
	}
	tp := s.tp.latest(td.Topic)
	ts.BytesInPerSec, ts.RecordsInPerSec = tp.BytesInPerSec, tp.RecordsInPerSec
	return ts
}

func (s *Server) listTopics(w http.ResponseWriter, r *http.Request) error {
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	md, err := cl.Admin.Metadata(r.Context())
	if err != nil {
		return err
	}
	var names []string
	for name, td := range md.Topics {
		if td.Err == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	f, err := gatherFacts(r.Context(), cl.Admin, md, names)
	if err != nil {
		return err
	}
	out := make([]topicSummary, 0, len(names))
	for _, name := range names {
		out = append(out, s.summarize(md.Topics[name], f))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type createTopicRequest struct {
	Name              string             `json:"name"`
	Partitions        int32              `json:"partitions"`
	ReplicationFactor int16              `json:"replication_factor"`
	Configs           map[string]*string `json:"configs"`
}

// validTopicName is Kafka's rule (Topic.validate): 1–249 of [a-zA-Z0-9._-],
// not "." or "..".
func validTopicName(name string) error {
	if name == "" {
		return badRequest("topic name is empty")
	}
	if name == "." || name == ".." {
		return badRequest("topic name cannot be %q", name)
	}
	if len(name) > 249 {
		return badRequest("topic name is longer than 249 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return badRequest("topic name %q: only ASCII letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

func (s *Server) createTopic(w http.ResponseWriter, r *http.Request) error {
	var req createTopicRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if err := validTopicName(req.Name); err != nil {
		return err
	}
	// 0 (absent) or -1: the broker's default.
	if req.Partitions == 0 {
		req.Partitions = -1
	}
	if req.ReplicationFactor == 0 {
		req.ReplicationFactor = -1
	}
	if req.Partitions < -1 || req.ReplicationFactor < -1 {
		return badRequest("partitions and replication_factor must be positive (or -1 for the broker's default)")
	}
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	resp, err := cl.Admin.CreateTopic(r.Context(), req.Partitions, req.ReplicationFactor, req.Configs, req.Name)
	if err != nil {
		return withMessage(err, resp.ErrMessage)
	}
	out := topicSummary{Name: req.Name, Partitions: int(resp.NumPartitions), ReplicationFactor: int(resp.ReplicationFactor)}
	if md, err := cl.Admin.Metadata(r.Context(), req.Name); err == nil {
		if td, ok := md.Topics[req.Name]; ok && td.Err == nil {
			out.Partitions = len(td.Partitions)
			out.Internal = td.IsInternal
			for _, pd := range td.Partitions {
				out.ReplicationFactor = max(out.ReplicationFactor, len(pd.Replicas))
			}
		}
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// withMessage adds the broker's error message to err.
func withMessage(err error, msg string) error {
	if msg == "" || strings.Contains(err.Error(), msg) {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}

// topicMetadata describes one topic: 404 when the broker does not know it.
func topicMetadata(ctx context.Context, cl *webclient.Client, topic string) (kadm.Metadata, kadm.TopicDetail, error) {
	md, err := cl.Admin.Metadata(ctx, topic)
	if err != nil {
		return md, kadm.TopicDetail{}, err
	}
	td, ok := md.Topics[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return md, td, notFound("topic %q not found", topic)
	}
	if td.Err != nil {
		return md, td, td.Err
	}
	return md, td, nil
}

func (s *Server) getTopic(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	md, td, err := topicMetadata(r.Context(), cl, topic)
	if err != nil {
		return err
	}
	f, err := gatherFacts(r.Context(), cl.Admin, md, []string{topic})
	if err != nil {
		return err
	}
	out := topicDetail{Name: topic, Internal: td.IsInternal, SizeBytes: f.sizeOf(topic), Messages: f.messages(td),
		Partitions: []partitionInfo{}}
	for _, pd := range td.Partitions.Sorted() {
		start, end := f.offsets(topic, pd.Partition)
		out.Partitions = append(out.Partitions, partitionInfo{Partition: pd.Partition, Leader: pd.Leader,
			LeaderEpoch: pd.LeaderEpoch, Replicas: orEmpty(pd.Replicas), ISR: orEmpty(pd.ISR),
			Offline: orEmpty(pd.OfflineReplicas), LogStart: start, HighWatermark: end,
			SizeBytes: f.size[topic][pd.Partition]})
	}
	// A user allowed to describe the topic but not its configs still sees
	// the rest of the page.
	if out.Configs, err = topicConfigs(r.Context(), cl, topic); err != nil {
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			return err
		}
		out.Configs = []configEntry{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// topicConfigs describes a topic's configs with DescribeConfigs itself
// (kadm's Config has no read-only flag).
func topicConfigs(ctx context.Context, cl *webclient.Client, topic string) ([]configEntry, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeTopic
	res.ResourceName = topic
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl.Kgo)
	if err != nil {
		return nil, err
	}
	out := []configEntry{}
	for _, rr := range resp.Resources {
		if err := kerr.ErrorForCode(rr.ErrorCode); err != nil {
			if rr.ErrorMessage != nil {
				return nil, withMessage(err, *rr.ErrorMessage)
			}
			return nil, err
		}
		for _, c := range rr.Configs {
			out = append(out, configEntry{Name: c.Name, Value: c.Value, Source: configSourceName(c.Source),
				Sensitive: c.IsSensitive, ReadOnly: c.ReadOnly, Default: c.Source == kmsg.ConfigSourceDefaultConfig})
		}
	}
	slices.SortFunc(out, func(a, b configEntry) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// configSourceName is Kafka's ConfigSource name (as kafka-configs prints
// it).
func configSourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "DYNAMIC_TOPIC_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "DYNAMIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "STATIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDefaultConfig:
		return "DEFAULT_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerLoggerConfig:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	case kmsg.ConfigSourceClientMetricsConfig:
		return "CLIENT_METRICS_CONFIG"
	case kmsg.ConfigSourceGroupConfig:
		return "GROUP_CONFIG"
	}
	return "UNKNOWN"
}

func (s *Server) deleteTopic(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	resp, err := cl.Admin.DeleteTopic(r.Context(), topic)
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return notFound("topic %q not found", topic)
		}
		return withMessage(err, resp.ErrMessage)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) putTopicConfigs(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	var req map[string]*string
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if len(req) == 0 {
		return badRequest("no configs given")
	}
	var alters []kadm.AlterConfig
	for name, v := range req {
		if name == "" {
			return badRequest("config name is empty")
		}
		op := kadm.SetConfig
		if v == nil {
			op = kadm.DeleteConfig
		}
		alters = append(alters, kadm.AlterConfig{Op: op, Name: name, Value: v})
	}
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	resps, err := cl.Admin.AlterTopicConfigs(r.Context(), alters, topic)
	if err != nil {
		return err
	}
	for _, rr := range resps {
		if rr.Err != nil {
			if errors.Is(rr.Err, kerr.UnknownTopicOrPartition) {
				return notFound("topic %q not found", topic)
			}
			return withMessage(rr.Err, rr.ErrMessage)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getThroughput(w http.ResponseWriter, r *http.Request) error {
	topic := r.PathValue("topic")
	cl, err := s.client(r)
	if err != nil {
		return err
	}
	// The topic must exist (and be visible to this principal).
	if _, _, err := topicMetadata(r.Context(), cl, topic); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"interval_ms": s.tp.interval.Milliseconds(),
		"points":      s.tp.points(topic),
	})
	return nil
}

// partitionKey is a partition number as a JSON object key.
func partitionKey(p int32) string { return strconv.Itoa(int(p)) }
