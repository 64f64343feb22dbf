package porthos

// scratch hands out a protocol call's temporaries from buffers kept
// across calls and not cleared: for slices the call overwrites whole
// before it reads them (masks drawn by fcDraw, messages built element by
// element), so that a run neither allocates nor clears them anew on
// every call (in LeNet at batch 8 the clearing of fresh buffers took an
// eighth of every party's CPU). A slice from get is valid until the next
// reset and must not leave the call.
type scratch struct {
	bufs [][]uint64
	next int
}

// get returns n elements of unspecified content.
func (s *scratch) get(n int) []uint64 {
	if s.next == len(s.bufs) {
		s.bufs = append(s.bufs, nil)
	}
	b := s.bufs[s.next]
	if cap(b) < n {
		b = make([]uint64, n)
		s.bufs[s.next] = b
	}
	s.next++
	return b[:n]
}

// reset makes every buffer free for the next call.
func (s *scratch) reset() { s.next = 0 }
