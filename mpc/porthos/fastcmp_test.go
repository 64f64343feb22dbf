package porthos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"veil/internal/testmodel"

	"veil/fixed"
	"veil/mpc"
	"veil/mpc/mpctest"
)

// withCompare runs f with the harnesses' engines using c.
func withCompare(c Compare, f func()) {
	old := testOptions
	testOptions.Compare = c
	defer func() { testOptions = old }()
	f()
}

func TestTranspose64(t *testing.T) {
	r := rand.New(rand.NewPCG(30, 30))
	var m, orig [64]uint64
	for i := range m {
		m[i] = r.Uint64()
	}
	orig = m
	transpose64(&m)
	for i := 0; i < 64; i++ {
		for j := 0; j < 64; j++ {
			if m[i]>>j&1 != orig[j]>>i&1 {
				t.Fatalf("bit (%d,%d)", i, j)
			}
		}
	}
}

// fastEdges are inputs over all of Z_L: the fast protocol is exact on
// every one.
var fastEdges = []uint64{0, 1, neg(1), 2, neg(2), 1<<63 - 1, 1 << 63, 1<<63 + 1, p62, neg(p62), p62 - 1, neg(p62) - 1, p61, neg(p61), 1 << 40, neg(1 << 40), maxU - 1, 12345, neg(12345)}

// TestFastDReLUReLUExact checks the fast DReLU and ReLU against plain
// math on edge values of the whole ring and random values, for batch
// sizes around the 64-element words, with random and trivial sharings.
func TestFastDReLUReLUExact(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 31))
	for _, n := range []int{1, 2, 63, 64, 65, 127, 1000, 20000} {
		var x []uint64
		x = append(x, fastEdges...)
		x = append(x, randRange(r, n, 63)...)
		x = append(x, randRange(r, n, 20)...)
		r.Shuffle(len(x), func(i, j int) { x[i], x[j] = x[j], x[i] })
		if n >= len(fastEdges) {
			copy(x, fastEdges)
		}
		x = x[:n]
		for _, trivial := range []bool{false, true} {
			sh := split(r, x, trivial)
			if !trivial && n > 1 {
				// shares whose low 63 bits carry and whose sign bits
				// differ, the corner cases of the carry circuit
				sh[0][0], sh[1][0] = 1<<63-1, 1
				x[0] = 1 << 63
			}
			checkDReLUAndReLU(t, x, sh, trivial, func(e *Engine) { e.SetCompare(CompareFast) })
		}
	}
}

// TestFastNarrowWidths checks the circuit on b bits for a program's
// comparison bound 2^k (circuitFor): DReLU and ReLU exact on edge values
// of the bound and random ones below it, with random and trivial
// sharings; the bits on the wire and the rounds equal the circuit's
// formula, fewer than the full circuit's.
func TestFastNarrowWidths(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	full := circuitFor(0)
	for _, k := range []int{8, 9, 20, 21, 40, 61, 62} {
		c := circuitFor(k)
		if c.b < k || c.b%2 == 0 || c.b > 63 {
			t.Fatalf("k=%d: circuit on %d bits", k, c.b)
		}
		lim := uint64(1) << k
		edges := []uint64{0, 1, neg(1), 2, neg(2), lim - 1, neg(lim), neg(lim - 1), lim / 2, neg(lim / 2), lim/2 - 1, neg(lim/2) - 1}
		for _, n := range []int{1, 63, 64, 65, 1000} {
			x := append(slices.Clone(edges), randRange(r, n, k)...)[:max(n, len(edges))]
			x = x[:n]
			if n >= len(edges) {
				copy(x, edges)
			}
			for _, trivial := range []bool{false, true} {
				sh := split(r, x, trivial)
				checkDReLUAndReLU(t, x, sh, trivial, func(e *Engine) { e.SetCompare(CompareFast); e.cmpBits = k })
			}
			sh := split(r, x, false)
			m := measure(t, func(e *Engine) error {
				e.SetCompare(CompareFast)
				e.cmpBits = k
				_, err := e.ReLU(n, share(e, sh))
				return err
			})
			if want := c.fcBits(n, 1); m.wireBits != want || m.rounds != c.fcRounds() || m.depth != c.fcRounds() {
				t.Errorf("k=%d n=%d: %d bits, %d rounds (depth %d); the formula %d bits, %d rounds", k, n, m.wireBits, m.rounds, m.depth, want, c.fcRounds())
			}
			if k < 61 && c.fcBits(n, 1) >= full.fcBits(n, 1) {
				t.Errorf("k=%d n=%d: %d bits, the full circuit %d", k, n, c.fcBits(n, 1), full.fcBits(n, 1))
			}
		}
		t.Logf("k=%d: circuit on %d bits, %d bits and %d rounds a ReLU (64 of them; the full circuit %d and %d)", k, c.b, c.fcBits(64, 1)/64, c.fcRounds(), full.fcBits(64, 1)/64, full.fcRounds())
	}
}

