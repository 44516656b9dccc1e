package replication

import (
	"runtime"
	"sync/atomic"
)

// tailCache: the entries a LogStorage appended most recently, kept in
// memory as they were written to the log (offset and leader epoch
// stamped), so that Raft's reads of the log's tail — the committed entries
// it hands to Apply moments after they were persisted, and the appends it
// sends to followers — do not read the segment log back (a W11 profile had
// 14 % of a node's CPU in log.Read under raftLog.nextCommittedEnts).
//
// It holds one contiguous run of indexes ending at the last index stored:
// for each, the batch bytes, or nil for a phantom (phantoms.go keeps those;
// LogStorage.Entries restores them from its phantom list). At most maxBytes
// of batches; appending beyond that drops the oldest entries. The bytes are
// the batch the log wrote (the entry's Data, stamped by the log in place:
// entryBatch): never modified after they are cached, so entries built on
// them may alias them (raft never modifies an entry's Data).
//
// Invalidation (every path that changes what an index holds): appending at
// an index already held replaces it and everything after (truncateFrom,
// from LogStorage.appendLocked's divergent-suffix cut); a snapshot install
// empties it (reset); CompactTo drops the indexes below the new first
// index (dropBelow). A cache that misses falls back to the log, so any
// doubt resets it.
//
// Memory: at most maxBytes per group (LogStorageConfig.TailCacheBytes),
// and at most a TailCacheBudget's bytes for all the groups sharing it (by
// default every LogStorage of the process: DefaultTailCacheBudget). An
// append that would exceed the budget evicts the group's own oldest
// entries, and is not cached if that is not enough; an idle group keeps
// what it holds. A storage's bytes go back to the budget when it is
// garbage collected (runtime.AddCleanup: it has no Close).
//
// Locking: LogStorage.mu guards it; the budget is atomic.
type tailCache struct {
	maxBytes int
	budget   *TailCacheBudget
	charged  *atomic.Int64 // what this cache holds against budget (= size; released at cleanup)
	size     int           // bytes of batches held
	first    uint64        // index of ents[0]
	ents     [][]byte      // ents[k]: index first+k; nil: a phantom
}

// DefaultTailCacheBytes is LogStorageConfig.TailCacheBytes when zero: a
// few appends of 1 MiB batches in flight behind the commit, with room
// (a W11-like load, 4 producers at acks=all, read entries up to ~12 MiB
// behind the last one appended).
const DefaultTailCacheBytes = 16 << 20

// TailCacheBudget bounds the bytes held by the tail caches of the
// LogStorages that share it (LogStorageConfig.TailBudget). Safe for
// concurrent use.
type TailCacheBudget struct {
	max  int64
	used atomic.Int64
}

// NewTailCacheBudget returns a budget of maxBytes.
func NewTailCacheBudget(maxBytes int64) *TailCacheBudget { return &TailCacheBudget{max: maxBytes} }

// Used is the bytes held against the budget.
func (b *TailCacheBudget) Used() int64 { return b.used.Load() }

// DefaultTailCacheBudget is shared by the LogStorages opened without a
// TailBudget: 256 MiB for the process.
var DefaultTailCacheBudget = NewTailCacheBudget(256 << 20)

// newTailCache returns a cache of maxBytes charged to budget, whose bytes
// return to it once owner is unreachable.
func newTailCache(owner *LogStorage, maxBytes int, budget *TailCacheBudget) tailCache {
	c := tailCache{maxBytes: maxBytes, budget: budget, charged: new(atomic.Int64)}
	if budget != nil && maxBytes > 0 {
		runtime.AddCleanup(owner, func(charged *atomic.Int64) { budget.used.Add(-charged.Load()) }, c.charged)
	}
	return c
}

// account adds delta bytes to what the cache holds.
func (c *tailCache) account(delta int) {
	c.size += delta
	if c.budget != nil {
		c.charged.Add(int64(delta))
		c.budget.used.Add(int64(delta))
	}
}

// overBudget reports whether n more bytes exceed the shared budget.
func (c *tailCache) overBudget(n int) bool {
	return c.budget != nil && c.budget.used.Load()+int64(n) > c.budget.max
}

// dropOldest forgets the first entry held.
func (c *tailCache) dropOldest() {
	c.account(-len(c.ents[0]))
	c.ents[0] = nil
	c.ents = c.ents[1:]
	c.first++
}

// last is the last index held (first-1 when empty).
func (c *tailCache) last() uint64 { return c.first + uint64(len(c.ents)) - 1 }

// add records the entry stored at index (batch nil: a phantom). index must
// follow the last one held; otherwise the cache restarts at index.
func (c *tailCache) add(index uint64, batch []byte) {
	if c.maxBytes <= 0 || len(batch) > c.maxBytes {
		c.reset()
		return
	}
	if len(c.ents) == 0 || index != c.last()+1 {
		c.reset()
		c.first = index
	}
	for len(c.ents) > 0 && (c.size+len(batch) > c.maxBytes || c.overBudget(len(batch))) {
		c.dropOldest()
	}
	if len(c.ents) == 0 {
		c.first = index
		if c.overBudget(len(batch)) {
			return // other groups hold the budget
		}
	}
	c.ents = append(c.ents, batch)
	c.account(len(batch))
}

// truncateFrom forgets index and everything after it (a divergent suffix
// being replaced).
func (c *tailCache) truncateFrom(index uint64) {
	if len(c.ents) == 0 || index > c.last() {
		return
	}
	if index <= c.first {
		c.reset()
		return
	}
	k := index - c.first
	for _, b := range c.ents[k:] {
		c.account(-len(b))
	}
	clear(c.ents[k:])
	c.ents = c.ents[:k]
}

// dropBelow forgets the indexes below first (compaction).
func (c *tailCache) dropBelow(first uint64) {
	for len(c.ents) > 0 && c.first < first {
		c.dropOldest()
	}
	if len(c.ents) == 0 {
		c.reset()
	}
}

// reset empties the cache.
func (c *tailCache) reset() {
	c.account(-c.size)
	c.ents, c.first = nil, 0
}

// covers reports whether every index of [lo, hi) is held.
func (c *tailCache) covers(lo, hi uint64) bool {
	return len(c.ents) > 0 && lo >= c.first && hi-1 <= c.last() && lo < hi
}

// at returns the batch held for index (nil: a phantom); covers must hold.
func (c *tailCache) at(index uint64) []byte { return c.ents[index-c.first] }
