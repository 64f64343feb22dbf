package slalom

import (
	"errors"
	"fmt"
	"unsafe"
)

// Mode is what T asks of the outsourcing.
type Mode struct {
	Verify bool // Freivalds checks on every layer
	Blind  bool // one-time additive blinding of every layer's input
	Check  CheckMode
	// PerLayer makes the integrity mode send every layer's input to D and
	// wait for its output, instead of the default single round trip (X_0
	// to D, every Y_ℓ back, D running the network itself).
	PerLayer bool
}

func (m Mode) String() string {
	switch {
	case m.Verify && m.Blind:
		return "private+verified"
	case m.Verify && m.PerLayer:
		return "verified-per-layer"
	case m.Verify:
		return "verified"
	case m.Blind:
		return "private"
	}
	return "outsourced"
}

// Trusted is the trusted executor T: it quantizes, runs every non-linear
// step and requantization, blinds and unblinds, checks the device, and
// draws all randomness itself.
type Trusted struct {
	Prog    *Program
	Mode    Mode
	Dev     Link
	Ver     *Verifier
	Blinder *Blinder
	// Broken is set after any rejection: T then refuses to run until
	// Restart (new secrets), and never releases the failed output.
	Broken error
	mem    *arena
	stream bool // one round trip per inference (integrity without blinding)
	rbuf   []uint32
	ubuf   []uint32
	qbuf   []int64
	// feeds[ℓ] is the linear layer whose input is exactly layer ℓ's
	// output (after a fused ReLU), or −1: in the one-round-trip mode T
	// computes that layer's ⟨X, s̃⟩ while decoding layer ℓ, from values
	// still in cache, and keeps it in ahead until the layer runs.
	feeds []int
	ahead aheadDot
}

// aheadDot is ⟨X, s̃⟩ of a layer computed before the layer runs.
type aheadDot struct {
	valid  bool
	layer  int
	a0, a1 uint64
}

// NewTrusted sets D up with the program through dev and prepares T's
// secrets (store keeps the sealed unblinding factors; nil: a MemStore).
// Offline work (s̃, U) is done separately by Prepare and Offline.
func NewTrusted(p *Program, mode Mode, dev Link, store Store) (*Trusted, error) {
	t := &Trusted{Prog: p, Mode: mode, Dev: dev}
	if mode.Verify {
		t.Ver = NewVerifier(p, mode.Check)
	}
	if mode.Blind {
		if store == nil {
			store = NewMemStore()
		}
		t.Blinder = NewBlinder(p, store)
	}
	if err := dev.Setup(p); err != nil {
		return nil, err
	}
	if mode.Verify && !mode.Blind && !mode.PerLayer {
		if err := dev.SetupProgram(p); err != nil {
			return nil, err
		}
		t.stream = true
		pl, err := p.plans()
		if err != nil {
			return nil, err
		}
		t.feeds = pl.feeds
	}
	return t, nil
}

// Prepare runs the per-epoch offline work of the checks (s, s̃, β).
func (t *Trusted) Prepare() {
	if t.Ver != nil {
		t.Ver.Prepare()
	}
}

// Offline seals n more pairs of blinding factors (R, U = f(R)).
func (t *Trusted) Offline(n int) {
	if t.Blinder != nil {
		t.Blinder.Offline(n)
	}
}

// Restart draws new check secrets after a rejection; sealed pairs stay
// burnt.
func (t *Trusted) Restart() {
	t.Broken = nil
	if t.Ver != nil {
		t.Ver.Invalidate()
		t.Ver.Prepare()
	}
}

