// Package otlp encodes the smallest OTLP metrics payload the compat
// scenarios push through PushTelemetry (KIP-714): one gauge, one point.
package otlp

import (
	"encoding/binary"
	"math"
	"time"
)

// Gauge encodes an OTLP MetricsData protobuf holding one gauge data point:
// MetricsData{resource_metrics(1){scope_metrics(2){metrics(2){name(1),
// gauge(5){data_points(1){time_unix_nano(3), as_double(4)}}}}}.
func Gauge(name string, v float64, at time.Time) []byte {
	field := func(num int, b []byte) []byte { // length-delimited
		out := binary.AppendUvarint(nil, uint64(num<<3|2))
		out = binary.AppendUvarint(out, uint64(len(b)))
		return append(out, b...)
	}
	var point []byte
	point = binary.AppendUvarint(point, 3<<3|1) // fixed64 time_unix_nano
	point = binary.LittleEndian.AppendUint64(point, uint64(at.UnixNano()))
	point = binary.AppendUvarint(point, 4<<3|1) // double as_double
	point = binary.LittleEndian.AppendUint64(point, math.Float64bits(v))
	metric := append(field(1, []byte(name)), field(5, field(1, point))...)
	return field(1, field(2, field(2, metric)))
}
