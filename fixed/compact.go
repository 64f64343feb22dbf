package fixed

// A server holds its weights for as long as it serves, and at 64 bits a
// value they are most of its memory (ResNet-50: 204 MB of the 3PC
// server's ~400), though almost every value fits 16 bits. Compact keeps
// each weight tensor at the width its values need instead; readers get
// the 64-bit values back from Values, widened for the one use.

// Compact stores every weight tensor whose values fit 16 or 32 bits at
// that width and releases its 64-bit Data. A compacted program runs,
// validates and writes as before, but its weights are read only through
// Values, which widens them afresh at every call (Data is nil): what a
// process that holds a program for a long time and uses each weight a
// few times per inference wants, not the compiler.
func (p *Program) Compact() {
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
		t.Data = nil
	}
}

// Values returns a weight tensor's values: Data, or, for a compacted
// tensor, a fresh copy at 64 bits. It returns nil for a weight without
// data (a public program) and for other tensors.
func (t *Tensor) Values() []uint64 {
	switch {
	case t.data16 != nil:
		return widen(t.data16)
	case t.data32 != nil:
		return widen(t.data32)
	}
	return t.Data
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

// ValueBytes returns the memory a weight tensor's values occupy.
func (t *Tensor) ValueBytes() int64 {
	switch {
	case t.data16 != nil:
		return 2 * int64(len(t.data16))
	case t.data32 != nil:
		return 4 * int64(len(t.data32))
	}
	return 8 * int64(len(t.Data))
}

// dropValues releases a tensor's data, compacted or not.
func (t *Tensor) dropValues() { t.Data, t.data16, t.data32 = nil, nil, nil }

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

// WeightCacheElems is a WeightCache's default bound: 4 Mi elements,
// 32 MiB.
const WeightCacheElems = 1 << 22

// WeightCache keeps the weights of a compacted program (see Compact)
// widened, for an engine that uses them at every inference, up to a
// bound on elements: a small model's weights are widened once per
// session, a large one's first layers too and the rest afresh at every
// use. A tensor that is not compacted is returned as it is. Callers must
// not modify what Values returns. The zero value is ready to use with
// the default bound; a WeightCache is not safe for concurrent use.
type WeightCache struct {
	// Limit bounds the elements held; zero means WeightCacheElems.
	Limit int
	held  int
	vals  map[*Tensor][]uint64
}

// Values returns t.Values(), from the cache if it holds them.
func (c *WeightCache) Values(t *Tensor) []uint64 {
	if t.Data != nil || !t.HasValues() {
		return t.Data
	}
	if v, ok := c.vals[t]; ok {
		return v
	}
	v := t.Values()
	limit := c.Limit
	if limit == 0 {
		limit = WeightCacheElems
	}
	if c.held+len(v) <= limit {
		if c.vals == nil {
			c.vals = map[*Tensor][]uint64{}
		}
		c.vals[t] = v
		c.held += len(v)
	}
	return v
}
