package main

import (
	"strings"
	"testing"
)

// A go test -json stream with two parallel tests interleaved, a skip whose
// reason arrives while another test prints, a subtest (not counted) and a
// failure.
const suiteJSON = `{"Action":"run","Test":"TestA"}
{"Action":"output","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"run","Test":"TestShare"}
{"Action":"output","Test":"TestShare","Output":"=== RUN   TestShare\n"}
{"Action":"output","Test":"TestA","Output":"    a_test.go:10: working\n"}
{"Action":"output","Test":"TestShare","Output":"    share_test.go:38: broker does not support share groups\n"}
{"Action":"skip","Test":"TestShare"}
{"Action":"run","Test":"TestA/sub"}
{"Action":"pass","Test":"TestA/sub"}
{"Action":"pass","Test":"TestA"}
{"Action":"fail","Test":"TestB"}
not json
{"Action":"fail"}
`

func TestParseSuiteJSON(t *testing.T) {
	sc, text := parseSuiteJSON([]byte(suiteJSON), "6m")
	if sc.pass != 1 || sc.fail != 1 || sc.skip != 1 {
		t.Fatalf("pass/fail/skip %d/%d/%d, want 1/1/1", sc.pass, sc.fail, sc.skip)
	}
	if got := sc.skipped["TestShare"]; got != "share_test.go:38: broker does not support share groups" {
		t.Fatalf("skip reason %q", got)
	}
	if len(sc.failed) != 1 || sc.failed[0] != "TestB" {
		t.Fatalf("failed %v", sc.failed)
	}
	if !strings.Contains(string(text), "=== RUN   TestShare") || !strings.Contains(string(text), "not json") {
		t.Fatalf("text log lost lines:\n%s", text)
	}
	if l := skipList(map[string]suiteCount{"moldau": sc}); !strings.Contains(l, "- `TestShare`: share_test.go:38") {
		t.Fatalf("skip list:\n%s", l)
	}
}
