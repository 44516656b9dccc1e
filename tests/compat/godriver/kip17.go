package main

import (
	"context"
	"fmt"
	"strconv"
)

// The scenarios of issue #17's APIs: share_group (KIP-932),
// streams_group_protocol (KIP-1071), client_telemetry (KIP-714) and
// log_dirs (DescribeLogDirs). Each is client-specific enough that a client
// implements the whole scenario (kip17_franz.go, kip17_sarama.go); a client
// that cannot express one says why in kip17NA.

type shareGroupClient interface {
	ShareGroup(ctx context.Context, e *env) error
}

type telemetryClient interface {
	ClientTelemetry(ctx context.Context, e *env) error
}

// logDirsClient returns the size of every partition of topic that
// DescribeLogDirs lists on any broker (the smallest over replicas).
type logDirsClient interface {
	LogDirSizes(ctx context.Context, topic string) (map[int32]int64, error)
}

// kip17Unsupported says why a client cannot express a scenario ("" when it
// can).
type kip17Unsupported interface{ kip17NA(scenario string) string }

func kip17Gate(e *env, scenario string) error {
	if u, ok := e.cl.(kip17Unsupported); ok {
		if why := u.kip17NA(scenario); why != "" {
			return na("%s", why)
		}
	}
	return nil
}

func scShareGroup(ctx context.Context, e *env) error {
	if err := kip17Gate(e, "share_group"); err != nil {
		return err
	}
	c, ok := e.cl.(shareGroupClient)
	if !ok {
		return fmt.Errorf("driver: client implements neither ShareGroup nor kip17NA for share_group")
	}
	return c.ShareGroup(ctx, e)
}

func scStreamsGroup(_ context.Context, e *env) error {
	if err := kip17Gate(e, "streams_group_protocol"); err != nil {
		return err
	}
	return na("Kafka Streams (KIP-1071's group.protocol=streams) is a Java library: no Go client has it")
}

func scClientTelemetry(ctx context.Context, e *env) error {
	if err := kip17Gate(e, "client_telemetry"); err != nil {
		return err
	}
	c, ok := e.cl.(telemetryClient)
	if !ok {
		return fmt.Errorf("driver: client implements neither ClientTelemetry nor kip17NA for client_telemetry")
	}
	return c.ClientTelemetry(ctx, e)
}

// scLogDirs: a 3-partition topic, 10 records to each partition, then
// DescribeLogDirs must list the three partitions with a size > 0.
func scLogDirs(ctx context.Context, e *env) error {
	if err := kip17Gate(e, "log_dirs"); err != nil {
		return err
	}
	c, ok := e.cl.(logDirsClient)
	if !ok {
		return fmt.Errorf("driver: client implements neither LogDirSizes nor kip17NA for log_dirs")
	}
	t := e.topic()
	if err := e.createTopic(ctx, t, 3, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	for p := int32(0); p < 3; p++ {
		recs := values("p"+strconv.Itoa(int(p))+"-", 10)
		for i := range recs {
			recs[i].Partition = p
		}
		if err := e.cl.Produce(ctx, t, recs, produceOpts{Codec: "none", Acks: -1}); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	return poll(ctx, func() error {
		sizes, err := c.LogDirSizes(ctx, t)
		if err != nil {
			return err
		}
		if len(sizes) != 3 {
			return fmt.Errorf("DescribeLogDirs lists partitions %v of %s, want 3", sizes, t)
		}
		for p, s := range sizes {
			if s <= 0 {
				return fmt.Errorf("DescribeLogDirs: partition %d size %d after producing, want > 0", p, s)
			}
		}
		return nil
	})
}

// featuresClient runs the features scenario: finalized features at Kafka
// 4.4's levels clients rely on (wantFinalized), UpdateFeatures validate-only
// upgrading group.version to its finalized level, DescribeQuorum naming a
// leader among the voters.
type featuresClient interface {
	Features(ctx context.Context, e *env) error
}

// wantFinalized are the finalized feature levels the features scenario
// requires (Kafka 4.4 finalizes these or higher).
var wantFinalized = map[string]int16{"group.version": 1, "transaction.version": 2, "share.version": 1, "streams.version": 1}

func scFeatures(ctx context.Context, e *env) error {
	if err := kip17Gate(e, "features"); err != nil {
		return err
	}
	c, ok := e.cl.(featuresClient)
	if !ok {
		return fmt.Errorf("driver: client implements neither Features nor kip17NA for features")
	}
	return c.Features(ctx, e)
}
