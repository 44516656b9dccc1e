package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/moldau/moldau/broker"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"
// (the Makefile's build target: the latest tag; the Dockerfile: the VERSION
// build argument); otherwise the module version under go install, or "dev".
// The revision and build date come from broker.ReadBuild, which also labels
// moldau_build_info, so the two always agree.
var version = "dev"

// noVCS explains a version line without a revision.
const noVCS = "no VCS information: built outside git, by go run, or with -buildvcs=false"

func versionString() string { return formatVersion(broker.ReadBuild(version)) }

// formatVersion is the `moldau version` line, e.g.
//
//	moldau v1.2.0 (revision 0123456789ab, committed 2026-12-01T10:00:00Z, built 2026-12-06T13:20:00Z, go1.26.8, linux/amd64)
//	moldau dev (no VCS information: built outside git, by go run, or with -buildvcs=false; go1.26.8, linux/amd64)
func formatVersion(b broker.Build) string {
	var parts []string
	if b.Revision != "" {
		parts = append(parts, "revision "+b.RevisionLabel())
		if b.CommitTime != "" {
			parts = append(parts, "committed "+b.CommitTime)
		}
	}
	if b.BuildDate != "" {
		parts = append(parts, "built "+b.BuildDate)
	}
	parts = append(parts, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	line := strings.Join(parts, ", ")
	if b.Revision == "" {
		line = noVCS + "; " + line
	}
	return fmt.Sprintf("moldau %s (%s)", b.Version, line)
}
