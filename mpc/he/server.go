package he

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/tuneinsight/lattigo/v6/ring"

	"veil/internal/parallel"
	"veil/mpc/prg"
)

// Server is the party that holds the weights: it evaluates each linear
// layer on the client's encrypted share and its own share in the clear.
// Its methods are safe for concurrent use.
type Server struct {
	params *Params
	pk     *publicKey
}

// NewServer returns a server for the client whose public key (from
// [Client.PublicKey]) is publicKey.
func NewServer(params *Params, publicKey []byte) (*Server, error) {
	pk, err := params.parsePublicKey(publicKey)
	if err != nil {
		return nil, err
	}
	return &Server{params: params, pk: pk}, nil
}

// Eval evaluates layer l with the server's weights w (l.WeightLen()
// values) and its share x of the input (l.InputLen() values) on the
// client's query. It returns the response for the client and the
// server's share of the output (l.OutputLen() values): a fresh uniform
// r, while the response decrypts to W·(x_C + x) − r. All values are
// taken mod 2^ℓ; weights are read as signed ℓ-bit numbers. A nil x is
// a share of zero (the server's product in the clear is then skipped):
// a query on a random mask made ahead of the input, say, whose masked
// difference the server later multiplies by [Product].
//
// The query is checked completely before any work: its kind, count and
// size against the layer, each residue against its modulus.
func (s *Server) Eval(l Layer, w, x []uint64, query []byte) (resp []byte, share []uint64, err error) {
	if _, err := checkLayer(s.params, l); err != nil {
		return nil, nil, err
	}
	if len(w) != l.WeightLen() {
		return nil, nil, fmt.Errorf("he: %d weights, the layer takes %d", len(w), l.WeightLen())
	}
	if err := l.base().checkWeights(w); err != nil {
		return nil, nil, err
	}
	return s.eval(l, w, nil, x, query)
}

// Product returns layer l's product of the weights w and the input x
// in the clear, mod 2^ℓ, in the order of Eval's shares: what a response
// and the server's share add up to, for a server that multiplies a
// masked input itself.
func Product(l Layer, w, x []uint64) ([]uint64, error) {
	if l == nil {
		return nil, errors.New("he: nil layer")
	}
	if len(w) != l.WeightLen() {
		return nil, fmt.Errorf("he: %d weights, the layer takes %d", len(w), l.WeightLen())
	}
	if len(x) != l.InputLen() {
		return nil, fmt.Errorf("he: %d inputs, the layer takes %d", len(x), l.InputLen())
	}
	y := l.clear(w, x)
	mask := l.base().params.tMask()
	for i := range y {
		y[i] &= mask
	}
	return y, nil
}

// Kernels are a layer's weights transformed for the products (the
// kernel polynomials in the NTT domain and Montgomery form), made once
// and used by every EvalKernels of the layer: for a server that answers
// many queries with the same weights and can spare Bytes of memory.
type Kernels struct {
	l     Layer
	w     []uint64 // the weights as given
	polys []ring.Poly
}

// NewKernels transforms the weights w of layer l.
func (s *Server) NewKernels(l Layer, w []uint64) (*Kernels, error) {
	lb, err := checkLayer(s.params, l)
	if err != nil {
		return nil, err
	}
	if len(w) != l.WeightLen() {
		return nil, fmt.Errorf("he: %d weights, the layer takes %d", len(w), l.WeightLen())
	}
	if err := lb.checkWeights(w); err != nil {
		return nil, err
	}
	lay := lb.lay
	cw := l.convWeights(w)
	k := &Kernels{l: l, w: w, polys: make([]ring.Poly, lay.ngb*lay.nb*lay.nob)}
	err = parallel.Each(len(k.polys), func(i int) error {
		k.polys[i] = s.params.ringQ.AtLevel(lay.level).NewPoly()
		s.params.kernelPoly(lay, cw, i/(lay.nb*lay.nob), i/lay.nob%lay.nb, i%lay.nob, k.polys[i])
		return nil
	})
	return k, err
}

