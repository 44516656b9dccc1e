package console

import (
	"embed"
	"io/fs"
)

//go:embed all:ui/dist
var dist embed.FS

// Assets is the built UI (ui/dist: index.html and its bundle).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "ui/dist")
	if err != nil {
		panic(err) // the embedded tree always has ui/dist
	}
	return sub
}
