package vfs

import (
	"errors"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCrashed is returned by operations on a file handle opened before the
// in-memory FS was crashed with Crash.
var ErrCrashed = errors.New("vfs: file handle predates a simulated crash")

// MemFS is an in-memory FS that remembers what has been made durable.
//
// Durability model:
//   - A file's durable length is its size at its last Sync, lowered by any
//     later Truncate below it (an unsynced truncate is assumed to have
//     reached the disk; writes after it have not). A crash keeps the first
//     durable-length bytes of the file.
//   - Each directory keeps two entry tables: the current one, and the
//     durable one captured by the last SyncDir. A crash keeps the durable
//     table, so files created, renamed or removed since the directory was
//     last synced revert.
//   - Directories created by MkdirAll are durable on return (a
//     simplification).
//
// File contents are stored in chunks (4 KiB growing to 1 MiB), so appends
// never copy earlier data. Each file has its own RWMutex: ReadAt calls run
// concurrently with each other and serialize briefly with Write.
type MemFS struct {
	mu   sync.Mutex // guards the directory tree (children maps, root)
	root *memNode
	// generation is bumped by Crash; handles from an older generation fail.
	generation atomic.Int64
}

type memNode struct {
	name  string
	isDir bool
	mode  os.FileMode

	// Directories (guarded by MemFS.mu).
	children map[string]*memNode
	durable  map[string]*memNode

	// Files.
	mu         sync.RWMutex
	chunks     [][]byte
	size       int64
	durableLen int64
	modTime    time.Time
}

// NewMem returns an empty in-memory file system.
func NewMem() *MemFS {
	return &MemFS{root: newMemDir("/", 0o755)}
}

func newMemDir(name string, perm os.FileMode) *memNode {
	return &memNode{name: name, isDir: true, mode: perm | os.ModeDir,
		children: map[string]*memNode{}, durable: map[string]*memNode{}}
}

// split turns a path into its cleaned components; "/" and "." are the root.
func split(name string) []string {
	name = path.Clean(filepath.ToSlash(name))
	name = strings.TrimPrefix(name, "/")
	if name == "." || name == "" {
		return nil
	}
	return strings.Split(name, "/")
}

// walkLocked returns the directory holding the last component of name and
// that component. It requires fs.mu.
func (m *MemFS) walkLocked(op, name string) (*memNode, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", &os.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	dir := m.root
	for _, p := range parts[:len(parts)-1] {
		next, ok := dir.children[p]
		if !ok {
			return nil, "", &os.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if !next.isDir {
			return nil, "", &os.PathError{Op: op, Path: name, Err: errors.New("not a directory")}
		}
		dir = next
	}
	return dir, parts[len(parts)-1], nil
}

func (m *MemFS) lookupLocked(op, name string) (*memNode, error) {
	if len(split(name)) == 0 {
		return m.root, nil
	}
	dir, base, err := m.walkLocked(op, name)
	if err != nil {
		return nil, err
	}
	n, ok := dir.children[base]
	if !ok {
		return nil, &os.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// OpenFile implements FS.
func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.walkLocked("open", name)
	if err != nil {
		return nil, err
	}
	n, ok := dir.children[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case ok && n.isDir:
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		n = &memNode{name: base, mode: perm, modTime: time.Now()}
		dir.children[base] = n
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable {
		n.mu.Lock()
		n.truncateLocked(0)
		n.mu.Unlock()
	}
	return &memFile{fs: m, node: n, name: name, writable: writable, generation: m.generation.Load()}, nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.walkLocked("remove", name)
	if err != nil {
		return err
	}
	n, ok := dir.children[base]
	if !ok {
		return &os.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.isDir && len(n.children) > 0 {
		return &os.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
	}
	delete(dir.children, base)
	return nil
}

// RemoveAll implements FS.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.walkLocked("removeall", name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	delete(dir.children, base)
	return nil
}

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	odir, obase, err := m.walkLocked("rename", oldname)
	if err != nil {
		return err
	}
	n, ok := odir.children[obase]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	ndir, nbase, err := m.walkLocked("rename", newname)
	if err != nil {
		return err
	}
	if t, ok := ndir.children[nbase]; ok && t.isDir != n.isDir {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrExist}
	}
	delete(odir.children, obase)
	ndir.children[nbase] = n
	return nil
}

// MkdirAll implements FS. New directories are durable on return.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.root
	for _, p := range split(dir) {
		next, ok := cur.children[p]
		if !ok {
			next = newMemDir(p, perm)
			cur.children[p] = next
			cur.durable[p] = next
		} else if !next.isDir {
			return &os.PathError{Op: "mkdir", Path: dir, Err: fs.ErrExist}
		}
		cur = next
	}
	return nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked("readdir", dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: errors.New("not a directory")}
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	n, err := m.lookupLocked("stat", name)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return n.stat(), nil
}

// SyncDir implements FS: the current entries of dir become durable.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked("syncdir", dir)
	if err != nil {
		return err
	}
	if !n.isDir {
		return &os.PathError{Op: "syncdir", Path: dir, Err: errors.New("not a directory")}
	}
	n.durable = make(map[string]*memNode, len(n.children))
	for k, v := range n.children {
		n.durable[k] = v
	}
	return nil
}

// CrashClone returns a new MemFS holding exactly what would survive a crash
// of m now: the durable directory entries, each file cut back to its durable
// length. m itself is unchanged.
func (m *MemFS) CrashClone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &MemFS{root: crashCopy(m.root)}
}

