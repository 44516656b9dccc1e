//go:build !linux

package broker

// volumeBytes: not measured off Linux (Kafka's "unknown", -1).
func volumeBytes(string) (total, usable int64) { return -1, -1 }