// Infer runs one inference. Any failed check aborts it with an error
// naming the layer, and no output is released.
func (t *Trusted) Infer(input []float32) ([]int64, error) {
	if t.Broken != nil {
		return nil, fmt.Errorf("slalom: refusing to run after a rejection (%v); restart first", t.Broken)
	}
	if t.Ver != nil && !t.Ver.Prepared() {
		t.Ver.Prepare()
	}
	var j uint64
	if t.Blinder != nil {
		if t.Blinder.Available() == 0 {
			t.Blinder.Offline(1)
		}
		var err error
		if j, err = t.Blinder.Next(); err != nil { // burnt before anything is used
			return nil, err
		}
	}
	if t.mem == nil {
		t.mem = &arena{}
	}
	t.ahead = aheadDot{}
	if cap(t.qbuf) < len(input) {
		t.qbuf = make([]int64, len(input))
	}
	q0 := t.qbuf[:len(input)]
	if err := t.Prog.QuantizeInto(q0, input); err != nil {
		if t.Blinder != nil {
			t.Blinder.Forget(j)
		}
		return nil, err
	}
	if t.stream {
		f := t.Dev.RunAllFrame(len(q0))
		encode(f, q0, nil, nil, nil, t.Prog.InClamp)
		if err := t.Dev.RunAllSend(f, len(t.Prog.Layers)); err != nil {
			return nil, err
		}
	}
	fast := t.Mode.Check != OnTheFly && (t.Ver == nil || t.Ver.k() == 2)
	generic := adapt(func(l *Layer, x []int64) ([]int64, error) {
		if t.stream {
			send := make([]uint32, len(x))
			for i, v := range x {
				send[i] = uint32(toField(v))
			}
			raw, err := t.Dev.Next(l)
			if err != nil {
				return nil, err
			}
			y, err := answer(l, raw)
			if err != nil {
				return nil, err
			}
			if err := t.Ver.Check(l, send, y); err != nil {
				return nil, err
			}
			z := make([]int64, len(y))
			for i, v := range y {
				z[i] = lift(uint64(v))
			}
			return z, nil
		}
		var send []uint32
		if t.Blinder != nil {
			send = t.Blinder.Blind(j, l, x)
		} else {
			send = make([]uint32, len(x))
			for i, v := range x {
				send[i] = uint32(toField(v))
			}
		}
		raw, err := t.Dev.Exchange(l, AppendResidues(t.Dev.Frame(len(send))[:0], send))
		if err != nil {
			return nil, err
		}
		y, err := answer(l, raw)
		if err != nil {
			return nil, err
		}
		if t.Ver != nil {
			if err := t.Ver.Check(l, send, y); err != nil {
				return nil, err
			}
		}
		z := make([]int64, len(y))
		if t.Blinder != nil {
			u, err := t.Blinder.Open(j, l)
			if err != nil {
				return nil, err
			}
			for i := range y {
				z[i] = lift((uint64(y[i]) + P - uint64(u[i])) % P)
			}
			clear(u)
		} else {
			for i, v := range y {
				z[i] = lift(uint64(v))
			}
		}
		return z, nil
	}, t.mem)
	out, err := t.Prog.execute(q0, func(l *Layer, x []int64, q post) ([]int64, error) {
		switch {
		case fast && t.stream:
			return t.streamLinear(l, x, q)
		case fast:
			return t.linearFast(j, l, x, q)
		}
		return generic(l, x, q)
	}, t.mem)
	if err != nil {
		var ce *CheckError
		if errors.As(err, &ce) {
			t.Broken = err
		}
		if t.Blinder != nil {
			t.Blinder.Forget(j) // burnt: its unused records are garbage
		}
		return nil, err
	}
	return out, nil
}

// answer decodes D's raw answer for l, refusing any value ≥ P.
func answer(l *Layer, raw []byte) ([]uint32, error) {
	y, err := DecodeResidues(raw, l.OutLen())
	if err != nil {
		return nil, &CheckError{l.Index, l.Name, "device answer refused: " + err.Error()}
	}
	return y, nil
}

