package restproxy_test

import (
	"net/http"
	"testing"
)

// TestV3BrokerPartitionReplicas: the "partition_replicas" link of a broker
// answers the replicas it holds (kafka-rest's SearchReplicasByBrokerAction).
func TestV3BrokerPartitionReplicas(t *testing.T) {
	p := newProxy(t)
	cid := clusterID(t, p)
	base := p.URL + "/v3/clusters/" + cid
	p.createTopic(t, "rep-a", 2, nil)
	p.createTopic(t, "rep-b", 1, nil)
	r := p.do(t, "GET", "/v3/clusters/"+cid+"/brokers", nil)
	wantStatus(t, r, http.StatusOK)
	link, _ := field(r.JSON(t), "data", "0", "partition_replicas", "related").(string)
	if link == "" {
		t.Fatalf("brokers: %s", r.Body)
	}
	r = p.do(t, "GET", link[len(p.URL):], nil)
	wantStatus(t, r, http.StatusOK)
	v := r.JSON(t)
	wantFields(t, v, map[string]string{"kind": "KafkaReplicaList", "metadata.self": link})
	var mine []string
	for _, d := range field(v, "data").([]any) {
		if tn, _ := field(d, "topic_name").(string); tn == "rep-a" || tn == "rep-b" {
			mine = append(mine, d.(map[string]any)["metadata"].(map[string]any)["self"].(string))
			if field(d, "kind") != "KafkaReplica" || field(d, "is_leader") != true {
				t.Errorf("replica %v", d)
			}
		}
	}
	bid := link[len(base+"/brokers/") : len(link)-len("/partition-replicas")]
	want := []string{
		base + "/topics/rep-a/partitions/0/replicas/" + bid,
		base + "/topics/rep-a/partitions/1/replicas/" + bid,
		base + "/topics/rep-b/partitions/0/replicas/" + bid,
	}
	if len(mine) != 3 || mine[0] != want[0] || mine[1] != want[1] || mine[2] != want[2] {
		t.Errorf("replicas %v, want %v", mine, want)
	}
	wantError(t, p.do(t, "GET", "/v3/clusters/"+cid+"/brokers/9999/partition-replicas", nil), http.StatusNotFound, 404)
}
