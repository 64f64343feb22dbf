package ot

// A fifo holds precomputed values in the order they will be used and
// reuses its memory: taking from the front leaves the space behind for
// the next grow, instead of a fresh (page-faulting) array per window.
type fifo[T any] struct {
	buf  []T
	head int
}

// len is the number of values held.
func (f *fifo[T]) len() int { return len(f.buf) - f.head }

// front returns the first n values, valid until the next grow.
func (f *fifo[T]) front(n int) []T { return f.buf[f.head : f.head+n] }

// pop drops the first n values.
func (f *fifo[T]) pop(n int) { f.head += n }

// grow appends n slots and returns them to be filled; shrink(n) undoes
// it.
func (f *fifo[T]) grow(n int) []T {
	live := f.len()
	switch {
	case cap(f.buf) >= live+n:
		copy(f.buf, f.buf[f.head:])
		f.buf = f.buf[:live]
	default:
		b := make([]T, live, live+n)
		copy(b, f.buf[f.head:])
		f.buf = b
	}
	f.head = 0
	f.buf = f.buf[:live+n]
	return f.buf[live:]
}

// shrink drops the last n values.
func (f *fifo[T]) shrink(n int) { f.buf = f.buf[:len(f.buf)-n] }