// linearFast is one outsourced layer with preprocessed checks (k = 2),
// fused into two passes over the data: encoding X (or X̃ = X + R) into the
// request while accumulating ⟨X, s̃⟩, and decoding Y while refusing values
// ≥ P and accumulating ⟨Y, s⟩; then, only if the check passed, unblinding.
func (t *Trusted) linearFast(j uint64, l *Layer, x []int64, q post) ([]int64, error) {
	n := len(x)
	vals := t.Dev.Frame(n)
	var r []uint32
	if t.Blinder != nil {
		if cap(t.rbuf) < n {
			t.rbuf = make([]uint32, n)
		}
		r = t.Blinder.RInto(j, l, t.rbuf[:n])
	}
	var sec *layerSecret
	if t.Ver != nil {
		sec = t.Ver.secrets[l.Index]
	}
	var ax0, ax1 uint64
	c := l.Clamp
	for lo, hi := 0, 0; lo < n; lo = hi {
		hi = min(n, lo+lazyTerms)
		if sec != nil {
			hi = sec.span(lo, hi)
		}
		var a0, a1 uint64
		var f0, f1 uint64
		xs := x[lo:hi]
		out := vals[rb*lo : rb*hi]
		out = out[:rb*len(xs)]
		var rs, s0, s1 []uint32
		if r != nil {
			rs = r[lo:hi]
			rs = rs[:len(xs)]
		}
		if sec != nil {
			s0, f0 = sec.inputVec(0, lo, hi)
			s1, f1 = sec.inputVec(1, lo, hi)
		}
		a0, a1 = encode(out, xs, rs, s0, s1, c)
		ax0, ax1 = (ax0+a0%P*f0)%P, (ax1+a1%P*f1)%P
	}
	clear(r)
	raw, err := t.Dev.Exchange(l, vals)
	if err != nil {
		return nil, err
	}
	return t.finish(j, l, raw, sec, ax0, ax1, q)
}

// streamLinear is a layer of the one-round-trip integrity mode: D already
// ran the whole network on X_0; T computes ⟨X_ℓ, s̃⟩ on its own X_ℓ and
// checks D's streamed Y_ℓ against it.
func (t *Trusted) streamLinear(l *Layer, x []int64, q post) ([]int64, error) {
	sec := t.Ver.secrets[l.Index]
	c := l.Clamp
	var ax0, ax1 uint64
	n := len(x)
	if t.ahead.valid && t.ahead.layer == l.Index {
		ax0, ax1, n = t.ahead.a0, t.ahead.a1, 0
	}
	t.ahead.valid = false
	for lo, hi := 0, 0; lo < n; lo = hi {
		hi = sec.span(lo, min(n, lo+lazyTerms))
		s0, f0 := sec.inputVec(0, lo, hi)
		s1, f1 := sec.inputVec(1, lo, hi)
		a0, a1 := dotClamp(x[lo:hi], s0, s1, c)
		ax0, ax1 = (ax0+a0%P*f0)%P, (ax1+a1%P*f1)%P
	}
	raw, err := t.Dev.Next(l)
	if err != nil {
		return nil, err
	}
	return t.finish(0, l, raw, sec, ax0, ax1, q)
}

// finish decodes D's answer (refusing values ≥ P) while accumulating
// ⟨Y, s⟩, compares with ⟨X, s̃⟩ + β, and only then unblinds and lifts.
func (t *Trusted) finish(j uint64, l *Layer, raw []byte, sec *layerSecret, ax0, ax1 uint64, q post) ([]int64, error) {
	m := l.OutLen()
	z := t.mem.get(m)
	var ay0, ay1 uint64
	bad := -1
	var u []uint32
	if t.Blinder != nil {
		// Authenticate and decrypt U now; nothing derived from it is
		// released unless the check below passes.
		if cap(t.ubuf) < m {
			t.ubuf = make([]uint32, m)
		}
		var err error
		if u, err = t.Blinder.OpenInto(j, l, t.ubuf[:m]); err != nil {
			t.mem.put(z)
			return nil, err
		}
	}
	// Every pass below stores the lifted, post-processed values of Y − U
	// (Y without blinding); they are released only if the checks pass.
	var next *nextDot
	if sec != nil && t.stream && t.feeds[l.Index] >= 0 {
		m := t.Prog.Layers[t.feeds[l.Index]]
		if ms := t.Ver.secrets[m.Index]; ms != nil && m.InLen() == len(z) {
			next = &nextDot{sec: ms, c: m.Clamp}
		}
	}
	switch {
	case sec != nil && sec.s[0] == nil:
		ay0, ay1, bad = decodeStructured(z, raw, sec, q, u, next)
	case sec != nil:
		ay0, ay1, bad = decodeFull(z, raw, sec, q, u, next)
	default: // no checks: the same row pass with all-zero secrets
		_, _, bad = decodeFull(z, raw, nil, q, u, nil)
	}
	if next != nil {
		t.ahead = aheadDot{valid: true, layer: t.feeds[l.Index], a0: next.a0, a1: next.a1}
	}
	if bad >= 0 {
		t.mem.put(z)
		return nil, &CheckError{l.Index, l.Name, fmt.Sprintf("device answer refused: value at %d is not a residue mod p", bad)}
	}
	if sec != nil && (ay0 != (ax0+sec.beta[0])%P || ay1 != (ax1+sec.beta[1])%P) {
		t.Ver.Invalidate()
		t.mem.put(z)
		return nil, &CheckError{l.Index, l.Name, "Freivalds check failed: the device's output is wrong"}
	}
	clear(u) // U is used once
	return z, nil
}

