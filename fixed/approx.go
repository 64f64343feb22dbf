package fixed

import (
	"fmt"
	"math"
	"sort"
)

// A function is a real function of one variable that the compiler
// computes securely as a Piecewise instruction: polynomials of a fixed
// degree on pieces of [Lo, Hi], found by halving every piece whose fit is
// worse than the target, and constant or linear tails beyond.
type function struct {
	name   string
	f      func(float64) float64
	lo, hi float64
	// left and right are the tails' value at Lo (Hi) and slope.
	left, right [2]float64
	degree      int
	// relative: the fit target is relative to |f| where |f| > 1 (exp).
	relative bool
	// octaves: the first pieces are the octaves [2^j, 2^(j+1)] (Lo and
	// Hi powers of two), for reciprocals.
	octaves bool
	// mirror, if set to [a, b, c], fits f on [0, Hi] only (Lo is 0) and
	// gives f(x) = a·f(|x|) + b + c·|x| for x < 0 (see Instr.Mirror).
	mirror *[3]float64
}

// functions are the saturating and smooth functions, with the ranges on
// which they are fitted: beyond them the tails are within 2^−20 of the
// function (sigmoid(−16) = 1.1·10^−7; x·sigmoid(x) at −16 is −1.8·10^−6).
//
// The odd functions and those whose difference f(x) − f(−x) is 1 or x are
// mirrored (fitted on [0, Hi]): one comparison of x with 0 and half the
// pieces, for two multiplexers.
var functions = map[string]function{
	"sigmoid":   {name: "sigmoid", f: sigmoid, hi: 16, right: [2]float64{1, 0}, degree: 4, mirror: &oneMinus},
	"tanh":      {name: "tanh", f: math.Tanh, hi: 8, right: [2]float64{1, 0}, degree: 4, mirror: &odd},
	"silu":      {name: "silu", f: func(x float64) float64 { return x * sigmoid(x) }, hi: 16, right: [2]float64{16, 1}, degree: 4, mirror: &minusX},
	"gelu":      {name: "gelu", f: gelu, hi: 8, right: [2]float64{8, 1}, degree: 4, mirror: &minusX},
	"gelu_tanh": {name: "gelu_tanh", f: geluTanh, hi: 8, right: [2]float64{8, 1}, degree: 4, mirror: &minusX},
	"softplus":  {name: "softplus", f: softplus, hi: 16, right: [2]float64{16, 1}, degree: 4, mirror: &minusX},
	"erf":       {name: "erf", f: math.Erf, hi: 4, right: [2]float64{1, 0}, degree: 4, mirror: &odd},
	// exp_neg is exp on (−∞, 0], the exponentials of a softmax after its
	// maximum is subtracted: below −16 it is 0 (e^−16 = 1.1·10^−7).
	"exp_neg": {name: "exp", f: math.Exp, lo: -16, hi: 0, left: [2]float64{0, 0}, right: [2]float64{1, 1}, degree: 4},
}

// The mirrors: f(−x) = 1 − f(x) (sigmoid), −f(x) (odd), f(x) − x.
var (
	oneMinus = [3]float64{-1, 1, 0}
	odd      = [3]float64{-1, 0, 0}
	minusX   = [3]float64{1, 0, -1}
)

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