// TestFastProtocolsAgain reruns the package's DReLU/ReLU, MaxGroups,
// MaxPool and ArgMax tests with the fast comparison as the default.
func TestFastProtocolsAgain(t *testing.T) {
	withCompare(CompareFast, func() {
		t.Run("DReLUAndReLU", TestDReLUAndReLU)
		t.Run("MaxGroups", TestMaxGroups)
		t.Run("MaxPool", TestMaxPool)
		t.Run("ArgMax", TestArgMax)
	})
}

// TestFastMaxGroupsWide checks the fast MaxGroups on values spanning
// the whole precondition [−2^62, 2^62).
func TestFastMaxGroupsWide(t *testing.T) {
	r := rand.New(rand.NewPCG(32, 32))
	counts := []int{1, 2, 3, 4, 9, 64, 65, 100}
	var v []uint64
	for _, c := range counts {
		for k := 0; k < c; k++ {
			switch r.IntN(3) {
			case 0:
				v = append(v, r.Uint64N(1<<63)-p62)
			case 1:
				v = append(v, []uint64{p62 - 1, neg(p62), 0, neg(1)}[r.IntN(4)])
			default:
				v = append(v, uint64(r.IntN(3))-1)
			}
		}
	}
	for _, last := range []bool{false, true} {
		sh := split(r, v, false)
		var mres, ires [3][]uint64
		run3(t, func(e *Engine) error {
			e.SetCompare(CompareFast)
			m, idx, err := e.MaxGroups(share(e, sh), counts, true, last)
			mres[e.me], ires[e.me] = m, idx
			return err
		})
		m, idx := open(mres), open(ires)
		off := 0
		for g, c := range counts {
			wm, wi := maxRef(v[off:off+c], last)
			if m[g] != wm || idx[g] != uint64(wi) {
				t.Errorf("last=%v group %d: got max %d at %d, want %d at %d", last, g, int64(m[g]), idx[g], int64(wm), wi)
			}
			off += c
		}
	}
}

func TestPackPlanes(t *testing.T) {
	r := rand.New(rand.NewPCG(36, 36))
	for _, n := range []int{1, 5, 63, 64, 65, 130, 1000} {
		W := (n + 63) / 64
		for _, k := range []int{1, 3, 94} {
			v := make([]uint64, k*W)
			for i := range v {
				v[i] = r.Uint64()
				if w := i % W; w == W-1 && n%64 != 0 {
					v[i] &= 1<<(n%64) - 1
				}
			}
			p := packPlanes(v, k, W, n)
			if len(p) != packedLen(k, n) {
				t.Fatalf("n=%d k=%d: %d words, want %d", n, k, len(p), packedLen(k, n))
			}
			if got := unpackPlanes(p, k, W, n); !slices.Equal(got, v) {
				t.Fatalf("n=%d k=%d: round trip differs", n, k)
			}
		}
	}
}

