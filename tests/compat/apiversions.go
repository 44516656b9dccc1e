package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions parity (issue #17): every API key Apache Kafka advertises on
// its client listener must be advertised by Moldau, asked side by side in
// the same run. Version ranges may differ (Moldau also serves the old
// versions Kafka 4.0 dropped); differences are reported in MATRIX.md, not
// gated. A key Kafka advertises and Moldau does not is a failure unless
// expectations.txt lists it as "api_versions | <ApiName> | #issue | reason"
// (the lead removes those lines as the APIs land); a listed key that Moldau
// now advertises fails the run like a stale scenario line.

// parityClient is the pseudo-client of the ApiVersions lines in
// expectations.txt.
const parityClient = "api_versions"

type versionRange struct{ min, max int16 }

// apiParity is one key of the union of both brokers' ApiVersions.
type apiParity struct {
	key           int16
	name          string
	kafka, moldau *versionRange
}

// askApiVersions returns the ApiVersions a broker advertises: the first
// broker of a bootstrap list (in a cluster every broker advertises the same
// table).
func askApiVersions(ctx context.Context, bootstrap string) (map[int16]versionRange, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")[0]), kgo.RequestRetries(3))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "moldau-compat", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("ApiVersions error code %d", resp.ErrorCode)
	}
	out := map[int16]versionRange{}
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = versionRange{k.MinVersion, k.MaxVersion}
	}
	return out, nil
}

// compareApiVersions asks both brokers and returns the union of their keys,
// in key order.
func compareApiVersions(moldauAddr, kafkaAddr string) ([]apiParity, error) {
	ctx := context.Background()
	m, err := askApiVersions(ctx, moldauAddr)
	if err != nil {
		return nil, fmt.Errorf("moldau ApiVersions: %w", err)
	}
	k, err := askApiVersions(ctx, kafkaAddr)
	if err != nil {
		return nil, fmt.Errorf("apache kafka ApiVersions: %w", err)
	}
	var keys []int16
	for key := range k {
		keys = append(keys, key)
	}
	for key := range m {
		if _, ok := k[key]; !ok {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	var out []apiParity
	for _, key := range keys {
		p := apiParity{key: key, name: kmsg.NameForKey(key)}
		if p.name == "" {
			p.name = fmt.Sprintf("Key%d", key)
		}
		if r, ok := k[key]; ok {
			p.kafka = &r
		}
		if r, ok := m[key]; ok {
			p.moldau = &r
		}
		out = append(out, p)
	}
	return out, nil
}

func (r *versionRange) String() string {
	if r == nil {
		return "—"
	}
	if r.min == r.max {
		return fmt.Sprintf("%d", r.min)
	}
	return fmt.Sprintf("%d–%d", r.min, r.max)
}

// status is how Moldau's key compares with Kafka's.
func (p apiParity) status() string {
	switch {
	case p.kafka != nil && p.moldau == nil:
		return "missing on Moldau"
	case p.kafka == nil:
		return "Moldau only"
	case *p.kafka == *p.moldau:
		return "same"
	case p.moldau.min <= p.kafka.min && p.moldau.max >= p.kafka.max:
		return "Moldau serves more versions"
	case p.moldau.max < p.kafka.max:
		return "Moldau's max is lower"
	default:
		return "ranges differ"
	}
}

// checkParity gates the comparison against expectations.txt's api_versions
// lines.
func checkParity(o options, parity []apiParity, exp map[[2]string]expectation) []string {
	var problems []string
	seen := map[string]bool{}
	for _, p := range parity {
		e, expected := exp[[2]string{parityClient, p.name}]
		seen[p.name] = true
		missing := p.kafka != nil && p.moldau == nil
		switch {
		case missing && !expected:
			problems = append(problems, fmt.Sprintf("ApiVersions: Apache Kafka advertises %d %s (%s), Moldau does not", p.key, p.name, p.kafka))
		case !missing && expected:
			problems = append(problems, fmt.Sprintf("ApiVersions: Moldau advertises %d %s (%s) but %s:%d still lists it as missing: delete that line", p.key, p.name, p.moldau, o.expectationsFile(), e.line))
		}
	}
	for k, e := range exp {
		if k[0] == parityClient && !seen[k[1]] {
			problems = append(problems, fmt.Sprintf("%s:%d: api_versions names %s, which neither broker advertises", o.expectationsFile(), e.line, k[1]))
		}
	}
	return problems
}

// renderParity is MATRIX.md's ApiVersions section.
func renderParity(o options, parity []apiParity, exp map[[2]string]expectation) string {
	var b strings.Builder
	b.WriteString("\n## ApiVersions: Moldau beside Apache Kafka\n\n")
	b.WriteString("Every key Apache Kafka advertises on its client listener must be advertised by Moldau (`tests/compat/apiversions.go`); version ranges may differ. ")
	b.WriteString("Apache Kafka advertises GetTelemetrySubscriptions and PushTelemetry only with a client-telemetry plugin: the reference broker runs one (`kafka/CompatTelemetry.java`).\n\n")
	b.WriteString("| key | API | Apache Kafka | Moldau | |\n|---|---|---|---|---|\n")
	for _, p := range parity {
		st := p.status()
		if e, ok := exp[[2]string{parityClient, p.name}]; ok && p.moldau == nil {
			st += " (expected: " + e.issue + ")"
		}
		if st == "same" {
			st = ""
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", p.key, p.name, p.kafka, p.moldau, st)
	}
	return b.String()
}