// zeroSecret stands for s in decodeFull's pass without checks.
var zeroSecret [decodeBlock]uint32

// decodeFull is the decode pass for preprocessed secrets (s over the
// whole output; sec = nil: no checks): block by block, Σ y_i·s_i while storing the lifted,
// post-processed values of Y − U (U = nil: of Y), which the caller
// releases only if the check passes; with next ≠ nil also the next
// layer's ⟨z, s̃⟩ as decodeStructured does.
func decodeFull(z []int64, in []byte, sec *layerSecret, q post, u []uint32, next *nextDot) (ay0, ay1 uint64, bad int) {
	bad = -1
	var half int64
	k := uint(q.k)
	if k > 0 {
		half = 1 << (k - 1)
	}
	for lo := 0; lo < len(z); lo += decodeBlock {
		hi := min(len(z), lo+decodeBlock)
		zs := z[lo:hi]
		var us []uint32
		if u != nil {
			us = u[lo:hi]
		}
		s0, s1 := zeroSecret[:hi-lo], zeroSecret[:hi-lo]
		if sec != nil {
			s0, s1 = sec.s[0][lo:hi], sec.s[1][lo:hi]
		}
		a0, a1, bi := decodeRow(zs, in[rb*lo:rb*hi], s0, s1, us, half, k, q.lo, q.hi)
		if bi >= 0 {
			bad = lo + bi
		}
		ay0, ay1 = (ay0+a0%P)%P, (ay1+a1%P)%P
		if next != nil {
			next.add(zs, lo)
		}
	}
	return ay0, ay1, bad
}

// decodeStructured is the decode pass for structured secrets: per output
// channel o, Σ_pix r_sp[pix]·Y[o,pix], then times r_ch[o]. It stores the
// lifted, post-processed values of Y − U (U = nil: of Y); the caller
// releases them only if the check passes.
//
// With next ≠ nil it also accumulates next.a0, next.a1 = ⟨z, s̃⟩ mod P of
// the layer that takes z as its input, block by block while the block is
// in cache.
func decodeStructured(z []int64, in []byte, sec *layerSecret, q post, u []uint32, next *nextDot) (ay0, ay1 uint64, bad int) {
	bad = -1
	rsp0, rsp1 := sec.rsp[0], sec.rsp[1]
	plane := len(rsp0)
	var half int64
	k := uint(q.k)
	if k > 0 {
		half = 1 << (k - 1)
	}
	clo, chi := q.lo, q.hi
	for o := range sec.rch[0] {
		var c0, c1 uint64
		for lo := 0; lo < plane; lo += decodeBlock {
			hi := min(plane, lo+decodeBlock)
			n := hi - lo
			zs := z[o*plane+lo : o*plane+hi]
			b := in[rb*(o*plane+lo) : rb*(o*plane+hi)]
			r0, r1 := rsp0[lo:hi], rsp1[lo:hi]
			zs, b, r0, r1 = zs[:n], b[:rb*n], r0[:n], r1[:n]
			var us []uint32
			if u != nil {
				us = u[o*plane+lo : o*plane+hi]
				us = us[:n]
			}
			a0, a1, bi := decodeRow(zs, b, r0, r1, us, half, k, clo, chi)
			if bi >= 0 {
				bad = o*plane + lo + bi
			}
			if next != nil {
				next.add(zs, o*plane+lo)
			}
			c0, c1 = (c0+a0%P)%P, (c1+a1%P)%P
		}
		ay0 = (ay0 + c0*uint64(sec.rch[0][o])) % P
		ay1 = (ay1 + c1*uint64(sec.rch[1][o])) % P
	}
	return ay0, ay1, bad
}

