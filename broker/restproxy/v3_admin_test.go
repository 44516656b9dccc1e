package restproxy_test

import (
	"net/http"
	"strings"
	"testing"
)

// clusterID reads the cluster id the proxy reports.
func clusterID(t *testing.T, p *proxy) string {
	t.Helper()
	r := p.do(t, "GET", "/v3/clusters", nil)
	wantStatus(t, r, http.StatusOK)
	id, _ := field(r.JSON(t), "data", "0", "cluster_id").(string)
	if id == "" {
		t.Fatalf("no cluster id: %s", r.Body)
	}
	return id
}

// wantFields checks string fields of a decoded JSON object.
func wantFields(t *testing.T, v any, want map[string]string) {
	t.Helper()
	for path, w := range want {
		got := field(v, strings.Split(path, ".")...)
		if s, _ := got.(string); s != w {
			t.Errorf("%s = %v, want %q", path, got, w)
		}
	}
}

func TestV3ClustersAndBrokers(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	base := p.URL + "/v3/clusters/" + cid

	r := p.do(t, "GET", "/v3/clusters", nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	v := r.JSON(t)
	wantFields(t, v, map[string]string{
		"kind":                                   "KafkaClusterList",
		"metadata.self":                          p.URL + "/v3/clusters",
		"data.0.kind":                            "KafkaCluster",
		"data.0.metadata.self":                   base,
		"data.0.metadata.resource_name":          "crn:///kafka=" + cid,
		"data.0.brokers.related":                 base + "/brokers",
		"data.0.topics.related":                  base + "/topics",
		"data.0.consumer_groups.related":         base + "/consumer-groups",
		"data.0.acls.related":                    base + "/acls",
		"data.0.broker_configs.related":          base + "/broker-configs",
		"data.0.partition_reassignments.related": base + "/topics/-/partitions/-/reassignment",
	})
	if _, ok := field(v, "metadata").(map[string]any)["next"]; !ok {
		t.Errorf("list metadata without next: %s", r.Body)
	}

	r = p.do(t, "GET", "/v3/clusters/"+cid, nil)
	wantStatus(t, r, http.StatusOK)
	wantFields(t, r.JSON(t), map[string]string{"kind": "KafkaCluster", "cluster_id": cid})

	m := wantError(t, p.do(t, "GET", "/v3/clusters/no-such-cluster/topics", nil), http.StatusNotFound, 404)
	if m["message"] != "Cluster no-such-cluster cannot be found." {
		t.Errorf("message %q", m["message"])
	}

	r = p.do(t, "GET", "/v3/clusters/"+cid+"/brokers", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"kind": "KafkaBrokerList", "metadata.self": base + "/brokers", "data.0.kind": "KafkaBroker"})
	id, _ := field(v, "data", "0", "broker_id").(float64)
	bid := strings.TrimSuffix(strings.TrimPrefix(field(v, "data", "0", "metadata", "self").(string), base+"/brokers/"), "/")
	if port, _ := field(v, "data", "0", "port").(float64); port <= 0 {
		t.Errorf("broker port %v", field(v, "data", "0", "port"))
	}
	r = p.do(t, "GET", "/v3/clusters/"+cid+"/brokers/"+bid, nil)
	wantStatus(t, r, http.StatusOK)
	if got, _ := field(r.JSON(t), "broker_id").(float64); got != id {
		t.Errorf("broker_id %v, want %v", got, id)
	}
	wantFields(t, r.JSON(t), map[string]string{
		"configs.related":            base + "/brokers/" + bid + "/configs",
		"partition_replicas.related": base + "/brokers/" + bid + "/partition-replicas",
		"metadata.resource_name":     "crn:///kafka=" + cid + "/broker=" + bid,
	})
	wantError(t, p.do(t, "GET", "/v3/clusters/"+cid+"/brokers/9999", nil), http.StatusNotFound, 404)
	wantError(t, p.do(t, "GET", "/v3/nothing-here", nil), http.StatusNotFound, 404)

	r = p.do(t, "GET", "/v3/clusters/"+cid+"/brokers/"+bid+"/configs", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"kind": "KafkaBrokerConfigList", "data.0.kind": "KafkaBrokerConfig"})
	data, _ := field(v, "data").([]any)
	if len(data) == 0 {
		t.Fatalf("no broker configs: %s", r.Body)
	}
	name, _ := field(data[0], "name").(string)
	for _, k := range []string{"cluster_id", "broker_id", "name", "value", "is_default", "is_read_only", "is_sensitive", "source", "synonyms"} {
		if _, ok := data[0].(map[string]any)[k]; !ok {
			t.Errorf("broker config without %s: %v", k, data[0])
		}
	}
	r = p.do(t, "GET", "/v3/clusters/"+cid+"/brokers/"+bid+"/configs/"+name, nil)
	wantStatus(t, r, http.StatusOK)
	wantFields(t, r.JSON(t), map[string]string{"name": name, "metadata.self": base + "/brokers/" + bid + "/configs/" + name})
	wantError(t, p.do(t, "GET", "/v3/clusters/"+cid+"/brokers/"+bid+"/configs/no.such.config", nil), http.StatusNotFound, 404)
}

