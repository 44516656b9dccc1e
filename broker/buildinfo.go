package broker

import (
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Build describes the running binary: the release version (set by the
// binary with -ldflags "-X main.version=…", "dev" otherwise, or the module
// version when built with go install), the VCS revision Go stamped in (or
// the one the build passed at link time), and when it was committed and
// built.
type Build struct {
	Version    string
	Revision   string // up to 12 hex digits (or the link-time text), "" when unknown
	Dirty      bool   // built from a modified work tree
	CommitTime string // the revision's commit time (vcs.time, RFC 3339), "" when unknown
	BuildDate  string // when the binary was built (link time), "" when not stamped
}

// Link-time stamps, for builds Go cannot read the VCS of (a Docker build
// context has no .git) and for the build date, which Go does not record.
// The Makefile's build target and the Dockerfile set them:
//
//	-ldflags "-X github.com/moldau/moldau/broker.linkRevision=$(git rev-parse HEAD)
//	          -X github.com/moldau/moldau/broker.linkBuildDate=2026-12-06T13:20:00Z"
//
// Go's own vcs.revision, when present, wins over linkRevision.
var linkRevision, linkBuildDate string

// ReadBuild completes version (the binary's own notion, "dev" if unset)
// with what the Go build info and the link-time stamps record.
func ReadBuild(version string) Build {
	b := Build{Version: version, BuildDate: linkBuildDate}
	if b.Version == "" {
		b.Version = "dev"
	}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.CommitTime = s.Value
			case "vcs.modified":
				b.Dirty = s.Value == "true"
			}
		}
		mod := bi.Main
		if mod.Path != modulePath { // embedded in someone else's binary
			for _, d := range bi.Deps {
				if d.Path == modulePath {
					mod = *d
				}
			}
		}
		if b.Version == "dev" && mod.Path == modulePath && mod.Version != "" && mod.Version != "(devel)" {
			b.Version = mod.Version
		}
	}
	if b.Revision == "" {
		b.Revision = strings.TrimSpace(linkRevision)
		if r, ok := strings.CutSuffix(b.Revision, "-dirty"); ok {
			b.Revision, b.Dirty = r, true
		}
	}
	if len(b.Revision) > 12 && strings.Trim(b.Revision, "0123456789abcdef") == "" {
		b.Revision = b.Revision[:12]
	}
	return b
}

// RevisionLabel is the revision as moldau_build_info and `moldau version`
// show it: "-dirty" appended for a modified work tree, "" when unknown.
func (b Build) RevisionLabel() string {
	if b.Revision == "" {
		return ""
	}
	if b.Dirty {
		return b.Revision + "-dirty"
	}
	return b.Revision
}

const modulePath = "github.com/moldau/moldau"

// WithVersion names the binary's version (in moldau_build_info).
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// registerBuildInfo exports moldau_build_info{version,revision,goversion} 1,
// the Prometheus convention for build metadata.
func registerBuildInfo(reg prometheus.Registerer, version string) {
	if reg == nil {
		return
	}
	b := ReadBuild(version)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "moldau", Name: "build_info",
		Help:        "Build information: always 1, with the version, VCS revision and Go version as labels.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.RevisionLabel(), "goversion": runtime.Version()}})
	g.Set(1)
	reg.MustRegister(g)
}
