package broker

// GetTelemetrySubscriptions, key 71, version 0 (KIP-714).
//
//   - A zero ClientInstanceID gets a new random instance id; otherwise the
//     client's own is kept (an instance the broker has not seen, as after
//     a move to another broker, is created on the spot).
//   - The answer is the instance's plan from the client-metrics
//     subscriptions it matches (broker/telemetry.Resolve): the subscription
//     id, the requested metric prefixes ("*" for all, none when nothing
//     matches), the smallest matching push interval (300000 ms when none),
//     the accepted compression types (zstd, lz4, gzip, snappy; none is
//     always accepted), TelemetryMaxBytes (the broker property
//     telemetry.max.bytes, default 1 MiB) and DeltaTemporality true,
//     as Kafka's ClientMetricsManager.
//   - A request sooner than the push interval after the instance's last
//     request is THROTTLING_QUOTA_EXCEEDED, unless its last answer was
//     UNKNOWN_SUBSCRIPTION_ID or UNSUPPORTED_COMPRESSION_TYPE.
//   - No ACL is checked, as Kafka.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/telemetry"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleGetTelemetrySubscriptions(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.GetTelemetrySubscriptionsRequest)
	resp := r.ResponseKind().(*kmsg.GetTelemetrySubscriptionsResponse)
	ans, err := b.telemetryInstances().Get(r.ClientInstanceID, b.clientInfo(req), b.nowMs())
	resp.ClientInstanceID = ans.InstanceID
	if err != nil {
		resp.ErrorCode = telemetryErrorCode(err)
		return respond(resp)
	}
	resp.SubscriptionID = ans.Plan.SubscriptionID
	resp.AcceptedCompressionTypes = append([]int8(nil), telemetry.AcceptedCodecs...)
	resp.PushIntervalMillis = ans.Plan.IntervalMs
	resp.TelemetryMaxBytes = b.topics.metrics.telemetry.maxBytes
	resp.DeltaTemporality = true
	resp.RequestedMetrics = ans.Plan.Metrics
	return respond(resp)
}

// telemetryErrorCode maps broker/telemetry's errors to Kafka's codes.
func telemetryErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, telemetry.ErrThrottled):
		return kerr.ThrottlingQuotaExceeded.Code
	case errors.Is(err, telemetry.ErrUnknownSubscription):
		return kerr.UnknownSubscriptionID.Code
	case errors.Is(err, telemetry.ErrUnsupportedCodec):
		return kerr.UnsupportedCompressionType.Code
	case errors.Is(err, telemetry.ErrTooLarge):
		return kerr.TelemetryTooLarge.Code
	case errors.Is(err, telemetry.ErrInvalidMetrics):
		return kerr.InvalidRecord.Code
	case errors.Is(err, telemetry.ErrTerminated), errors.Is(err, telemetry.ErrInvalidInstance):
		return kerr.InvalidRequest.Code
	}
	return kerr.UnknownServerError.Code
}
