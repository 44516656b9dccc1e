package schemareg

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func refsBody(schemaText string, refs []Reference) string {
	b, _ := json.Marshal(map[string]any{"schema": schemaText, "references": refs})
	return string(b)
}

// TestReferenceLimits: references resolving to more than maxReferences
// schemas, or to more than maxResolvedBytes of text, are refused with a
// 42201 before anything is parsed; within the limits they resolve.
func TestReferenceLimits(t *testing.T) {
	h := newRegistry(t, newMemLog()).Handler()
	big := `{"type":"record","name":"Big","fields":[{"name":"f","type":"string","default":"` + strings.Repeat("x", 1<<20) + `"}]}`
	mustCall(t, h, "POST", "/subjects/big/versions", registerBody(big), 200)
	mustCall(t, h, "POST", "/subjects/small/versions", registerBody(`"string"`), 200)

	many := func(subject string, n int) []Reference {
		refs := make([]Reference, n)
		for i := range refs {
			refs[i] = Reference{Name: fmt.Sprintf("r%d", i), Subject: subject, Version: 1}
		}
		return refs
	}
	start := time.Now()
	out := mustCall(t, h, "POST", "/subjects/x/versions", refsBody(`"int"`, many("big", maxResolvedBytes>>20+1)), 422)
	if !strings.Contains(out, "42201") || !strings.Contains(out, fmt.Sprintf("more than %d bytes", maxResolvedBytes)) {
		t.Fatalf("too many bytes: %s", out)
	}
	out = mustCall(t, h, "POST", "/subjects/x/versions", refsBody(`"int"`, many("small", maxReferences+1)), 422)
	if !strings.Contains(out, "42201") || !strings.Contains(out, fmt.Sprintf("more than %d schemas", maxReferences)) {
		t.Fatalf("too many references: %s", out)
	}
	// 200,000 references (9 MB of body) to one schema under distinct names.
	out = mustCall(t, h, "POST", "/subjects/x/versions", refsBody(`"int"`, many("big", 200_000)), 422)
	if !strings.Contains(out, "42201") {
		t.Fatalf("200,000 references: %s", out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusals took %v", d)
	}
	mustCall(t, h, "POST", "/subjects/x/versions", refsBody(`"int"`, many("small", maxReferences)), 200)
}

// TestReferenceCycle: references that form a cycle (written to _schemas
// by another registry or by hand: the API cannot create one) and a
// self-reference resolve each name once and terminate.
func TestReferenceCycle(t *testing.T) {
	l := newMemLog()
	put := func(subject string, id int, refs string) {
		l.put(t, fmt.Sprintf(`{"keytype":"SCHEMA","subject":%q,"version":1,"magic":1}`, subject),
			fmt.Sprintf(`{"subject":%q,"version":1,"id":%d,"schema":"\"string\"","references":%s,"deleted":false}`, subject, id, refs))
	}
	put("a", 1, `[{"name":"b","subject":"b","version":1}]`)
	put("b", 2, `[{"name":"a","subject":"a","version":1}]`)
	put("self", 3, `[{"name":"self","subject":"self","version":1}]`)
	h := newRegistry(t, l).Handler()
	waitFor(t, "the records applied", func() bool {
		code, _ := call(t, h, "GET", "/subjects/self/versions/1", "")
		return code == 200
	})
	for _, s := range []string{"a", "self"} {
		body := refsBody(`"int"`, []Reference{{Name: "x", Subject: s, Version: 1}})
		if code, out := call(t, h, "POST", "/subjects/user-"+s+"/versions", body); code != 200 && code != 422 {
			t.Fatalf("referencing %s: %d %s", s, code, out)
		}
	}
}
