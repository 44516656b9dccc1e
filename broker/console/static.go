package console

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// staticFiles serves the built UI: index.html for "/", every other file
// by its path, 404 for the rest. index.html is revalidated on every load
// (no-cache) so a new broker's UI is picked up at once; files whose names
// carry a content hash (esbuild's name-HASH.ext) are cached for a year.
type staticFiles struct {
	fsys fs.FS
}

// hashedName matches esbuild's content-hashed output names
// (main-5WQ7V2DL.js, chunk-ABCDEFGH.css).
var hashedName = regexp.MustCompile(`[-.][A-Z0-9]{8,}\.[a-z0-9]+$`)

// ErrNoIndex: the embedded UI has no index.html.
var ErrNoIndex = errors.New("console: the embedded UI has no index.html")

func newStaticFiles(fsys fs.FS) (*staticFiles, error) {
	if _, err := fs.Stat(fsys, "index.html"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIndex, err)
	}
	return &staticFiles{fsys: fsys}, nil
}

// modTime is the process start: embedded files have none, and a constant
// lets Last-Modified revalidation work within one broker run.
var modTime = time.Now()

func (st *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	b, err := fs.ReadFile(st.fsys, name)
	if err != nil {
		// Directories and missing files alike: the UI routes by hash, so
		// there is no history fallback to serve.
		http.NotFound(w, r)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(b)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	if name != "index.html" && hashedName.MatchString(name) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, modTime, bytes.NewReader(b))
}
