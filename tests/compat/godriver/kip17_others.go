package main

import (
	"context"
	"fmt"
)

// What sarama and kafka-go can express of issue #17's scenarios.

func (s *saramaClient) kip17NA(scenario string) string {
	switch scenario {
	case "share_group":
		return "sarama has no share consumer and no share-group admin APIs (KIP-932)"
	case "client_telemetry":
		return "sarama does not implement client metrics push (KIP-714: GetTelemetrySubscriptions, PushTelemetry)"
	case "features":
		return "sarama has no UpdateFeatures, DescribeQuorum or finalized-feature API"
	}
	return ""
}

// LogDirSizes: sarama's ClusterAdmin.DescribeLogDirs over every broker.
func (s *saramaClient) LogDirSizes(_ context.Context, topic string) (map[int32]int64, error) {
	brokers, _, err := s.adm.DescribeCluster()
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, b := range brokers {
		ids = append(ids, b.ID())
	}
	all, err := s.adm.DescribeLogDirs(ids)
	if err != nil {
		return nil, err
	}
	sizes := map[int32]int64{}
	for broker, dirs := range all {
		for _, d := range dirs {
			if d.ErrorCode != 0 {
				return nil, fmt.Errorf("broker %d log dir %s: error code %d", broker, d.Path, d.ErrorCode)
			}
			for _, t := range d.Topics {
				if t.Topic != topic {
					continue
				}
				for _, p := range t.Partitions {
					if old, ok := sizes[p.PartitionID]; !ok || p.Size < old {
						sizes[p.PartitionID] = p.Size
					}
				}
			}
		}
	}
	return sizes, nil
}

func (k *kafkaGo) kip17NA(scenario string) string {
	switch scenario {
	case "share_group":
		return "kafka-go has no share consumer (KIP-932)"
	case "client_telemetry":
		return "kafka-go does not implement client metrics push (KIP-714)"
	case "log_dirs":
		return "kafka-go has no DescribeLogDirs API"
	case "features":
		return "kafka-go has no UpdateFeatures or DescribeQuorum API"
	}
	return ""
}
