package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRetryReference: a scenario that fails against the reference is run
// once more and its second result kept (with the first noted); a scenario
// that fails twice stays failed.
func TestRetryReference(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The fake driver fails "flaky" on its first run (no marker file yet)
	// and passes it after; "broken" always fails.
	script := filepath.Join(dir, "driver.sh")
	marker := filepath.Join(dir, "ran")
	body := `#!/bin/sh
for s in $(echo "$2" | tr ',' ' '); do
  case $s in
  flaky) if [ -e ` + marker + ` ]; then r=pass; else r=fail; fi ;;
  broken) r=fail ;;
  *) r=pass ;;
  esac
  printf '{"Client":"fake","Scenario":"%s","Result":"%s","Reason":"run"}\n' "$s" "$r"
done
touch ` + marker + `
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	d := driver{client: "fake", timeout: time.Minute, command: func(options) []string { return []string{script} }}
	o := options{dir: dir, cache: dir, logs: filepath.Join(dir, "logs"), scenarios: []string{"ok", "flaky", "broken"}}
	out := runDriver(o, d, "kafka", "127.0.0.1:1", "")
	if out["flaky"].Result != "fail" || out["broken"].Result != "fail" || out["ok"].Result != "pass" {
		t.Fatalf("first run: %+v", out)
	}
	out = retryReference(o, d, "127.0.0.1:1", out)
	if out["flaky"].Result != "pass" || out["broken"].Result != "fail" || out["ok"].Result != "pass" {
		t.Fatalf("after the retry: %+v", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "fake-kafka-retry.log")); err != nil {
		t.Fatalf("the retry's log: %v", err)
	}
}
