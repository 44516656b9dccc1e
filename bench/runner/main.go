// Command runner is `make bench`: it starts each target broker as its own
// process on a fresh data directory, runs every workload against one target at
// a time with bench/load, interleaves the targets round by round (A B C D, then
// D C B A, ...) and writes bench/RESULTS.md plus the raw JSON lines.
//
// Targets: Moldau (bin/moldau), Apache Kafka 4.4 (tests/compat/kafka-ref.sh),
// kfake as a process (bench/kfake) and the null broker (bench/nullbroker), the
// produce ceiling. For each start it also records start-up time to the first
// Metadata response, idle RSS, peak RSS and the broker's CPU seconds from
// /proc/<pid>/stat (W7).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type target struct {
	Name string
	// start returns the command for a fresh instance with data under dir.
	start func(dir string) *exec.Cmd
	// consume is false for the null broker, which serves no Fetch.
	consume bool
	// direct: Kafka started by the runner (kafkaNode), not kafka-ref.sh.
	direct bool
}

type workload struct {
	Name, Title string
	Partitions  int
	Args        []string // bench/load flags for the measured run
	Consume     bool     // preload with Args, then measure a catch-up read
	W7          bool     // report RSS and CPU per GiB from this workload
	Latency     bool     // report end-to-end latency (needs Fetch)
	Cold        bool     // after the hot catch-up, drop the page cache and read again (sample "<Name>-cold")
	Kind        string   // "" (bench/load), "perf" (W8, Kafka's perf tools) or "scale" (W9)
	Report      bool     // a table only: its samples come from another workload's runs
}

// sample is one (workload, target, round).
type sample struct {
	Workload, Target string
	Round            int
	StartupMs        float64
	IdleRSSMiB       float64
	PeakRSSMiB       float64
	CPUSec           float64 // broker CPU during the load run(s)
	ProducedGiB      float64 // incl. warm-up
	MiBPerSec        float64
	E2E              map[string]float64 `json:",omitempty"` // end-to-end latency, µs
	Perf             map[string]float64 `json:",omitempty"` // W8: the perf tool's summary
	Scale            *scaleSample       `json:",omitempty"` // W9
	Admin            *adminSample       `json:",omitempty"` // W10
	Cluster          *clusterSample     `json:",omitempty"` // W11, W11-lat, W12
	Load             json.RawMessage
	Err              string `json:",omitempty"`
	// Run identifies the runner invocation (its UTC start time), Commit the
	// tree it measured; Load1Start/End are /proc/loadavg's 1-minute load
	// around the sample (the benchmark's own processes included).
	Run, Commit          string  `json:",omitempty"`
	Load1Start, Load1End float64 `json:",omitempty"`
	src                  string  // the file an earlier run was read from
}

var (
	root        = flag.String("root", ".", "repository root")
	rounds      = flag.Int("rounds", 3, "interleaved rounds (pairs) per workload")
	scale       = flag.Float64("scale", 1, "multiply every workload's volume")
	only        = flag.String("workloads", "", "comma-separated workload names (default: all)")
	targets     = flag.String("targets", "moldau,kafka,kfake,null", "comma-separated targets")
	outDir      = flag.String("out", "bench", "where RESULTS.md and results/ go")
	moldauFl    = flag.String("moldau-flags", "", "extra Moldau flags (e.g. --pprof --admin-addr 127.0.0.1:9644)")
	scaleRounds = flag.Int("w9-rounds", 1, "W9 rounds per partition count (each starts every target three times)")
	baseline    = flag.String("baseline", "", "a second Moldau binary, run as target \"baseline\" (before/after a change); add it to -targets")
)

