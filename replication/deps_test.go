package replication

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The dependency rule (../shared/STYLE.md): replication never imports
// broker, coordinator, txn or protocol; it reaches them through the
// interfaces it defines. The packages it may import (log, log/records)
// are themselves kept free of those by their own rule, so checking this
// package's direct imports holds the line.
func TestDependencyRule(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	forbidden := []string{"broker", "coordinator", "txn", "protocol", "cmd"}
	const module = "github.com/moldau/moldau/"
	fset := token.NewFileSet()
	for _, f := range files {
		ast, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if path == "log" {
				t.Errorf("%s imports the standard library's log (use log/slog)", f)
			}
			if !strings.HasPrefix(path, module) {
				continue
			}
			rel := strings.TrimPrefix(path, module)
			for _, bad := range forbidden {
				if rel == bad || strings.HasPrefix(rel, bad+"/") {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
}
