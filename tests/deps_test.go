package tests

// The package dependency rules of the style guide (../shared/STYLE.md,
// "Layout and dependency direction"), checked on the import graph that
// `go list` reports for the whole module. One table holds every rule;
// TestDepRulesCatchViolations shows on a fake graph that each kind of rule
// fails when broken.

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/moldau/moldau"

// depNode is one package's direct imports: Imports from its non-test files,
// TestImports from its _test.go files (in-package and external).
type depNode struct {
	Imports, TestImports []string
}

// depRule forbids the packages matched by From to import those matched by
// Never. Patterns are full import paths; a trailing "/..." matches the
// package and everything below it, "*" matches every package of the module.
// Transitive rules follow the non-test import graph (`go list -deps`); direct
// rules look at each package's own imports, its tests' included.
type depRule struct {
	From, Never []string
	Transitive  bool
	Why         string
}

func mod(rel string) string { return modulePath + "/" + rel }

// depRules is STYLE.md's layout: cmd -> broker -> {protocol, coordinator,
// txn, replication, log}, nothing upward.
var depRules = []depRule{
	{
		From:       []string{mod("protocol/..."), mod("log/..."), mod("coordinator/..."), mod("txn/..."), mod("replication/...")},
		Never:      []string{mod("broker")},
		Transitive: true,
		Why:        "the broker is the composition root: the units below it reach it only through interfaces they define",
	},
	{
		From:       []string{mod("coordinator/...")},
		Never:      []string{mod("txn/..."), mod("replication/..."), mod("protocol/...")},
		Transitive: true,
		Why:        "coordinator, txn and replication never import each other or protocol",
	},
	{
		From:       []string{mod("txn/...")},
		Never:      []string{mod("coordinator/..."), mod("replication/..."), mod("protocol/...")},
		Transitive: true,
		Why:        "coordinator, txn and replication never import each other or protocol",
	},
	{
		From:       []string{mod("replication/...")},
		Never:      []string{mod("coordinator/..."), mod("txn/..."), mod("protocol/...")},
		Transitive: true,
		Why:        "coordinator, txn and replication never import each other or protocol",
	},
	{
		// Stricter than the style's line, and held since they were written
		// (it replaces coordinator/deps_test.go and txn/deps_test.go): the
		// two state machines import no Moldau package but internal ones.
		From:       []string{mod("coordinator/..."), mod("txn/...")},
		Never:      []string{mod("broker/..."), mod("cmd/..."), mod("embed/..."), mod("log/..."), mod("protocol/..."), mod("replication/..."), mod("tests/..."), mod("bench/...")},
		Transitive: true,
		Why:        "coordinator and txn reach the broker only through the interfaces they define",
	},
	{
		// The metadata state machine is pure: the broker drives it from the
		// metadata Raft group and owns every other piece.
		From:       []string{mod("broker/metadata/...")},
		Never:      []string{mod("broker"), mod("broker/config"), mod("cmd/..."), mod("embed/..."), mod("log/..."), mod("protocol/..."), mod("coordinator/..."), mod("txn/..."), mod("replication/..."), mod("tests/..."), mod("bench/...")},
		Transitive: true,
		Why:        "broker/metadata is a pure state machine: the broker composes it with replication",
	},
	{
		From:       []string{mod("log/...")},
		Never:      []string{mod("coordinator/..."), mod("txn/..."), mod("broker/..."), mod("protocol/..."), mod("replication/...")},
		Transitive: true,
		Why:        "the partition log sits below everything that uses it",
	},
	{
		From:       []string{mod("protocol/...")},
		Never:      []string{mod("coordinator/..."), mod("txn/..."), mod("replication/..."), mod("cmd/...")},
		Transitive: true,
		Why:        "protocol frames requests and defines the Handler; the broker implements it",
	},
	{
		From:  []string{"*"},
		Never: []string{mod("cmd/...")},
		Why:   "cmd is the top: nothing imports a main package",
	},
	{
		From:  []string{"*"},
		Never: []string{"log"},
		Why:   `the standard library "log" clashes with the module's log/ folder: use log/slog`,
	},
}

func matchPkg(pattern, path string) bool {
	if pattern == "*" {
		return strings.HasPrefix(path, modulePath+"/") || path == modulePath
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matchPkg(p, path) })
}

// depViolations lists every broken rule in graph, one line each, with the
// import chain that breaks it.
func depViolations(graph map[string]depNode, rules []depRule) []string {
	pkgs := make([]string, 0, len(graph))
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	var out []string
	for _, r := range rules {
		for _, from := range pkgs {
			if !matchAny(r.From, from) {
				continue
			}
			if !r.Transitive {
				n := graph[from]
				for _, imp := range slices.Concat(n.Imports, n.TestImports) {
					if imp != from && matchAny(r.Never, imp) {
						out = append(out, fmt.Sprintf("%s imports %s: %s", from, imp, r.Why))
					}
				}
				continue
			}
			// Breadth first over the non-test graph, keeping one path to
			// each package reached.
			prev := map[string]string{from: ""}
			queue := []string{from}
			for len(queue) > 0 {
				p := queue[0]
				queue = queue[1:]
				for _, imp := range graph[p].Imports {
					if _, seen := prev[imp]; seen {
						continue
					}
					prev[imp] = p
					if matchAny(r.Never, imp) {
						chain := []string{imp}
						for q := p; q != ""; q = prev[q] {
							chain = append(chain, q)
						}
						slices.Reverse(chain)
						out = append(out, fmt.Sprintf("%s imports %s (%s): %s", from, imp, strings.Join(chain, " -> "), r.Why))
					}
					queue = append(queue, imp)
				}
			}
		}
	}
	return out
}

