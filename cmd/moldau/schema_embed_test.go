package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moldau/moldau/embed"
)

// TestSchemaCLIAgainstEmbeddedRegistry drives the CLI against Moldau's own
// registry (embed.WithSchemaRegistry): the seed's evolution under BACKWARD,
// a refused registration's error_code and message, config and mode, id,
// deletes.
func TestSchemaCLIAgainstEmbeddedRegistry(t *testing.T) {
	b, err := embed.Start(context.Background(), embed.WithSchemaRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	url := b.SchemaRegistryURL()
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	user := func(fields ...string) string {
		return `{"type":"record","name":"User","fields":[` + strings.Join(fields, ",") + `]}`
	}
	id, name := `{"name":"id","type":"long"}`, `{"name":"name","type":"string"}`
	v1 := file("v1.avsc", user(id, name))
	v2 := file("v2.avsc", user(id, name, `{"name":"phone","type":["null","string"],"default":null}`))
	bad := file("bad.avsc", user(id, name, `{"name":"age","type":"int"}`))
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := runSchema(t, url, "", args...)
		if code != want {
			t.Fatalf("schema %q: exit %d, want %d; stdout %q, stderr %q", args, code, want, out, errOut)
		}
		return out, errOut
	}
	out, _ := run(0, "register", "users-value", "--file", v1)
	v1ID, ok := strings.CutPrefix(strings.TrimSpace(out), "registered users-value version 1, schema id ")
	if !ok {
		t.Fatalf("register printed %q", out)
	}
	if out, _ := run(0, "check", "users-value", "--file", v2); !strings.HasPrefix(out, "compatible") {
		t.Fatalf("check of an optional field with a default printed %q", out)
	}
	run(0, "register", "users-value", "--file", v2)
	if out, _ := run(1, "check", "users-value", "--file", bad); !strings.Contains(out, "NOT compatible") || !strings.Contains(out, "age") {
		t.Fatalf("check of a new required field printed %q", out)
	}
	if _, errOut := run(1, "register", "users-value", "--file", bad); !strings.HasPrefix(errOut, "moldau schema: error_code 409: ") || !strings.Contains(errOut, "(HTTP 409)") {
		t.Fatalf("incompatible register printed %q", errOut)
	}
	if out, _ := run(0, "get", "users-value"); !strings.Contains(out, "version    2 (of 1,2)\n") || !strings.Contains(out, `"phone"`) {
		t.Fatalf("get printed %q", out)
	}
	if _, errOut := run(1, "get", "nobody-value"); !strings.Contains(errOut, "error_code 40401: ") {
		t.Fatalf("get of a missing subject printed %q", errOut)
	}
	if out, _ := run(0, "config"); out != "BACKWARD\n" {
		t.Fatalf("config printed %q", out)
	}
	if out, _ := run(0, "config", "users-value"); out != "BACKWARD (global; users-value has no compatibility of its own)\n" {
		t.Fatalf("config SUBJECT printed %q", out)
	}
	run(0, "config", "users-value", "--set", "none")
	if out, _ := run(0, "config", "users-value"); out != "NONE\n" {
		t.Fatalf("config SUBJECT after --set printed %q", out)
	}
	run(0, "register", "users-value", "--file", bad) // NONE accepts it
	if _, errOut := run(1, "config", "--set", "SIDEWAYS"); !strings.Contains(errOut, "error_code 42203") {
		t.Fatalf("an invalid level printed %q", errOut)
	}
	run(0, "mode", "users-value", "--set", "READONLY")
	// A schema the subject already has answers its id (Confluent looks it
	// up before the mode); a new one is refused.
	run(0, "register", "users-value", "--file", v1)
	if _, errOut := run(1, "register", "users-value", "--file", file("new.avsc", user(id))); !strings.Contains(errOut, "error_code 42205") {
		t.Fatalf("register under READONLY printed %q", errOut)
	}
	run(0, "mode", "users-value", "--set", "READWRITE")
	if out, _ := run(0, "id", v1ID); !strings.Contains(out, "users-value:1") {
		t.Fatalf("id printed %q", out)
	}
	if out, _ := run(0, "delete", "users-value", "3"); out != "soft-deleted users-value version 3\n" {
		t.Fatalf("delete VERSION printed %q", out)
	}
	if out, _ := run(0, "delete", "users-value", "--permanent"); out != "permanently deleted users-value versions 1,2,3\n" {
		t.Fatalf("delete --permanent printed %q", out)
	}
	if out, _ := run(0, "subjects", "--deleted"); out != "" {
		t.Fatalf("subjects after the permanent delete printed %q", out)
	}
}
