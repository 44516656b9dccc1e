package broker

import (
	"testing"
	"time"

	"github.com/moldau/moldau/broker/config"
)

// TestResolveShareAssignmentInterval: share.assignment.interval.ms (group
// config) and group.share.assignment.interval.ms (broker default) reach the
// coordinator's settings.
func TestResolveShareAssignmentInterval(t *testing.T) {
	c := config.Default()
	if got := resolveGroupSettings(&c, nil).ShareAssignmentInterval; got != time.Second {
		t.Errorf("default: %v, want 1s", got)
	}
	if got := resolveGroupSettings(&c, map[string]string{"share.assignment.interval.ms": "5000"}).ShareAssignmentInterval; got != 5*time.Second {
		t.Errorf("group config 5000: %v, want 5s", got)
	}
	c.Groups.ShareAssignmentIntervalMs = 2500
	if got := resolveGroupSettings(&c, nil).ShareAssignmentInterval; got != 2500*time.Millisecond {
		t.Errorf("broker default 2500: %v, want 2.5s", got)
	}
}
