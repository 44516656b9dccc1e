package replication

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// A seeded random schedule of partitions, isolations, lossy and held
// (delayed, reordered) links, ticks and proposals, then a heal: every
// replica ends with the same applied sequence, every acknowledged
// proposal is in it exactly once, and nothing appears twice. This is the
// promise of acks=all: no acknowledged write lost or duplicated.
func TestChaosNoAckedWriteLost(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			chaos(t, seed, func(t *testing.T) *cluster { return newCluster(t, 3, 1) })
		})
	}
	t.Run("log storage", func(t *testing.T) {
		chaos(t, 9, func(t *testing.T) *cluster { return newLogCluster(t, 3, false) })
	})
}

func chaos(t *testing.T, seed uint64, mk func(*testing.T) *cluster) {
	rng := rand.New(rand.NewPCG(seed, 42))
	c := mk(t)
	c.elect(1, 1)
	type sent struct {
		v string
		p *Proposal
	}
	var proposals []sent
	dropping := false
	for step := range 600 {
		switch r := rng.IntN(100); {
		case r < 20:
			id := c.ids[rng.IntN(len(c.ids))]
			v := fmt.Sprintf("s%d-v%d", seed, step)
			data := []byte(v)
			if _, ok := c.storages[[2]uint64{id, 1}].(*LogStorage); ok {
				data = recordBatch(v)
			}
			if p, err := c.nodes[id].ProposeAsync(1, data); err == nil {
				proposals = append(proposals, sent{v, p})
			}
		case r < 25:
			c.net.Isolate(c.ids[rng.IntN(len(c.ids))])
		case r < 28:
			a, b := c.ids[rng.IntN(len(c.ids))], c.ids[rng.IntN(len(c.ids))]
			if a != b {
				c.net.Cut(a, b)
			}
		case r < 31:
			a, b := c.ids[rng.IntN(len(c.ids))], c.ids[rng.IntN(len(c.ids))]
			if a != b {
				c.net.Hold(a, b)
			}
		case r < 34:
			for _, a := range c.ids {
				for _, b := range c.ids {
					if a != b && rng.IntN(2) == 0 {
						c.net.Release(a, b, rng.IntN(2) == 0)
					}
				}
			}
		case r < 36:
			if !dropping {
				drng := rand.New(rand.NewPCG(seed, uint64(step)))
				c.net.SetDropFilter(func(from, to uint64, env Envelope) bool { return drng.IntN(4) == 0 })
			} else {
				c.net.SetDropFilter(nil)
			}
			dropping = !dropping
		case r < 39:
			c.net.Heal()
			dropping = false
		default:
			c.tick()
		}
	}
	c.net.Heal()
	c.tickUntil("replicas converge", 300, func() bool {
		for _, p := range proposals {
			select {
			case <-p.p.Done():
			default:
				return false
			}
		}
		a := c.values(c.ids[0], 1)
		for _, id := range c.ids[1:] {
			if !slices.Equal(a, c.values(id, 1)) {
				return false
			}
		}
		return true
	})
	final := c.values(c.ids[0], 1)
	count := map[string]int{}
	for _, v := range final {
		count[v]++
	}
	acked := 0
	for _, p := range proposals {
		n := count[p.v]
		if p.p.Err() == nil {
			acked++
			if n != 1 {
				t.Fatalf("acknowledged %q appears %d times in the final log", p.v, n)
			}
		} else if errors.Is(p.p.Err(), ErrDropped) && n != 0 {
			// ErrDropped promises the entry is not, and will not be,
			// committed.
			t.Fatalf("%q was reported dropped (%v) but appears %d times", p.v, p.p.Err(), n)
		} else if n > 1 {
			t.Fatalf("%q (not acknowledged: %v) appears %d times", p.v, p.p.Err(), n)
		}
	}
	term := c.status(c.ids[0], 1).Term
	t.Logf("seed %d: %d proposals, %d acknowledged, final log of %d, term %d", seed, len(proposals), acked, len(final), term)
	if acked == 0 || term < 3 {
		t.Fatalf("acknowledged %d, term %d: the schedule exercised too little", acked, term)
	}
}
