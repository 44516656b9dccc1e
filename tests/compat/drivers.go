package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// driver is how one client's scenarios are run: a command that takes the
// bootstrap address and a comma-separated scenario list and prints one JSON
// line per scenario.
type driver struct {
	client string
	// command returns argv; bootstrap and scenarios are appended.
	command func(o options) []string
	// needs lists files that setup.sh installs; a missing one fails every
	// scenario with "driver not installed" (never a silent skip).
	needs   func(o options) []string
	timeout time.Duration
}

func goDriver(client string) driver {
	return driver{client: client, timeout: 10 * time.Minute,
		command: func(o options) []string {
			return []string{filepath.Join(o.bin, "godriver"), "-client", client, "-timeout", "30s", "-bootstrap"}
		}}
}

func javaDriver(client, version string) driver {
	return driver{client: client, timeout: 10 * time.Minute,
		command: func(o options) []string {
			cp := filepath.Join(o.cache, "java-build", version) + ":" + filepath.Join(o.cache, "java-"+version, "*")
			if strings.HasPrefix(version, "4.") {
				// Kafka Streams 4.4 for streams_group_protocol (StreamsGroup.java).
				cp += ":" + filepath.Join(o.cache, "streams-4.4.0", "*")
			}
			return []string{"java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", cp, "Driver", client}
		},
		needs: func(o options) []string {
			return []string{filepath.Join(o.cache, "java-build", version, "Driver.class")}
		}}
}

var drivers = []driver{
	goDriver("franz-go"),
	goDriver("sarama"),
	goDriver("kafka-go"),
	javaDriver("java-4.4", "4.4.0"),
	javaDriver("java-3.9", "3.9.1"),
	javaDriver("java-2.8", "2.8.2"),
	{client: "confluent-kafka-python", timeout: 10 * time.Minute,
		command: func(o options) []string {
			return []string{filepath.Join(o.cache, "venv", "bin", "python"), filepath.Join(o.dir, "python", "ck_driver.py")}
		},
		needs: func(o options) []string { return []string{filepath.Join(o.cache, "venv", "bin", "python")} }},
	{client: "kafka-python", timeout: 10 * time.Minute,
		command: func(o options) []string {
			return []string{filepath.Join(o.cache, "venv", "bin", "python"), filepath.Join(o.dir, "python", "kp_driver.py")}
		},
		needs: func(o options) []string { return []string{filepath.Join(o.cache, "venv", "bin", "python")} }},
	{client: "kcat", timeout: 15 * time.Minute,
		command: func(o options) []string { return []string{"bash", filepath.Join(o.dir, "cli", "kcat.sh")} },
		needs:   func(o options) []string { return []string{"/usr/bin/kcat"} }},
	{client: "kafkajs", timeout: 10 * time.Minute,
		command: func(o options) []string { return []string{"node", filepath.Join(o.dir, "node", "driver.js")} },
		needs:   func(o options) []string { return []string{filepath.Join(o.dir, "node", "node_modules", "kafkajs")} }},
	{client: "confluent-kafka-go", timeout: 10 * time.Minute,
		command: func(o options) []string {
			return []string{filepath.Join(o.bin, "godriver-cgo"), "-client", "confluent-kafka-go", "-timeout", "30s", "-bootstrap"}
		},
		needs: func(o options) []string { return []string{filepath.Join(o.bin, "godriver-cgo")} }},
	{client: "moldau-cli", timeout: 10 * time.Minute,
		command: func(o options) []string {
			return []string{"bash", filepath.Join(o.dir, "cli", "moldau-cli.sh"), filepath.Join(o.bin, "moldau-cli")}
		}},
	{client: "kafka-cli", timeout: 20 * time.Minute,
		command: func(o options) []string { return []string{"bash", filepath.Join(o.dir, "cli", "driver.sh")} },
		needs: func(o options) []string {
			return []string{filepath.Join(o.cache, "kafka-4.4.0", "libs", "kafka-tools-4.4.0.jar")}
		}},
}

func allClients() []string {
	var out []string
	for _, d := range drivers {
		out = append(out, d.client)
	}
	return out
}

// outcome is one scenario's result on one broker.
type outcome struct {
	Result string `json:"result"`
	Reason string `json:"reason"`
}

type key struct{ client, scenario, broker string }

type results struct {
	mu  sync.Mutex
	m   map[key]outcome
	dur map[string]time.Duration // client/broker -> driver wall time
	// parity: both brokers' ApiVersions side by side (apiversions.go).
	parity []apiParity
	// moldauOnly: checks of what Moldau does beyond Kafka (moldauonly.go).
	moldauOnly []moldauOnlyResult
}

