package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/config"
)

// registryCall sends one request to the registry at base and decodes the
// JSON answer into out (nil: ignored); it returns the status code.
func registryCall(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, url, err, data)
		}
	}
	if resp.StatusCode/100 != 2 {
		t.Logf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// TestSchemaRegistryServedAndValidating: a single node with the registry
// on serves Confluent's API on its address; a schema registered there is
// what a topic with confluent.value.schema.validation accepts, and a
// record with another id, or none, is refused with INVALID_RECORD.
func TestSchemaRegistryServedAndValidating(t *testing.T) {
	cfg := config.Default()
	cfg.Memory = true
	cfg.Addr = "127.0.0.1:0"
	cfg.SchemaRegistryAddr = "127.0.0.1:0"
	b, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if b.SchemaRegistryAddr() == "" {
		t.Fatal("the registry is not served")
	}
	base := "http://" + b.SchemaRegistryAddr()

	var subjects []string
	if code := registryCall(t, "GET", base+"/subjects", nil, &subjects); code != 200 || len(subjects) != 0 {
		t.Fatalf("GET /subjects: %d %v", code, subjects)
	}
	var reg struct {
		ID int32 `json:"id"`
	}
	schema := `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`
	if code := registryCall(t, "POST", base+"/subjects/orders-value/versions", map[string]string{"schema": schema}, &reg); code != 200 || reg.ID <= 0 {
		t.Fatalf("register: %d, id %d", code, reg.ID)
	}
	if code := registryCall(t, "GET", base+"/subjects", nil, &subjects); code != 200 || !slices.Contains(subjects, "orders-value") {
		t.Fatalf("GET /subjects after registering: %d %v", code, subjects)
	}
	if b.topics.get("_schemas") == nil {
		t.Error("no _schemas topic after a registration")
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordRetries(1), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	on := "true"
	if resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"confluent.value.schema.validation": &on}, "orders"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: wire(reg.ID, "payload")}).FirstErr(); err != nil {
		t.Errorf("a record with the registered id: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Key: []byte("k")}).FirstErr(); err != nil {
		t.Errorf("a tombstone: %v", err)
	}
	for _, v := range [][]byte{wire(reg.ID+1000, "payload"), []byte("plain bytes")} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: v}).FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
			t.Errorf("value %q: %v, want INVALID_RECORD", v, err)
		}
	}
}
