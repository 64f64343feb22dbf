package slalom

import (
	"fmt"

	"veil/tensor"
)

// CheckMode selects how T verifies the device.
type CheckMode uint8

const (
	// Preprocessed (§3.5 of the spec): per layer, secret s over the output
	// and s̃ = f^T(s), β = ⟨b, Σ_pixels s⟩ computed offline; online
	// ⟨Y, s⟩ ≡ ⟨X, s̃⟩ + β costs |x| + |y| per repetition. s is reused
	// across inferences until the first rejection.
	Preprocessed CheckMode = iota
	// OnTheFly: convolutions draw a fresh r ∈ Z_p^(c_out) per check and
	// test Y·r ≡ Conv(X, W·r) + b·r; dense and depthwise layers, where
	// mixing outputs saves nothing, use the preprocessed check.
	OnTheFly
	// Structured is Preprocessed with s = r_ch ⊗ r_sp (a channel vector
	// times a spatial vector) per repetition: T keeps only s̃ in full, and
	// ⟨Y, s⟩ = Σ_o r_ch[o]·Σ_pix r_sp[pix]·Y[o,pix] reads no big secret
	// array. Soundness error 2/p per repetition, (2/p)^2 = 2^-46 for k = 2.
	Structured
)

func (m CheckMode) String() string {
	switch m {
	case OnTheFly:
		return "on-the-fly"
	case Structured:
		return "structured"
	}
	return "preprocessed"
}

// Reps is k, the number of independent checks per layer: with S = Z_p
// the soundness error is (1/p)^2 ≈ 2^-48 per layer.
const Reps = 2

// maxReps bounds Verifier.reps.
const maxReps = Reps

// CheckError is a failed check: the inference aborts and no output is
// released.
type CheckError struct {
	Layer  int
	Name   string
	Reason string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("slalom: layer %d (%s): %s", e.Layer, e.Name, e.Reason)
}

type layerSecret struct {
	s, st    [maxReps][]uint32 // s over the output (nil when structured), s̃ = f^T(s) over the input
	rch, rsp [maxReps][]uint32 // structured s = r_ch ⊗ r_sp
	beta     [maxReps]uint64
	// wt is set for a structured check of a pointwise convolution with
	// stride 1, whose s̃ has rank one: s̃[c, pix] = wt[c]·r_sp[pix] with
	// wt = W^T r_ch. T then keeps no s̃ array (st is nil) and ⟨X, s̃⟩
	// reads only X and the small r_sp.
	wt      [maxReps][]uint32
	inPlane int
}

// span returns the end of the stretch [lo, end) of input positions, end
// ≤ hi, over which inputVec describes s̃ (a channel's plane when s̃ has
// rank one).
func (sec *layerSecret) span(lo, hi int) int {
	if sec.wt[0] == nil {
		return hi
	}
	return min(hi, (lo/sec.inPlane+1)*sec.inPlane)
}

// inputVec returns v and f with s̃_r[lo+i] = f·v[i] for i < hi − lo, where
// hi ≤ span(lo, hi).
func (sec *layerSecret) inputVec(r, lo, hi int) (v []uint32, f uint64) {
	if sec.wt[r] == nil {
		return sec.st[r][lo:hi], 1
	}
	off := lo % sec.inPlane
	return sec.rsp[r][off : off+hi-lo], uint64(sec.wt[r][lo/sec.inPlane])
}

// xdot returns ⟨x, s̃_r⟩ mod P.
func (sec *layerSecret) xdot(r int, x []uint32) uint64 {
	var acc uint64
	for lo := 0; lo < len(x); {
		hi := sec.span(lo, len(x))
		v, f := sec.inputVec(r, lo, hi)
		acc = (acc + dotU32(x[lo:hi], v)*f) % P
		lo = hi
	}
	return acc
}

// rankOne reports whether a structured check of l has a rank-one s̃: a
// 1×1 convolution with stride 1, no padding and no groups.
func rankOne(l *Layer) bool {
	c := l.Conv
	return l.Kind == Conv && c.N == 1 && c.KH == 1 && c.KW == 1 && c.SH == 1 && c.SW == 1 &&
		c.PadT+c.PadL+c.PadB+c.PadR == 0 && c.Group <= 1
}

// ydot returns ⟨y, s_r⟩ mod P.
func (sec *layerSecret) ydot(r int, y []uint32) uint64 {
	if sec.s[r] != nil {
		return dotU32(y, sec.s[r])
	}
	rch, rsp := sec.rch[r], sec.rsp[r]
	plane := len(rsp)
	var acc uint64
	for o, c := range rch {
		acc = (acc + dotU32(y[o*plane:(o+1)*plane], rsp)*uint64(c)) % P
	}
	return acc
}

