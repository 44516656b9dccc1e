package tests

// The web console and the REST Proxy API (issue #19) in a three-process
// cluster (startProcCluster: 127.0.0.1-3). TestFrontEndsCluster checks
// that
//
//   - every node serves both; the console's /api/overview on node 2 lists
//     the three brokers, and the leaders of an RF 3 topic are spread over
//     them; every REST proxy's /v3/clusters/{id}/brokers lists three;
//   - after kill -9 of one node, the survivors' overview shows the
//     partitions it led or followed as under-replicated or offline within
//     15 s, their console and proxy keep answering, and a produce through a
//     survivor's proxy (acks=all, the pool's kgo default) to every partition
//     of the RF 3 topic (min.insync.replicas=2) succeeds;
//   - the node, restarted, serves its console and proxy again and the
//     overview heals: no partition under-replicated or offline.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// feHTTP bounds one front-end request; a survivor must answer well within
// it while a node is down.
var feHTTP = &http.Client{Timeout: 10 * time.Second}

// feOverview is the part of the console's GET /api/overview checked here.
type feOverview struct {
	ClusterID string `json:"cluster_id"`
	Brokers   []struct {
		ID      int32 `json:"id"`
		Leaders int   `json:"leaders"`
	} `json:"brokers"`
	Partitions      int            `json:"partitions"`
	UnderReplicated int            `json:"under_replicated"`
	Offline         int            `json:"offline"`
	LeadersByBroker map[string]int `json:"leaders_by_broker"`
}