func main() {
	flag.Parse()
	raiseFileLimit()
	bin := filepath.Join(*root, "bin")
	moldau := func(path string) func(dir string) *exec.Cmd {
		return func(dir string) *exec.Cmd {
			args := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--admin-addr", "", "--schema-registry-addr", "", "--console-addr", "", "--http-proxy-addr", "", "--log-level", "warn"}
			if *moldauFl != "" {
				args = append(args[:4], strings.Fields(*moldauFl)...)
				args = append(args, "--log-level", "warn")
			}
			return exec.Command(path, args...)
		}
	}
	all := []target{
		{Name: "moldau", consume: true, start: moldau(filepath.Join(bin, "moldau"))},
		{Name: "baseline", consume: true, start: moldau(*baseline)},
		{Name: "kafka", consume: true, start: func(dir string) *exec.Cmd {
			c := exec.Command(filepath.Join(*root, "tests/compat/kafka-ref.sh"))
			c.Env = append(os.Environ(), "TMPDIR="+dir)
			return c
		}},
		{Name: "kafka-c2", consume: true, direct: true},
		{Name: "kfake", consume: true, start: func(dir string) *exec.Cmd {
			return exec.Command(filepath.Join(bin, "kfake"), "-data-dir", dir)
		}},
		{Name: "null", start: func(dir string) *exec.Cmd {
			return exec.Command(filepath.Join(bin, "nullbroker"), "-data-dir", dir)
		}},
	}
	var ts []target
	for _, name := range strings.Split(*targets, ",") {
		i := slices.IndexFunc(all, func(t target) bool { return t.Name == name })
		if i < 0 {
			fatal(fmt.Errorf("unknown target %q", name))
		}
		ts = append(ts, all[i])
	}
	runID := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	commit := sh("git", "-C", *root, "rev-parse", "--short=12", "HEAD")
	if sh("git", "-C", *root, "status", "--porcelain", "--untracked-files=no") != "" {
		commit += "+dirty"
	}
	mib := func(m float64) string { return strconv.FormatFloat(m**scale, 'f', -1, 64) }
	common := []string{"-acks", "1", "-linger", "0s", "-batch-bytes", "1048576", "-max-buffered", "65536", "-max-inflight", "5", "-codec", "none",
		"-fetch-max-bytes", "52428800", "-fetch-max-partition-bytes", "1048576", "-fetch-max-wait", "500ms", "-seed", "1"}
	with := func(over ...string) []string { // later flags win in package flag
		return append(slices.Clone(common), over...)
	}
	wls := []workload{
		{Name: "W1", Title: "one producer, 100 B records, 1 partition, acks=1", Partitions: 1,
			Args: with("-size", "100", "-partitions", "1", "-mib", mib(192), "-warmup-mib", mib(16))},
		{Name: "W2", Title: "one producer, 1 KiB records, 16 partitions, acks=1", Partitions: 16, W7: true,
			Args: with("-size", "1024", "-partitions", "16", "-mib", mib(1024), "-warmup-mib", mib(64))},
		{Name: "W2-lz4", Title: "W2 with lz4 compression", Partitions: 16,
			Args: with("-size", "1024", "-partitions", "16", "-mib", mib(512), "-warmup-mib", mib(64), "-codec", "lz4")},
		{Name: "W3", Title: "W2 with acks=all (idempotent producer)", Partitions: 16,
			Args: with("-size", "1024", "-partitions", "16", "-mib", mib(512), "-warmup-mib", mib(32), "-acks", "all", "-idempotent")},
		{Name: "W4", Title: "four producers (own connections), 1 KiB records, 16 partitions, acks=all (idempotent): group commit", Partitions: 16,
			Args: with("-size", "1024", "-partitions", "16", "-mib", mib(512), "-warmup-mib", mib(32), "-acks", "all", "-idempotent", "-producers", "4")},
		{Name: "W6", Title: "end-to-end latency, one producer at a fixed 32 MiB/s (32,768 × 1 KiB records/s, open loop), 16 partitions, acks=1, consumer tailing", Partitions: 16, Latency: true,
			Args: with("-size", "1024", "-partitions", "16", "-mib", mib(256), "-warmup-mib", mib(16), "-rate", "32768", "-e2e", "-fetch-max-wait", "100ms")},
		{Name: "W5", Title: fmt.Sprintf("consumer catch-up of a preloaded 16-partition topic, %s MiB of 1 KiB records (4 GiB × -scale), hot page cache: read right after the preload", mib(4096)), Partitions: 16, Consume: true, Cold: true,
			Args: with("-size", "1024", "-partitions", "16", "-mib", mib(4096), "-warmup-mib", "0")},
		{Name: "W5-cold", Title: "W5 again on the same broker after `sync; echo 3 > /proc/sys/vm/drop_caches` (cold page cache; kfake serves from its heap, so it has no cold run)", Consume: true, Report: true},
		{Name: "W8", Title: "Apache Kafka's own perf tools (kafka-tools 4.4.0)", Kind: "perf"},
		{Name: "W8-produce", Title: "kafka-producer-perf-test: 1 KiB records, 16 partitions, acks=1, the tool's producer defaults otherwise (linger.ms 5, batch.size 16384)", Report: true},
		{Name: "W8-consume", Title: "kafka-consumer-perf-test reading W8-produce's topic back (one consumer in a group; fetch MB/s excludes the group join)", Consume: true, Report: true},
		{Name: "W9-1000p", Title: "W2 spread over 1,000 partitions (one producer, 1 KiB records, acks=1)", Partitions: 1000,
			Args: with("-size", "1024", "-partitions", "1000", "-mib", mib(512), "-warmup-mib", mib(32))},
		{Name: "W9", Title: "partition-count scale", Kind: "scale"},
		{Name: "W10", Title: "admin operations against the data path: produce latency during a 2,000-partition create; 10,000-partition create to ready", Kind: "admin"},
		{Name: "W11", Title: "three-node cluster, acks=all, RF=3: one idempotent producer, 1 KiB records, 6 partitions, min.insync.replicas=2, closed loop", Kind: "cluster",
			Args: with("-size", "1024", "-acks", "all", "-idempotent")},
		{Name: "W11-lat", Title: "W11's topic at a fixed rate (open loop): produce latency", Kind: "cluster", Report: true},
		{Name: "W11-lat-eq", Title: "W11's producer at one rate for every target (open loop): produce latency, like for like", Kind: "cluster", Report: true},
		{Name: "W13", Title: "three-node cluster, RF=3: consume throughput after a preload", Kind: "cluster-consume",
			Args: with("-size", "1024", "-acks", "all", "-idempotent")},
		{Name: "W14", Title: "three-node cluster: recovery after a leader is killed", Kind: "cluster-failover"},
		{Name: "W12", Title: "three-node cluster, idle cost at 1,000 partitions RF=3", Kind: "cluster-idle"},
	}
	allWls := slices.Clone(wls)
	if *only != "" {
		names := strings.Split(*only, ",")
		wls = slices.DeleteFunc(wls, func(w workload) bool {
			return !slices.Contains(names, w.Name) && !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(w.Name, n+"-") && w.Report })
		})
	}
	if err := os.MkdirAll(filepath.Join(*outDir, "results"), 0o755); err != nil {
		fatal(err)
	}
	// runs.jsonl is append-only: earlier runs (and other engineers' lines)
	// stay, and the report takes each workload from its newest run.
	previous := loadRuns(filepath.Join(*outDir, "results"))
	raw, err := os.OpenFile(filepath.Join(*outDir, "results", "runs.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fatal(err)
	}
	defer raw.Close()
	var samples []sample
	keep := func(ss ...sample) {
		for _, s := range ss {
			s.Run, s.Commit = runID, commit
			fmt.Fprintf(os.Stderr, "%s round %d %-6s %8.1f MiB/s  start %6.0f ms  idle %6.1f MiB  peak %7.1f MiB  cpu %5.2f s  load %.1f–%.1f %s\n",
				s.Workload, s.Round, s.Target, s.MiBPerSec, s.StartupMs, s.IdleRSSMiB, s.PeakRSSMiB, s.CPUSec, s.Load1Start, s.Load1End, s.Err)
			if s.Scale != nil {
				fmt.Fprintf(os.Stderr, "    %+v\n", *s.Scale)
			}
			if s.Admin != nil {
				fmt.Fprintf(os.Stderr, "    %+v\n", *s.Admin)
			}
			if s.Cluster != nil {
				fmt.Fprintf(os.Stderr, "    %+v\n", *s.Cluster)
				if f := s.Cluster.Failover; f != nil {
					fmt.Fprintf(os.Stderr, "    failover: acked %d failed %d %s kills %+v\n", f.Acked, f.Failed, f.FirstError, f.Kills)
				}
			}
			line, _ := json.Marshal(s)
			raw.Write(append(line, '\n'))
			samples = append(samples, s)
		}
	}
	for _, w := range wls {
		if w.Report {
			continue
		}
		if w.Kind == "scale" {
			for _, f := range strings.Split(*scaleCounts, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil {
					fatal(fmt.Errorf("-w9-partitions: %w", err))
				}
				for r := range *scaleRounds {
					order := slices.Clone(ts)
					if r%2 == 1 {
						slices.Reverse(order)
					}
					for _, t := range order {
						if t.consume {
							keep(runScale(bin, t, n, r))
						}
					}
				}
			}
			continue
		}
		for r := range *rounds {
			order := slices.Clone(ts)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			saturation := map[string]float64{} // W11 records/s this round, for W11-lat-eq
			for _, t := range order {
				if w.Kind == "admin" {
					if adminTarget(t) {
						keep(runAdmin(t, r))
					}
					continue
				}
				if strings.HasPrefix(w.Kind, "cluster") {
					if !clusterTarget(t) {
						continue
					}
					switch w.Kind {
					case "cluster":
						ss := runClusterProduce(bin, t, r, w.Args)
						if ss[0].Err == "" && ss[0].Cluster.RecordsPerSec > 0 {
							saturation[t.Name] = ss[0].Cluster.RecordsPerSec
						}
						keep(ss...)
					case "cluster-consume":
						keep(runClusterConsume(bin, t, r, w.Args))
					case "cluster-failover":
						keep(runFailover(t, r))
					default:
						keep(runClusterIdle(t, r))
					}
					continue
				}
				if (w.Consume || w.Latency || w.Kind == "perf") && !t.consume {
					continue
				}
				if w.Kind == "perf" {
					keep(runPerf(t, r)...)
				} else {
					keep(runOne(bin, w, t, r)...)
				}
			}
			// W11-lat-eq: every target again at one rate, a fraction of
			// this round's slowest W11, in the reverse order.
			if rate, slowest, ok := eqRate(saturation, *w11LatFrac); w.Kind == "cluster" && *w11LatEq && ok {
				basis := fmt.Sprintf("%s of %s's W11", pct(*w11LatFrac), slowest)
				for _, t := range slices.Backward(order) {
					if _, ran := saturation[t.Name]; ran {
						keep(runClusterLatencyEq(bin, t, r, w.Args, rate, basis))
					}
				}
			}
		}
	}
	merged := merge(allWls, samples, previous)
	report := render(allWls, merged)
	if err := os.WriteFile(filepath.Join(*outDir, "RESULTS.md"), []byte(report), 0o644); err != nil {
		fatal(err)
	}
	if err := plots(filepath.Join(*outDir, "results"), allWls, merged); err != nil {
		fmt.Fprintln(os.Stderr, "runner: plots:", err)
	}
	fmt.Print(report)
}

