package twopc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"veil/mpc"
	"veil/mpc/ot"
)

// run2 sets up two parties over a local network and runs f at both,
// returning their results (indexed by party).
func run2[T any](t testing.TB, f func(p *party) (T, error)) [2]T {
	t.Helper()
	nets := mpc.NewLocal(2, 30*time.Second)
	defer nets[0].Close()
	defer nets[1].Close()
	var out [2]T
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := newParty(nets[i], ot.DefaultK)
			if err != nil {
				errs[i] = err
				return
			}
			out[i], errs[i] = f(p)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	return out
}

// share splits x into two random additive shares.
func share(r *rand.Rand, x []uint64) [2][]uint64 {
	s := [2][]uint64{make([]uint64, len(x)), make([]uint64, len(x))}
	for j, v := range x {
		s[0][j] = r.Uint64()
		s[1][j] = v - s[0][j]
	}
	return s
}

// edgeValues are values of magnitude below 2^k: the extremes, 0, ±1 and
// random ones.
func edgeValues(r *rand.Rand, k, n int) []uint64 {
	lim := int64(1)<<k - 1
	var x []uint64
	for _, v := range []int64{0, 1, -1, lim, -lim, lim - 1, -lim + 1, 2, -2} {
		if v <= lim && v >= -lim {
			x = append(x, uint64(v))
		}
	}
	for len(x) < n {
		x = append(x, uint64(r.Int64N(2*lim+1)-lim))
	}
	return x
}

func TestB2AAndMux(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	b := [2][]byte{make([]byte, n), make([]byte, n)}
	x := make([]uint64, n)
	for j := range n {
		b[0][j], b[1][j] = byte(r.IntN(2)), byte(r.IntN(2))
		x[j] = r.Uint64()
	}
	xs := share(r, x)
	out := run2(t, func(p *party) ([2][]uint64, error) {
		a, err := p.b2a(b[p.me])
		if err != nil {
			return [2][]uint64{}, err
		}
		m, err := p.mux(b[p.me], xs[p.me])
		return [2][]uint64{a, m}, err
	})
	for j := range n {
		bit := uint64(b[0][j] ^ b[1][j])
		if got := out[0][0][j] + out[1][0][j]; got != bit {
			t.Fatalf("B2A %d: %d, want %d", j, got, bit)
		}
		if got := out[0][1][j] + out[1][1][j]; got != bit*x[j] {
			t.Fatalf("mux %d: %x, want %x", j, got, bit*x[j])
		}
	}
}

func TestANDPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 777
	var x, y1, y2 [2][]byte
	for i := range 2 {
		x[i], y1[i], y2[i] = make([]byte, n), make([]byte, n), make([]byte, n)
		for j := range n {
			x[i][j], y1[i][j], y2[i][j] = byte(r.IntN(2)), byte(r.IntN(2)), byte(r.IntN(2))
		}
	}
	z := run2(t, func(p *party) ([2][]byte, error) {
		tr, err := p.pairTriples(n + 5)
		if err != nil {
			return [2][]byte{}, err
		}
		z1, z2, err := p.andPairs(x[p.me], y1[p.me], y2[p.me], tr, 5)
		return [2][]byte{z1, z2}, err
	})
	for j := range n {
		xv := x[0][j] ^ x[1][j]
		if got, want := z[0][0][j]^z[1][0][j], xv&(y1[0][j]^y1[1][j]); got != want {
			t.Fatalf("x ∧ y1 %d: %d, want %d", j, got, want)
		}
		if got, want := z[0][1][j]^z[1][1][j], xv&(y2[0][j]^y2[1][j]); got != want {
			t.Fatalf("x ∧ y2 %d: %d, want %d", j, got, want)
		}
	}
}

func TestGreater(t *testing.T) {
	for _, batch := range []int{leafBatch, 7} { // 7: leaf batches that split values
		t.Run(fmt.Sprintf("leafBatch=%d", batch), func(t *testing.T) {
			defer func(b int) { leafBatch = b }(leafBatch)
			leafBatch = batch
			testGreater(t)
		})
	}
}

func testGreater(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 3, 4, 5, 8, 13, 24, 31, 62, 64} {
		n := 300
		var v [2][]uint64
		mask := ^uint64(0)
		if k < 64 {
			mask = 1<<k - 1
		}
		for i := range 2 {
			v[i] = make([]uint64, n)
			for j := range n {
				v[i][j] = r.Uint64() & mask
			}
		}
		// Ties, neighbours and the extremes.
		for j, pair := range [][2]uint64{{0, 0}, {mask, mask}, {0, mask}, {mask, 0}, {5 & mask, 4 & mask}, {4 & mask, 5 & mask}} {
			v[0][j], v[1][j] = pair[0], pair[1]
		}
		for j := 10; j < 40; j++ {
			v[1][j] = v[0][j] ^ 1<<r.IntN(k) // differ in one bit
		}
		got := run2(t, func(p *party) ([]byte, error) { return p.greater(v[p.me], k) })
		for j := range n {
			want := byte(0)
			if v[0][j] > v[1][j] {
				want = 1
			}
			if g := got[0][j] ^ got[1][j]; g != want {
				t.Fatalf("k %d: [%d > %d] = %d, want %d", k, v[0][j], v[1][j], g, want)
			}
		}
	}
}

func TestDReLUAndReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, k := range []int{1, 8, 20, 37, 62} {
		x := edgeValues(r, k, 500)
		xs := share(r, x)
		out := run2(t, func(p *party) ([]uint64, error) { return p.relu(xs[p.me], k) })
		for j, v := range x {
			want := v
			if int64(v) < 0 {
				want = 0
			}
			if got := out[0][j] + out[1][j]; got != want {
				t.Fatalf("k %d: ReLU(%d) = %d, want %d", k, int64(v), int64(got), int64(want))
			}
		}
	}
}

func TestProducts(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n = 200
	x, y := make([]uint64, n), make([]uint64, n)
	for j := range n {
		x[j], y[j] = r.Uint64(), r.Uint64()
	}
	x[0], y[0], x[1], y[1] = 0, ^uint64(0), ^uint64(0), ^uint64(0)
	xs, ys := share(r, x), share(r, y)
	out := run2(t, func(p *party) ([2][]uint64, error) {
		m, err := p.mul(xs[p.me], ys[p.me])
		if err != nil {
			return [2][]uint64{}, err
		}
		var w []uint64
		if p.me == 1 {
			w = y
		}
		s, err := p.mulByServer(xs[p.me], w)
		return [2][]uint64{m, s}, err
	})
	for j := range n {
		if got := out[0][0][j] + out[1][0][j]; got != x[j]*y[j] {
			t.Fatalf("product %d: %x, want %x", j, got, x[j]*y[j])
		}
		if got := out[0][1][j] + out[1][1][j]; got != x[j]*y[j] {
			t.Fatalf("product with the server's value %d: %x, want %x", j, got, x[j]*y[j])
		}
	}
}

// uBytes is what the choosing end of an OT extension sends for n OTs in
// one call: 128/k bits per OT (SoftSpoken, k = ot.DefaultK) in whole
// blocks of 128 OTs (one message up to 2^16 OTs; ot's TestCommunication
// checks the formula on the wire).
func uBytes(n int) int64 { return int64(ot.CorrectionBytes(n, ot.DefaultK)) }

// TestCommunication checks every protocol's payload on the wire, per
// party, against its formula (framing excluded):
//
//	B2A(n):       P0 8n (corrections),  P1 u(n)
//	mux(n):       each u(n) + 8n (both directions)
//	AND pairs(n): each u(n) (its triples' random OTs) + n (the triples'
//	              two-bit corrections) + n (three-bit openings)
//	greater(n,k): q = ⌈k/4⌉ leaves of ⌊k/q⌋ or ⌈k/q⌉ bits; P0 n·Σ
//	              ⌈2^b/4⌉ (2^b two-bit messages per b-bit leaf), P1
//	              u(n·k); then AND pairs(P·n) for the P pairs of nodes
//	              the tree combines over all levels
//	mul(n):       each u(64n) + 8·64n (Gilboa, both directions)
func TestCommunication(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const n = 300
	andPairs := func(c int) [2]int64 { return [2]int64{uBytes(c) + int64(2*c), uBytes(c) + int64(2*c)} }
	add := func(a, b [2]int64) [2]int64 { return [2]int64{a[0] + b[0], a[1] + b[1]} }
	greater := func(k int) [2]int64 {
		q := (k + 3) / 4
		w, b := k/q, k%q // b leaves of w+1 bits, q−b of w
		msgs := b*max(1, 1<<(w+1)/4) + (q-b)*max(1, 1<<w/4)
		return add([2]int64{int64(n * msgs), uBytes(n * k)}, andPairs(treePairs(q)*n))
	}
	bits := make([]byte, n)
	x := make([]uint64, n)
	for j := range x {
		bits[j], x[j] = byte(r.IntN(2)), r.Uint64()>>30
	}
	cases := []struct {
		name string
		run  func(p *party) error
		want [2]int64
	}{
		{"B2A", func(p *party) error { _, err := p.b2a(bits); return err }, [2]int64{8 * n, uBytes(n)}},
		{"mux", func(p *party) error { _, err := p.mux(bits, x); return err }, [2]int64{uBytes(n) + 8*n, uBytes(n) + 8*n}},
		{"AND pairs", func(p *party) error {
			tr, err := p.pairTriples(n)
			if err == nil {
				_, _, err = p.andPairs(bits, bits, bits, tr, 0)
			}
			return err
		}, andPairs(n)},
		{"greater k=18", func(p *party) error { _, err := p.greater(x, 18); return err }, greater(18)},
		{"greater k=62", func(p *party) error { _, err := p.greater(x, 62); return err }, greater(62)},
		{"ReLU k=40", func(p *party) error { _, err := p.relu(x, 40); return err }, add(greater(40), [2]int64{uBytes(n) + 8*n, uBytes(n) + 8*n})},
		{"mul", func(p *party) error { _, err := p.mul(x, x); return err }, [2]int64{uBytes(64*n) + 8*64*n, uBytes(64*n) + 8*64*n}},
	}
	for _, c := range cases {
		got := run2(t, func(p *party) (int64, error) {
			before := p.net.Stats()
			if err := c.run(p); err != nil {
				return 0, err
			}
			after := p.net.Stats()
			other := 1 - p.me
			return (after.BytesSent[other] - before.BytesSent[other]) - 4*(after.MsgsSent[other]-before.MsgsSent[other]), nil
		})
		if got != c.want {
			t.Errorf("%s: P0 sent %d bytes, P1 %d; the formula says %d and %d", c.name, got[0], got[1], c.want[0], c.want[1])
		}
	}
}

