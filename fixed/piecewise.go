package fixed

import (
	"fmt"
	"math"
	"sort"

	"veil/ir"
)

// Piecewise's instruction computes, for every element x of its input, a
// polynomial chosen by the interval x lies in:
//
//   - Breaks t_1 < … < t_k (at the input's scale) cut the line into
//     k + 1 pieces; x lies in piece i = #{j : x ≥ t_j};
//   - piece i has the origin o_i = t_i (o_0 = t_1; with no breaks, 0) and
//     the coefficients c_{i,0} … c_{i,d} (Public, piece after piece, at
//     the output's scale), so that Public holds (k + 1)·(d + 1) values;
//   - with u = x − o_i, Horner's rule in integers: r = c_{i,d}, then
//     r = ⌊r·u / 2^Shift⌋ + c_{i,j} for j = d − 1 down to 0; r is the
//     output. (With u read as the real number u/2^Shift, r is
//     Σ c_{i,j}·(u/2^Shift)^j up to the floors.)
//
// The oracle computes exactly this, wrapping modulo 2^64 as the lowering
// does. Domain, when set, is the interval [lo, hi] of inputs the
// approximation was made for: the oracle refuses an input outside it (a
// secure backend cannot see its inputs; the oracle run of the scale
// sweep and of every check is where a program meets data beyond what it
// was compiled for).
//
// The lowering (see Lower) costs k comparisons per element, all in one
// DReLU, and d secret products: the k differences x − t_j, stacked, give
// the bits b_j = [x ≥ t_j]; every coefficient of the chosen piece and its
// origin are then local sums c_0 + Σ_j b_j·(c_j − c_{j−1}) of public
// multiples of the bits; Horner's rule follows with d Mul and ScaleDown
// pairs.

// evalPiecewise is the oracle's Piecewise on one element: the table's
// polynomial, mirrored for x < 0 when in.Mirror is set.
func evalPiecewise(in *Instr, x int64) int64 {
	if len(in.Mirror) != 3 || x >= 0 {
		return evalTable(in, x)
	}
	y := evalTable(in, -x)
	return in.Mirror[0]*y + in.Mirror[1] + in.Mirror[2]*(-x)
}

// evalTable is the polynomial of the piece x lies in.
func evalTable(in *Instr, x int64) int64 {
	k := len(in.Breaks)
	i := sort.Search(k, func(j int) bool { return in.Breaks[j] > x })
	var o int64
	if k > 0 {
		o = in.Breaks[max(i, 1)-1]
	}
	u := x - o
	d := len(in.Public)/(k+1) - 1
	c := in.Public[i*(d+1) : (i+1)*(d+1)]
	r := c[d]
	for j := d - 1; j >= 0; j-- {
		r = (r*u)>>in.Shift + c[j]
	}
	return r
}

// execPiecewise is the oracle's Piecewise.
func execPiecewise(in *Instr, node string, x, res []uint64) error {
	for i, v := range x {
		if len(in.Domain) == 2 && (int64(v) < in.Domain[0] || int64(v) > in.Domain[1]) {
			return fmt.Errorf("input %d of %s is %d, outside the domain [%d, %d] the approximation was compiled for (the traced range of node %q; compile with data that reaches this range)",
				i, in.Func, int64(v), in.Domain[0], in.Domain[1], node)
		}
		res[i] = uint64(evalPiecewise(in, int64(v)))
	}
	return nil
}

