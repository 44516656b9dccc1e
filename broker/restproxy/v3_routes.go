package restproxy

import (
	"mime"
	"net/http"
	"strings"
)

// registerV3 adds the v3 API's routes.
func (s *Server) registerV3(mux *http.ServeMux) {
	const c = "/v3/clusters/{cluster_id}"
	const t = c + "/topics/{topic_name}"
	const g = c + "/consumer-groups/{consumer_group_id}"
	routes := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /v3/clusters", s.listClusters},
		{"GET " + c, s.getCluster},
		{"GET " + c + "/brokers", s.listBrokers},
		{"GET " + c + "/brokers/{broker_id}", s.getBroker},
		{"GET " + c + "/brokers/{broker_id}/configs", s.listBrokerConfigs},
		{"GET " + c + "/brokers/{broker_id}/configs/{name}", s.getBrokerConfig},
		{"GET " + c + "/brokers/{broker_id}/partition-replicas", s.listBrokerReplicas},
		{"GET " + c + "/topics", s.listTopics},
		{"POST " + c + "/topics", s.createTopic},
		{"GET " + t, s.getTopic},
		{"DELETE " + t, s.deleteTopic},
		{"GET " + t + "/partitions", s.listPartitions},
		{"GET " + t + "/partitions/{partition_id}", s.getPartition},
		{"GET " + t + "/partitions/{partition_id}/replicas", s.listReplicas},
		{"GET " + t + "/partitions/{partition_id}/replicas/{broker_id}", s.getReplica},
		{"GET " + t + "/configs", s.listTopicConfigs},
		{"GET " + t + "/configs/{name}", s.getTopicConfig},
		{"PUT " + t + "/configs/{name}", s.updateTopicConfig},
		{"DELETE " + t + "/configs/{name}", s.resetTopicConfig},
		{"POST " + t + "/configs:alter", s.alterTopicConfigBatch},
		{"POST " + t + "/records", s.produceRecords},
		{"GET " + c + "/consumer-groups", s.listConsumerGroups},
		{"GET " + g, s.getConsumerGroup},
		{"GET " + g + "/consumers", s.listConsumers},
		{"GET " + g + "/consumers/{consumer_id}", s.getConsumer},
		{"GET " + g + "/consumers/{consumer_id}/assignments", s.listConsumerAssignments},
		{"GET " + g + "/consumers/{consumer_id}/assignments/{topic_name}/partitions/{partition_id}", s.getConsumerAssignment},
		{"GET " + g + "/lags", s.listConsumerLags},
		{"GET " + g + "/lags/{topic_name}/partitions/{partition_id}", s.getConsumerLag},
		{"GET " + g + "/lag-summary", s.getLagSummary},
	}
	for _, rt := range routes {
		h := rt.h
		if strings.HasPrefix(rt.pattern, "POST ") || strings.HasPrefix(rt.pattern, "PUT ") {
			h = consumesJSON(h)
		}
		mux.HandleFunc(rt.pattern, h)
	}
}

// consumesJSON answers 415 unless the request's body is application/json
// (or untyped), as JAX-RS does for kafka-rest's v3 resources
// (@Consumes(MediaType.APPLICATION_JSON)) before the resource runs: a body
// is only parsed as JSON when it says it is. This also keeps browsers'
// "simple" requests (text/plain, form encodings), which need no CORS
// preflight, from reaching the API.
func consumesJSON(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || !strings.EqualFold(mt, "application/json") {
				writeError(w, http.StatusUnsupportedMediaType, 0, "HTTP 415 Unsupported Media Type")
				return
			}
		}
		h(w, r)
	}
}
