package telemetry

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Bounds on what one push may make Decode allocate. proto.Unmarshal
// allocates a Go struct (tens to hundreds of bytes) for every nested
// message, so a payload of empty attributes (2 bytes each on the wire)
// costs ~80 times its size; zstd squeezes such a payload to a few KiB, under
// telemetry.max.bytes. The caller bounds the decompressed size by
// MaxDecompressed, and Decode walks the wire format (CheckElements) before
// unmarshalling, refusing a payload with more than MaxElements
// length-delimited fields (messages, strings, packed arrays) at any level,
// so what Unmarshal allocates is bounded by the element count.
const (
	MaxDecompressed = 2 << 20
	MaxElements     = 50000
	maxDepth        = 32
)

// msgType names an OTLP message the walk descends into.
type msgType uint8

const (
	mLeaf msgType = iota // a string, bytes or packed field, or an unknown one: counted, not entered
	mMetricsData
	mResourceMetrics
	mResource
	mEntityRef
	mScopeMetrics
	mScope
	mMetric
	mDataPoints // Gauge, Sum: field 1 is NumberDataPoint
	mHistograms // Histogram: field 1 is HistogramDataPoint
	mExpHistograms
	mSummaries
	mNumberDP
	mHistogramDP
	mExpHistogramDP
	mSummaryDP
	mExemplar
	mKeyValue
	mAnyValue
	mArrayValue
	mKVList
)

// child is the message type of field num of a message of type t (mLeaf if
// the field is not a message).
func child(t msgType, num protowire.Number) msgType {
	switch t {
	case mMetricsData:
		if num == 1 {
			return mResourceMetrics
		}
	case mResourceMetrics:
		switch num {
		case 1:
			return mResource
		case 2:
			return mScopeMetrics
		}
	case mResource:
		switch num {
		case 1:
			return mKeyValue
		case 3:
			return mEntityRef
		}
	case mScopeMetrics:
		switch num {
		case 1:
			return mScope
		case 2:
			return mMetric
		}
	case mScope:
		if num == 3 {
			return mKeyValue
		}
	case mMetric:
		switch num {
		case 5, 7:
			return mDataPoints
		case 9:
			return mHistograms
		case 10:
			return mExpHistograms
		case 11:
			return mSummaries
		case 12:
			return mKeyValue
		}
	case mDataPoints:
		if num == 1 {
			return mNumberDP
		}
	case mHistograms:
		if num == 1 {
			return mHistogramDP
		}
	case mExpHistograms:
		if num == 1 {
			return mExpHistogramDP
		}
	case mSummaries:
		if num == 1 {
			return mSummaryDP
		}
	case mNumberDP:
		switch num {
		case 7:
			return mKeyValue
		case 5:
			return mExemplar
		}
	case mHistogramDP:
		switch num {
		case 9:
			return mKeyValue
		case 8:
			return mExemplar
		}
	case mExpHistogramDP:
		switch num {
		case 1:
			return mKeyValue
		case 11:
			return mExemplar
		}
		// 8 and 9 (Buckets) hold only an offset and a packed array: leaves.
	case mSummaryDP:
		if num == 7 {
			return mKeyValue
		}
		// 6 (ValueAtQuantile) holds only scalars: a leaf.
	case mExemplar:
		if num == 7 {
			return mKeyValue
		}
	case mKeyValue:
		if num == 2 {
			return mAnyValue
		}
	case mAnyValue:
		switch num {
		case 5:
			return mArrayValue
		case 6:
			return mKVList
		}
	case mArrayValue:
		if num == 1 {
			return mAnyValue
		}
	case mKVList:
		if num == 1 {
			return mKeyValue
		}
	}
	return mLeaf
}

// CheckElements walks an OTLP MetricsData message on the wire and fails
// (ErrInvalidMetrics) if it is malformed, nests deeper than 32 messages or
// has more than max length-delimited fields in all. It allocates nothing
// and reads each byte a bounded number of times (O(len(b))).
func CheckElements(b []byte, max int) error {
	n := 0
	if err := walk(b, mMetricsData, 0, &n, max); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMetrics, err)
	}
	return nil
}

var (
	errTooManyElements = fmt.Errorf("more than %d elements", MaxElements)
	errTooDeep         = fmt.Errorf("nested deeper than %d messages", maxDepth)
	errMalformed       = fmt.Errorf("malformed protobuf")
)

func walk(b []byte, t msgType, depth int, n *int, max int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return errMalformed
		}
		b = b[l:]
		if typ != protowire.BytesType {
			l = protowire.ConsumeFieldValue(num, typ, b)
			if l < 0 {
				return errMalformed
			}
			b = b[l:]
			continue
		}
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return errMalformed
		}
		b = b[l:]
		if *n++; *n > max {
			return errTooManyElements
		}
		if c := child(t, num); c != mLeaf {
			if err := walk(v, c, depth+1, n, max); err != nil {
				return err
			}
		}
	}
	return nil
}
