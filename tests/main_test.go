package tests

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// sarama's metrics (rcrowley/go-metrics) start one process-wide
		// meter ticker with the first Meter and never stop it, by design:
		// it is shared by every sarama client of the process.
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
	)
}
