package embed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moldau/moldau/embed"
)

// srDo sends one request to a schema registry and decodes a 2xx JSON
// answer into out; it returns the status code and the body.
func srDo(method, url string, body any, out any) (int, string, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, string(data), err
		}
	}
	return resp.StatusCode, string(data), nil
}

func orderSchema(name string) string {
	return `{"type":"record","name":"` + name + `","fields":[{"name":"id","type":"string"}]}`
}

func TestSchemaRegistryOff(t *testing.T) {
	b, err := embed.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if u := b.SchemaRegistryURL(); u != "" {
		t.Errorf("SchemaRegistryURL without WithSchemaRegistry = %q", u)
	}
	b2, err := embed.Start(context.Background(), embed.WithSchemaRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	var subjects []string
	if code, body, err := srDo("GET", b2.SchemaRegistryURL()+"/subjects", nil, &subjects); err != nil || code != 200 {
		t.Errorf("GET /subjects: %d %s %v", code, body, err)
	}
}

// TestClusterSchemaRegistry: every node of a 3-node cluster serves the
// registry over the one replicated _schemas topic: a schema registered on
// node 1 is read on nodes 2 and 3 with the same id, and schemas that nodes
// 1 and 2 register at the same time get ids that never clash, each id
// naming its own schema on every node.
func TestClusterSchemaRegistry(t *testing.T) {
	c := newCluster(t, 3, embed.WithSchemaRegistry())
	urls := []string{c.SchemaRegistryURL(0), c.SchemaRegistryURL(1), c.SchemaRegistryURL(2)}
	for i, u := range urls {
		if u == "" {
			t.Fatalf("node %d serves no registry", i+1)
		}
	}
	var reg struct {
		ID int `json:"id"`
	}
	if code, body, err := srDo("POST", urls[0]+"/subjects/first-value/versions", map[string]string{"schema": orderSchema("First")}, &reg); err != nil || code != 200 {
		t.Fatalf("register on node 1: %d %s %v", code, body, err)
	}
	for i := 1; i < 3; i++ {
		waitSchema(t, urls[i], "first-value", reg.ID)
	}

	// Nodes 1 and 2 register different schemas concurrently.
	const each = 5
	type result struct {
		node, i, id int
		err         error
	}
	results := make(chan result, 2*each)
	var wg sync.WaitGroup
	for node := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var r struct {
					ID int `json:"id"`
				}
				subject := fmt.Sprintf("n%d-s%d-value", node+1, i)
				code, body, err := srDo("POST", urls[node]+"/subjects/"+subject+"/versions", map[string]string{"schema": orderSchema(fmt.Sprintf("N%dS%d", node+1, i))}, &r)
				if err == nil && code != 200 {
					err = fmt.Errorf("%d %s", code, body)
				}
				results <- result{node, i, r.ID, err}
			}
		}()
	}
	wg.Wait()
	close(results)
	byID := map[int]string{reg.ID: "First"}
	for r := range results {
		if r.err != nil {
			t.Fatalf("node %d register %d: %v", r.node+1, r.i, r.err)
		}
		name := fmt.Sprintf("N%dS%d", r.node+1, r.i)
		if other, ok := byID[r.id]; ok {
			t.Errorf("id %d given to both %s and %s", r.id, other, name)
		}
		byID[r.id] = name
	}
	for id, name := range byID {
		for i, u := range urls {
			var got struct {
				Schema string `json:"schema"`
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				code, body, err := srDo("GET", fmt.Sprintf("%s/schemas/ids/%d", u, id), nil, &got)
				if err == nil && code == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("node %d GET /schemas/ids/%d: %d %s %v", i+1, id, code, body, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !strings.Contains(got.Schema, `"`+name+`"`) {
				t.Errorf("node %d: id %d is %s, want the schema named %s", i+1, id, got.Schema, name)
			}
		}
	}
}

// waitSchema polls url until subject's latest version has id.
func waitSchema(t *testing.T, url, subject string, id int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got struct {
			ID int `json:"id"`
		}
		code, body, err := srDo("GET", url+"/subjects/"+subject+"/versions/latest", nil, &got)
		if err == nil && code == 200 && got.ID == id {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s latest: %d %s %v, want id %d", url, subject, code, body, err, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