// TestFastCommunication checks the fast protocol's bits on the wire, the
// engine's byte count, its round counter and the measured critical path
// against fcBits and fcRounds, exactly.
func TestFastCommunication(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 33))
	// Per element (64 | n): leaves 2·94 opened + 154 dealt = 342, tree
	// levels from 32 nodes 125 + 61 + 29 + 13 + 5 = 233, ε 2: 577; then
	// [r] 64, and per product C 64 + E 128.
	// P0's token to P2: 64 bits per call.
	if got := circuitFor(0).fcBits(64, 1); got != 64*(577+256)+64 {
		t.Fatalf("formula: %d bits for 64 ReLUs, want %d", got, 64*833)
	}
	if got := circuitFor(0).fcBits(64, 0); got != 64*(577+64)+64 {
		t.Fatalf("formula: %d bits for 64 DReLUs, want %d", got, 64*641)
	}
	for _, n := range []int{1, 63, 64, 65, 1000, 4096} {
		sh := split(r, randRange(r, n, 63), false)
		for _, c := range []struct {
			name string
			K    int
			f    func(e *Engine) error
		}{
			{"DReLU", 0, func(e *Engine) error { _, err := e.DReLU(n, share(e, sh)); return err }},
			{"ReLU", 1, func(e *Engine) error { _, err := e.ReLU(n, share(e, sh)); return err }},
		} {
			m := measure(t, func(e *Engine) error { e.SetCompare(CompareFast); return c.f(e) })
			want := circuitFor(0).fcBits(n, c.K)
			if m.wireBits != want || m.acctBits != want {
				t.Errorf("%s n=%d: %d bits on the wire, %d accounted, formula %d", c.name, n, m.wireBits, m.acctBits, want)
			}
			if m.rounds != circuitFor(0).fcRounds() || m.depth != circuitFor(0).fcRounds() {
				t.Errorf("%s n=%d: %d rounds counted, %d measured, want %d", c.name, n, m.rounds, m.depth, circuitFor(0).fcRounds())
			}
			{
				p := measure(t, c.f) // Porthos, for the log
				t.Logf("%s n=%d: fast %.1f bits/elem (%d rounds), porthos %.1f bits/elem (%d rounds)", c.name, n,
					float64(m.wireBits)/float64(n), m.rounds, float64(p.wireBits)/float64(n), p.rounds)
			}
		}
	}
	// MaxPool-style products: K = 2 (value and index).
	const n = 130
	sh := split(r, randRange(r, n, 61), false)
	ish := split(r, randRange(r, n, 4), false)
	m := measure(t, func(e *Engine) error {
		e.SetCompare(CompareFast)
		_, err := e.dreluTimes(n, share(e, sh), share(e, ish), true)
		return err
	})
	if want := circuitFor(0).fcBits(n, 2); m.wireBits != want || m.rounds != circuitFor(0).fcRounds() || m.depth != circuitFor(0).fcRounds() {
		t.Errorf("dreluTimes with index: %d bits, %d rounds (depth %d); want %d bits, %d rounds", m.wireBits, m.rounds, m.depth, want, circuitFor(0).fcRounds())
	}
	if circuitFor(0).fcRounds() != 7 {
		t.Errorf("%d rounds, want 7", circuitFor(0).fcRounds())
	}
}

// TestFastP2ReceivesNothing: in the fast protocol P2 only receives P0's
// constant token, 8 zero bytes per call.
func TestFastP2ReceivesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(34, 34))
	const n = 200
	sh := split(r, randRange(r, n, 63), false)
	var before, after [3][3]int64
	run3(t, func(e *Engine) error {
		e.SetCompare(CompareFast)
		before[e.me] = e.recvd
		_, err := e.ReLU(n, share(e, sh))
		after[e.me] = e.recvd
		return err
	})
	for p := range after[2] {
		want := int64(0)
		if p == 0 {
			want = fcTokenLen
		}
		if got := after[2][p] - before[2][p]; got != want {
			t.Errorf("P2 received %d bytes from %s, want %d", got, mpc.Party(p), want)
		}
	}
}

// viewsWith is views with the comparison protocol c.
func viewsWith(t *testing.T, c Compare, prog *fixed.Program, input []uint64) [3]*recordNet {
	var rec [3]*recordNet
	withCompare(c, func() { rec = views(t, prog, input) })
	return rec
}

