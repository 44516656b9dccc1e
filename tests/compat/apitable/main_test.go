package main

import (
	"strings"
	"testing"
)

// TestReadmeTableCurrent fails when README.md's API table no longer matches
// broker/apis.go (a row added, removed or re-ranged without running
// go run ./tests/compat/apitable).
func TestReadmeTableCurrent(t *testing.T) {
	if err := run(repoRoot(), true); err != nil {
		t.Fatal(err)
	}
}

func TestRewriteKeepsNotesAndAddsRows(t *testing.T) {
	readme := "intro\n" + begin + "\n| key | API | versions |\n|---|---|---|\n" +
		"| 0 | Produce | 3–12 (v8+: per-record errors) |\n| 9 | Gone | 0 |\n" + end + "\ntail\n"
	rows := []apiRow{{key: 0, name: "Produce", min: 3, max: 13}, {key: 35, name: "DescribeLogDirs", min: 0, max: 4, clusterOnly: true}, {key: 76, name: "ShareGroupHeartbeat", min: 1, max: 1}}
	out, err := rewrite([]byte(readme), rows)
	if err != nil {
		t.Fatal(err)
	}
	want := "intro\n" + begin + "\n| key | API | versions |\n|---|---|---|\n" +
		"| 0 | Produce | 3–13 (v8+: per-record errors) |\n" +
		"| 35 | DescribeLogDirs | 0–4 (cluster mode only) |\n" +
		"| 76 | ShareGroupHeartbeat | 1 |\n" + end + "\ntail\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := rewrite([]byte(strings.ReplaceAll(readme, end, "")), rows); err == nil {
		t.Fatal("no error without the end marker")
	}
}

func TestParseBrokerAPIs(t *testing.T) {
	rows, err := parseAPIs(repoRoot() + "/broker/apis.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, r := range rows {
		if seen[r.key] || r.min > r.max || r.name == "" {
			t.Fatalf("bad row %+v", r)
		}
		seen[r.key] = true
	}
	for _, k := range []int{0, 1, 18, 68} {
		if !seen[k] {
			t.Errorf("key %d missing from the parsed table", k)
		}
	}
}
