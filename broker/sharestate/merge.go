package sharestate

import (
	"container/heap"
	"slices"

	"github.com/moldau/moldau/broker/share"
)

// Combine merges state batches as Kafka's PersisterStateBatchCombiner:
//
//   - with startOffset != -1, batches ending before it are dropped and one
//     that straddles it is cut to start there;
//   - where batches overlap, each offset takes the batch of the higher
//     delivery count, then of the higher delivery state (0 available <
//     2 acked < 4 archived); since a share-partition's delivery counts
//     only grow and a state moves from available to acked or archived,
//     this is "the newer write wins" for any writer that follows KIP-932;
//   - adjacent or overlapping runs of equal state and count are joined.
//
// The result is sorted by FirstOffset, without overlaps. Batches with
// LastOffset < FirstOffset are ignored. soFar and next are not modified.
func Combine(soFar, next []share.StateBatch, startOffset int64) []share.StateBatch {
	all := make([]share.StateBatch, 0, len(soFar)+len(next))
	for _, src := range [][]share.StateBatch{soFar, next} {
		for _, b := range src {
			if b.LastOffset < b.FirstOffset {
				continue
			}
			if startOffset != -1 {
				if b.LastOffset < startOffset {
					continue
				}
				b.FirstOffset = max(b.FirstOffset, startOffset)
			}
			all = append(all, b)
		}
	}
	if len(all) == 0 {
		return nil
	}
	slices.SortStableFunc(all, func(a, b share.StateBatch) int {
		switch {
		case a.FirstOffset < b.FirstOffset:
			return -1
		case a.FirstOffset > b.FirstOffset:
			return 1
		}
		return 0
	})
	// Elementary intervals between the batches' boundaries; for each, the
	// highest-priority batch covering it (a max-heap of the batches begun,
	// those ended popped lazily).
	bounds := make([]int64, 0, 2*len(all))
	for _, b := range all {
		bounds = append(bounds, b.FirstOffset)
		if b.LastOffset < 1<<63-1 {
			bounds = append(bounds, b.LastOffset+1)
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)

	var out []share.StateBatch
	h := &batchHeap{}
	next_ := 0
	for i, lo := range bounds {
		for next_ < len(all) && all[next_].FirstOffset <= lo {
			heap.Push(h, all[next_])
			next_++
		}
		for h.Len() > 0 && (*h)[0].LastOffset < lo {
			heap.Pop(h)
		}
		if h.Len() == 0 {
			continue
		}
		hi := int64(1<<63 - 1)
		if i+1 < len(bounds) {
			hi = bounds[i+1] - 1
		}
		top := (*h)[0]
		hi = min(hi, top.LastOffset) // bounds include top's end, so this is a no-op kept for clarity
		if n := len(out); n > 0 && out[n-1].LastOffset+1 == lo &&
			out[n-1].DeliveryState == top.DeliveryState && out[n-1].DeliveryCount == top.DeliveryCount {
			out[n-1].LastOffset = hi
			continue
		}
		out = append(out, share.StateBatch{FirstOffset: lo, LastOffset: hi, DeliveryState: top.DeliveryState, DeliveryCount: top.DeliveryCount})
	}
	return out
}

// higher reports whether a's delivery information wins over b's (Kafka's
// compareBatchDeliveryInfo: count, then state).
func higher(a, b share.StateBatch) bool {
	if a.DeliveryCount != b.DeliveryCount {
		return a.DeliveryCount > b.DeliveryCount
	}
	return a.DeliveryState > b.DeliveryState
}

// batchHeap is a max-heap by delivery priority; among equals, the one
// ending later first (so that it is not popped before its end).
type batchHeap []share.StateBatch

func (h batchHeap) Len() int { return len(h) }
func (h batchHeap) Less(i, j int) bool {
	if higher(h[i], h[j]) {
		return true
	}
	if higher(h[j], h[i]) {
		return false
	}
	return h[i].LastOffset > h[j].LastOffset
}
func (h batchHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *batchHeap) Push(x any)   { *h = append(*h, x.(share.StateBatch)) }
func (h *batchHeap) Pop() any     { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

// DeliveryComplete counts the offsets at or after startOffset that the
// batches mark acked or archived (KIP-1226's DeliveryCompleteCount).
func DeliveryComplete(batches []share.StateBatch, startOffset int64) int32 {
	var n int64
	for _, b := range batches {
		if b.DeliveryState != share.StateAcked && b.DeliveryState != share.StateArchived {
			continue
		}
		first := b.FirstOffset
		if startOffset >= 0 {
			first = max(first, startOffset)
		}
		if b.LastOffset >= first {
			n += b.LastOffset - first + 1
		}
	}
	return int32(min(n, 1<<31-1))
}
