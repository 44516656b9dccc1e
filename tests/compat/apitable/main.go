// Command apitable regenerates the README's "Supported APIs" table from
// broker/apis.go, the one table ApiVersions is built from:
//
//	go run ./tests/compat/apitable          # rewrite README.md's block
//	go run ./tests/compat/apitable -check   # exit 1 when the block is stale
//
// It parses (never imports) broker/apis.go: every row of servedAPIs()
// ({key, "Name", min, max, handler}) becomes a table row, in key order,
// with "(cluster mode only)" for the keys of the clusterOnly map. The notes
// after a row's version range are the README's own: they are kept for keys
// already in the table (edit them there), and a new key starts without one.
// The block lies between <!-- apis:begin --> and <!-- apis:end -->.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

const (
	begin = "<!-- apis:begin -->"
	end   = "<!-- apis:end -->"
)

// apiRow is one served API as broker/apis.go lists it.
type apiRow struct {
	key         int
	name        string
	min, max    int
	clusterOnly bool
}

func main() {
	check := flag.Bool("check", false, "only report whether README.md's table matches broker/apis.go")
	flag.Parse()
	root := repoRoot()
	if err := run(root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "apitable:", err)
		os.Exit(1)
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "broker", "apis.go")); err == nil {
		return root
	}
	wd, _ := os.Getwd()
	return wd
}

var errStale = errors.New("README.md's API table differs from broker/apis.go: run go run ./tests/compat/apitable")

func run(root string, checkOnly bool) error {
	rows, err := parseAPIs(filepath.Join(root, "broker", "apis.go"))
	if err != nil {
		return err
	}
	readme := filepath.Join(root, "README.md")
	data, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	out, err := rewrite(data, rows)
	if err != nil {
		return err
	}
	if bytes.Equal(out, data) {
		return nil
	}
	if checkOnly {
		return errStale
	}
	return os.WriteFile(readme, out, 0o644)
}

// parseAPIs reads servedAPIs()'s rows and the clusterOnly keys.
func parseAPIs(path string) ([]apiRow, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	cluster := map[int]bool{}
	var rows []apiRow
	var rowErr error
	intOf := func(e ast.Expr) (int, bool) {
		if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.SUB {
			n, ok := intLit(u.X)
			return -n, ok
		}
		return intLit(e)
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl: // var clusterOnly = map[int16]bool{35: true, ...}
			for _, s := range d.Specs {
				vs, ok := s.(*ast.ValueSpec)
				if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "clusterOnly" || len(vs.Values) != 1 {
					continue
				}
				lit, ok := vs.Values[0].(*ast.CompositeLit)
				if !ok {
					return nil, fmt.Errorf("%s: clusterOnly is not a map literal", path)
				}
				for _, e := range lit.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					k, ok := intOf(kv.Key)
					if !ok {
						return nil, fmt.Errorf("%s: clusterOnly key %T is not an integer literal", path, kv.Key)
					}
					if id, ok := kv.Value.(*ast.Ident); ok && id.Name == "true" {
						cluster[k] = true
					}
				}
			}
		case *ast.FuncDecl:
			if d.Name.Name != "servedAPIs" {
				continue
			}
			ast.Inspect(d.Body, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				if _, isSlice := lit.Type.(*ast.ArrayType); isSlice {
					return true
				}
				if len(lit.Elts) < 4 {
					return false
				}
				k, ok1 := intOf(lit.Elts[0])
				name, ok2 := strLit(lit.Elts[1])
				lo, ok3 := intOf(lit.Elts[2])
				hi, ok4 := intOf(lit.Elts[3])
				if !ok1 || !ok2 || !ok3 || !ok4 {
					rowErr = fmt.Errorf("%s: a servedAPIs row is not {key, \"Name\", min, max, handler} with literals", path)
					return false
				}
				rows = append(rows, apiRow{key: k, name: name, min: lo, max: hi})
				return false
			})
		}
	}
	if rowErr != nil {
		return nil, rowErr
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no servedAPIs rows found", path)
	}
	for i := range rows {
		rows[i].clusterOnly = cluster[rows[i].key]
	}
	slices.SortFunc(rows, func(a, b apiRow) int { return a.key - b.key })
	return rows, nil
}

func intLit(e ast.Expr) (int, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.INT {
		return 0, false
	}
	n, err := strconv.Atoi(b.Value)
	return n, err == nil
}

func strLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

// tableRow matches "| key | Name | versions [(notes)] |".
var tableRow = regexp.MustCompile(`^\| (\d+) \| [^|]+ \| ([0-9]+(?:–[0-9]+)?)(.*) \|$`)

// rewrite replaces the block between the markers with the table of rows,
// keeping each existing row's notes.
func rewrite(readme []byte, rows []apiRow) ([]byte, error) {
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return nil, fmt.Errorf("README.md has no %s … %s block", begin, end)
	}
	notes := map[int]string{}
	for _, line := range strings.Split(s[i+len(begin):j], "\n") {
		if m := tableRow.FindStringSubmatch(line); m != nil {
			k, _ := strconv.Atoi(m[1])
			notes[k] = m[3]
		}
	}
	var b strings.Builder
	b.WriteString("\n| key | API | versions |\n|---|---|---|\n")
	for _, r := range rows {
		v := strconv.Itoa(r.min)
		if r.max != r.min {
			v += "–" + strconv.Itoa(r.max)
		}
		note, ok := notes[r.key]
		if !ok && r.clusterOnly {
			note = " (cluster mode only)"
		}
		fmt.Fprintf(&b, "| %d | %s | %s%s |\n", r.key, r.name, v, note)
	}
	return []byte(s[:i+len(begin)] + b.String() + s[j:]), nil
}