// recordingConn keeps every message it receives.
type recordingConn struct {
	ot.Conn
	msgs [][]byte
}

func (c *recordingConn) Recv() ([]byte, error) {
	m, err := c.Conn.Recv()
	c.msgs = append(c.msgs, m)
	return m, err
}

// TestServerViewUniform checks what the server sees of the client's
// comparison inputs: the padded leaf messages of 4096 comparisons (the
// XOR of neighbouring two-bit messages of a leaf) are uniform
// (chi-square over 4 values) whether every
// client value is 0 or every one is 2^k − 1, and so are the triples'
// corrections (two bits) and the openings of the tree's ANDs (three-bit
// symbols over 8 values), for leaves of 4 bits (k = 16) and of 4 and 3
// bits (k = 14). Without the pads the leaf messages would be the
// comparison bits themselves.
func TestServerViewUniform(t *testing.T) {
	for _, k := range []int{16, 14} {
		t.Run("k="+strconv.Itoa(k), func(t *testing.T) { testServerView(t, k) })
	}
}

func testServerView(t *testing.T, k int) {
	const n = 4096
	r := rand.New(rand.NewPCG(17, 18))
	y := make([]uint64, n)
	for j := range y {
		y[j] = r.Uint64() & (1<<k - 1)
	}
	for _, fill := range []uint64{0, 1<<k - 1} {
		x := make([]uint64, n)
		for j := range x {
			x[j] = fill
		}
		var seen [][]byte
		run2(t, func(p *party) ([]byte, error) {
			if p.me == 1 {
				rc := &recordingConn{Conn: p.conn}
				p.conn = rc
				defer func() { seen = rc.msgs }()
				return p.greater(y, k)
			}
			return p.greater(x, k)
		})
		// Four leaves, tree levels of 2 and 1 pairs; the server receives
		// the leaf messages (⌈2^b/4⌉ bytes a b-bit leaf), the triples'
		// corrections (3n bytes of two bits) and the openings (2n, then n
		// bytes of three bits).
		var sym2, sym3, corr [8]int
		for _, m := range seen {
			switch len(m) {
			case n * newLeafLayout(k).msgOff[leaves(k)]:
				// The XOR of neighbouring messages w and w+1 of a leaf:
				// without the pads it would be the change of [x > w] and
				// [x = w] between them, whatever the random shares.
				for _, b := range m {
					sym2[(b^b>>2)&3]++
					sym2[(b>>4^b>>6)&3]++
				}
			case 3 * n:
				for _, b := range m {
					corr[b&7]++
				}
			case 2 * n, n:
				for _, b := range m {
					sym3[b&7]++
				}
			}
		}
		for name, counts := range map[string][]int{"leaf messages": sym2[:], "triple corrections": corr[:], "AND openings": sym3[:]} {
			total := 0
			for _, c := range counts {
				total += c
			}
			if total == 0 {
				t.Fatalf("client values all %d: no %s among the server's %d messages", fill, name, len(seen))
			}
		}
		if c := chiSquare(corr[:4]); c > 25 || corr[4]+corr[5]+corr[6]+corr[7] != 0 {
			t.Errorf("client values all %d: triple corrections not uniform two-bit values (chi-square %.1f, counts %v)", fill, c, corr)
		}
		// 3 and 7 degrees of freedom: beyond 25 and 35 is past 1e-5.
		if c := chiSquare(sym2[:4]); c > 25 {
			t.Errorf("client values all %d: leaf messages not uniform (chi-square %.1f, counts %v)", fill, c, sym2[:4])
		}
		if c := chiSquare(sym3[:]); c > 35 {
			t.Errorf("client values all %d: AND openings not uniform (chi-square %.1f, counts %v)", fill, c, sym3)
		}
	}
}
