package console_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/console"
	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/broker/webclient"
	"github.com/moldau/moldau/embed"
)

type schemaList struct {
	Enabled       bool   `json:"enabled"`
	Compatibility string `json:"compatibility"`
	Mode          string `json:"mode"`
	Subjects      []struct {
		Subject       string `json:"subject"`
		LatestVersion int    `json:"latest_version"`
		ID            int    `json:"id"`
		Type          string `json:"type"`
		Compatibility string `json:"compatibility"`
	} `json:"subjects"`
}

type subjectDetail struct {
	Subject       string `json:"subject"`
	Compatibility string `json:"compatibility"`
	Versions      []struct {
		Version    int    `json:"version"`
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Schema     string `json:"schema"`
		References []any  `json:"references"`
	} `json:"versions"`
}

func TestSchemas(t *testing.T) {
	f := newFixture(t)
	var l schemaList
	f.call("GET", "/api/schemas", nil, 200, &l)
	if !l.Enabled || l.Compatibility != "BACKWARD" || l.Subjects == nil || len(l.Subjects) != 0 {
		t.Fatalf("empty registry: %+v", l)
	}
	v1 := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	v2 := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}`
	incompatible := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"string"}]}`
	f.call("POST", "/api/schemas/r-value/versions", map[string]any{"schema": v1}, 200, nil)
	f.call("POST", "/api/schemas/r-value/versions", map[string]any{"schema": v2, "schema_type": "AVRO"}, 200, nil)
	f.call("POST", "/api/schemas/r-value/versions", map[string]any{"schema": incompatible}, 409, nil)
	f.call("POST", "/api/schemas/r-value/versions", map[string]any{"schema": `{"type":`}, 400, nil)
	f.call("POST", "/api/schemas/r-value/versions", map[string]any{"schema": ""}, 400, nil)
	f.call("POST", "/api/schemas/r-value/versions", map[string]any{"schema": v1, "schema_type": "XML"}, 400, nil)
	f.call("POST", "/api/schemas/j-value/versions", map[string]any{"schema": `{"type":"object"}`, "schema_type": "JSON"}, 200, nil)

	f.call("GET", "/api/schemas", nil, 200, &l)
	if len(l.Subjects) != 2 || l.Subjects[0].Subject != "j-value" || l.Subjects[0].Type != "JSON" ||
		l.Subjects[1].Subject != "r-value" || l.Subjects[1].LatestVersion != 2 || l.Subjects[1].Type != "AVRO" ||
		l.Subjects[1].Compatibility != "BACKWARD" || l.Subjects[1].ID <= 0 {
		t.Fatalf("subjects %+v", l.Subjects)
	}
	var d subjectDetail
	f.call("GET", "/api/schemas/r-value", nil, 200, &d)
	if d.Subject != "r-value" || len(d.Versions) != 2 || d.Versions[0].Version != 1 || d.Versions[1].Version != 2 ||
		d.Versions[0].References == nil || d.Compatibility != "BACKWARD" {
		t.Fatalf("subject %+v", d)
	}
	f.call("GET", "/api/schemas/nope", nil, 404, nil)

	// Per-subject compatibility: set, then back to the global.
	f.call("PUT", "/api/schemas/r-value/config", map[string]any{"compatibility": "NONE"}, 204, nil)
	f.call("GET", "/api/schemas/r-value", nil, 200, &d)
	if d.Compatibility != "NONE" {
		t.Fatalf("compatibility after PUT NONE: %q", d.Compatibility)
	}
	f.call("POST", "/api/schemas/r-value/versions", map[string]any{"schema": incompatible}, 200, nil)
	f.call("PUT", "/api/schemas/r-value/config", map[string]any{"compatibility": nil}, 204, nil)
	f.call("PUT", "/api/schemas/r-value/config", map[string]any{"compatibility": nil}, 204, nil) // no override left
	f.call("GET", "/api/schemas/r-value", nil, 200, &d)
	if d.Compatibility != "BACKWARD" || len(d.Versions) != 3 {
		t.Fatalf("after reset: %+v", d)
	}
	f.call("PUT", "/api/schemas/r-value/config", map[string]any{"compatibility": "SIDEWAYS"}, 400, nil)
}

func TestSchemasRegistryOff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := embed.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pool := webclient.New(webclient.Config{Opts: []kgo.Opt{kgo.SeedBrokers(b.Addr())}})
	defer pool.Close()
	f := startConsole(t, ctx, b, nil, console.Config{Clients: pool, Serde: serde.New(nil)})
	var l schemaList
	f.call("GET", "/api/schemas", nil, 200, &l)
	if l.Enabled || l.Subjects == nil {
		t.Fatalf("registry off: %+v", l)
	}
	f.call("GET", "/api/schemas/x", nil, 404, nil)
	f.call("POST", "/api/schemas/x/versions", map[string]any{"schema": "{}"}, 404, nil)
	f.call("PUT", "/api/schemas/x/config", map[string]any{"compatibility": "NONE"}, 404, nil)
	f.createTopic("t", 1)
	f.call("POST", "/api/topics/t/messages", map[string]any{"value": "{}", "value_format": "avro"}, 400, nil)
	// Without a gatherer a topic has no throughput points, never null.
	var tp struct {
		IntervalMS int64 `json:"interval_ms"`
		Points     []any `json:"points"`
	}
	f.call("GET", "/api/topics/t/throughput", nil, 200, &tp)
	if tp.IntervalMS != 2000 || tp.Points == nil || len(tp.Points) != 0 {
		t.Fatalf("throughput without metrics: %+v", tp)
	}
	if _, err := console.New(console.Config{Serde: serde.New(nil)}); err == nil {
		t.Fatal("New without Clients succeeded")
	}
	if _, err := console.New(console.Config{Clients: pool}); err == nil {
		t.Fatal("New without Serde succeeded")
	}
}