// Crash replaces the contents of m with what would survive a crash now (see
// CrashClone). Files opened before the crash return ErrCrashed from then on.
func (m *MemFS) Crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.root = crashCopy(m.root)
	m.generation.Add(1)
}

func crashCopy(n *memNode) *memNode {
	if n.isDir {
		c := newMemDir(n.name, n.mode.Perm())
		for k, v := range n.durable {
			cv := crashCopy(v)
			c.children[k] = cv
			c.durable[k] = cv
		}
		return c
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	c := &memNode{name: n.name, mode: n.mode, modTime: n.modTime}
	buf := make([]byte, n.durableLen)
	n.readAtLocked(buf, 0)
	c.appendLocked(buf)
	c.durableLen = c.size
	return c
}

func (n *memNode) stat() os.FileInfo {
	fi := memFileInfo{name: n.name, mode: n.mode, dir: n.isDir}
	if !n.isDir {
		n.mu.RLock()
		fi.size, fi.modTime = n.size, n.modTime
		n.mu.RUnlock()
	}
	return fi
}

// Chunk geometry: chunk i holds min(minChunk<<i, maxChunk) bytes.
const (
	minChunkShift = 12 // 4 KiB
	maxChunkShift = 20 // 1 MiB
	growChunks    = maxChunkShift - minChunkShift
	growBytes     = (1<<growChunks - 1) << minChunkShift // bytes held by the growing chunks
)

func chunkSize(i int) int {
	if i >= growChunks {
		return 1 << maxChunkShift
	}
	return 1 << (minChunkShift + i)
}

// locate maps a file offset to (chunk index, offset within chunk).
func locate(off int64) (int, int) {
	if off < growBytes {
		i := bits.Len64(uint64(off>>minChunkShift)+1) - 1
		start := int64((1<<i - 1) << minChunkShift)
		return i, int(off - start)
	}
	rest := off - growBytes
	return growChunks + int(rest>>maxChunkShift), int(rest & (1<<maxChunkShift - 1))
}

func (n *memNode) appendLocked(p []byte) {
	for len(p) > 0 {
		i, in := locate(n.size)
		if i == len(n.chunks) {
			n.chunks = append(n.chunks, make([]byte, chunkSize(i)))
		}
		c := copy(n.chunks[i][in:], p)
		p = p[c:]
		n.size += int64(c)
	}
}

func (n *memNode) readAtLocked(p []byte, off int64) int {
	read := 0
	for len(p) > 0 && off < n.size {
		i, in := locate(off)
		c := n.chunks[i][in:]
		if rem := n.size - off; int64(len(c)) > rem {
			c = c[:rem]
		}
		k := copy(p, c)
		p = p[k:]
		off += int64(k)
		read += k
	}
	return read
}

var zeros [4096]byte

func (n *memNode) truncateLocked(size int64) {
	if size >= n.size {
		for n.size < size {
			n.appendLocked(zeros[:min(int64(len(zeros)), size-n.size)])
		}
		return
	}
	n.size = size
	if size == 0 {
		n.chunks = n.chunks[:0]
	} else {
		i, _ := locate(size - 1)
		clear(n.chunks[i+1:])
		n.chunks = n.chunks[:i+1]
	}
	n.durableLen = min(n.durableLen, size)
	n.modTime = time.Now()
}

type memFile struct {
	fs         *MemFS
	node       *memNode
	name       string
	writable   bool
	generation int64
	closed     atomic.Bool
}

func (f *memFile) check(op string) error {
	if f.closed.Load() {
		return &os.PathError{Op: op, Path: f.name, Err: ErrClosed}
	}
	if f.fs.generation.Load() != f.generation {
		return &os.PathError{Op: op, Path: f.name, Err: ErrCrashed}
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	f.node.mu.RLock()
	n := f.node.readAtLocked(p, off)
	f.node.mu.RUnlock()
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if !f.writable {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: ErrReadOnly}
	}
	f.node.mu.Lock()
	f.node.appendLocked(p)
	f.node.mu.Unlock()
	return len(p), nil
}

func (f *memFile) Sync() error {
	if err := f.check("sync"); err != nil {
		return err
	}
	f.node.mu.Lock()
	f.node.durableLen = f.node.size
	f.node.mu.Unlock()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	if err := f.check("truncate"); err != nil {
		return err
	}
	if !f.writable {
		return &os.PathError{Op: "truncate", Path: f.name, Err: ErrReadOnly}
	}
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	f.node.mu.Lock()
	f.node.truncateLocked(size)
	f.node.mu.Unlock()
	return nil
}

func (f *memFile) Size() (int64, error) {
	if err := f.check("size"); err != nil {
		return 0, err
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	return f.node.size, nil
}

func (f *memFile) Close() error {
	if f.closed.Swap(true) {
		return &os.PathError{Op: "close", Path: f.name, Err: ErrClosed}
	}
	return nil
}

type memFileInfo struct {
	name    string
	size    int64
	mode    os.FileMode
	modTime time.Time
	dir     bool
}

func (fi memFileInfo) Name() string       { return fi.name }
func (fi memFileInfo) Size() int64        { return fi.size }
func (fi memFileInfo) Mode() os.FileMode  { return fi.mode }
func (fi memFileInfo) ModTime() time.Time { return fi.modTime }
func (fi memFileInfo) IsDir() bool        { return fi.dir }
func (fi memFileInfo) Sys() any           { return nil }