func TestV3Topics(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	base := p.URL + "/v3/clusters/" + cid
	topics := "/v3/clusters/" + cid + "/topics"

	// Confluent's uniform_replication example, one broker.
	r := p.do(t, "POST", topics, `{"topic_name":"topic-X","partitions_count":3,"replication_factor":1,
		"configs":[{"name":"cleanup.policy","value":"compact"},{"name":"compression.type","value":"gzip"}]}`)
	wantStatus(t, r, http.StatusCreated)
	if loc := r.Header.Get("Location"); loc != base+"/topics/topic-X" {
		t.Errorf("Location %q", loc)
	}
	v := r.JSON(t)
	wantFields(t, v, map[string]string{
		"kind": "KafkaTopic", "cluster_id": cid, "topic_name": "topic-X",
		"metadata.self":                   base + "/topics/topic-X",
		"metadata.resource_name":          "crn:///kafka=" + cid + "/topic=topic-X",
		"partitions.related":              base + "/topics/topic-X/partitions",
		"configs.related":                 base + "/topics/topic-X/configs",
		"partition_reassignments.related": base + "/topics/topic-X/partitions/-/reassignment",
	})
	if field(v, "partitions_count") != 3.0 || field(v, "replication_factor") != 1.0 || field(v, "is_internal") != false {
		t.Errorf("created topic: %s", r.Body)
	}

	m := wantError(t, p.do(t, "POST", topics, `{"topic_name":"topic-X","partitions_count":1}`), http.StatusBadRequest, 40002)
	if !strings.Contains(m["message"].(string), "topic-X") {
		t.Errorf("already-exists message %q", m["message"])
	}
	wantError(t, p.do(t, "POST", topics, `{"topic_name":"bad/name"}`), http.StatusUnprocessableEntity, 42206)
	wantError(t, p.do(t, "POST", topics, ""), http.StatusUnprocessableEntity, 42206)
	r = p.do(t, "POST", topics, `{"topic_name":"dry","partitions_count":2,"validate_only":true}`)
	wantStatus(t, r, http.StatusOK)
	wantError(t, p.do(t, "GET", topics+"/dry", nil), http.StatusNotFound, 40403)

	r = p.do(t, "GET", topics, nil)
	wantStatus(t, r, http.StatusOK)
	wantFields(t, r.JSON(t), map[string]string{"kind": "KafkaTopicList", "metadata.self": base + "/topics", "data.0.topic_name": "topic-X"})

	r = p.do(t, "GET", topics+"/topic-X", nil)
	wantStatus(t, r, http.StatusOK)
	wantFields(t, r.JSON(t), map[string]string{"kind": "KafkaTopic", "topic_name": "topic-X"})
	m = wantError(t, p.do(t, "GET", topics+"/nope", nil), http.StatusNotFound, 40403)
	if m["message"] != "This server does not host this topic-partition." {
		t.Errorf("unknown topic message %q", m["message"])
	}

	// Partitions and replicas.
	r = p.do(t, "GET", topics+"/topic-X/partitions", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"kind": "KafkaPartitionList", "data.2.kind": "KafkaPartition", "data.2.topic_name": "topic-X"})
	if n := len(field(v, "data").([]any)); n != 3 {
		t.Errorf("%d partitions", n)
	}
	r = p.do(t, "GET", topics+"/topic-X/partitions/1", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{
		"metadata.self": base + "/topics/topic-X/partitions/1", "replicas.related": base + "/topics/topic-X/partitions/1/replicas",
		"reassignment.related": base + "/topics/topic-X/partitions/1/reassignment",
	})
	leader, _ := field(v, "leader", "related").(string)
	if !strings.HasPrefix(leader, base+"/topics/topic-X/partitions/1/replicas/") {
		t.Errorf("leader link %q", leader)
	}
	wantError(t, p.do(t, "GET", topics+"/topic-X/partitions/7", nil), http.StatusNotFound, 404)
	wantError(t, p.do(t, "GET", topics+"/nope/partitions/0", nil), http.StatusNotFound, 40403)
	r = p.do(t, "GET", topics+"/topic-X/partitions/1/replicas", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"kind": "KafkaReplicaList", "data.0.kind": "KafkaReplica"})
	if field(v, "data", "0", "is_leader") != true || field(v, "data", "0", "is_in_sync") != true {
		t.Errorf("replica: %s", r.Body)
	}
	r = p.do(t, "GET", strings.TrimPrefix(leader, p.URL), nil)
	wantStatus(t, r, http.StatusOK)

	// Configs.
	r = p.do(t, "GET", topics+"/topic-X/configs", nil)
	wantStatus(t, r, http.StatusOK)
	wantFields(t, r.JSON(t), map[string]string{"kind": "KafkaTopicConfigList", "data.0.kind": "KafkaTopicConfig", "data.0.topic_name": "topic-X"})
	r = p.do(t, "GET", topics+"/topic-X/configs/cleanup.policy", nil)
	wantStatus(t, r, http.StatusOK)
	v = r.JSON(t)
	wantFields(t, v, map[string]string{"name": "cleanup.policy", "value": "compact", "source": "DYNAMIC_TOPIC_CONFIG",
		"metadata.self": base + "/topics/topic-X/configs/cleanup.policy", "metadata.resource_name": "crn:///kafka=" + cid + "/topic=topic-X/config=cleanup.policy"})
	if field(v, "is_default") != false {
		t.Errorf("is_default: %s", r.Body)
	}
	wantError(t, p.do(t, "GET", topics+"/topic-X/configs/no.such", nil), http.StatusNotFound, 404)
	wantError(t, p.do(t, "GET", topics+"/nope/configs", nil), http.StatusNotFound, 40403)

	wantStatus(t, p.do(t, "PUT", topics+"/topic-X/configs/retention.ms", `{"value":"12345"}`), http.StatusNoContent)
	r = p.do(t, "GET", topics+"/topic-X/configs/retention.ms", nil)
	wantFields(t, r.JSON(t), map[string]string{"value": "12345", "source": "DYNAMIC_TOPIC_CONFIG"})
	wantStatus(t, p.do(t, "DELETE", topics+"/topic-X/configs/retention.ms", nil), http.StatusNoContent)
	r = p.do(t, "GET", topics+"/topic-X/configs/retention.ms", nil)
	if field(r.JSON(t), "value") == "12345" || field(r.JSON(t), "source") == "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("retention.ms not reset: %s", r.Body)
	}
	wantStatus(t, p.do(t, "POST", topics+"/topic-X/configs:alter",
		`{"data":[{"name":"cleanup.policy","operation":"DELETE"},{"name":"compression.type","value":"lz4"}]}`), http.StatusNoContent)
	r = p.do(t, "GET", topics+"/topic-X/configs/compression.type", nil)
	wantFields(t, r.JSON(t), map[string]string{"value": "lz4"})
	r = p.do(t, "GET", topics+"/topic-X/configs/cleanup.policy", nil)
	wantFields(t, r.JSON(t), map[string]string{"value": "delete"})
	wantStatus(t, p.do(t, "POST", topics+"/topic-X/configs:alter",
		`{"data":[{"name":"compression.type","value":"zstd"}],"validate_only":true}`), http.StatusNoContent)
	r = p.do(t, "GET", topics+"/topic-X/configs/compression.type", nil)
	wantFields(t, r.JSON(t), map[string]string{"value": "lz4"})

	// Delete.
	wantStatus(t, p.do(t, "DELETE", topics+"/topic-X", nil), http.StatusNoContent)
	wantError(t, p.do(t, "DELETE", topics+"/topic-X", nil), http.StatusNotFound, 40403)
}
