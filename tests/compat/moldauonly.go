package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/compat/otlp"
)

// Moldau-only checks: what Moldau does beyond Apache Kafka, so outside the
// matrix's shared pass/fail. Each is gated like a scenario: a failure must be
// listed in expectations.txt as "moldau_only | <check> | #issue | reason", and
// a listed check that passes fails the run.
//
// telemetry_metrics (issue #17): a client pushes one OTLP gauge through
// PushTelemetry (after GetTelemetrySubscriptions returned a subscription
// made for its client id); Moldau's /metrics must then show the gauge as a
// Prometheus series labelled with that client id.

const moldauOnlyClient = "moldau_only"

var moldauOnlyChecks = []string{"telemetry_metrics"}

type moldauOnlyResult struct {
	check string
	outcome
}

func freeLoopbackPort() (string, error) {
	ports, err := testenv.FreePorts(1)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), nil
}

func runMoldauOnly(moldau *brokerProc) []moldauOnlyResult {
	var out []moldauOnlyResult
	for _, c := range moldauOnlyChecks {
		r := moldauOnlyResult{check: c, outcome: outcome{Result: "pass"}}
		if moldau.admin == "" {
			r.outcome = outcome{"na", "Moldau's admin address is unknown (a broker the runner did not start, or a cluster)"}
		} else if err := checkTelemetryMetrics(moldau.addr, moldau.admin); err != nil {
			r.outcome = outcome{"fail", oneLine(err.Error())}
		}
		logf("moldau-only %s: %s %s", c, r.Result, r.Reason)
		out = append(out, r)
	}
	return out
}

func checkTelemetryMetrics(bootstrap, admin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cid := fmt.Sprintf("compat-moldau-only-%d", time.Now().UnixNano())
	const metric = "org.apache.kafka.producer.record.queue.time.avg"
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.ClientID(cid))
	if err != nil {
		return err
	}
	defer cl.Close()
	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeClientMetrics, "sub-"+cid
	for k, v := range map[string]string{"metrics": "org.apache.kafka.producer.", "interval.ms": "500", "match": "client_id=" + cid} {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		res.Configs = append(res.Configs, c)
	}
	alter.Resources = append(alter.Resources, res)
	ar, err := alter.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, r := range ar.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return fmt.Errorf("client-metrics subscription: %w", err)
		}
	}
	var sub *kmsg.GetTelemetrySubscriptionsResponse
	for sub == nil {
		resp, err := kmsg.NewPtrGetTelemetrySubscriptionsRequest().RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("GetTelemetrySubscriptions: %w", err)
		}
		if len(resp.RequestedMetrics) > 0 {
			sub = resp
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GetTelemetrySubscriptions never returned the subscription")
		case <-time.After(200 * time.Millisecond):
		}
	}
	push := kmsg.NewPtrPushTelemetryRequest()
	push.ClientInstanceID, push.SubscriptionID = sub.ClientInstanceID, sub.SubscriptionID
	push.Metrics = otlp.Gauge(metric, 1.5, time.Now())
	pr, err := push.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
		return fmt.Errorf("PushTelemetry: %w", err)
	}
	want := strings.NewReplacer(".", "_").Replace("record.queue.time.avg")
	var last string
	for {
		body, err := httpGet(ctx, "http://"+admin+"/metrics")
		if err == nil {
			for _, line := range strings.Split(body, "\n") {
				if strings.Contains(line, cid) && strings.Contains(line, want) && !strings.HasPrefix(line, "#") {
					return nil
				}
			}
			last = "no series with " + want + " labelled " + cid
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("/metrics after PushTelemetry: %s", last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func httpGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// checkMoldauOnly gates the results against expectations.txt.
func checkMoldauOnly(o options, rs []moldauOnlyResult, exp map[[2]string]expectation) []string {
	var problems []string
	for _, r := range rs {
		e, expected := exp[[2]string{moldauOnlyClient, r.check}]
		switch {
		case r.Result == "fail" && !expected:
			problems = append(problems, fmt.Sprintf("Moldau-only %s: NEW FAILURE: %s", r.check, r.Reason))
		case r.Result != "fail" && expected:
			problems = append(problems, fmt.Sprintf("Moldau-only %s passes but %s:%d still lists it as failing: delete that line", r.check, o.expectationsFile(), e.line))
		}
	}
	return problems
}

func renderMoldauOnly(rs []moldauOnlyResult) string {
	var b strings.Builder
	b.WriteString("\n## Moldau-only checks\n\nBeyond Apache Kafka, so not part of the table above (`tests/compat/moldauonly.go`).\n\n| check | result |\n|---|---|\n")
	for _, r := range rs {
		res := r.Result
		if r.Reason != "" {
			res += ": " + md(r.Reason)
		}
		fmt.Fprintf(&b, "| %s | %s |\n", r.check, res)
	}
	return b.String()
}
