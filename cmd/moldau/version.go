package main

import (
	"fmt"
	"runtime"

	"github.com/moldau/moldau/broker"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the VCS revision from the build info is used.
var version = "dev"

func versionString() string {
	b := broker.ReadBuild(version)
	dirty := ""
	if b.Dirty {
		dirty = "-dirty"
	}
	return fmt.Sprintf("moldau %s (%s%s, %s, %s/%s)", b.Version, b.Revision, dirty, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
