//go:build race

package restproxy_test

// streamBodyBytes is the streaming produce body of
// TestV3ProduceStreamBoundedMemory: 10 MB under the race detector, which
// makes each record's decoding some ten times slower.
const streamBodyBytes = 10 << 20