// Verifier holds T's secret Freivalds state for one program. It never
// leaves T.
type Verifier struct {
	Prog     *Program
	Mode     CheckMode
	prg      *PRG
	secrets  []*layerSecret
	prepared bool
	// limit restricts random vectors to {0..limit−1} and reps sets k
	// (tests only; 0 means Reps).
	limit uint64
	reps  int
}

func (v *Verifier) k() int {
	if v.reps > 0 {
		return v.reps
	}
	return Reps
}

// NewVerifier returns a verifier with a fresh CSPRNG seeded by crypto/rand.
func NewVerifier(p *Program, mode CheckMode) *Verifier {
	return &Verifier{Prog: p, Mode: mode, prg: NewRandomPRG()}
}

// Prepare draws new secret vectors s and computes s̃ and β for every
// layer that the mode checks with the preprocessed test (offline work,
// about Reps times the cost of the layers themselves).
func (v *Verifier) Prepare() {
	v.prg.limit = v.limit
	v.secrets = make([]*layerSecret, len(v.Prog.Layers))
	for i := range v.Prog.Layers {
		v.prepareLayer(i)
	}
	v.prepared = true
}

func (v *Verifier) prepareLayer(i int) {
	l := v.Prog.Layers[i]
	if v.Mode == OnTheFly && l.Kind == Conv {
		return
	}
	sec := &layerSecret{}
	plane := l.OutLen() / l.Channels()
	for r := 0; r < v.k(); r++ {
		s := make([]uint64, l.OutLen())
		if v.Mode == Structured {
			rch, rsp := make([]uint64, l.Channels()), make([]uint64, plane)
			v.prg.Fill(rch)
			v.prg.Fill(rsp)
			for o, c := range rch {
				for p, sp := range rsp {
					s[o*plane+p] = c * sp % P
				}
			}
			sec.rch[r], sec.rsp[r] = toU32(rch), toU32(rsp)
		} else {
			v.prg.Fill(s)
			sec.s[r] = toU32(s)
		}
		if v.Mode == Structured && rankOne(l) {
			// wt[c] = Σ_o r_ch[o]·W[o, c] (O ≤ 2^16 products per entry).
			c := l.Conv.C
			wt := make([]uint64, c)
			for o, ro := range sec.rch[r] {
				for ci, w := range l.W[o*c : (o+1)*c] {
					wt[ci] += w * uint64(ro)
				}
			}
			for ci := range wt {
				wt[ci] %= P
			}
			sec.wt[r], sec.inPlane = toU32(wt), l.Conv.H*l.Conv.W
		} else {
			sec.st[r] = toU32(Transpose(l, s))
		}
		var beta uint64
		for o := 0; o < l.Channels(); o++ {
			var sum uint64
			for _, x := range s[o*plane : (o+1)*plane] {
				sum += x
			}
			beta = (beta + (sum%P)*l.B[o]) % P
		}
		sec.beta[r] = beta
	}
	v.secrets[i] = sec
}

// Invalidate discards the secret vectors (after a rejection: a restart
// draws new ones, so an adaptive device learns nothing it can reuse).
func (v *Verifier) Invalidate() { v.prepared = false; v.secrets = nil }

// Prepared reports whether secrets are ready.
func (v *Verifier) Prepared() bool { return v.prepared }

// Check verifies that y = f(x) + b mod P for the layer, where x is what T
// sent to the device and y what it returned (both canonical residues).
// On failure it invalidates the secrets and returns a *CheckError.
func (v *Verifier) Check(l *Layer, x, y []uint32) error {
	if !v.prepared {
		return &CheckError{l.Index, l.Name, "verifier has no secrets (Prepare not run)"}
	}
	var ok bool
	if v.Mode == OnTheFly && l.Kind == Conv {
		ok = v.checkFly(l, x, y)
	} else {
		ok = v.checkPre(l, x, y)
	}
	if !ok {
		v.Invalidate()
		return &CheckError{l.Index, l.Name, "Freivalds check failed: the device's output is wrong"}
	}
	return nil
}

func (v *Verifier) checkPre(l *Layer, x, y []uint32) bool {
	sec := v.secrets[l.Index]
	for r := 0; r < v.k(); r++ {
		lhs := sec.ydot(r, y)
		rhs := (sec.xdot(r, x) + sec.beta[r]) % P
		if lhs != rhs {
			return false
		}
	}
	return true
}

