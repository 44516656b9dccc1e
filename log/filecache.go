package log

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// FileCache bounds the open data files of sealed (non-active) segments
// across every Log that shares it: thousands of partitions with many
// segments each keep at most Capacity such files open, plus one active
// segment file per partition. A sealed segment's file is opened on first
// use and closed when it is the least recently used idle one beyond
// Capacity. Index files are never kept open (indexes live in memory).
//
// Locking: a segment's fileMu is taken before FileCache.mu, never after.
type FileCache struct {
	capacity int
	mu       sync.Mutex
	idle     list.List // *segment whose files are open and unpinned, least recently used first
	open     atomic.Int64
}

// NewFileCache returns a cache keeping at most capacity idle sealed segment
// files open (at least 1).
func NewFileCache(capacity int) *FileCache {
	return &FileCache{capacity: max(capacity, 1)}
}

// Open returns the number of sealed segment files currently open (pinned
// or idle).
func (c *FileCache) Open() int64 { return c.open.Load() }

// markIdle makes s the most recently used idle file and returns the files
// to close. It requires s.fileMu.
func (c *FileCache) markIdle(s *segment) []*segment {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.elem != nil {
		c.idle.MoveToBack(s.elem)
	} else {
		s.elem = c.idle.PushBack(s)
	}
	var victims []*segment
	for c.idle.Len() > c.capacity {
		v := c.idle.Remove(c.idle.Front()).(*segment)
		v.elem = nil
		victims = append(victims, v)
	}
	return victims
}

// markBusy removes s from the idle list. It requires s.fileMu.
func (c *FileCache) markBusy(s *segment) {
	c.mu.Lock()
	if s.elem != nil {
		c.idle.Remove(s.elem)
		s.elem = nil
	}
	c.mu.Unlock()
}

func (c *FileCache) inIdle(s *segment) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return s.elem != nil
}