// checkPiecewise validates a Piecewise instruction's table.
func checkPiecewise(in *Instr) error {
	k := len(in.Breaks)
	if k > maxPieces {
		return fmt.Errorf("%d breaks, more than %d", k, maxPieces)
	}
	for j, t := range in.Breaks {
		if t < -compareDomain || t >= compareDomain {
			return fmt.Errorf("break %d outside the comparison domain", t)
		}
		if j > 0 && t <= in.Breaks[j-1] {
			return fmt.Errorf("breaks %v are not increasing", in.Breaks)
		}
	}
	if len(in.Public) == 0 || len(in.Public)%(k+1) != 0 {
		return fmt.Errorf("%d coefficients for %d pieces", len(in.Public), k+1)
	}
	d := len(in.Public)/(k+1) - 1
	if d > maxDegree {
		return fmt.Errorf("degree %d, more than %d", d, maxDegree)
	}
	if d > 0 && (in.Shift < 1 || in.Shift > 62) {
		return fmt.Errorf("shift %d out of range", in.Shift)
	}
	if len(in.Domain) != 0 && (len(in.Domain) != 2 || in.Domain[0] > in.Domain[1]) {
		return fmt.Errorf("domain %v is not an interval", in.Domain)
	}
	if m := in.Mirror; len(m) != 0 && (len(m) != 3 || m[0] < -1 || m[0] > 1 || m[2] < -1 || m[2] > 1 || m[1] < -compareDomain || m[1] >= compareDomain) {
		return fmt.Errorf("mirror %v: want [a, b, c] with a, c in {-1, 0, 1}", m)
	}
	return nil
}

// The limits of a Piecewise table.
const (
	maxPieces = 256
	maxDegree = 8
)

// piecewiseBounder bounds, element by element, the error of a Piecewise
// given that a backend's every ScaleDown may add one. For an element the
// oracle evaluated at x whose secure input may be off by e (in the
// input's units), the secure input lies in [x − e, x + e] (of |x| for a
// mirrored table), and over the pieces that interval meets the bound is
// L·e for their largest slope L, plus the floors' error through Horner's
// rule at the largest |u| there (twice when e > 0: once for each
// evaluation), plus the largest jump at a break inside it (the
// comparison may pick the neighbour). A mirrored table adds |c|·e for
// x < 0, and where the sign may flip (|x| ≤ e) the jump between the
// branches at 0 and their slopes.
type piecewiseBounder struct {
	in    *Instr
	d     int
	scale float64
	jumps []float64 // jumps[j]: between pieces j and j + 1 at break j
	c     float64
	jump0 float64
}

func newPiecewiseBounder(in *Instr) *piecewiseBounder {
	k := len(in.Breaks)
	b := &piecewiseBounder{in: in, d: len(in.Public)/(k+1) - 1, scale: math.Ldexp(1, in.Shift)}
	if b.d < 0 {
		return b
	}
	b.jumps = make([]float64, k)
	for j := range k {
		b.jumps[j] = math.Abs(b.poly(j, float64(in.Breaks[j])-b.origin(j)) - b.poly(j+1, 0))
	}
	if len(in.Mirror) == 3 {
		b.c = math.Abs(float64(in.Mirror[2]))
		p0 := b.poly(0, -b.origin(0))
		b.jump0 = math.Abs(float64(in.Mirror[0]-1)*p0 + float64(in.Mirror[1]))
	}
	return b
}

// origin is piece i's origin o_i.
func (b *piecewiseBounder) origin(i int) float64 {
	if len(b.in.Breaks) == 0 {
		return 0
	}
	return float64(b.in.Breaks[max(i, 1)-1])
}

// poly is piece i's real polynomial at u.
func (b *piecewiseBounder) poly(i int, u float64) float64 {
	c := b.in.Public[i*(b.d+1) : (i+1)*(b.d+1)]
	r := 0.0
	for j := b.d; j >= 0; j-- {
		r = r*u/b.scale + float64(c[j])
	}
	return r
}

// slope bounds the derivative of piece i's polynomial for |u| ≤ umax.
func (b *piecewiseBounder) slope(i int, umax float64) float64 {
	c := b.in.Public[i*(b.d+1) : (i+1)*(b.d+1)]
	s := 0.0
	for j := 1; j <= b.d; j++ {
		s += float64(j) * math.Abs(float64(c[j])) * math.Pow(umax/b.scale, float64(j-1)) / b.scale
	}
	return s
}