func runDrivers(o options, brokers map[string]string) *results {
	res := &results{m: map[key]outcome{}, dur: map[string]time.Duration{}}
	type job struct {
		d      driver
		broker string
	}
	var jobs []job
	for _, d := range drivers {
		if !slices.Contains(o.clients, d.client) {
			continue
		}
		for _, b := range []string{"moldau", "kafka"} {
			jobs = append(jobs, job{d, b})
		}
	}
	sem := make(chan struct{}, max(1, o.parallel))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			out := runDriver(o, j.d, j.broker, brokers[j.broker], "")
			if j.broker == "kafka" {
				out = retryReference(o, j.d, brokers[j.broker], out)
			}
			res.mu.Lock()
			defer res.mu.Unlock()
			res.dur[j.d.client+"/"+j.broker] = time.Since(start)
			for s, oc := range out {
				res.m[key{j.d.client, s, j.broker}] = oc
			}
			pass, fail := 0, 0
			for _, oc := range out {
				switch oc.Result {
				case "pass":
					pass++
				case "fail":
					fail++
				}
			}
			logf("%-22s on %-6s %2d pass %2d fail %2d n/a  (%.0fs)", j.d.client, j.broker, pass, fail, len(out)-pass-fail, time.Since(start).Seconds())
		}()
	}
	wg.Wait()
	return res
}

// retryReference runs the scenarios that failed against Apache Kafka (the
// reference) once more and keeps the second result, noting the first. A
// failure against the reference says nothing about Moldau: on this 2-core
// machine, under the matrix's parallel load, kafka-python's two-member
// rebalance against Kafka 4.4 has missed even a 60 s wait in about one CI
// run in three while passing alone every time. Moldau's results are never
// retried.
func retryReference(o options, d driver, addr string, out map[string]outcome) map[string]outcome {
	var failed []string
	for _, s := range o.scenarios {
		if out[s].Result == "fail" {
			failed = append(failed, s)
		}
	}
	if len(failed) == 0 {
		return out
	}
	logf("%-22s on kafka   retrying %s once (failed: %s)", d.client, strings.Join(failed, ","), out[failed[0]].Reason)
	ro := o
	ro.scenarios = failed
	again := runDriver(ro, d, "kafka", addr, "-retry")
	for _, s := range failed {
		oc := again[s]
		if oc.Result == "pass" {
			oc.Reason = oneLine("passed on a second run against the reference (first run: " + out[s].Reason + ")")
		}
		out[s] = oc
	}
	return out
}

// runDriver runs one driver against one broker and returns an outcome for
// every requested scenario: a scenario the driver did not report is a fail.
// logSuffix tells a second run's driver log from the first's.
func runDriver(o options, d driver, broker, addr, logSuffix string) map[string]outcome {
	out := map[string]outcome{}
	missing := func(reason string) map[string]outcome {
		for _, s := range o.scenarios {
			if _, ok := out[s]; !ok {
				out[s] = outcome{"fail", reason}
			}
		}
		return out
	}
	if d.needs != nil {
		for _, f := range d.needs(o) {
			if _, err := os.Stat(f); err != nil {
				return missing("driver not installed (" + f + " missing): run tests/compat/setup.sh")
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	argv := append(d.command(o), addr, strings.Join(o.scenarios, ","))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), "COMPAT_CACHE="+o.cache, "COMPAT_BROKER="+broker, "COMPAT_RF="+strconv.Itoa(o.rf()),
		"COMPAT_BROKERS="+strconv.Itoa(o.brokers()))
	cmd.WaitDelay = 10 * time.Second
	logPath := filepath.Join(o.logs, d.client+"-"+broker+logSuffix+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return missing(err.Error())
	}
	defer logFile.Close()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = logFile
	runErr := cmd.Run()
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var r struct {
			Client, Scenario, Result, Reason string
		}
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &r) != nil {
			fmt.Fprintf(logFile, "stdout: %s\n", line)
			continue
		}
		if r.Client != d.client || !slices.Contains(o.scenarios, r.Scenario) {
			fmt.Fprintf(logFile, "unexpected result line: %s\n", line)
			continue
		}
		switch r.Result {
		case "pass", "fail", "na":
		default:
			r.Result, r.Reason = "fail", "driver reported "+r.Result+": "+r.Reason
		}
		out[r.Scenario] = outcome{r.Result, oneLine(r.Reason)}
	}
	reason := "driver did not report this scenario"
	if runErr != nil {
		reason = fmt.Sprintf("driver did not report this scenario (%v; log %s)", runErr, logPath)
	}
	return missing(reason)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
