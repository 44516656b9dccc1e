package log

import "hash/maphash"

// OffsetMap is the cleaner's dedupe map: key → latest offset, in a fixed
// memory budget (Kafka's log.cleaner.dedupe.buffer.size). Keys are stored
// as 128-bit hashes (two independent maphash seeds), so a map holds
// budget/24 entries whatever the key sizes; a collision (probability about
// n²/2^129) would make the cleaner drop a record whose key collided with a
// later one. Open addressing with linear probing, filled to at most 90%.
//
// An OffsetMap is not safe for concurrent use; the broker's one cleaner
// goroutine owns it and reuses it across partitions.
type OffsetMap struct {
	seed1, seed2 maphash.Seed
	slots        []mapSlot
	used         int
	maxUsed      int
}

type mapSlot struct {
	h1, h2 uint64 // h1 == 0 marks an empty slot (real hashes have bit 0 set)
	offset int64
}

// mapSlotSize is the bytes per slot.
const mapSlotSize = 24

// NewOffsetMap returns a map using about budget bytes (at least 64 slots).
func NewOffsetMap(budget int) *OffsetMap {
	n := max(budget/mapSlotSize, 64)
	return &OffsetMap{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), slots: make([]mapSlot, n), maxUsed: n * 9 / 10}
}

// Capacity is the number of keys the map holds before it is full.
func (m *OffsetMap) Capacity() int { return m.maxUsed }

// Len is the number of keys held.
func (m *OffsetMap) Len() int { return m.used }

func (m *OffsetMap) reset() {
	clear(m.slots)
	m.used = 0
}

func (m *OffsetMap) hash(key []byte) (uint64, uint64) {
	return maphash.Bytes(m.seed1, key) | 1, maphash.Bytes(m.seed2, key)
}

// put records offset as key's latest. It returns false, changing nothing,
// when key is new and the map is full.
func (m *OffsetMap) put(key []byte, offset int64) bool {
	h1, h2 := m.hash(key)
	i := int(h1 % uint64(len(m.slots)))
	for {
		s := &m.slots[i]
		if s.h1 == 0 {
			if m.used >= m.maxUsed {
				return false
			}
			*s = mapSlot{h1: h1, h2: h2, offset: offset}
			m.used++
			return true
		}
		if s.h1 == h1 && s.h2 == h2 {
			s.offset = max(s.offset, offset)
			return true
		}
		if i++; i == len(m.slots) {
			i = 0
		}
	}
}

// get returns key's latest offset.
func (m *OffsetMap) get(key []byte) (int64, bool) {
	h1, h2 := m.hash(key)
	i := int(h1 % uint64(len(m.slots)))
	for {
		s := &m.slots[i]
		if s.h1 == 0 {
			return -1, false
		}
		if s.h1 == h1 && s.h2 == h2 {
			return s.offset, true
		}
		if i++; i == len(m.slots) {
			i = 0
		}
	}
}