// checkFly tests Y·r ≡ Conv(X, W·r) + b·r with fresh r per repetition.
func (v *Verifier) checkFly(l *Layer, x, y []uint32) bool {
	v.prg.limit = v.limit
	c := l.Conv
	k := c.C * c.KH * c.KW
	plane := c.OutH() * c.OutW()
	xs := toU64(x)
	r := make([]uint64, c.O)
	wr := make([]uint64, k)
	yr := make([]uint64, plane)
	cr := make([]uint64, plane)
	for rep := 0; rep < v.k(); rep++ {
		v.prg.Fill(r)
		// W·r: [k] = Σ_o r_o W[o, :]   (O ≤ 2^16 products per entry)
		clear(wr)
		for o := 0; o < c.O; o++ {
			ro := r[o]
			for j, w := range l.W[o*k : (o+1)*k] {
				wr[j] += w * ro
			}
		}
		var br uint64
		for j := range wr {
			wr[j] %= P
		}
		for o := 0; o < c.O; o++ {
			br = (br + r[o]*l.B[o]) % P
		}
		one := c
		one.O = 1
		tensor.Conv2D(cr, xs, wr, one)
		clear(yr)
		for o := 0; o < c.O; o++ {
			ro := r[o]
			for j, yv := range y[o*plane : (o+1)*plane] {
				yr[j] += uint64(yv) * ro
			}
		}
		for j := range yr {
			if yr[j]%P != (cr[j]%P+br)%P {
				return false
			}
		}
	}
	return true
}

// CheckBatch is the batched check for B inputs of one Conv or Dense
// layer: with fresh s ∈ Z_p^B and r ∈ Z_p^(c_out),
// Σ_b s_b·(Y_b·r) ≡ f(Σ_b s_b·X_b, W·r) + (Σs)·(b·r); soundness error ≤ 2/|S|
// per repetition. It costs B·(|x| + |y|) plus one single-channel layer.
func (v *Verifier) CheckBatch(l *Layer, xs, ys [][]uint32) error {
	if len(xs) != len(ys) || len(xs) == 0 {
		return &CheckError{l.Index, l.Name, "batch size mismatch"}
	}
	if l.Kind == Depthwise || l.Kind == Separable {
		for b := range xs {
			if err := v.Check(l, xs[b], ys[b]); err != nil {
				return err
			}
		}
		return nil
	}
	v.prg.limit = v.limit
	ch := l.Channels()
	plane := l.OutLen() / ch
	k := l.InLen()
	if l.Kind == Conv {
		k = l.Conv.C * l.Conv.KH * l.Conv.KW
	}
	s := make([]uint64, len(xs))
	r := make([]uint64, ch)
	for rep := 0; rep < v.k(); rep++ {
		v.prg.Fill(s)
		v.prg.Fill(r)
		var ssum uint64
		for _, sb := range s {
			ssum += sb
		}
		ssum %= P
		// X* = Σ s_b X_b, (Y*)·r = Σ s_b (Y_b·r)
		xsum := make([]uint64, l.InLen())
		yr := make([]uint64, plane)
		for b := range xs {
			for i, xv := range xs[b] {
				xsum[i] = (xsum[i] + uint64(xv)*s[b]) % P
			}
			for o := 0; o < ch; o++ {
				ro := r[o]
				row := ys[b][o*plane : (o+1)*plane]
				for j, yv := range row {
					yr[j] = (yr[j] + (uint64(yv)*ro)%P*s[b]) % P
				}
			}
		}
		// W·r
		wr := make([]uint64, k)
		var br uint64
		if l.Kind == Dense {
			tensor.MatMul(wr, l.W, r, l.N, l.M, 1)
		} else {
			for o := 0; o < ch; o++ {
				for j, w := range l.W[o*k : (o+1)*k] {
					wr[j] += w * r[o]
				}
			}
		}
		for j := range wr {
			wr[j] %= P
		}
		for o := 0; o < ch; o++ {
			br = (br + r[o]*l.B[o]) % P
		}
		cr := make([]uint64, plane)
		if l.Kind == Dense {
			cr[0] = dot(xsum, wr)
		} else {
			one := l.Conv
			one.O = 1
			tensor.Conv2D(cr, xsum, wr, one)
		}
		bt := ssum * br % P
		for j := range yr {
			if yr[j] != (cr[j]%P+bt)%P {
				v.Invalidate()
				return &CheckError{l.Index, l.Name, "batched Freivalds check failed: the device's output is wrong"}
			}
		}
	}
	return nil
}
