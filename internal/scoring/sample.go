package scoring

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// DefaultSampleSize is how many customers the models are fitted on at
// most: above it a uniform random sample of that size is drawn. The fit of
// 100,000 takes about a second (internal/analytics BenchmarkFit100k), and
// the estimates' sampling error is then far below what separates one
// member's scores from another's.
const DefaultSampleSize = 100_000

// Sampler draws a uniform random sample of up to k buyers from records
// offered in any order, in any number of passes: a record's rank is a
// hash of the run's seed and its member id, and the sample is the k
// lowest ranks (bottom-k sampling). The same seed and records give the
// same sample however they are read, so a retried fit fits the same
// customers; another seed (the next run) draws another sample.
type Sampler struct {
	k     int
	seed  string
	seen  int
	ranks rankHeap
}

// NewSampler samples up to k buyers under seed.
func NewSampler(k int, seed string) *Sampler {
	return &Sampler{k: max(k, 1), seed: seed}
}

// Offer considers one record; records without a purchase are not
// customers and are left out.
func (s *Sampler) Offer(r Record) {
	if !r.Buyer {
		return
	}
	s.seen++
	rk := ranked{rank: s.rank(r.MemberID), rec: r}
	if len(s.ranks) < s.k {
		heap.Push(&s.ranks, rk)
		return
	}
	if top := s.ranks[0]; less(rk, top) {
		s.ranks[0] = rk
		heap.Fix(&s.ranks, 0)
	}
}

// Customers is how many buyers were offered.
func (s *Sampler) Customers() int { return s.seen }

// Sample returns the sampled records, lowest rank first: every buyer
// offered when there were no more than k.
func (s *Sampler) Sample() []Record {
	rs := make([]ranked, len(s.ranks))
	copy(rs, s.ranks)
	h := rankHeap(rs)
	out := make([]Record, len(rs))
	for i := len(rs) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&h).(ranked).rec
	}
	return out
}

func (s *Sampler) rank(memberID string) uint64 {
	sum := sha256.Sum256([]byte(s.seed + "\x00" + memberID))
	return binary.BigEndian.Uint64(sum[:8])
}

type ranked struct {
	rank uint64
	rec  Record
}

// less orders by rank, then member id, so ties cannot make the sample
// depend on the order records come in.
func less(a, b ranked) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.rec.MemberID < b.rec.MemberID
}

// rankHeap is a max-heap: its top is the highest rank kept, the first to
// go when a lower one comes.
type rankHeap []ranked

func (h rankHeap) Len() int           { return len(h) }
func (h rankHeap) Less(i, j int) bool { return less(h[j], h[i]) }
func (h rankHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rankHeap) Push(x any)        { *h = append(*h, x.(ranked)) }
func (h *rankHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// digest is a short stable stand-in for a string too long for a key.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
