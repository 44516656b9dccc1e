package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// brokerProc is a broker the runner started (or was pointed at), or a
// cluster of them (nodes, each its own process; addr is then the bootstrap
// list).
type brokerProc struct {
	name  string
	addr  string
	admin string // Moldau's admin HTTP address (/metrics), when the runner started it
	cmd   *exec.Cmd
	done  chan struct{}
	tmp   string
	nodes []*brokerProc
}

func (b *brokerProc) stop() {
	var wg sync.WaitGroup
	for _, n := range b.nodes {
		if n != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.stop() }()
		}
	}
	wg.Wait()
	if b.cmd == nil || b.cmd.Process == nil {
		if b.tmp != "" {
			_ = os.RemoveAll(b.tmp)
		}
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.done
	}
	if b.tmp != "" {
		_ = os.RemoveAll(b.tmp)
	}
}

// startProc runs cmd in its own process group and waits for its
// "listening on HOST:PORT" line on stdout.
func startProc(name string, cmd *exec.Cmd, logPath string, wait time.Duration) (*brokerProc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &brokerProc{name: name, cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening on ") {
				lines <- strings.TrimPrefix(sc.Text(), "listening on ")
				break
			}
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); logFile.Close(); close(b.done) }()
	select {
	case addr, ok := <-lines:
		if !ok {
			<-b.done
			return nil, fmt.Errorf("%s exited before listening; log: %s\n%s", name, logPath, tail(logPath, 30))
		}
		b.addr = addr
		return b, nil
	case <-time.After(wait):
		b.stop()
		return nil, fmt.Errorf("%s did not listen within %v; log: %s\n%s", name, wait, logPath, tail(logPath, 30))
	}
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func goBuild(o options, out, pkg string, cgo bool, flags ...string) error {
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, pkg)...)
	cmd.Dir = o.root
	cmd.Env = os.Environ()
	if cgo {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	} else {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func startMoldau(_ context.Context, o options) (*brokerProc, error) {
	bin := o.moldauBin
	if bin == "" {
		bin = filepath.Join(o.bin, "moldau")
		if err := goBuild(o, bin, "./cmd/moldau", false); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "compat-moldau-")
	if err != nil {
		return nil, err
	}
	// The admin endpoint serves /metrics for the Moldau-only checks
	// (moldauonly.go): a free loopback port.
	admin, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--admin-addr", admin, "--schema-registry-addr", "", "--console-addr", "", "--http-proxy-addr", "", "--data-dir", filepath.Join(tmp, "data"),
		"--set", "transaction.max.timeout.ms=900000")
	b, err := startProc("moldau", cmd, filepath.Join(o.logs, "moldau.log"), 30*time.Second)
	if err != nil {
		return nil, err
	}
	b.tmp, b.admin = tmp, admin
	return b, nil
}

func startKafka(_ context.Context, o options) (*brokerProc, error) {
	cmd := exec.Command("bash", filepath.Join(o.dir, "kafka-ref.sh"))
	cmd.Env = append(os.Environ(), "KAFKA_REF_LOG="+filepath.Join(o.logs, "kafka-broker.log"))
	return startProc("kafka", cmd, filepath.Join(o.logs, "kafka-ref.log"), 5*time.Minute)
}

// buildGoDriver builds the pure-Go driver and, with cgo and -tags ckgo, the
// one that also holds confluent-kafka-go (its bundled static librdkafka). A
// failed cgo build is logged and leaves no binary, so every
// confluent-kafka-go scenario reports "driver not installed".
func buildGoDriver(o options) error {
	if err := goBuild(o, filepath.Join(o.bin, "godriver"), "./tests/compat/godriver", false); err != nil {
		return err
	}
	// Moldau's own CLI is a client too (the moldau-cli driver).
	if err := goBuild(o, filepath.Join(o.bin, "moldau-cli"), "./cmd/moldau", false); err != nil {
		return err
	}
	cgoBin := filepath.Join(o.bin, "godriver-cgo")
	_ = os.Remove(cgoBin)
	if err := goBuild(o, cgoBin, "./tests/compat/godriver", true, "-tags", "ckgo"); err != nil {
		logf("confluent-kafka-go driver did not build (see .cache/logs/godriver-cgo-build.log)")
		_ = os.WriteFile(filepath.Join(o.logs, "godriver-cgo-build.log"), []byte(err.Error()), 0o644)
	}
	return nil
}