// decodeRow decodes n = len(z) residues of b (3 bytes each), accumulates
// Σ v_i·r0_i and Σ v_i·r1_i (n ≤ lazyTerms), and stores
// max((lift(v − u) + half) >> k, floor). It returns the index of a value
// ≥ P, or −1.
func decodeRow(z []int64, b []byte, r0, r1, u []uint32, half int64, k uint, lo, hi int64) (a0, a1 uint64, bad int) {
	a0, a1, maxv, m := decodeRowSIMD(z, b, r0, r1, u, half, k, lo, hi)
	if m > 0 && maxv >= P {
		for i := range m {
			if get24(b[rb*i:]) >= P {
				return a0, a1, i
			}
		}
	}
	if m == len(z) {
		return a0, a1, -1
	}
	var us []uint32
	if u != nil {
		us = u[m:]
	}
	// At most lazyTerms products in all: the sums cannot overflow.
	t0, t1, bad := decodeRowGo(z[m:], b[rb*m:], r0[m:], r1[m:], us, half, k, lo, hi)
	if bad >= 0 {
		bad += m
	}
	return a0 + t0, a1 + t1, bad
}

// decodeRowGo is decodeRow in portable Go.
func decodeRowGo(z []int64, b []byte, r0, r1, u []uint32, half int64, k uint, lo, hi int64) (a0, a1 uint64, bad int) {
	n := len(z)
	bad = -1
	if n == 0 {
		return
	}
	b, r0, r1 = b[:rb*n], r0[:n], r1[:n]
	// Pass 1 (few live registers): decode, accumulate, remember the
	// largest value; the raw residues go to z.
	var maxv uint64
	m := 0
	if nativeLE {
		m = n - 1
		bp := unsafe.Pointer(unsafe.SliceData(b))
		zz := z[:m]
		for i := range zz {
			v := uint64(*(*uint32)(unsafe.Add(bp, 3*i))) & 0xFFFFFF // element i+1 follows: in bounds
			maxv = max(maxv, v)
			a0 += v * uint64(r0[i])
			a1 += v * uint64(r1[i])
			zz[i] = int64(v)
		}
	}
	for i := m; i < n; i++ {
		v := uint64(get24(b[rb*i:]))
		maxv = max(maxv, v)
		a0 += v * uint64(r0[i])
		a1 += v * uint64(r1[i])
		z[i] = int64(v)
	}
	if maxv >= P {
		for i := range z {
			if z[i] >= P {
				return a0, a1, i
			}
		}
	}
	// Pass 2, over the row while it is in cache: unblind, lift, requantize, ReLU.
	if u != nil {
		u = u[:n]
		for i, sv := range z {
			sv -= int64(u[i])
			sv += P & (sv >> 63)       // mod P, branch-free
			sv -= P & ((H - sv) >> 63) // lift
			t := (sv + half) >> k
			z[i] = min(max(t, lo), hi)
		}
	} else {
		for i, sv := range z {
			sv -= P & ((H - sv) >> 63)
			t := (sv + half) >> k
			z[i] = min(max(t, lo), hi)
		}
	}
	return a0, a1, -1
}

// decodeBlock is the number of values decodeRow handles at a time: few
// enough that its second pass finds them in the L1 cache.
const decodeBlock = 2048

// dotClamp returns Σ a_i·s0_i and Σ a_i·s1_i (at most lazyTerms terms) for
// a_i the residue of x_i clamped to [−c, c].
func dotClamp(x []int64, s0, s1 []uint32, c int64) (a0, a1 uint64) {
	a0, a1, m := dotClampSIMD(x, s0, s1, c)
	t0, t1 := dotClampGo(x[m:], s0[m:], s1[m:], c)
	return a0 + t0, a1 + t1
}

