package scripttest

import (
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, format)
}

// counter is a tiny state machine: "add n=2" adds, "get" prints the sum.
func counter() func(Cmd) string {
	sum := int64(0)
	return func(c Cmd) string {
		switch c.Name {
		case "add":
			sum += c.Int("n", 1)
			return ""
		case "get":
			return "sum=" + strings.Repeat("|", int(sum))
		}
		return "unknown " + c.Name
	}
}

func TestRunScriptPassesAndFails(t *testing.T) {
	const script = `# a comment
add n=2
----

get
----
sum=||

add
----

get
----
sum=|||
`
	r := &recorder{TB: t}
	if got := runScript(r, "ok.txt", script, counter()); got != script || len(r.errors) > 0 {
		t.Fatalf("a passing script: errors %q, rewritten:\n%s", r.errors, got)
	}
	wrong := strings.Replace(script, "sum=|||", "sum=||||", 1)
	r = &recorder{TB: t}
	if got := runScript(r, "wrong.txt", wrong, counter()); got != script || len(r.errors) != 1 {
		t.Fatalf("a script with one wrong block: %d errors %q, rewritten:\n%s", len(r.errors), r.errors, got)
	}
}

func TestParse(t *testing.T) {
	c := Parse(t, "join group=g session=1500ms gen=3 flag", "x.txt:1")
	if c.Name != "join" || c.Str("group", "") != "g" || c.Str("missing", "def") != "def" ||
		c.Dur("session", 0) != 1500*time.Millisecond || c.Int("gen", 0) != 3 || !c.Has("flag") || c.Ptr("none") != nil {
		t.Fatalf("parsed %+v", c)
	}
}
