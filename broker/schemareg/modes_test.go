package schemareg

// Compatibility tables per mode, driven from testdata/modes_<format>.txt
// (one file per format; the format helpers add theirs). The DSL, one
// command a line ('#' starts a comment):
//
//	reset                          a fresh registry (new scenario)
//	type AVRO|PROTOBUF|JSON        schemaType of the following schemas
//	subject NAME                   the subject the following lines use (default "test")
//	compat LEVEL                   PUT /config/{subject} {"compatibility":LEVEL}
//	register SCHEMA => ID|409|422  POST /subjects/{subject}/versions, expect the id or the error
//	check SCHEMA => true|false     POST /compatibility/subjects/{subject}/versions (as a registration would check)
//	delete VERSION                 DELETE /subjects/{subject}/versions/VERSION (soft)
//
// SCHEMA is the rest of the line up to " => " (a \n in it is a newline).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moldau/moldau/broker/schemareg/schema"
)

// modeFormats maps a modes file's format name to the formats it runs with.
// A suffix after an underscore names a second file of one format
// (modes_protobuf_core.txt runs with protobuf).
func modeFormats(name string) ([]schema.Format, bool) {
	name, _, _ = strings.Cut(name, "_")
	switch name {
	case "toy":
		return []schema.Format{toyFormat{schema.Avro}, toyFormat{schema.JSON}}, true
	}
	return builtinModeFormats(name)
}

func TestModes(t *testing.T) {
	files, err := filepath.Glob("testdata/modes_*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no modes files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "modes_"), ".txt")
		t.Run(name, func(t *testing.T) {
			formats, ok := modeFormats(name)
			if !ok {
				t.Fatalf("%s: no format named %q", file, name)
			}
			runModesFile(t, file, formats)
		})
	}
}

func runModesFile(t *testing.T, file string, formats []schema.Format) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h http.Handler
	fresh := func() { h = newRegistry(t, newMemLog(), withFormats(formats...)).Handler() }
	fresh()
	subject, schemaType := "test", ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	commands := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		commands++
		where := fmt.Sprintf("%s:%d", file, line)
		cmd, arg, _ := strings.Cut(text, " ")
		switch cmd {
		case "reset":
			fresh()
			subject, schemaType = "test", ""
		case "type":
			schemaType = arg
		case "subject":
			subject = arg
		case "compat":
			mustCall(t, h, "PUT", "/config/"+subject, `{"compatibility":"`+arg+`"}`, 200)
		case "delete":
			mustCall(t, h, "DELETE", "/subjects/"+subject+"/versions/"+arg, "", 200)
		case "register", "check":
			i := strings.LastIndex(arg, " => ")
			if i < 0 {
				t.Fatalf("%s: missing ' => expectation'", where)
			}
			text, want := strings.ReplaceAll(arg[:i], `\n`, "\n"), strings.TrimSpace(arg[i+4:])
			body, _ := json.Marshal(map[string]string{"schema": text, "schemaType": schemaType})
			if cmd == "check" {
				code, got := call(t, h, "POST", "/compatibility/subjects/"+subject+"/versions?verbose=true", string(body))
				var res struct {
					IsCompatible bool     `json:"is_compatible"`
					Messages     []string `json:"messages"`
				}
				if code != 200 || json.Unmarshal([]byte(got), &res) != nil {
					t.Fatalf("%s: check: %d %s", where, code, got)
				}
				if strconv.FormatBool(res.IsCompatible) != want {
					t.Errorf("%s: compatible %v, want %s; messages %q", where, res.IsCompatible, want, res.Messages)
				}
				for _, m := range res.Messages {
					if strings.Contains(m, "%s") {
						t.Errorf("%s: message with unfilled role verbs: %s", where, m)
					}
				}
				continue
			}
			code, got := call(t, h, "POST", "/subjects/"+subject+"/versions", string(body))
			switch want {
			case "409", "422":
				if strconv.Itoa(code) != want {
					t.Errorf("%s: register: %d %s, want %s", where, code, got, want)
				}
			default:
				if code != 200 || strconv.Itoa(idOf(got)) != want {
					t.Errorf("%s: register: %d %s, want id %s", where, code, got, want)
				}
			}
		default:
			t.Fatalf("%s: unknown command %q", where, cmd)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if commands == 0 {
		t.Fatalf("%s has no commands", file)
	}
}
