package fixed

import "bytes"

// MaxHeader exposes maxHeader to the external tests.
const MaxHeader = maxHeader

// ParseCompact is Parse storing the weights at their declared widths, as
// ReadFileCompact does.
func ParseCompact(data []byte) (*Program, error) { return read(bytes.NewReader(data), true) }

// SetWidenBudget gives p's compacted weights a budget of n elements kept
// widened (WidenedElems by default).
func SetWidenBudget(p *Program, n int64) {
	b := newWidenBudget()
	b.Store(n)
	for _, t := range p.Tensors {
		if t.widened != nil {
			t.widened.budget = b
		}
	}
}
