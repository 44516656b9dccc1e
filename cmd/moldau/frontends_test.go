package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moldau/moldau/broker/config"
)

// TestFrontEndFlagDefaults: --console-addr and --http-proxy-addr default
// to 127.0.0.1:8080 and 127.0.0.1:8082 (Confluent REST Proxy's port), the
// environment moves them, and "" turns them off.
func TestFrontEndFlagDefaults(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := config.Load(nil, none, nil)
	if err != nil || cfg.ConsoleAddr != "127.0.0.1:8080" || cfg.HTTPProxyAddr != "127.0.0.1:8082" {
		t.Fatalf("defaults: console %q http proxy %q (%v)", cfg.ConsoleAddr, cfg.HTTPProxyAddr, err)
	}
	env := map[string]string{"MOLDAU_CONSOLE_ADDR": "127.0.0.1:18080", "MOLDAU_HTTP_PROXY_ADDR": ""}
	cfg, err = config.Load([]string{"--http-proxy-addr", ""}, func(k string) string { return env[k] }, nil)
	if err != nil || cfg.ConsoleAddr != "127.0.0.1:18080" || cfg.HTTPProxyAddr != "" {
		t.Fatalf("env and flag: console %q http proxy %q (%v)", cfg.ConsoleAddr, cfg.HTTPProxyAddr, err)
	}
}

// TestBinaryServesFrontEnds: the binary serves the web console (its page,
// its JSON API) and the REST Proxy API on the given addresses, prints the
// console's URL, and on a broker whose only listener needs SASL both answer
// 401 without credentials and serve a SCRAM user's Basic credentials.
func TestBinaryServesFrontEnds(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "moldau")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	t.Run("plaintext", func(t *testing.T) {
		ports := freeLoopbackPorts(t, 3)
		console, proxy := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
		stdout := startFrontEndBinary(t, bin, "--schema-registry-addr", "127.0.0.1:"+strconv.Itoa(ports[2]),
			"--console-addr", console, "--http-proxy-addr", proxy)
		waitHTTP(t, "http://"+proxy+"/v3/clusters")
		if line := stdout.waitLine(t, "web console on "); line != "web console on http://"+console {
			t.Errorf("banner %q, want the console's URL http://%s", line, console)
		}
		status, ctype, body := get(t, "http://"+console+"/", "", "")
		if status != 200 || !strings.HasPrefix(ctype, "text/html") {
			t.Errorf("console /: %d %s %.200s", status, ctype, body)
		}
		status, _, body = get(t, "http://"+console+"/api/overview", "", "")
		var ov struct {
			ClusterID      string            `json:"cluster_id"`
			Brokers        []json.RawMessage `json:"brokers"`
			SchemaRegistry bool              `json:"schema_registry"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &ov) != nil || ov.ClusterID == "" || len(ov.Brokers) != 1 || !ov.SchemaRegistry {
			t.Errorf("console /api/overview: %d %s", status, body)
		}
		status, ctype, body = get(t, "http://"+proxy+"/v3/clusters", "", "")
		if status != 200 || !strings.Contains(ctype, "json") || !strings.Contains(body, `"KafkaClusterList"`) || !strings.Contains(body, ov.ClusterID) {
			t.Errorf("http proxy /v3/clusters: %d %s %s", status, ctype, body)
		}
	})

	t.Run("sasl", func(t *testing.T) {
		ports := freeLoopbackPorts(t, 2)
		console, proxy := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
		startFrontEndBinary(t, bin, "--listeners", "SASL_PLAINTEXT://127.0.0.1:0",
			"--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]",
			"--console-addr", console, "--http-proxy-addr", proxy)
		waitHTTP(t, "http://"+proxy+"/v3/clusters")
		for _, url := range []string{"http://" + proxy + "/v3/clusters", "http://" + console + "/api/overview"} {
			if status, _, body := get(t, url, "", ""); status != 401 {
				t.Errorf("%s without credentials: %d %s, want 401", url, status, body)
			}
			if status, _, body := get(t, url, "alice", "wrong"); status != 401 {
				t.Errorf("%s with a wrong password: %d %s, want 401", url, status, body)
			}
			if status, _, body := get(t, url, "alice", "alice-secret"); status != 200 {
				t.Errorf("%s as alice: %d %s, want 200", url, status, body)
			}
		}
	})
}

// lineReader collects a child's stdout lines.
type lineReader struct {
	lines chan string
}

// waitLine returns the first line starting with prefix.
func (r *lineReader) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("stdout ended without a %q line", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q line on stdout", prefix)
		}
	}
}

// startFrontEndBinary runs bin in memory on a free Kafka port with args,
// the environment's front-end settings cleared; it is stopped at cleanup.
func startFrontEndBinary(t *testing.T, bin string, args ...string) *lineReader {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--memory", "--addr", "127.0.0.1:0", "--admin-addr", "", "--schema-registry-addr", ""}, args...)...)
	cmd.Env = append(os.Environ(), "MOLDAU_CONSOLE_ADDR=", "MOLDAU_HTTP_PROXY_ADDR=", "MOLDAU_SCHEMA_REGISTRY_ADDR=", "MOLDAU_LISTENERS=")
	stderr := &lockedWriter{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &lineReader{lines: make(chan string, 64)}
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case r.lines <- sc.Text():
			default: // nobody reads any more
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("broker stderr:\n%s", stderr.String())
		}
	})
	return r
}

// waitHTTP waits until url answers (any status).
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get GETs url (with Basic credentials when user is set) and returns the
// status, the Content-Type and the body.
func get(t *testing.T, url, user, password string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}
