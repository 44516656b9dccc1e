package broker

// PushTelemetry, key 72, version 0 (KIP-714).
//
//   - Checked in Kafka's order (ClientMetricsManager.validatePushRequest):
//     a zero or reserved ClientInstanceID is INVALID_REQUEST; an instance
//     that already sent a terminating push is INVALID_REQUEST; a push
//     sooner than the push interval after the last one is
//     THROTTLING_QUOTA_EXCEEDED (the first push after a
//     GetTelemetrySubscriptions is always accepted, as the client jitters
//     its interval, and a terminating push is never throttled); a
//     subscription id other than the instance's current one is
//     UNKNOWN_SUBSCRIPTION_ID (the client fetches its subscription again);
//     a compression type other than none, gzip, snappy, lz4 or zstd is
//     UNSUPPORTED_COMPRESSION_TYPE; a payload over telemetry.max.bytes
//     (default 1 MiB) is TELEMETRY_TOO_LARGE.
//   - An accepted payload is decompressed (at most telemetry.MaxDecompressed,
//     2 MiB; a larger one is TELEMETRY_TOO_LARGE) and decoded as OTLP
//     MetricsData; one that cannot be, or has more than
//     telemetry.MaxElements nested elements, is INVALID_RECORD, as Kafka
//     answers when its receiver plugin fails. At most telemetryDecodes (2)
//     pushes decompress and decode at once in the process; a push that
//     waits longer than telemetryDecodeWait for a slot is
//     THROTTLING_QUOTA_EXCEEDED (the client pushes again next interval). Its data points replace (or,
//     with delta temporality, add to) the instance's series on /metrics
//     (telemetry.go). A terminating push drops the instance's series.
//   - No ACL is checked, as Kafka.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/telemetry"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handlePushTelemetry(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.PushTelemetryRequest)
	resp := r.ResponseKind().(*kmsg.PushTelemetryResponse)
	t := b.topics.metrics.telemetry
	err := b.pushTelemetry(ctx, r, req)
	resp.ErrorCode = telemetryErrorCode(err)
	result := "ok"
	if err != nil {
		if e, ok := kerr.ErrorForCode(resp.ErrorCode).(*kerr.Error); ok {
			result = e.Message
		}
	}
	t.pushes.WithLabelValues(result).Inc()
	return respond(resp)
}

// telemetryDecodes bounds the pushes decompressing and decoding at once in
// the process (each may allocate a few tens of MiB at most); a push waits
// at most telemetryDecodeWait for a slot.
var telemetryDecodes = make(chan struct{}, 2)

const telemetryDecodeWait = 500 * time.Millisecond

func (b *Broker) pushTelemetry(ctx context.Context, r *kmsg.PushTelemetryRequest, req *protocol.Request) error {
	t := b.topics.metrics.telemetry
	now := b.nowMs()
	push := telemetry.Push{InstanceID: r.ClientInstanceID, SubscriptionID: r.SubscriptionID,
		Terminating: r.Terminating, Codec: r.CompressionType, Size: len(r.Metrics)}
	plan, info, err := b.telemetryInstances().Push(push, b.clientInfo(req), int(t.maxBytes), now)
	if err != nil {
		return err
	}
	var samples []telemetry.Sample
	if len(r.Metrics) > 0 {
		wait := time.NewTimer(telemetryDecodeWait)
		select {
		case telemetryDecodes <- struct{}{}:
			wait.Stop()
			defer func() { <-telemetryDecodes }()
		case <-wait.C:
			err := fmt.Errorf("%w: too many pushes decoding", telemetry.ErrThrottled)
			t.instances.Failed(r.ClientInstanceID, err)
			return err
		case <-ctx.Done():
			wait.Stop()
			return ctx.Err()
		}
		raw, err := records.Decompress(int(r.CompressionType), nil, r.Metrics, telemetry.MaxDecompressed)
		if errors.Is(err, records.ErrTooLarge) {
			err = fmt.Errorf("%w: over %d bytes decompressed", telemetry.ErrTooLarge, telemetry.MaxDecompressed)
			t.instances.Failed(r.ClientInstanceID, err)
			return err
		}
		if err != nil {
			err = fmt.Errorf("%w: %v", telemetry.ErrInvalidMetrics, err)
			t.instances.Failed(r.ClientInstanceID, err)
			return err
		}
		var dropped int
		if samples, dropped, err = telemetry.Decode(raw); err != nil {
			t.instances.Failed(r.ClientInstanceID, err)
			return err
		}
		t.store.CountDropped(dropped)
	}
	t.store.Update(info, plan, samples, r.Terminating, now)
	return nil
}