// fileLimit is the open-files limit the brokers inherit (RLIMIT_NOFILE).
var fileLimit uint64

// raiseFileLimit lifts RLIMIT_NOFILE to 1,048,576 where allowed (root), as
// Kafka's documentation asks (it keeps about two files per partition open, so
// 10,000 partitions pass a 20,000 limit); otherwise to the hard limit.
func raiseFileLimit() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return
	}
	want := syscall.Rlimit{Cur: 1 << 20, Max: max(rl.Max, 1<<20)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		want = syscall.Rlimit{Cur: rl.Max, Max: rl.Max}
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	}
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		fileLimit = rl.Cur
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "runner:", err)
	os.Exit(1)
}

// runOne runs w on a fresh instance of t. A Cold workload returns a second
// sample, "<name>-cold", read after dropping the page cache.
func runOne(bin string, w workload, t target, round int) []sample {
	s := sample{Workload: w.Name, Target: t.Name, Round: round + 1, Load1Start: loadAvg()}
	fail := func(err error) []sample {
		s.Err, s.Load1End = err.Error(), loadAvg()
		return []sample{s}
	}
	dir, err := os.MkdirTemp("", "moldau-bench-"+t.Name+"-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	p, err := startTarget(t, dir)
	if err != nil {
		return fail(err)
	}
	defer p.stop()
	s.StartupMs = p.startup.Seconds() * 1000
	time.Sleep(time.Second) // settle before reading idle RSS
	s.IdleRSSMiB = float64(procStatus(p.pid, "VmRSS:")) / 1024
	cpu0 := procCPU(p.pid)
	topic := fmt.Sprintf("bench-%s-%d", strings.ToLower(w.Name), time.Now().UnixNano())
	args := append([]string{"-brokers", p.addr, "-topic", topic, "-target", t.Name, "-workload", w.Name, "-mode", "produce"}, w.Args...)
	out, err := runLoad(bin, args)
	var lr struct {
		MiBPerSec  float64            `json:"mib_per_s"`
		Bytes      int64              `json:"bytes"`
		Failed     int64              `json:"failed"`
		FirstError string             `json:"first_error"`
		WarmupMiB  float64            `json:"warmup_mib"`
		E2E        map[string]float64 `json:"e2e_latency_us"`
	}
	if err == nil {
		err = json.Unmarshal(out, &lr)
	}
	if err == nil && lr.Failed > 0 {
		err = fmt.Errorf("%d records failed: %s", lr.Failed, lr.FirstError)
	}
	if err != nil {
		return fail(err)
	}
	s.ProducedGiB = (float64(lr.Bytes) + lr.WarmupMiB*(1<<20)) / (1 << 30)
	s.MiBPerSec, s.Load, s.E2E = lr.MiBPerSec, out, lr.E2E
	if w.Latency && len(lr.E2E) == 0 {
		return fail(errors.New("no end-to-end latency recorded"))
	}
	var cold []sample
	if w.Consume {
		consume := func() (float64, []byte, error) {
			args := append([]string{"-brokers", p.addr, "-topic", topic, "-target", t.Name, "-workload", w.Name, "-mode", "consume"}, w.Args...)
			out, err := runLoad(bin, args)
			if err == nil {
				err = json.Unmarshal(out, &lr)
			}
			return lr.MiBPerSec, out, err
		}
		if s.MiBPerSec, s.Load, err = consume(); err != nil {
			return fail(err)
		}
		s.CPUSec = procCPU(p.pid) - cpu0
		s.PeakRSSMiB = float64(procStatus(p.pid, "VmHWM:")) / 1024
		s.Load1End = loadAvg()
		if w.Cold && t.Name != "kfake" {
			c := sample{Workload: w.Name + "-cold", Target: t.Name, Round: s.Round, Load1Start: loadAvg()}
			cpu1 := procCPU(p.pid)
			if err := dropCaches(); err != nil {
				c.Err = err.Error()
			} else if c.MiBPerSec, c.Load, err = consume(); err != nil {
				c.Err = err.Error()
			}
			c.CPUSec, c.Load1End = procCPU(p.pid)-cpu1, loadAvg()
			cold = append(cold, c)
		}
	}
	if !w.Consume {
		s.CPUSec = procCPU(p.pid) - cpu0
		s.PeakRSSMiB = float64(procStatus(p.pid, "VmHWM:")) / 1024
		s.Load1End = loadAvg()
	}
	return append([]sample{s}, cold...)
}

// dropCaches empties the page cache (needs root; the report says so when
// it fails).
func dropCaches() error {
	if out, err := exec.Command("sync").CombinedOutput(); err != nil {
		return fmt.Errorf("sync: %v %s", err, out)
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("cold page cache not possible here: %w", err)
	}
	return nil
}

func runLoad(bin string, args []string) ([]byte, error) {
	c := exec.Command(filepath.Join(bin, "load"), args...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("load %v: %v: %s", args, err, strings.TrimSpace(stderr.String()))
	}
	return bytes.TrimSpace(out), nil
}

type proc struct {
	cmd     *exec.Cmd
	pid     int // the broker process (the JVM for Kafka)
	addr    string
	startup time.Duration
	done    chan struct{}
}

func startTarget(t target, dir string) (*proc, error) {
	if t.direct {
		return startKafkaDirect(dir, true)
	}
	c := t.start(dir)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logBuf bytes.Buffer
	c.Stderr = &logBuf
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	if err := c.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: c, pid: c.Process.Pid, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { c.Wait(); close(p.done) }()
	select {
	case l := <-lines:
		addr, ok := strings.CutPrefix(l, "listening on ")
		if !ok {
			p.stop()
			return nil, fmt.Errorf("%s: unexpected first line %q", t.Name, l)
		}
		p.addr = addr
	case <-p.done:
		return nil, fmt.Errorf("%s exited: %s", t.Name, logBuf.String())
	case <-time.After(3 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("%s: no listening line", t.Name)
	}
	if err := waitMetadata(p.addr, began.Add(3*time.Minute)); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	p.startup = time.Since(began)
	if t.Name == "kafka" {
		p.pid = childNamed(p.pid, "java")
	}
	return p, nil
}

// waitMetadata polls until a Metadata request is answered with a broker.
func waitMetadata(addr string, deadline time.Time) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(0), kgo.DialTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		cancel()
		if err == nil && len(resp.Brokers) > 0 {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return errors.New("no Metadata response")
}

// stop sends SIGTERM and waits up to two minutes (Kafka with 10,000
// partitions shuts down slowly) before SIGKILL.
func (p *proc) stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// childNamed finds a child of pid whose command name is name.
func childNamed(pid int, name string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return pid
	}
	for _, f := range strings.Fields(string(b)) {
		c, _ := strconv.Atoi(f)
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c)); strings.TrimSpace(string(comm)) == name {
			return c
		}
	}
	return pid
}

// procStatus reads a kB field of /proc/<pid>/status.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// procCPU is utime+stime of pid in seconds, from /proc/<pid>/stat.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// fields after the command: state is f[0]; utime and stime are stat fields 14 and 15.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}
