package main

// W8: Apache Kafka's own perf tools, kafka-producer-perf-test
// (org.apache.kafka.tools.ProducerPerformance) and kafka-consumer-perf-test
// (ConsumerPerformance) from the kafka-tools 4.4.0 jar that
// tests/compat/kafka-ref.sh fetch caches, run with java -cp as the kafka-*.sh
// scripts and tests/compat/cli/driver.sh do. Their summary lines are parsed
// into the result table.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// perfRecords is the record count of each perf-tool run, before -scale.
const perfRecords = 500_000

// perfJVM is kafka-run-class.sh's default for the tools (KAFKA_HEAP_OPTS
// -Xmx256M is raised to 512M for a 1 KiB-record producer; G1 with its
// KAFKA_JVM_PERFORMANCE_OPTS pause target), logging off.
var perfJVM = []string{"-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
	"-Djava.awt.headless=true", "-Dlog4j2.level=off"}

func kafkaTool(class string, args ...string) (string, error) {
	libs := filepath.Join(*root, "tests/compat/.cache/kafka-4.4.0/libs")
	c := exec.Command("java", append(append(append([]string{}, perfJVM...), "-cp", libs+"/*", class), args...)...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	done := make(chan error, 1)
	if err := c.Start(); err != nil {
		return "", err
	}
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%s: %v: %s", class, err, lastLines(out.String(), 3))
		}
	case <-time.After(10 * time.Minute):
		c.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s: timed out", class)
	}
	return out.String(), nil
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], " | ")
}

// producerSummary matches the numbers of ProducerPerformance's last line:
// "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max
// latency, P ms 50th, P ms 95th, P ms 99th, P ms 99.9th."
var producerSummary = regexp.MustCompile(`([0-9.]+) (records sent|records/sec|MB/sec|ms avg latency|ms max latency|ms 50th|ms 95th|ms 99th|ms 99\.9th)`)

var producerKeys = map[string]string{
	"records sent": "records", "records/sec": "records_per_s", "MB/sec": "mb_per_s", "ms avg latency": "avg_ms",
	"ms max latency": "max_ms", "ms 50th": "p50_ms", "ms 95th": "p95_ms", "ms 99th": "p99_ms", "ms 99.9th": "p999_ms",
}

func parseProducerPerf(out string) (map[string]float64, error) {
	var last string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "records sent,") && strings.Contains(l, "50th") {
			last = l
		}
	}
	if last == "" {
		return nil, fmt.Errorf("no producer-perf-test summary line: %s", lastLines(out, 3))
	}
	m := map[string]float64{}
	for _, g := range producerSummary.FindAllStringSubmatch(last, -1) {
		v, err := strconv.ParseFloat(g[1], 64)
		if err != nil {
			return nil, err
		}
		m[producerKeys[g[2]]] = v
	}
	if len(m) != len(producerKeys) {
		return nil, fmt.Errorf("producer-perf-test summary %q: parsed %d of %d fields", last, len(m), len(producerKeys))
	}
	return m, nil
}

// parseConsumerPerf reads ConsumerPerformance's header line
// ("start.time, end.time, data.consumed.in.MB, MB.sec, ...") and the data
// line after it into a map keyed by the header's names (numeric fields only).
func parseConsumerPerf(out string) (map[string]float64, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	var header []string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "start.time,") {
			header = strings.Split(l, ",")
			continue
		}
		if header == nil || l == "" {
			continue
		}
		vals := strings.Split(l, ",")
		if len(vals) != len(header) {
			continue
		}
		m := map[string]float64{}
		for i, h := range header {
			if v, err := strconv.ParseFloat(strings.TrimSpace(vals[i]), 64); err == nil {
				m[strings.TrimSpace(h)] = v
			}
		}
		for _, k := range []string{"MB.sec", "data.consumed.in.nMsg", "fetch.MB.sec", "rebalance.time.ms"} {
			if _, ok := m[k]; !ok {
				return nil, fmt.Errorf("consumer-perf-test line %q: no %s", l, k)
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("no consumer-perf-test summary: %s", lastLines(out, 3))
}

// runPerf is one W8 (target, round): a fresh broker, a 16-partition topic,
// kafka-producer-perf-test then kafka-consumer-perf-test reading it back. It
// returns a W8-produce and a W8-consume sample.
func runPerf(t target, round int) []sample {
	prod := sample{Workload: "W8-produce", Target: t.Name, Round: round + 1, Load1Start: loadAvg()}
	cons := sample{Workload: "W8-consume", Target: t.Name, Round: round + 1}
	fail := func(err error) []sample {
		prod.Err, cons.Err = err.Error(), err.Error()
		return []sample{prod, cons}
	}
	dir, err := os.MkdirTemp("", "moldau-bench-w8-"+t.Name+"-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	p, err := startTarget(t, dir)
	if err != nil {
		return fail(err)
	}
	defer p.stop()
	prod.StartupMs = p.startup.Seconds() * 1000
	topic := fmt.Sprintf("bench-w8-%d", time.Now().UnixNano())
	if err := createTopic(p.addr, topic, 16); err != nil {
		return fail(err)
	}
	n := strconv.Itoa(int(perfRecords * *scale))
	cpu0 := procCPU(p.pid)
	out, err := kafkaTool("org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", n, "--record-size", "1024",
		"--throughput", "-1", "--producer-props", "bootstrap.servers="+p.addr, "acks=1")
	if err == nil {
		prod.Perf, err = parseProducerPerf(out)
	}
	if err != nil {
		return fail(err)
	}
	prod.CPUSec = procCPU(p.pid) - cpu0
	prod.MiBPerSec = prod.Perf["mb_per_s"] // the tool's MB is 1024×1024 bytes
	prod.ProducedGiB = prod.Perf["records"] * 1024 / (1 << 30)
	prod.Load1End = loadAvg()
	cons.Load1Start = loadAvg()
	cpu0 = procCPU(p.pid)
	out, err = kafkaTool("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", p.addr, "--topic", topic,
		"--num-records", n, "--timeout", "60000")
	if err == nil {
		cons.Perf, err = parseConsumerPerf(out)
	}
	if err != nil {
		cons.Err = err.Error()
		return []sample{prod, cons}
	}
	if got := cons.Perf["data.consumed.in.nMsg"]; got < prod.Perf["records"] {
		cons.Err = fmt.Sprintf("consumed %.0f of %.0f records", got, prod.Perf["records"])
	}
	cons.CPUSec = procCPU(p.pid) - cpu0
	cons.MiBPerSec = cons.Perf["fetch.MB.sec"]
	cons.Load1End = loadAvg()
	return []sample{prod, cons}
}