// KernelBytes is the memory NewKernels would take for layer l: its
// kernel polynomials, every limb of the layer's level.
func (s *Server) KernelBytes(l Layer) (int, error) {
	lb, err := checkLayer(s.params, l)
	if err != nil {
		return 0, err
	}
	lay := lb.lay
	return lay.ngb * lay.nb * lay.nob * 8 * s.params.n * (lay.level + 1), nil
}

// Bytes is the memory the transformed weights hold.
func (k *Kernels) Bytes() int {
	n := 0
	for _, p := range k.polys {
		n += 8 * p.N() * (p.Level() + 1)
	}
	return n
}

// EvalKernels is Eval with the weights transformed by NewKernels.
func (s *Server) EvalKernels(k *Kernels, x []uint64, query []byte) (resp []byte, share []uint64, err error) {
	return s.eval(k.l, k.w, k, x, query)
}

// eval is Eval with the weights w, transformed in kern or, when kern is
// nil, kernel by kernel as the products need them.
func (s *Server) eval(l Layer, w []uint64, kern *Kernels, x []uint64, query []byte) (resp []byte, share []uint64, err error) {
	lb := l.base()
	if x != nil && len(x) != l.InputLen() {
		return nil, nil, fmt.Errorf("he: %d inputs, the layer takes %d", len(x), l.InputLen())
	}
	p, lay := s.params, lb.lay
	ins, err := p.parseQuery(query, lb.tag, lay.numInputs(), lay.level)
	if err != nil {
		return nil, nil, err
	}
	e := &evaluation{s: s, l: l, lay: lay, ins: ins, kern: kern}
	if kern == nil {
		e.w = l.convWeights(w)
	}
	if x == nil {
		e.clear = make([]uint64, l.OutputLen())
	} else {
		e.clear = l.clear(w, x)
	}
	e.share = make([]uint64, len(e.clear))
	e.resp = make([]byte, l.ResponseBytes())
	header(e.resp[:0], kindResponse, lb.tag, lay.numOutputs())
	err = e.run()
	for _, in := range ins {
		p.release(in.b)
		p.release(in.a)
	}
	if err != nil {
		return nil, nil, err
	}
	return e.resp, e.share, nil
}

// input is a query ciphertext ready for products: b and a in the NTT
// domain.
type input struct{ b, a ring.Poly }

// parseQuery checks a query of count ciphertexts at level and returns
// them.
func (p *Params) parseQuery(data []byte, tag [tagLen]byte, count, level int) ([]input, error) {
	size := p.freshBytes(level)
	if err := checkHeader(data, kindQuery, tag, count, headerLen+count*size); err != nil {
		return nil, err
	}
	ins := make([]input, count)
	err := parallel.Each(count, func(k int) error {
		src := data[headerLen+k*size : headerLen+(k+1)*size]
		var seed [seedLen]byte
		copy(seed[:], src)
		in := input{b: p.scratch(level), a: p.scratch(level)}
		if _, err := p.getPoly(src[seedLen:], in.b, level); err != nil {
			return fmt.Errorf("he: query ciphertext %d: %w", k, err)
		}
		if count < runtime.GOMAXPROCS(0) { // a's expansion beside b's transform
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); p.expandUniform(seed, level, in.a) }()
			p.limbs(true, level, func(i int) { p.ntt[i].forward(in.b.Coeffs[i]) })
			wg.Wait()
		} else {
			p.nttPoly(in.b, level)
			p.expandUniform(seed, level, in.a)
		}
		ins[k] = in
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ins, nil
}

// evaluation is one Eval in progress. Jobs, one per group block and
// output-channel block, run in parallel; each writes its own outputs'
// shares and response ciphertexts.
type evaluation struct {
	s     *Server
	l     Layer
	lay   *convLayout
	ins   []input
	w     []uint64 // weights, O×C/G×KH×KW, when kern is nil
	kern  *Kernels
	split bool     // fewer jobs than cores: finish splits its work
	clear []uint64 // W·x_S in the layer's order
	share []uint64
	resp  []byte

	mu      sync.Mutex
	workers []*worker // to release after the run
}

