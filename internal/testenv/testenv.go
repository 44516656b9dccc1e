// Package testenv says what a test may take for granted on the machine it
// runs on. Under CI (the CI environment variable set to anything but "",
// "0" or "false"; .ci/run sets CI=true) nothing is optional: a missing tool or
// an unavailable feature fails the test, naming what is missing and how CI
// provides it. On a developer machine the same test is skipped instead.
//
// It imports only the standard library so that every package's tests,
// broker's in-package tests included, can use it without an import cycle.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI.
func InCI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// Unavailable ends the test because something it needs is missing: a skip
// outside CI, a failure under CI. why says what is missing and how CI
// provides it.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=%q: under CI a missing prerequisite fails the test)", why, os.Getenv("CI"))
		return
	}
	t.Skip(why)
}

// RequireTool returns the path of the executable name, or ends the test with
// Unavailable; install says how CI installs it (for example "make deps:
// apt-get install kcat").
func RequireTool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s is not installed (%v); CI installs it with %s", name, err, install)
	}
	return p
}

// WaitFor polls cond until it holds, failing the test with what if it does
// not within d. The pause between polls grows from 1 ms to 50 ms: a test
// waits for a condition, never for a fixed time.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
			return
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// SkipIfShort skips a long test under go test -short on a developer
// machine; under CI -short skips nothing.
func SkipIfShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() && !InCI() {
		t.Skip("-short: " + why)
	}
}
