package serde

import (
	"container/list"
	"sync"
	"time"
)

// schemaCache holds parsed schemas by id, least recently used evicted
// beyond max entries. Ids the registry does not know are remembered for
// a short while (ttl) so that undecodable records do not each cost a
// registry round trip. mu guards everything below it.
type schemaCache struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[int]*list.Element // of *cacheEntry
	order   *list.List            // front: most recently used
}

type cacheEntry struct {
	id      int
	schema  *parsedSchema
	err     error     // not found, when schema is nil
	expires time.Time // for err entries
}

func newSchemaCache(max int, ttl time.Duration) *schemaCache {
	return &schemaCache{max: max, ttl: ttl, now: time.Now, entries: map[int]*list.Element{}, order: list.New()}
}

// get returns the cached schema or not-found error for id; ok is false
// when neither is cached.
func (c *schemaCache) get(id int) (p *parsedSchema, err error, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, found := c.entries[id]
	if !found {
		return nil, nil, false
	}
	e := el.Value.(*cacheEntry)
	if e.schema == nil && c.now().After(e.expires) {
		c.order.Remove(el)
		delete(c.entries, id)
		return nil, nil, false
	}
	c.order.MoveToFront(el)
	return e.schema, e.err, true
}

func (c *schemaCache) put(id int, p *parsedSchema) { c.add(&cacheEntry{id: id, schema: p}) }

func (c *schemaCache) putNotFound(id int, err error) {
	c.add(&cacheEntry{id: id, err: err, expires: c.now().Add(c.ttl)})
}

func (c *schemaCache) add(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.id]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.entries[e.id] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).id)
	}
}

func (c *schemaCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
