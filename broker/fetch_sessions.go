package broker

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Fetch sessions (KIP-227). A consumer that opens a session sends its full
// partition list once; later (incremental) fetches name only partitions whose
// fetch position changed, and responses carry only partitions with something
// new: records, an error, or a changed high watermark, last stable offset or
// log start offset.

// sessionKey identifies a partition in a session: by topic id when the
// client uses ids (Fetch v13+), else by name.
type sessionKey struct {
	name      string
	id        [16]byte
	partition int32
}

// sessionPart is one partition of a fetch: what the client asked for and,
// for sessions, what it was last told.
type sessionPart struct {
	key                sessionKey
	fetchOffset        int64
	maxBytes           int32
	currentLeaderEpoch int32

	sent                      bool
	lastHW, lastLSO, lastLogS int64
}

type fetchSession struct {
	id int32

	// mu guards everything below; the handler updates the partitions
	// (reader goroutine), the response is built from them later (writer
	// goroutine).
	mu       sync.Mutex
	epoch    int32 // the epoch the next incremental fetch must carry
	parts    []*sessionPart
	index    map[sessionKey]int
	lastUsed time.Time
}

func (s *fetchSession) upsert(p sessionPart) {
	if i, ok := s.index[p.key]; ok {
		old := s.parts[i]
		old.fetchOffset, old.maxBytes, old.currentLeaderEpoch = p.fetchOffset, p.maxBytes, p.currentLeaderEpoch
		return
	}
	s.index[p.key] = len(s.parts)
	np := p
	s.parts = append(s.parts, &np)
}

func (s *fetchSession) forget(k sessionKey) {
	i, ok := s.index[k]
	if !ok {
		return
	}
	delete(s.index, k)
	s.parts = append(s.parts[:i], s.parts[i+1:]...)
	for j := i; j < len(s.parts); j++ {
		s.index[s.parts[j].key] = j
	}
}

// fetchSessions is the broker-wide session cache, bounded in size (Kafka's
// max.incremental.fetch.session.cache.slots, 1000): when full, the least
// recently used session idle for over a minute is evicted; if none is, no
// new session is created and the client gets sessionless full fetches.
type fetchSessions struct {
	mu       sync.Mutex
	max      int
	sessions map[int32]*fetchSession
}

const (
	sessionEvictAfter = time.Minute     // min.incremental.fetch.session.eviction.ms-like
	sessionExpireIdle = 2 * time.Minute // sessions idle this long are dropped
)

func newFetchSessions(max int) *fetchSessions {
	return &fetchSessions{max: max, sessions: make(map[int32]*fetchSession)}
}

// create makes a new session, or returns nil when the cache is full.
func (c *fetchSessions) create(now time.Time) *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= c.max {
		var oldest *fetchSession
		for _, s := range c.sessions {
			if oldest == nil || s.lastUsed.Before(oldest.lastUsed) {
				oldest = s
			}
		}
		if oldest == nil || now.Sub(oldest.lastUsed) < sessionEvictAfter {
			return nil
		}
		delete(c.sessions, oldest.id)
	}
	var id int32
	for id == 0 || c.sessions[id] != nil {
		id = rand.Int32()
	}
	s := &fetchSession{id: id, epoch: 1, index: make(map[sessionKey]int), lastUsed: now}
	c.sessions[id] = s
	return s
}

func (c *fetchSessions) get(id int32, now time.Time) *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[id]
	if s != nil {
		s.lastUsed = now
	}
	return s
}

func (c *fetchSessions) remove(id int32) {
	c.mu.Lock()
	delete(c.sessions, id)
	c.mu.Unlock()
}

func (c *fetchSessions) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, s := range c.sessions {
		if now.Sub(s.lastUsed) > sessionExpireIdle {
			delete(c.sessions, id)
		}
	}
}

// clear drops every session (clients get FETCH_SESSION_ID_NOT_FOUND and
// start new ones).
func (c *fetchSessions) clear() {
	c.mu.Lock()
	clear(c.sessions)
	c.mu.Unlock()
}