func gelu(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// table is a Piecewise instruction's parameters.
type table struct {
	breaks []int64
	coeffs []int64
	shift  int
	mirror []int64
}

// instr returns a Piecewise instruction computing t.
func (t table) instr(fn string) Instr {
	return Instr{Op: Piecewise, Breaks: t.breaks, Public: t.coeffs, Shift: t.shift, Func: fn, Mirror: t.mirror}
}

// fit returns fn's table for inputs at scale s and outputs at scale
// sOut, each piece within eps of fn (relative where fn is relative and
// |f| > 1).
func (fn function) fit(s, sOut int, eps float64) (table, error) {
	unit := math.Ldexp(1, -s)
	lo, hi := math.Round(fn.lo/unit), math.Round(fn.hi/unit)
	if hi-lo < 2 || math.Abs(lo) > 1<<50 || math.Abs(hi) > 1<<50 {
		return table{}, fmt.Errorf("%s: range [%g, %g] at scale %d", fn.name, fn.lo, fn.hi, s)
	}
	// Pieces as [a, b] in units of the scale.
	var work [][2]float64
	if fn.octaves {
		for a := lo; a < hi; a *= 2 {
			work = append(work, [2]float64{a, math.Min(2*a, hi)})
		}
	} else {
		work = [][2]float64{{lo, hi}}
	}
	type piece struct {
		a, b float64
		poly []float64 // in z = (x − a)/(b − a) ∈ [0, 1], real units
	}
	var done []piece
	for len(work) > 0 {
		p := work[len(work)-1]
		work = work[:len(work)-1]
		poly, err := fitPoly(fn, p[0]*unit, p[1]*unit)
		if len(done)+len(work) > maxPieces-2 {
			return table{}, fmt.Errorf("%s: more than %d pieces at scale %d for error %g", fn.name, maxPieces, s, eps)
		}
		if err > eps && p[1]-p[0] >= 8 {
			m := math.Floor((p[0] + p[1]) / 2)
			work = append(work, [2]float64{m, p[1]}, [2]float64{p[0], m})
			continue
		}
		done = append(done, piece{p[0], p[1], poly})
	}
	sort.Slice(done, func(i, j int) bool { return done[i].a < done[j].a })
	var wmax float64
	for _, p := range done {
		wmax = math.Max(wmax, p.b-p.a)
	}
	// W = 2^k units ≥ every width: v = (x − a)/W ∈ [0, 1], read from the
	// integer u = x − a as u/2^k: the Horner shift is k plus the output
	// scale's s (r·u is at scale s + k… see Piecewise).
	k := int(math.Ceil(math.Log2(wmax)))
	d := fn.degree
	enc := func(v float64) int64 { return int64(math.Round(math.Ldexp(v, sOut))) }
	t := table{shift: k}
	// Left tail: origin lo, value left[0] + left[1]·(x − lo).
	tail := func(v [2]float64) {
		c := make([]int64, d+1)
		c[0] = enc(v[0])
		if d > 0 {
			c[1] = int64(math.Round(v[1] * math.Ldexp(1, k+sOut-s)))
		}
		t.coeffs = append(t.coeffs, c...)
	}
	if fn.mirror == nil {
		tail(fn.left)
	} else {
		// Piece 0 is the first fitted piece [0, t_1), whose origin is t_1:
		// z = 1 + v·W/w, so a_i^v = Σ_j a_j^z·C(j, i)·(W/w)^i.
		if lo != 0 || len(done) < 2 {
			return table{}, fmt.Errorf("%s: a mirrored fit starts at 0 and needs two pieces", fn.name)
		}
		p := done[0]
		ratio := math.Ldexp(1, k) / (p.b - p.a)
		for i := 0; i <= d; i++ {
			var c float64
			for j := i; j <= d; j++ {
				c += p.poly[j] * binomial(j, i)
			}
			t.coeffs = append(t.coeffs, enc(c*math.Pow(ratio, float64(i))))
		}
		done = done[1:]
		m := *fn.mirror
		t.mirror = []int64{int64(m[0]), enc(m[1]), int64(m[2])}
	}
	for _, p := range done {
		t.breaks = append(t.breaks, int64(p.a))
		// z = v·W/w: a_j^v = a_j^z·(W/w)^j.
		ratio := math.Ldexp(1, k) / (p.b - p.a)
		for j, a := range p.poly {
			t.coeffs = append(t.coeffs, enc(a*math.Pow(ratio, float64(j))))
		}
	}
	t.breaks = append(t.breaks, int64(hi))
	tail(fn.right)
	if d == 0 {
		t.shift = 0
	} else if t.shift < 1 {
		return table{}, fmt.Errorf("%s: pieces narrower than the scale's unit", fn.name)
	}
	if err := t.checkRange(int64(hi)); err != nil {
		return table{}, fmt.Errorf("%s on [%g, %g] at scale %d: %w", fn.name, fn.lo, fn.hi, s, err)
	}
	return t, nil
}

// checkRange refuses a table whose Horner products could leave int64 for
// an input of its inner pieces or up to hi: each r·u must stay below
// 2^62 (the tails beyond hi are linear in inputs that large only).
func (t table) checkRange(hi int64) error {
	k := len(t.breaks)
	d := len(t.coeffs)/(k+1) - 1
	for i := 0; i <= k; i++ {
		var umax float64
		switch {
		case k == 0:
			umax = float64(hi)
		case i == 0:
			umax = float64(t.breaks[0]) // the left tail (or a mirrored first piece) from 0
		case i == k:
			umax = math.Max(0, float64(hi-t.breaks[k-1]))
		default:
			umax = float64(t.breaks[i] - t.breaks[i-1])
		}
		umax = math.Max(umax, 1)
		c := t.coeffs[i*(d+1) : (i+1)*(d+1)]
		r := math.Abs(float64(c[d]))
		for j := d - 1; j >= 0; j-- {
			if r*umax >= 1<<62 {
				return fmt.Errorf("piece %d: a product of %.3g would overflow the ring", i, r*umax)
			}
			r = r*umax/math.Ldexp(1, t.shift) + math.Abs(float64(c[j]))
		}
	}
	return nil
}

// fitPoly interpolates fn at the Chebyshev nodes of [a, b] (real units)
// by a polynomial of fn.degree in z = (x − a)/(b − a), and returns its
// coefficients and its largest error on 65 points of the piece (relative
// where fn is relative and |f| > 1).
func fitPoly(fn function, a, b float64) ([]float64, float64) {
	d := fn.degree
	n := d + 1
	m := make([][]float64, n)
	for i := range m {
		z := 0.5 - 0.5*math.Cos(math.Pi*(float64(i)+0.5)/float64(n))
		row := make([]float64, n+1)
		for j := 0; j < n; j++ {
			row[j] = math.Pow(z, float64(j))
		}
		row[n] = fn.f(a + z*(b-a))
		m[i] = row
	}
	c := solve(m)
	worst := 0.0
	for i := 0; i <= 64; i++ {
		z := float64(i) / 64
		y := fn.f(a + z*(b-a))
		e := math.Abs(horner(c, z) - y)
		if fn.relative && math.Abs(y) > 1 {
			e /= math.Abs(y)
		}
		worst = math.Max(worst, e)
	}
	return c, worst
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

func horner(c []float64, z float64) float64 {
	r := 0.0
	for j := len(c) - 1; j >= 0; j-- {
		r = r*z + c[j]
	}
	return r
}

// solve solves the linear system of the augmented matrix m by Gaussian
// elimination with partial pivoting.
func solve(m [][]float64) []float64 {
	n := len(m)
	for col := 0; col < n; col++ {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		m[col], m[p] = m[p], m[col]
		for r := col + 1; r < n; r++ {
			f := m[r][col] / m[col][col]
			for c := col; c <= n; c++ {
				m[r][c] -= f * m[col][c]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for c := r + 1; c < n; c++ {
			s -= m[r][c] * x[c]
		}
		x[r] = s / m[r][r]
	}
	return x
}

// maxError returns the largest |decoded Piecewise − f| over every input
// of [lo, hi] at scale s (every 2^−s, or evenly spread samples when there
// are more than 2^20), and the input where it occurs.
func maxError(in *Instr, f func(float64) float64, lo, hi float64, s int) (worst, at float64) {
	unit := math.Ldexp(1, -s)
	a, b := int64(math.Ceil(lo/unit)), int64(math.Floor(hi/unit))
	step := max(int64(1), (b-a)>>20)
	for x := a; x <= b; x += step {
		y := Decode(uint64(evalPiecewise(in, x)), s)
		if e := math.Abs(y - f(float64(x)*unit)); e > worst {
			worst, at = e, float64(x)*unit
		}
	}
	return worst, at
}

// FunctionBound is the documented bound on the error of a function that
// the compiler computes by a Piecewise table of degree d at scale s, on
// every input (s ≤ 16): the fit is within a quarter unit 2^−s, each of
// the d + 1 coefficients rounded to the scale adds at most half a unit
// (|v| ≤ 1 on every piece), and each of Horner's d floors at most one.
func FunctionBound(d, s int) float64 { return (1.5*float64(d) + 0.75) * math.Ldexp(1, -s) }

// functionInstr returns the Piecewise instruction for the named function
// at scale s.
func functionInstr(name string, s int) (Instr, error) {
	fn, ok := functions[name]
	if !ok {
		return Instr{}, fmt.Errorf("no approximation of %q", name)
	}
	t, err := fn.fit(s, s, math.Ldexp(1, -s-2))
	if err != nil {
		return Instr{}, err
	}
	return t.instr(fn.name), nil
}