// TestFastViewsIndependentOfInput: with the fast comparison, what P1 and
// P2 receive over a LeNet inference does not tell an all-zero image from
// a real one (chi-square tests as in TestViewsIndependentOfInput), and
// likewise for P1 with a layer of ReLUs on two very different inputs.
func TestFastViewsIndependentOfInput(t *testing.T) {
	prog := loadProgram(t, "fashion_lenet", 12)
	xs, _ := loadInputs(t, prog, "testdata/data/fashion-mnist/test", 0, 1)
	zero := make([]uint64, len(xs[0]))
	a, b := viewsWith(t, CompareFast, prog, zero), viewsWith(t, CompareFast, prog, xs[0])
	compareViews(t, mpc.P1, a[1], b[1])
	compareViews(t, mpc.P2, a[2], b[2])

	// A ReLU layer alone: all-negative inputs against all-positive ones,
	// on the full circuit and on one for a bound of 2^20.
	const n = 8192
	for _, bits := range []int{0, 20} {
		testReLUViews(t, n, bits)
	}
}

func testReLUViews(t *testing.T, n, bits int) {
	reluView := func(x []uint64) [3]*recordNet {
		local := mpc.NewLocal(3, 30*time.Second)
		var rec [3]*recordNet
		nets := make([]mpc.Network, 3)
		for p := range local {
			rec[p] = &recordNet{Network: local[p]}
			nets[p] = rec[p]
		}
		sh := split(rand.New(rand.NewPCG(35, uint64(x[0]))), x, false)
		_, errs := run3nets(nets, func(e *Engine) error {
			e.SetCompare(CompareFast)
			e.cmpBits = bits
			_, err := e.ReLU(n, share(e, sh))
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return rec
	}
	pos, negv := make([]uint64, n), make([]uint64, n)
	for i := range pos {
		pos[i], negv[i] = uint64(i+1), neg(uint64(i+1))
	}
	va, vb := reluView(pos), reluView(negv)
	compareViews(t, mpc.P0, va[0], vb[0])
	compareViews(t, mpc.P1, va[1], vb[1])
}

// TestFastLeNetAgainstCleartext runs the bundled LeNet through the
// executor with the fast comparison: every instruction is exact on its
// secure operands (ScaleDown within one unit), and the logits stay within
// the truncation bound of the cleartext executor's, with the same top-1;
// also with the comparison bound traced on other images, so that the
// comparisons run on the narrower circuit (circuitFor).
func TestFastLeNetAgainstCleartext(t *testing.T) {
	for _, c := range []struct {
		model, data string
		pixelMax    float64
		n           int
		traced      bool
	}{
		{"fashion_lenet", "testdata/data/fashion-mnist/test", 0, 5, false},
		{"digits_mlp", "testdata/data/digits/test.csv", 16, 5, false},
		{"fashion_lenet", "testdata/data/fashion-mnist/test", 0, 5, true},
		{"digits_mlp", "testdata/data/digits/test.csv", 16, 5, true},
	} {
		t.Run(fmt.Sprintf("%s/traced=%v", c.model, c.traced), func(t *testing.T) {
			prog := loadProgram(t, c.model, 12)
			xs, _ := loadInputs(t, prog, c.data, c.pixelMax, c.n)
			if c.traced {
				fs, _ := testmodel.Images(t, prog, strings.TrimPrefix(c.data, "testdata/"), c.pixelMax, 64)
				var ex []fixed.Example
				for _, f := range fs[c.n:] { // not the images tested
					ex = append(ex, fixed.Example{Input: f})
				}
				if err := prog.TraceCompareBits(ex); err != nil {
					t.Fatal(err)
				}
				if c := circuitFor(prog.CompareBits); c.b >= fcFull {
					t.Fatalf("traced bound 2^%d: the full circuit", prog.CompareBits)
				}
			}
			for i, x := range xs {
				var got [][]uint64
				var st [3]mpc.Cost
				var steps [][]uint64
				withCompare(CompareFast, func() { got, st, steps = run3PC(t, prog, x, true) })
				checkSteps(t, prog, x, steps)
				vals := trace(t, prog, x)
				clear := vals[prog.Outputs[0]]
				bound := prog.ErrorBounds(vals)[prog.Outputs[0]]
				if dev := deviation(got[0], clear); dev > bound {
					t.Errorf("image %d: logits deviate by %g units, bound %g", i, dev, bound)
				}
				top, _ := argmax(got[0])
				want, margin := argmax(clear)
				if top != want && margin > 2*bound {
					t.Errorf("image %d: top-1 %d, cleartext %d", i, top, want)
				}
				if i == 0 {
					for _, s := range st {
						t.Logf("fast, per image: %s", s)
					}
				}
			}
		})
	}
}

// BenchmarkReLUFast measures one batched ReLU of 4096 elements (all
// three parties in this process) with the fast comparison: time, CPU and
// bytes per element over all parties.
func BenchmarkReLUFast(b *testing.B) {
	benchReLU(b, CompareFast)
}

// BenchmarkReLUPorthos is BenchmarkReLUFast with the paper's comparison.
func BenchmarkReLUPorthos(b *testing.B) {
	benchReLU(b, ComparePorthos)
}

func benchReLU(b *testing.B, c Compare) {
	const n = 4096
	r := rand.New(rand.NewPCG(1, 2))
	sh := split(r, randRange(r, n, 40), false)
	nets := mpc.NewLocal(3, 30*time.Second)
	var engines [3]*Engine
	_, errs := run3nets(nets, func(e *Engine) error { e.SetCompare(c); engines[e.me] = e; return nil })
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	var s0 int64
	for _, e := range engines {
		s0 += e.sent[0] + e.sent[1] + e.sent[2]
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mpctest.Parties(len(engines), func(p mpc.Party) error {
			if _, err := engines[p].ReLU(n, share(engines[p], sh)); err != nil {
				b.Error(err)
			}
			return nil
		})
	}
	var s1 int64
	for _, e := range engines {
		s1 += e.sent[0] + e.sent[1] + e.sent[2]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*n), "cpu-ns/elem")
	b.ReportMetric(float64(s1-s0)/float64(b.N*n), "B/elem")
}

// BenchmarkLeNet3PCFast is BenchmarkLeNet3PC with the fast comparison.
func BenchmarkLeNet3PCFast(b *testing.B) {
	withCompare(CompareFast, func() { bench3PC(b, "fashion_lenet", "testdata/data/fashion-mnist/test", 0) })
}

// TestFastMismatchFails: parties that select different comparison
// protocols fail with an error instead of computing garbage or hanging.
func TestFastMismatchFails(t *testing.T) {
	for _, fastAt := range []mpc.Party{mpc.P0, mpc.P1, mpc.P2} {
		r := rand.New(rand.NewPCG(37, 37))
		const n = 100
		sh := split(r, randRange(r, n, 40), false)
		done := make(chan [3]error, 1)
		go func() {
			_, errs := run3nets(mpc.NewLocal(3, 2*time.Second), func(e *Engine) error {
				e.SetCompare(ComparePorthos)
				if e.me == fastAt {
					e.SetCompare(CompareFast)
				}
				_, err := e.ReLU(n, share(e, sh))
				return err
			})
			done <- errs
		}()
		select {
		case errs := <-done:
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
				}
			}
			if failed == 0 {
				t.Errorf("fast at %s only: no party failed", fastAt)
			}
			t.Logf("fast at %s only: %v", fastAt, errs)
		case <-time.After(30 * time.Second):
			t.Fatalf("fast at %s only: hangs", fastAt)
		}
	}
	for _, c := range []Compare{ComparePorthos, CompareFast} {
		if got, err := ParseCompare(c.String()); err != nil || got != c {
			t.Errorf("ParseCompare(%q) = %v, %v", c, got, err)
		}
	}
	if _, err := ParseCompare("nope"); err == nil {
		t.Error("ParseCompare accepted nope")
	}
}