// horner bounds the floors' error of one evaluation by Horner's rule at
// |u| ≤ umax: each floor's unit, carried through the products after it.
func (b *piecewiseBounder) horner(umax float64) float64 {
	h := 0.0
	for j := 0; j < b.d; j++ {
		h += math.Pow(math.Max(1, umax/b.scale), float64(j))
	}
	return h
}

// bound is the bound for an element the oracle computed from x whose
// secure input may be off by e.
func (b *piecewiseBounder) bound(x int64, e float64) float64 {
	if b.d < 0 || math.IsInf(e, 1) || math.IsNaN(e) {
		return math.Inf(1)
	}
	mirror := len(b.in.Mirror) == 3
	t := float64(x)
	if mirror {
		t = math.Abs(t)
	}
	lo, hi := t-e, t+e
	breaks := b.in.Breaks
	piece := func(v float64) int {
		return sort.Search(len(breaks), func(j int) bool { return float64(breaks[j]) > v })
	}
	i0, i1 := piece(lo), piece(hi)
	var l, h, jump float64
	for i := i0; i <= i1; i++ {
		a, z := lo, hi // the part of [lo, hi] in piece i
		if i > 0 {
			a = math.Max(a, float64(breaks[i-1]))
		}
		if i < len(breaks) {
			z = math.Min(z, float64(breaks[i]))
		}
		o := b.origin(i)
		umax := math.Max(math.Abs(a-o), math.Abs(z-o))
		l, h = math.Max(l, b.slope(i, umax)), math.Max(h, b.horner(umax))
		if i > i0 {
			jump = math.Max(jump, b.jumps[i-1])
		}
	}
	if e == 0 {
		return h
	}
	r := l*e + 2*h + jump
	if !mirror {
		return r
	}
	r += b.c * e
	if math.Abs(float64(x)) <= e {
		r += b.jump0 + 2*l*e + b.c*e
	}
	return r
}

// lowerPiecewise lowers a Piecewise instruction (see its doc above); a
// mirrored one as the table on |x| = Mux(DReLU(x), x, −x) and
// Mux(DReLU(x), y, a·y + b + c·|x|).
func lowerPiecewise(l *lowerer, in *Instr) error {
	if err := checkPiecewise(in); err != nil {
		return err
	}
	if len(in.Mirror) != 3 {
		lowerTable(l, in, in.In[0], in.Out)
		return nil
	}
	x := in.In[0]
	shape, sx, sOut := l.shape(x), l.scale(x), l.scale(in.Out)
	public := func(op Op, v int, c int64, sc int) int {
		return l.emit(Instr{Op: op, In: []int{v}, Public: []int64{c}, PublicShape: ir.Shape{}}, -1, shape, sc)
	}
	bit := l.drelu(x)
	ax := l.mux(bit, x, public(MulPublic, x, -1, sx), -1)
	y := lowerTable(l, in, ax, -1)
	alt := public(AddPublic, public(MulPublic, y, in.Mirror[0], sOut), in.Mirror[1], sOut)
	if c := in.Mirror[2]; c != 0 {
		alt = l.binary(Add, alt, public(MulPublic, ax, c, sx))
	}
	l.mux(bit, y, alt, in.Out)
	return nil
}

