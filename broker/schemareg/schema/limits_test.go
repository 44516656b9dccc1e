package schema

import (
	"strings"
	"testing"
)

func TestJSONNestingError(t *testing.T) {
	deep := func(n int) string { return strings.Repeat(`{"a":[`, n) + strings.Repeat(`]}`, n) }
	for _, tc := range []struct {
		text string
		want string
	}{
		{deep(500), ""},                             // 1000 levels: Jackson's maximum
		{deep(500) + deep(500), ""},                 // siblings do not add up
		{`"` + strings.Repeat("[", 5000) + `"`, ""}, // brackets in a string
		{`"\"` + strings.Repeat("[", 5000) + `"`, ""},
		{strings.Repeat("[", 1000) + "{", "Document nesting depth (1001) exceeds the maximum allowed (1000, from `StreamReadConstraints.getMaxNestingDepth()`)"},
		{strings.Repeat(`{"type":"array","items":`, 2_000_000), "Document nesting depth (1001)"},
	} {
		got := JSONNestingError(tc.text)
		if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("JSONNestingError(%.40q...) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
