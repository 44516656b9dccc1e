package serde_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/goleak"

	"github.com/moldau/moldau/broker/serde"
	"github.com/moldau/moldau/embed"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// registry is a broker serving the built-in schema registry, a client of
// it and a Serde over that client.
type registry struct {
	t     *testing.T
	ctx   context.Context
	cl    *sr.Client
	serde *serde.Serde
}

func newRegistry(t *testing.T) *registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	b, err := embed.Start(ctx, embed.WithSchemaRegistry())
	if err != nil {
		t.Fatalf("embed.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cl, err := sr.NewClient(sr.URLs(b.SchemaRegistryURL()), sr.HTTPClient(&http.Client{Transport: tr, Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatalf("sr.NewClient: %v", err)
	}
	return &registry{t: t, ctx: ctx, cl: cl, serde: serde.New(cl)}
}

// register registers a schema under subject and returns its id.
func (r *registry) register(subject string, typ sr.SchemaType, text string, refs ...sr.SchemaReference) int {
	r.t.Helper()
	got, err := r.cl.CreateSchema(r.ctx, subject, sr.Schema{Schema: text, Type: typ, References: refs})
	if err != nil {
		r.t.Fatalf("register %s: %v", subject, err)
	}
	return got.ID
}

// frame puts the wire format's header (by franz-go's ConfluentHeader, not
// this package's code) before payload.
func frame(t *testing.T, id int, index []int, payload []byte) []byte {
	t.Helper()
	var h sr.ConfluentHeader
	b, err := h.AppendEncode(nil, id, index)
	if err != nil {
		t.Fatalf("AppendEncode: %v", err)
	}
	return append(b, payload...)
}

// sameJSON fails unless got and want are the same JSON value.
func sameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got invalid JSON %s: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want invalid JSON %s: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s:\n got  %s\n want %s", what, gb, wb)
	}
}