func (e *evaluation) run() error {
	e.split = e.lay.ngb*e.lay.nob < runtime.GOMAXPROCS(0)
	defer e.releaseWorkers()
	return parallel.EachWith(e.lay.ngb*e.lay.nob, e.newWorker, func(wk *worker, j int) error {
		wk.job(j/e.lay.nob, j%e.lay.nob)
		return nil
	})
}

// releaseWorkers returns the workers' polynomials to the pool.
func (e *evaluation) releaseWorkers() {
	p := e.s.params
	for _, wk := range e.workers {
		p.release(wk.kernel)
		p.release(wk.u)
		for _, a := range wk.acc {
			p.release(a[0])
			p.release(a[1])
		}
	}
}

// worker holds one goroutine's buffers and randomness.
type worker struct {
	e             *evaluation
	prng, prng1   *prg.Stream // prng1 for c₁'s noise (see finish)
	kernel        ring.Poly
	acc           [][2]ring.Poly // per image and tile
	u             ring.Poly
	small, small1 []int64
	row           []uint64
}

func (e *evaluation) newWorker() (*worker, error) {
	prng, err := newPRNG()
	if err != nil {
		return nil, err
	}
	prng1, err := newPRNG()
	if err != nil {
		return nil, err
	}
	p, lv := e.s.params, e.lay.level
	wk := &worker{e: e, prng: prng, prng1: prng1, kernel: p.scratch(lv), u: p.scratch(lv), small: make([]int64, p.n), small1: make([]int64, p.n)}
	wk.acc = make([][2]ring.Poly, e.lay.cp.N*e.lay.tiles())
	for i := range wk.acc {
		wk.acc[i] = [2]ring.Poly{p.scratch(lv), p.scratch(lv)}
	}
	e.mu.Lock()
	e.workers = append(e.workers, wk)
	e.mu.Unlock()
	return wk, nil
}

// job computes the output ciphertexts of group block gb and output
// channel block ob for every image and tile: Σ over channel blocks of
// kernel × input in the NTT domain, then finish.
func (wk *worker) job(gb, ob int) {
	e, lay, p := wk.e, wk.e.lay, wk.e.s.params
	top := lay.level
	for _, a := range wk.acc {
		a[0].Zero()
		a[1].Zero()
	}
	for cb := 0; cb < lay.nb; cb++ {
		kernel := wk.kernel
		if e.kern != nil {
			kernel = e.kern.polys[(gb*lay.nb+cb)*lay.nob+ob]
		} else {
			p.kernelPoly(lay, e.w, gb, cb, ob, kernel)
		}
		for it := range wk.acc { // image and tile
			in := e.ins[(it*lay.ngb+gb)*lay.nb+cb]
			p.mulAddPair(top, kernel, in.b, in.a, wk.acc[it][0], wk.acc[it][1])
		}
	}
	for it, a := range wk.acc {
		wk.rerandomize(a)
		p.reduceAcc(top, a[0])
		p.reduceAcc(top, a[1])
		wk.finish((it*lay.ngb+gb)*lay.nob+ob, wk.acc[it])
	}
}

// rerandomize adds to the accumulated product ct (NTT domain, lazily
// reduced) u·pk for a fresh ternary u, by the same products as the
// weights' (u in the kernels' Montgomery form, the public key in the
// standard form of the inputs): the first half of the re-randomisation,
// whose errors finish adds.
func (wk *worker) rerandomize(ct [2]ring.Poly) {
	e, p := wk.e, wk.e.s.params
	top := e.lay.level
	ternary(wk.prng, wk.small)
	p.setKernelTernary(wk.small, top, wk.u)
	p.limbs(e.split, top, func(i int) { p.ntt[i].forward(wk.u.Coeffs[i]) })
	p.mulAddPair(top, wk.u, e.s.pk.p0, e.s.pk.a0, ct[0], ct[1])
}

