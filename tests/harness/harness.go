// Package harness starts Moldau brokers for black-box tests: the real binary
// as a child process (for restart and kill -9 tests) or an in-process broker.
package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/broker/config"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// repoRoot finds the module root from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds cmd/moldau once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "moldau-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "moldau")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/moldau")
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Proc is a broker running as a child process.
type Proc struct {
	t       testing.TB
	Addr    string
	DataDir string
	args    []string
	cmd     *exec.Cmd
	stderr  *LockedBuffer
	exited  chan error
}

// LockedBuffer collects a child process's output, written and read from
// different goroutines, for failure messages.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail is the last n bytes written (all of it when shorter).
func (l *LockedBuffer) Tail(n int) string {
	s := l.String()
	return s[max(0, len(s)-n):]
}

// Start runs the binary on a free loopback port with a fresh data dir (or
// the --data-dir among args) and waits for its "listening on" line.
func Start(t testing.TB, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, args: args}
	p.DataDir = flagValue(args, "--data-dir")
	if p.DataDir == "" && !hasFlag(args, "--memory") {
		p.DataDir = t.TempDir()
		p.args = append(p.args, "--data-dir", p.DataDir)
	}
	if flagValue(args, "--addr") == "" {
		p.args = append(p.args, "--addr", "127.0.0.1:0")
	}
	if flagValue(args, "--admin-addr") == "" {
		p.args = append(p.args, "--admin-addr", "")
	}
	if !hasFlag(args, "--schema-registry-addr") {
		// Off unless the test asks: tests run many brokers at once, and
		// the default (127.0.0.1:8081) can be bound by one only.
		p.args = append(p.args, "--schema-registry-addr", "")
	}
	// The web console and the HTTP proxy likewise (8080, 8082).
	if !hasFlag(args, "--console-addr") {
		p.args = append(p.args, "--console-addr", "")
	}
	if !hasFlag(args, "--http-proxy-addr") {
		p.args = append(p.args, "--http-proxy-addr", "")
	}
	p.start()
	t.Cleanup(func() {
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *Proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(Binary(p.t), p.args...)
	p.stderr = &LockedBuffer{}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.exited <- p.cmd.Wait() }()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "listening on ") {
			p.t.Fatalf("moldau did not start: first line %q\nstderr:\n%s", line, p.stderr.String())
		}
		addr := strings.TrimPrefix(line, "listening on ")
		// Addr is written only by the first start: a restart reuses the
		// address (tests read Addr from other goroutines meanwhile).
		if p.Addr == "" {
			p.Addr = addr
		} else if addr != p.Addr {
			p.t.Fatalf("moldau restarted on %s, not on its address %s", addr, p.Addr)
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("moldau did not start within 30s\nstderr:\n%s", p.stderr.String())
	}
}

// Stderr is what the broker logged so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Stop sends SIGTERM and waits for a clean exit (status 0).
func (p *Proc) Stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			p.t.Fatalf("moldau exited with %v\nstderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		p.t.Fatalf("moldau did not stop within 30s of SIGTERM\nstderr:\n%s", p.stderr.String())
	}
}

// Kill9 kills the broker with SIGKILL.
func (p *Proc) Kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Restart starts the broker again on the same address and data dir.
func (p *Proc) Restart() {
	p.t.Helper()
	args := make([]string, 0, len(p.args))
	for i := 0; i < len(p.args); i++ {
		if p.args[i] == "--addr" && i+1 < len(p.args) {
			i++
			continue
		}
		args = append(args, p.args[i])
	}
	p.args = append(args, "--addr", p.Addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.start()
		if p.Addr != "" || time.Now().After(deadline) {
			return
		}
	}
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if strings.HasPrefix(a, name+"=") {
			return strings.TrimPrefix(a, name+"=")
		}
	}
	return ""
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// InProcess starts a broker inside the test process on a free loopback port,
// in memory unless mutate says otherwise, with opts after the test logger,
// and closes it at cleanup.
func InProcess(t testing.TB, mutate func(*config.Config), opts ...broker.Option) *broker.Broker {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Memory = true
	cfg.AdminAddr = ""
	cfg.SchemaRegistryAddr = "" // off unless mutate turns it on
	cfg.ConsoleAddr, cfg.HTTPProxyAddr = "", ""
	if mutate != nil {
		mutate(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("MOLDAU_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := broker.New(cfg, append([]broker.Option{broker.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("close broker: %v", err)
		}
	})
	return b
}
