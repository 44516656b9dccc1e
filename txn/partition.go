package txn

import "sort"

// AbortedTxn is one aborted transaction on a partition: its producer, the
// offset of its first batch there and the offset of its abort marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// PartitionTxns is one partition's transaction bookkeeping: the first
// offset of each producer's ongoing transaction (which bounds the last
// stable offset) and the aborted transactions, which read_committed fetches
// list so that clients drop their records.
//
// The aborted list lives in memory; at open it comes from the newest
// producer-state snapshot (snapshot.go) plus a scan of the batch headers
// after it (and their control batches), or a scan of all of them. Kafka
// also keeps a per-segment .txnindex, which Moldau does not.
// Entries whose marker is below the log start offset are trimmed.
//
// It is not safe for concurrent use: the partition's append lock guards
// it.
type PartitionTxns struct {
	ongoing map[int64]int64 // producer id -> first offset of its ongoing transaction
	aborted []AbortedTxn    // by LastOffset, ascending (markers are appended in order)
}

// NewPartitionTxns returns empty bookkeeping.
func NewPartitionTxns() *PartitionTxns { return &PartitionTxns{ongoing: make(map[int64]int64)} }

// Begin notes a transactional batch of pid at offset: the first one opens
// the producer's transaction on this partition.
func (s *PartitionTxns) Begin(pid, offset int64) {
	if _, ok := s.ongoing[pid]; !ok {
		s.ongoing[pid] = offset
	}
}

// Ongoing returns the first offset of pid's ongoing transaction.
func (s *PartitionTxns) Ongoing(pid int64) (int64, bool) {
	off, ok := s.ongoing[pid]
	return off, ok
}

// End notes pid's marker at markerOffset, closing its transaction (a
// marker with nothing open closes nothing).
func (s *PartitionTxns) End(pid, markerOffset int64, commit bool) {
	first, ok := s.ongoing[pid]
	if !ok {
		return
	}
	delete(s.ongoing, pid)
	if !commit {
		s.aborted = append(s.aborted, AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: markerOffset})
	}
}

// FirstUnstable is the smallest first offset of an ongoing transaction;
// the last stable offset is the smaller of it and the high watermark.
func (s *PartitionTxns) FirstUnstable() (int64, bool) {
	first, ok := int64(0), false
	for _, off := range s.ongoing {
		if !ok || off < first {
			first, ok = off, true
		}
	}
	return first, ok
}

// Aborted returns the aborted transactions that overlap [from, to): those
// whose marker is at or after from and whose first offset is before to.
func (s *PartitionTxns) Aborted(from, to int64) []AbortedTxn {
	i := sort.Search(len(s.aborted), func(i int) bool { return s.aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for ; i < len(s.aborted); i++ {
		if a := s.aborted[i]; a.FirstOffset < to {
			out = append(out, a)
		}
	}
	return out
}

// TrimBefore forgets aborted transactions whose marker is below offset
// (the log start moved past them).
func (s *PartitionTxns) TrimBefore(offset int64) {
	i := sort.Search(len(s.aborted), func(i int) bool { return s.aborted[i].LastOffset >= offset })
	s.aborted = append(s.aborted[:0], s.aborted[i:]...)
}

// Forget drops everything (the log was emptied).
func (s *PartitionTxns) Forget() {
	clear(s.ongoing)
	s.aborted = nil
}