// kernelPoly sets kernel (rows 0…lay.level) to the kernel polynomial
// (gb, cb, ob) of the weights w (O×C/G×KH×KW) packed by lay, in the NTT
// domain and Montgomery form, weights lifted to (−t/2, t/2]. The few
// nonzero coefficients are
// put in Montgomery form before the transform, which is linear, rather
// than all N after it.
func (p *Params) kernelPoly(lay *convLayout, w []uint64, gb, cb, ob int, kernel ring.Poly) {
	kernel.Zero()
	shift := 64 - uint(p.lit.LogT)
	lay.kernel(w, gb, cb, ob, func(coef int, w uint64) {
		v := int64(w<<shift) >> shift // sign-extend from ℓ bits
		for i := 0; i <= lay.level; i++ {
			q := p.lit.Q[i]
			kernel.Coeffs[i][coef] = p.kernelForm(i, liftSigned(v, q))
		}
	})
	p.nttPoly(kernel, lay.level)
}

// liftSigned returns v mod q.
func liftSigned(v int64, q uint64) uint64 {
	if v >= 0 {
		if uint64(v) < q { // the weights' usual case, without a division
			return uint64(v)
		}
		return uint64(v) % q
	}
	m := uint64(-v) // |v|, also for the minimum
	if m >= q {
		m %= q
	}
	if m == 0 {
		return 0
	}
	return q - m
}

// finish turns the accumulated product ct, re-randomised with u·pk
// (rerandomize), into response ciphertext k: add the re-randomisation's
// errors, the server's plaintext W·x_S − r and the flood at the outputs,
// switch down to the response moduli and write c₁ and the outputs' c₀. The two components go through their
// transforms side by side when the layer has fewer jobs than cores.
func (wk *worker) finish(k int, ct [2]ring.Poly) {
	e, p := wk.e, wk.e.s.params
	lv := &p.levels[e.lay.level]
	top := lv.level
	out := e.resp[e.l.base().respOff[k]:e.l.base().respOff[k+1]]
	c1 := func() {
		p.inttPoly(ct[1], top)
		sampleErrors(wk.prng1, wk.small1)
		p.addSigned(wk.small1, top, ct[1])
		p.switchDown(ct[1], top)
		// Appending to the empty slice at c₁'s offset writes in place.
		p.putPoly(out[:0], ct[1], p.resp.level)
	}
	var wg sync.WaitGroup
	if e.split {
		wg.Add(1)
		go func() { defer wg.Done(); c1() }()
	} else {
		c1()
	}

	p.inttPoly(ct[0], top)
	mask := p.tMask()
	// Only the outputs' c₀ coefficients are sent: they alone take the
	// error e₁ of the re-randomisation, the plaintext and the flood.
	e.lay.targets(k, func(coef, idx int) {
		idx = e.l.outIndex(idx)
		m := wk.prng.Uint64() & mask
		e.share[idx] = m
		v := (e.clear[idx] - m) & mask
		e1 := errorFrom(wk.prng.Uint64())
		for i := 0; i <= top; i++ {
			q := p.lit.Q[i]
			c := addMod(ct[0].Coeffs[i][coef], p.encodeCoeff(&lv.levelConsts, v, i), q)
			ct[0].Coeffs[i][coef] = addMod(c, liftSmall(e1, q), q)
		}
		p.addFlood(wk.prng, ct[0], lv, coef)
	})
	p.switchDown(ct[0], top)
	rows := out[p.respPolyBytes():p.respPolyBytes()]
	for i := 0; i <= p.resp.level; i++ {
		row := wk.row[:0]
		e.lay.targets(k, func(coef, _ int) { row = append(row, ct[0].Coeffs[i][coef]) })
		rows = putRow(rows, row, p.bits[i])
		wk.row = row
	}
	wg.Wait()
}

// switchDown rounds pol (coefficient domain) from level down to the
// response moduli.
func (p *Params) switchDown(pol ring.Poly, level int) {
	for lv := level; lv > p.resp.level; lv-- {
		p.ringQ.AtLevel(lv).DivRoundByLastModulus(pol, pol)
	}
}