// moduleGraph is the module's import graph as `go list` reports it.
func moduleGraph(t *testing.T) map[string]depNode {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{"\t"}}{{join .Imports " "}}{{"\t"}}{{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string]depNode{}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 3 {
			t.Fatalf("go list line %q", line)
		}
		graph[f[0]] = depNode{Imports: strings.Fields(f[1]), TestImports: strings.Fields(f[2])}
	}
	for _, p := range []string{"broker", "protocol", "log", "coordinator", "txn", "cmd/moldau"} {
		if _, ok := graph[mod(p)]; !ok {
			t.Fatalf("go list did not report %s: the graph is not the module's", mod(p))
		}
	}
	return graph
}

func TestDependencyRules(t *testing.T) {
	for _, v := range depViolations(moduleGraph(t), depRules) {
		t.Error(v)
	}
}

// TestDepRulesCatchViolations breaks each rule on a fake module graph:
// each must be reported (so TestDependencyRules can fail), and the legal
// layout must not be.
func TestDepRulesCatchViolations(t *testing.T) {
	legal := map[string]depNode{
		mod("cmd/moldau"):      {Imports: []string{mod("broker"), mod("broker/config"), "log/slog"}},
		mod("broker"):          {Imports: []string{mod("protocol"), mod("coordinator"), mod("txn"), mod("log"), mod("broker/config")}},
		mod("broker/config"):   {},
		mod("protocol"):        {Imports: []string{"github.com/twmb/franz-go/pkg/kmsg"}},
		mod("coordinator"):     {Imports: []string{"time"}, TestImports: []string{mod("internal/scripttest")}},
		mod("txn"):             {TestImports: []string{mod("internal/scripttest")}},
		mod("log"):             {Imports: []string{mod("log/records"), mod("log/vfs")}},
		mod("log/records"):     {},
		mod("log/vfs"):         {},
		mod("tests"):           {TestImports: []string{mod("broker"), mod("tests/harness")}},
		mod("tests/harness"):   {Imports: []string{mod("broker")}},
		"github.com/other/pkg": {Imports: []string{"log"}}, // not the module's
	}
	if v := depViolations(legal, depRules); len(v) > 0 {
		t.Fatalf("the legal layout reported: %q", v)
	}
	for _, tc := range []struct {
		name string
		edit func(g map[string]depNode)
		want string // a substring of the one expected violation
	}{
		{"protocol imports broker", func(g map[string]depNode) { add(g, "protocol", mod("broker")) }, mod("protocol") + " imports " + mod("broker")},
		{"log/vfs reaches broker through a helper", func(g map[string]depNode) {
			g[mod("internal/glue")] = depNode{Imports: []string{mod("broker")}}
			add(g, "log/vfs", mod("internal/glue"))
		}, mod("log/vfs") + " -> " + mod("internal/glue") + " -> " + mod("broker")},
		{"coordinator imports txn", func(g map[string]depNode) { add(g, "coordinator", mod("txn")) }, mod("coordinator") + " imports " + mod("txn")},
		{"txn imports protocol", func(g map[string]depNode) { add(g, "txn", mod("protocol")) }, mod("txn") + " imports " + mod("protocol")},
		{"replication imports coordinator", func(g map[string]depNode) {
			g[mod("replication")] = depNode{Imports: []string{mod("log"), mod("coordinator")}}
		}, mod("replication") + " imports " + mod("coordinator")},
		{"broker/metadata imports replication", func(g map[string]depNode) {
			g[mod("broker/metadata")] = depNode{Imports: []string{mod("replication")}}
		}, mod("broker/metadata") + " imports " + mod("replication")},
		{"coordinator imports log", func(g map[string]depNode) { add(g, "coordinator", mod("log/records")) }, mod("coordinator") + " imports " + mod("log/records")},
		{"log imports coordinator", func(g map[string]depNode) { add(g, "log", mod("coordinator")) }, mod("log") + " imports " + mod("coordinator")},
		{"a test imports cmd", func(g map[string]depNode) {
			n := g[mod("tests")]
			n.TestImports = append(n.TestImports, mod("cmd/moldau"))
			g[mod("tests")] = n
		}, mod("tests") + " imports " + mod("cmd/moldau")},
		{"a test imports the standard log", func(g map[string]depNode) {
			n := g[mod("log/vfs")]
			n.TestImports = append(n.TestImports, "log")
			g[mod("log/vfs")] = n
		}, mod("log/vfs") + " imports log:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := map[string]depNode{}
			for k, v := range legal {
				g[k] = depNode{Imports: slices.Clone(v.Imports), TestImports: slices.Clone(v.TestImports)}
			}
			tc.edit(g)
			v := depViolations(g, depRules)
			if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("violations %q lack %q", v, tc.want)
			}
		})
	}
}

func add(g map[string]depNode, rel, imp string) {
	n := g[mod(rel)]
	n.Imports = append(n.Imports, imp)
	g[mod(rel)] = n
}
