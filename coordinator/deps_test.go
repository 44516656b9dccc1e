package coordinator

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The coordinator reaches the broker only through the interfaces it
// defines: it imports nothing of Moldau's (not protocol, txn, replication
// or broker).
func TestImportsNothingOfMoldau(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/moldau/moldau") {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}