// feGet GETs url and decodes a 200 answer into out.
func feGet(url string, out any) error {
	resp, err := feHTTP.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

// feBrokers is the broker ids a REST proxy's v3 API lists.
func feBrokers(proxy, cluster string) ([]int32, error) {
	var out struct {
		Data []struct {
			BrokerID int32 `json:"broker_id"`
		} `json:"data"`
	}
	if err := feGet(proxy+"/v3/clusters/"+cluster+"/brokers", &out); err != nil {
		return nil, err
	}
	var ids []int32
	for _, b := range out.Data {
		ids = append(ids, b.BrokerID)
	}
	return ids, nil
}

// feProduce produces one JSON record to partition through a REST proxy's
// v3 API; an error unless the record's answer is error_code 200.
func feProduce(proxy, cluster, topic string, partition int32, value string) error {
	body := fmt.Sprintf(`{"partition_id":%d,"value":{"type":"JSON","data":%q}}`, partition, value)
	resp, err := feHTTP.Post(proxy+"/v3/clusters/"+cluster+"/topics/"+topic+"/records", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
		Partition int32  `json:"partition_id"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &r) != nil || r.ErrorCode != http.StatusOK || r.Partition != partition {
		return fmt.Errorf("produce to %s-%d via %s: %s %s", topic, partition, proxy, resp.Status, b)
	}
	return nil
}

func TestFrontEndsCluster(t *testing.T) {
	began := time.Now()
	consoleAddr, proxyAddr := map[int]string{}, map[int]string{}
	for id := 1; id <= 3; id++ {
		consoleAddr[id], proxyAddr[id] = freeAddr(t, id), freeAddr(t, id)
	}
	c := startProcCluster(t, func(id int) []string {
		return []string{"--console-addr", consoleAddr[id], "--http-proxy-addr", proxyAddr[id]}
	})
	console := func(id int) string { return "http://" + consoleAddr[id] }
	proxy := func(id int) string { return "http://" + proxyAddr[id] }
	t.Logf("cluster up in %v", time.Since(began).Round(time.Millisecond))

	// 1. Every node: its console's page and overview, its proxy's brokers.
	const topic, parts = "frontends-rf3", 6
	c.createReplicatedTopic(topic, parts)
	var cluster string
	for id := 1; id <= 3; id++ {
		c.waitFor(20*time.Second, fmt.Sprintf("node %d's console overview and proxy listing 3 brokers", id), func() bool {
			var ov feOverview
			if err := feGet(console(id)+"/api/overview", &ov); err != nil || len(ov.Brokers) != 3 || ov.ClusterID == "" {
				return false
			}
			cluster = ov.ClusterID
			ids, err := feBrokers(proxy(id), cluster)
			return err == nil && len(ids) == 3
		})
		resp, err := feHTTP.Get(console(id) + "/")
		if err != nil {
			t.Fatalf("node %d's console page: %v", id, err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(page)), "<html") {
			t.Errorf("node %d's console page: %s %.200s", id, resp.Status, page)
		}
	}
	// Leaders spread: each broker leads some partition of the RF 3 topic
	// and the overview counts them as the topic's metadata says.
	var ov feOverview
	c.waitFor(20*time.Second, "node 2's overview: every broker leads a partition, none under-replicated", func() bool {
		ov = feOverview{}
		if err := feGet(console(2)+"/api/overview", &ov); err != nil || len(ov.Brokers) != 3 || ov.UnderReplicated != 0 || ov.Offline != 0 {
			return false
		}
		for _, b := range ov.Brokers {
			if b.Leaders == 0 || ov.LeadersByBroker[fmt.Sprint(b.ID)] != b.Leaders {
				return false
			}
		}
		return true
	})
	t.Logf("node 2's overview: %+v (%v)", ov, time.Since(began).Round(time.Millisecond))

	// 2. kill -9 node 3; the survivors see it within 15 s and keep serving.
	c.node(3).kill9()
	killed := time.Now()
	for _, id := range []int{1, 2} {
		c.waitFor(15*time.Second-time.Since(killed), fmt.Sprintf("node %d's overview showing partitions under-replicated or offline", id), func() bool {
			var ov feOverview
			return feGet(console(id)+"/api/overview", &ov) == nil && ov.UnderReplicated+ov.Offline > 0
		})
	}
	t.Logf("survivors' overview degraded %v after kill -9", time.Since(killed).Round(time.Millisecond))
	for _, id := range []int{1, 2} {
		var topics []json.RawMessage
		if err := feGet(console(id)+"/api/topics", &topics); err != nil {
			t.Errorf("node %d's console with node 3 down: %v", id, err)
		}
		if ids, err := feBrokers(proxy(id), cluster); err != nil || len(ids) == 0 {
			t.Errorf("node %d's proxy with node 3 down: %v %v", id, ids, err)
		}
	}
	// acks=all through node 1's proxy, to every partition (those node 3
	// led included, once a survivor leads them).
	for p := int32(0); p < parts; p++ {
		last := ""
		c.waitFor(20*time.Second, fmt.Sprintf("a produce to partition %d through node 1's proxy with node 3 down", p), func() bool {
			err := feProduce(proxy(1), cluster, topic, p, fmt.Sprintf("down-%d", p))
			if err != nil && err.Error() != last { // each new answer once
				last = err.Error()
				t.Logf("%v after kill -9: %v", time.Since(killed).Round(time.Millisecond), err)
			}
			return err == nil
		})
	}
	t.Logf("produced through node 1's proxy to every partition %v after kill -9", time.Since(killed).Round(time.Millisecond))

	// 3. Restart node 3: it serves its front ends again and the overview
	// heals on every node.
	c.node(3).start()
	for id := 1; id <= 3; id++ {
		c.waitFor(30*time.Second, fmt.Sprintf("node %d's overview healed (3 brokers, nothing under-replicated or offline)", id), func() bool {
			var ov feOverview
			return feGet(console(id)+"/api/overview", &ov) == nil && len(ov.Brokers) == 3 && ov.UnderReplicated == 0 && ov.Offline == 0
		})
	}
	if ids, err := feBrokers(proxy(3), cluster); err != nil || len(ids) != 3 {
		t.Errorf("restarted node 3's proxy: brokers %v, %v", ids, err)
	}
	if err := feProduce(proxy(3), cluster, topic, 0, "after-restart"); err != nil {
		t.Error(err)
	}
	t.Logf("healed; total %v", time.Since(began).Round(time.Millisecond))
}
