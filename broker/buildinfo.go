package broker

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Build describes the running binary: the release version (set by the
// binary with -ldflags "-X main.version=…", "dev" otherwise, or the module
// version when built with go install) and the VCS revision Go stamped in.
type Build struct {
	Version  string
	Revision string // up to 12 hex digits, "" when unknown
	Dirty    bool   // built from a modified work tree
}

// ReadBuild completes version (the binary's own notion, "dev" if unset)
// with what the Go build info records.
func ReadBuild(version string) Build {
	b := Build{Version: version}
	if b.Version == "" {
		b.Version = "dev"
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
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
	if len(b.Revision) > 12 {
		b.Revision = b.Revision[:12]
	}
	return b
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
	rev := b.Revision
	if b.Dirty {
		rev += "-dirty"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "moldau", Name: "build_info",
		Help:        "Build information: always 1, with the version, VCS revision and Go version as labels.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": rev, "goversion": runtime.Version()}})
	g.Set(1)
	reg.MustRegister(g)
}
