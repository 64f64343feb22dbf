package fixed

import "sync/atomic"

// A server holds its weights for as long as it serves, and at 64 bits a
// value they are most of its memory (ResNet-50: 204 MB of the 3PC
// server's ~400), though almost every value fits 16 bits. Compact keeps
// each weight tensor at the width its values need instead; readers get
// the 64-bit values back from Values: a small model's once, shared by
// every session, a large one's afresh at each use.

// WidenedElems bounds the elements of a compacted program's weights that
// Values keeps widened to 64 bits, shared by every reader: 4 Mi elements,
// 32 MiB (all of a small model's weights; a large one's first ones).
const WidenedElems = 1 << 22

// Compact stores every weight tensor whose values fit 16 or 32 bits at
// that width and releases its 64-bit Data. A compacted program runs,
// validates and writes as before, but its weights are read only through
// Values (Data is nil): what a process that holds a program for a long
// time wants, not the compiler.
func (p *Program) Compact() {
	budget := newWidenBudget()
	for _, t := range p.Tensors {
		if t.Kind != KindWeight || t.Data == nil {
			continue
		}
		switch StorageBits(t.Data) {
		case 16:
			t.data16 = narrow[int16](t.Data)
		case 24, 32:
			t.data32 = narrow[int32](t.Data)
		default:
			continue
		}
		t.Data, t.widened = nil, &widened{budget: budget}
	}
}

// widened holds a compacted tensor's values at 64 bits once Values has
// kept them, within its program's budget of elements.
type widened struct {
	vals   atomic.Pointer[[]uint64]
	budget *atomic.Int64 // elements the program may still keep widened
}

func newWidenBudget() *atomic.Int64 {
	b := new(atomic.Int64)
	b.Store(WidenedElems)
	return b
}

// Values returns a weight tensor's values: Data, or, for a compacted
// tensor, its values at 64 bits, kept for every later call while the
// program's WidenedElems allow and widened afresh at each call beyond
// them. Callers must not modify what it returns. It returns nil for a
// weight without data (a public program) and for other tensors. It is
// safe for concurrent use.
func (t *Tensor) Values() []uint64 {
	var v []uint64
	switch {
	case t.data16 != nil:
		if w := t.widened.vals.Load(); w != nil {
			return *w
		}
		v = widen(t.data16)
	case t.data32 != nil:
		if w := t.widened.vals.Load(); w != nil {
			return *w
		}
		v = widen(t.data32)
	default:
		return t.Data
	}
	if t.widened.budget.Add(-int64(len(v))) >= 0 {
		if !t.widened.vals.CompareAndSwap(nil, &v) { // another reader kept its copy first
			t.widened.budget.Add(int64(len(v)))
			return *t.widened.vals.Load()
		}
	} else {
		t.widened.budget.Add(int64(len(v)))
	}
	return v
}

// NumValues returns how many values a weight tensor carries (its shape's
// size, or 0 for a weight without data), compacted or not.
func (t *Tensor) NumValues() int {
	switch {
	case t.data16 != nil:
		return len(t.data16)
	case t.data32 != nil:
		return len(t.data32)
	}
	return len(t.Data)
}

// HasValues reports whether a weight tensor carries data.
func (t *Tensor) HasValues() bool { return t.Data != nil || t.data16 != nil || t.data32 != nil }

// ValueBytes returns the memory a weight tensor's values occupy, those
// kept widened included.
func (t *Tensor) ValueBytes() int64 {
	var n int64
	switch {
	case t.data16 != nil:
		n = 2 * int64(len(t.data16))
	case t.data32 != nil:
		n = 4 * int64(len(t.data32))
	default:
		return 8 * int64(len(t.Data))
	}
	if t.widened.vals.Load() != nil {
		n += 8 * int64(t.NumValues())
	}
	return n
}

// dropValues releases a tensor's data, compacted or not.
func (t *Tensor) dropValues() { t.Data, t.data16, t.data32, t.widened = nil, nil, nil, nil }

func narrow[T int16 | int32](data []uint64) []T {
	out := make([]T, len(data))
	for i, v := range data {
		out[i] = T(int64(v))
	}
	return out
}

func widen[T int16 | int32](data []T) []uint64 {
	out := make([]uint64, len(data))
	for i, v := range data {
		out[i] = uint64(int64(v))
	}
	return out
}
