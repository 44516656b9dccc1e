package console

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moldau/moldau/internal/testenv"
)

// TestUIDistIsFresh rebuilds the UI from ui/src in a temporary copy of ui/
// (npm ci from the committed package-lock.json, the type check, then
// build.mjs) and fails when the result differs from the committed ui/dist,
// which is what the binary embeds: dist can never drift from its sources.
// Fix a failure with `npm ci && npm run build` in broker/console/ui and
// commit dist.
func TestUIDistIsFresh(t *testing.T) {
	npm := testenv.RequireTool(t, "npm", "make deps: apt-get install npm")
	node := testenv.RequireTool(t, "node", "make deps: apt-get install npm (it depends on nodejs)")

	work := filepath.Join(t.TempDir(), "ui")
	copyTree(t, "ui", work, func(rel string) bool {
		top := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		return top != "node_modules" && top != "dist"
	})

	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		// npm must not write outside its cache and the copy; no update
		// checks, no telemetry.
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
	}
	run(npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
	run(npm, "run", "--silent", "check")
	built := filepath.Join(t.TempDir(), "dist")
	run(node, "build.mjs", built)

	want := readTree(t, built)
	got := readTree(t, filepath.Join("ui", "dist"))
	if len(want) == 0 {
		t.Fatal("the build wrote no files")
	}
	for _, name := range union(want, got) {
		w, inBuild := want[name]
		g, inDist := got[name]
		switch {
		case !inDist:
			t.Errorf("ui/dist/%s is missing: the build writes it", name)
		case !inBuild:
			t.Errorf("ui/dist/%s is stale: the build no longer writes it", name)
		case !bytes.Equal(w, g):
			t.Errorf("ui/dist/%s differs from a fresh build of ui/src (%d bytes built, %d committed)", name, len(w), len(g))
		}
	}
	if t.Failed() {
		t.Log("rebuild with: cd broker/console/ui && npm ci && npm run build; then commit ui/dist")
	}
	if _, err := fs.Stat(Assets(), "index.html"); err != nil {
		t.Errorf("the embedded assets have no index.html: %v", err)
	}
}

// copyTree copies the regular files under src for which keep(relative path)
// holds into dst.
func copyTree(t *testing.T, src, dst string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel != "." && !keep(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// readTree reads every regular file under dir, keyed by slash-separated
// relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return files
}

func union(a, b map[string][]byte) []string {
	var names []string
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