// TestFastReLUChunked checks a batch larger than one chunk of the
// comparison circuit: exact, and 7 rounds per chunk.
func TestFastReLUChunked(t *testing.T) {
	n := fcMaxChunk + 1000
	r := rand.New(rand.NewPCG(77, 78))
	x := make([]uint64, n)
	for i := range x {
		x[i] = r.Uint64() >> uint(r.IntN(64))
		if r.IntN(2) == 0 {
			x[i] = -x[i]
		}
	}
	sh := split(r, x, false)
	var outs [2][]uint64
	var rounds [3]int
	run3(t, func(e *Engine) error {
		e.SetCompare(CompareFast)
		var in []uint64
		if e.me != mpc.P2 {
			in = sh[e.me]
		}
		before := e.Rounds()
		y, err := e.ReLU(n, in)
		rounds[e.me] = e.Rounds() - before
		if e.me != mpc.P2 {
			outs[e.me] = y
		}
		return err
	})
	for i := range x {
		want := x[i]
		if int64(want) < 0 {
			want = 0
		}
		if got := outs[0][i] + outs[1][i]; got != want {
			t.Fatalf("ReLU(%d) = %d, want %d", int64(x[i]), int64(got), int64(want))
		}
	}
	if rounds[0] != 14 || rounds[2] != 14 {
		t.Errorf("rounds %v for two chunks, want 14", rounds)
	}
}