// dotClampGo is dotClamp in portable Go.
func dotClampGo(x []int64, s0, s1 []uint32, c int64) (a0, a1 uint64) {
	s0, s1 = s0[:len(x)], s1[:len(x)]
	for i, v := range x {
		v = min(max(v, -c), c)
		v += P & (v >> 63)
		a := uint64(v)
		a0 += a * uint64(s0[i])
		a1 += a * uint64(s1[i])
	}
	return a0, a1
}

// nextDot asks the decode passes for ⟨z, s̃⟩ of the layer that reads z.
type nextDot struct {
	sec    *layerSecret
	c      int64
	a0, a1 uint64
}

// add accumulates the stretch z of the next layer's input at offset at.
func (d *nextDot) add(z []int64, at int) {
	for lo, hi := 0, 0; lo < len(z); lo = hi {
		hi = d.sec.span(at+lo, at+len(z)) - at
		s0, f0 := d.sec.inputVec(0, at+lo, at+hi)
		s1, f1 := d.sec.inputVec(1, at+lo, at+hi)
		a0, a1 := dotClamp(z[lo:hi], s0, s1, d.c)
		d.a0, d.a1 = (d.a0+a0%P*f0)%P, (d.a1+a1%P*f1)%P
	}
}

// encode writes the residues a_i of x_i clamped to [−c, c], plus r_i mod
// P if r ≠ nil, to out (3 bytes each), and returns Σ a_i·s0_i and
// Σ a_i·s1_i if s0 ≠ nil (at most lazyTerms terms).
func encode(out []byte, x []int64, r, s0, s1 []uint32, c int64) (a0, a1 uint64) {
	a0, a1, m := encodeSIMD(out, x, r, s0, s1, c)
	if m == len(x) {
		return a0, a1
	}
	var rs, t0, t1 []uint32
	if r != nil {
		rs = r[m:]
	}
	if s0 != nil {
		t0, t1 = s0[m:], s1[m:]
	}
	b0, b1 := encodeGo(out[rb*m:], x[m:], rs, t0, t1, c)
	return a0 + b0, a1 + b1
}

// encodeGo is encode in portable Go.
func encodeGo(out []byte, x []int64, r, s0, s1 []uint32, c int64) (a0, a1 uint64) {
	out = out[:rb*len(x)]
	if r != nil && s0 != nil { // private + verified: the hot loop, branch-free
		r, s0, s1 = r[:len(x)], s0[:len(x)], s1[:len(x)]
		for i, v := range x {
			v = min(max(v, -c), c)
			v += P & (v >> 63) // residue of |v| ≤ c < H
			v += int64(r[i])
			v -= P & ((P - 1 - v) >> 63) // mod P
			a := uint64(v)
			w := out[rb*i : rb*i+3]
			w[0], w[1], w[2] = byte(a), byte(a>>8), byte(a>>16)
			a0 += a * uint64(s0[i])
			a1 += a * uint64(s1[i])
		}
		return a0, a1
	}
	for i, v := range x {
		v = min(max(v, -c), c)
		v += P & (v >> 63)
		if r != nil {
			v += int64(r[i])
			v -= P & ((P - 1 - v) >> 63)
		}
		a := uint64(v)
		w := out[rb*i : rb*i+3]
		w[0], w[1], w[2] = byte(a), byte(a>>8), byte(a>>16)
		if s0 != nil {
			a0 += a * uint64(s0[i])
			a1 += a * uint64(s1[i])
		}
	}
	return a0, a1
}

// unpack24 sets dst[i] to the 3-byte little-endian value at src[3i:] and
// returns the largest.
func unpack24(dst []uint32, src []byte) uint32 {
	mx, m := unpack24SIMD(dst, src)
	src = src[:rb*len(dst)]
	for i := m; i < len(dst); i++ {
		v := get24(src[rb*i:])
		mx = max(mx, v)
		dst[i] = v
	}
	return mx
}
