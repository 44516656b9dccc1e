// Package scripttest runs data-driven tests of state machines (STYLE habit
// 9, after go.etcd.io/raft's interaction tests): each testdata file is a
// script of blocks
//
//	command key=value key=value
//	----
//	expected output, one or more lines
//
// separated by blank lines; lines starting with # are comments. A test
// package gives Run a function that executes one command against its state
// machine and returns what it printed. go test -rewrite writes the actual
// output back into the scripts.
package scripttest

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scripts")

// Cmd is one command of a script.
type Cmd struct {
	t    testing.TB
	Name string            // the first word
	Args map[string]string // key=value words after it ("key" alone maps to "")
	Line string            // the whole line
	Pos  string            // file:line, for messages
}

// Has reports whether the command has argument k.
func (c Cmd) Has(k string) bool {
	_, ok := c.Args[k]
	return ok
}

// Str is argument k, or def when absent.
func (c Cmd) Str(k, def string) string {
	if v, ok := c.Args[k]; ok {
		return v
	}
	return def
}

// Ptr is a pointer to argument k, or nil when absent.
func (c Cmd) Ptr(k string) *string {
	if v, ok := c.Args[k]; ok {
		return &v
	}
	return nil
}

// Int is argument k as a number, or def when absent; a malformed number
// fails the test.
func (c Cmd) Int(k string, def int64) int64 {
	c.t.Helper()
	v, ok := c.Args[k]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		c.t.Fatalf("%s: %s: bad number %s=%q", c.Pos, c.Line, k, v)
	}
	return n
}

// Dur is argument k as a duration ("1500ms"), or def when absent; a
// malformed duration fails the test.
func (c Cmd) Dur(k string, def time.Duration) time.Duration {
	c.t.Helper()
	v, ok := c.Args[k]
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		c.t.Fatalf("%s: %s: bad duration %s=%q", c.Pos, c.Line, k, v)
	}
	return d
}

// Parse splits a command line into its name and arguments.
func Parse(t testing.TB, line, pos string) Cmd {
	fields := strings.Fields(line)
	c := Cmd{t: t, Name: fields[0], Args: map[string]string{}, Line: line, Pos: pos}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		c.Args[k] = v
	}
	return c
}

// Run runs every file matching pattern (for example "testdata/*.txt") as a
// subtest. newMachine is called once per file, in its subtest, and returns
// the function that runs one command and returns its output ("" for none).
func Run(t *testing.T, pattern string, newMachine func(t *testing.T) func(Cmd) string) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no scripts match %s", pattern)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := runScript(t, file, string(data), newMachine(t))
			if *rewrite && got != string(data) {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// runScript runs one script, reporting each block whose output differs,
// and returns the script with the actual output.
func runScript(t testing.TB, file, script string, run func(Cmd) string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(script, "\n"), "\n")
	var out strings.Builder
	for i := 0; i < len(lines); {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			i++
			continue
		}
		pos := file + ":" + strconv.Itoa(i+1)
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s: want ---- after %q", pos, line)
		}
		i++
		var want []string
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			want = append(want, lines[i])
			i++
		}
		got := run(Parse(t, line, pos))
		out.WriteString(line + "\n----\n")
		if got != "" {
			out.WriteString(got + "\n")
		}
		if !*rewrite && got != strings.Join(want, "\n") {
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", pos, line, got, strings.Join(want, "\n"))
		}
	}
	return out.String()
}