// TestMagnitudeOption: a program traced below 2^k runs its comparisons
// on the narrow circuit; with the session's option magnitude=62 on the
// full one (more bytes, outputs as exact); an option below the
// program's bound is refused by every party before the protocol starts;
// ParseOptions reads it.
func TestMagnitudeOption(t *testing.T) {
	prog := loadProgram(t, "digits_mlp", 12)
	fs, _ := testmodel.Images(t, prog, "data/digits/test.csv", 16, 16)
	var ex []fixed.Example
	for _, f := range fs[1:] {
		ex = append(ex, fixed.Example{Input: f})
	}
	if err := prog.TraceCompareBits(ex); err != nil {
		t.Fatal(err)
	}
	x := prog.EncodeInput(fs[0])
	pub := prog.Public()
	runWith := func(bits int) ([]uint64, int64, error) {
		var out [][]uint64
		var sent [3]int64
		_, errs := run3nets(mpc.NewLocal(3, 10*time.Second), func(e *Engine) error {
			e.opt.MagnitudeBits = bits
			o, err := runRole(e, prog, pub, x)
			if e.me == mpc.P0 {
				out = o
			}
			sent[e.me] = e.Cost().TotalSent()
			return err
		})
		for _, err := range errs {
			if err != nil {
				return nil, 0, err
			}
		}
		return out[0], sent[0] + sent[1] + sent[2], nil
	}
	narrow, nb, err := runWith(0)
	if err != nil {
		t.Fatal(err)
	}
	full, fb, err := runWith(62)
	if err != nil {
		t.Fatal(err)
	}
	if fb <= nb {
		t.Errorf("the full circuit sent %d bytes, the traced %d-bit one %d", fb, prog.CompareBits, nb)
	}
	vals := trace(t, prog, x)
	bound := prog.ErrorBounds(vals)[prog.Outputs[0]]
	for _, got := range [][]uint64{narrow, full} {
		if dev := deviation(got, vals[prog.Outputs[0]]); dev > bound {
			t.Errorf("logits deviate by %g units, bound %g", dev, bound)
		}
	}
	if _, _, err := runWith(prog.CompareBits - 1); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("a session allowing fewer bits than traced: %v, want a refusal", err)
	}
	if opt, err := ParseOptions(mpc.Options{"magnitude": "30"}); err != nil || opt.MagnitudeBits != 30 {
		t.Errorf("magnitude=30: %+v, %v", opt, err)
	}
	for _, bad := range []string{"7", "63", "x"} {
		if _, err := ParseOptions(mpc.Options{"magnitude": bad}); err == nil {
			t.Errorf("magnitude=%s accepted", bad)
		}
	}
}
