//go:build !race

package restproxy_test

// streamBodyBytes is the streaming produce body of
// TestV3ProduceStreamBoundedMemory: 100 MB.
const streamBodyBytes = 100 << 20
