package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/config"
)

// TestBinaryServesSchemaRegistry: the binary, started with no registry
// setting but its address, answers Confluent's GET /subjects there; and
// the flag's default is Confluent's 127.0.0.1:8081.
func TestBinaryServesSchemaRegistry(t *testing.T) {
	cfg, err := config.Load(nil, func(string) string { return "" }, nil)
	if err != nil || cfg.SchemaRegistryAddr != "127.0.0.1:8081" {
		t.Fatalf("default --schema-registry-addr %q (%v), want 127.0.0.1:8081", cfg.SchemaRegistryAddr, err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "moldau")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freeLoopbackPorts(t, 1)[0])
	cmd := exec.Command(bin, "--memory", "--addr", "127.0.0.1:0", "--admin-addr", "", "--schema-registry-addr", addr)
	cmd.Env = append(os.Environ(), "MOLDAU_SCHEMA_REGISTRY_ADDR=") // the flag alone
	stderr := &lockedWriter{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/subjects")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.TrimSpace(string(body)) == "[]" {
				return
			}
			t.Fatalf("GET /subjects: %d %s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry never answered on %s: %v\nstderr:\n%s", addr, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedWriter collects a child's output written by exec's copying
// goroutine while the test reads it.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