// lowerTable emits the table of Piecewise instruction in on x into out
// (a new tensor if out < 0) and returns it.
func lowerTable(l *lowerer, in *Instr, x, out int) int {
	n := l.shape(x).Size()
	flat := ir.Shape{n}
	sx, sOut := l.scale(x), l.scale(in.Out)
	xf := l.reshape(x, flat, -1)
	k := len(in.Breaks)
	d := len(in.Public)/(k+1) - 1
	col := ir.Shape{k, 1}
	var bits int
	if k > 0 {
		row := l.reshape(x, ir.Shape{1, n}, -1)
		stack := row
		if k > 1 {
			rows := make([]int, k)
			for j := range rows {
				rows[j] = row
			}
			stack = l.concat(0, rows...)
		}
		neg := make([]int64, k)
		for j, t := range in.Breaks {
			neg[j] = -t
		}
		diff := l.emit(Instr{Op: AddPublic, In: []int{stack}, Public: neg, PublicShape: col}, -1, ir.Shape{k, n}, sx)
		bits = l.drelu(diff)
	}
	// pick returns the tensor holding, for every element, v[i] of its
	// piece i: v[0] + Σ_j b_j·(v[j] − v[j−1]), at scale sc.
	pick := func(v []int64, sc int) int {
		delta := make([]int64, k)
		any := false
		for j := range delta {
			delta[j] = v[j+1] - v[j]
			any = any || delta[j] != 0
		}
		if !any {
			return l.emit(Instr{Op: Const, Public: []int64{v[0]}, PublicShape: ir.Shape{}}, -1, flat, sc)
		}
		t := l.emit(Instr{Op: MulPublic, In: []int{bits}, Public: delta, PublicShape: col}, -1, ir.Shape{k, n}, sc)
		sum := l.emit(Instr{Op: ReduceSum, In: []int{t}, Axes: []int{0}}, -1, flat, sc)
		return l.emit(Instr{Op: AddPublic, In: []int{sum}, Public: []int64{v[0]}, PublicShape: ir.Shape{}}, -1, flat, sc)
	}
	coef := func(j int) int {
		v := make([]int64, k+1)
		for i := range v {
			v[i] = in.Public[i*(d+1)+j]
		}
		return pick(v, sOut)
	}
	r := coef(d)
	if d > 0 {
		u := xf
		if k > 0 {
			origins := make([]int64, k+1)
			for i := range origins {
				origins[i] = in.Breaks[max(i, 1)-1]
			}
			u = l.binary(Sub, xf, pick(origins, sx))
		}
		for j := d - 1; j >= 0; j-- {
			p := l.emit(Instr{Op: Mul, In: []int{r, u}}, -1, flat, sOut+sx)
			q := l.emit(Instr{Op: ScaleDown, In: []int{p}, Shift: in.Shift}, -1, flat, sOut)
			r = l.binary(Add, q, coef(j))
		}
	}
	return l.reshape(r, l.shape(in.Out), out)
}

// lowerMaxMin lowers Max(a, b) to Mux(DReLU(a − b), a, b) and Min(a, b)
// to Mux(DReLU(b − a), a, b).
func lowerMaxMin(l *lowerer, in *Instr) error {
	a, b := in.In[0], in.In[1]
	diff := l.binary(Sub, a, b)
	if in.Op == Min {
		diff = l.binary(Sub, b, a)
	}
	l.mux(l.drelu(diff), a, b, in.Out)
	return nil
}

// lowerReduceMax lowers ReduceMax: the reduced axes moved to the front
// (Transpose) and flattened into one (Reshape), then the comparison tree
// of MaxPool and ArgMax along it.
func lowerReduceMax(l *lowerer, in *Instr) error {
	x := in.In[0]
	s := l.shape(x)
	red := make([]bool, len(s))
	for _, a := range in.Axes {
		if a < 0 {
			a += len(s)
		}
		if a < 0 || a >= len(s) {
			return fmt.Errorf("axis %d of shape %v", a, s)
		}
		red[a] = true
	}
	if len(in.Axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	var perm []int
	k, rest := 1, 1
	for i, r := range red {
		if r {
			perm = append(perm, i)
			k *= s[i]
		}
	}
	for i, r := range red {
		if !r {
			perm = append(perm, i)
			rest *= s[i]
		}
	}
	if k == 0 || rest == 0 {
		return fmt.Errorf("ReduceMax of the empty shape %v", s)
	}
	t := x
	if !isIdentity(perm) {
		ts := make(ir.Shape, len(s))
		for i, p := range perm {
			ts[i] = s[p]
		}
		t = l.emit(Instr{Op: Transpose, In: []int{x}, Perm: perm}, -1, ts, l.scale(x))
	}
	t = l.reshape(t, ir.Shape{k, rest}, -1)
	m, _ := l.maxTree(t, 0, false, false)
	l.reshape(m, l.shape(in.Out), in.Out)
	return nil
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if i != p {
			return false
		}
	}
	return true
}
