package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestInCI(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"", false}, {"0", false}, {"false", false}, {"FALSE", false}, {"no", false}, {"true", true}, {"1", true}, {"yes", true}} {
		t.Setenv("CI", tc.v)
		if got := InCI(); got != tc.want {
			t.Errorf("CI=%q: InCI() = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// recorder is a testing.TB that records how the test ended.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = true
	r.msg = args[0].(string)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = format
}

func TestRequireToolSkipsOutsideCIAndFailsUnderCI(t *testing.T) {
	const missing = "moldau-no-such-tool-3f9a"
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	RequireTool(r, missing, "nothing")
	if !r.skipped || r.failed {
		t.Errorf("outside CI: skipped=%v failed=%v, want a skip", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	RequireTool(r, missing, "nothing")
	if r.skipped || !r.failed {
		t.Errorf("under CI: skipped=%v failed=%v, want a failure", r.skipped, r.failed)
	}
	r = &recorder{TB: t}
	if p := RequireTool(r, "go", "the Go toolchain"); p == "" || r.skipped || r.failed {
		t.Errorf("RequireTool(go) = %q, skipped=%v failed=%v", p, r.skipped, r.failed)
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, 10*time.Second, "the third poll", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
	r := &recorder{TB: t}
	WaitFor(r, 5*time.Millisecond, "never", func() bool { return false })
	if !r.failed {
		t.Error("WaitFor on a condition that never holds did not fail")
	}
}

// FreePorts hands out distinct ports below the ephemeral range, bindable
// on every host asked for, and holds each one's lock: a second lock on
// the same file (what another test binary would try) is refused.
func TestFreePorts(t *testing.T) {
	lo, hi := portRange()
	ports := Ports(t, 5, "127.0.0.1")
	seen := map[int]bool{}
	for _, p := range ports {
		if p < lo || p > hi {
			t.Fatalf("port %d outside [%d, %d]", p, lo, hi)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("reserved port %d not bindable: %v", p, err)
		}
		l.Close()
		f, err := os.Open(filepath.Join(os.TempDir(), "moldau-test-ports", strconv.Itoa(p)))
		if err != nil {
			t.Fatal(err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		f.Close()
		if err == nil {
			t.Fatalf("port %d's lock taken again: another test binary could be handed it", p)
		}
	}
	more := Ports(t, 5, "127.0.0.1")
	for _, p := range more {
		if seen[p] {
			t.Fatalf("port %d handed out again in a later call", p)
		}
	}
	if a := Addr(t, ""); !strings.HasPrefix(a, "127.0.0.1:") {
		t.Fatalf("Addr(\"\") = %q", a)
	}
}
