package porthos

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"veil/ir"
	"veil/mpc"
	"veil/tensor"
)

// depthNet wraps a network to measure rounds independently of the
// engine's own counter: every message carries (in an 8-byte tag, which
// the cost tests subtract with the framing) its depth, one more than the
// deepest message its sender had received before sending it. The deepest
// message of a run is the length of its critical path in rounds.
type depthNet struct {
	mpc.Network
	mu    sync.Mutex
	clock uint64 // deepest message received
}

const tagLen = 8

func (d *depthNet) Send(to mpc.Party, msg []byte) error {
	d.mu.Lock()
	t := d.clock + 1
	d.mu.Unlock()
	b := binary.LittleEndian.AppendUint64(make([]byte, 0, tagLen+len(msg)), t)
	return d.Network.Send(to, append(b, msg...))
}

func (d *depthNet) Recv(from mpc.Party) ([]byte, error) {
	b, err := d.Network.Recv(from)
	if err != nil {
		return nil, err
	}
	t := binary.LittleEndian.Uint64(b)
	d.mu.Lock()
	d.clock = max(d.clock, t)
	d.mu.Unlock()
	return b[tagLen:], nil
}

func (d *depthNet) depth() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clock
}

// measured is the cost of one call, summed over the three parties.
type measured struct {
	wireBits int64 // payload bits on the wire (Stats minus framing and tag)
	acctBits int64 // payload bits by the engines' own accounting
	rounds   int   // by the engines' counter (equal at all parties)
	depth    int   // critical path measured by depthNet
}

// measure runs f for the three parties and returns its cost.
func measure(t *testing.T, f func(e *Engine) error) measured {
	t.Helper()
	local := mpc.NewLocal(3, 10*time.Second)
	nets := make([]mpc.Network, 3)
	var dn [3]*depthNet
	for p := range local {
		dn[p] = &depthNet{Network: local[p]}
		nets[p] = dn[p]
	}
	var before, after [3]mpc.Stats
	var sent [3]int64
	var rounds [3]int
	var d0 [3]uint64
	var barrier sync.WaitGroup
	barrier.Add(3)
	_, errs := run3nets(nets, func(e *Engine) error {
		e.SetCompare(ComparePorthos) // the paper's formulas; fast tests set their own
		// After setup every party has received depth-1 messages only.
		barrier.Done()
		barrier.Wait()
		p := e.me
		before[p], d0[p] = local[p].Stats(), dn[p].depth()
		s0, r0 := e.sent, e.rounds
		err := f(e)
		after[p] = local[p].Stats()
		sent[p] = e.sent[0] + e.sent[1] + e.sent[2] - s0[0] - s0[1] - s0[2]
		rounds[p] = e.rounds - r0
		return err
	})
	for p, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", mpc.Party(p), err)
		}
	}
	var m measured
	var dmax, dstart uint64
	for p := range local {
		msgs := after[p].MsgsSent[0] + after[p].MsgsSent[1] + after[p].MsgsSent[2] -
			before[p].MsgsSent[0] - before[p].MsgsSent[1] - before[p].MsgsSent[2]
		wire := after[p].TotalSent() - before[p].TotalSent() - msgs*(4+tagLen)
		m.wireBits += 8 * wire
		m.acctBits += 8 * sent[p]
		if rounds[p] != rounds[0] {
			t.Fatalf("parties count %v rounds", rounds)
		}
		dmax, dstart = max(dmax, dn[p].depth()), max(dstart, d0[p])
	}
	m.rounds, m.depth = rounds[0], int(dmax-dstart)
	return m
}

const (
	ell  = 64
	logp = 8
)

func log2ceil(n int) int { return bits.Len(uint(n - 1)) }

// TestCommunication checks every protocol's bits and rounds against
// PORTHOS.md section 10, exactly: bits on the wire (Stats minus framing),
// the engine's own byte count, its round counter and the critical path
// measured by message depths.
func TestCommunication(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 20))
	rnd := func(n int) [2][]uint64 { return split(r, randRange(r, n, 60), false) }
	type tc struct {
		name       string
		bits       int64
		rounds     int
		f          func(e *Engine) error
		tableIII   int64 // the paper's Table III formula, where it has one
		tableIIIok bool
	}
	var cases []tc
	for _, n := range []int{1, 7, 100} {
		n := n
		x, y := rnd(n), rnd(n)
		bitsOf := func(perElem int) int64 { return int64(perElem) * int64(n) }
		xb := splitBits(r, randRange(r, n, 63))
		pub := randRange(r, n, 63)
		beta := make([]byte, n)
		cases = append(cases,
			tc{name: fmt.Sprintf("Share/n=%d", n), bits: 0, rounds: 0, f: func(e *Engine) error {
				var v []uint64
				if e.me == mpc.P0 {
					v = pub
				}
				_, err := e.Share(mpc.P0, n, v)
				return err
			}},
			tc{name: fmt.Sprintf("Reveal/n=%d", n), bits: bitsOf(ell), rounds: 1, f: func(e *Engine) error {
				_, err := e.Reveal(mpc.P0, n, share(e, x))
				return err
			}},
			tc{name: fmt.Sprintf("RevealBoth/n=%d", n), bits: bitsOf(2 * ell), rounds: 1, f: func(e *Engine) error {
				_, err := e.RevealBoth(n, share(e, x))
				return err
			}},
			tc{name: fmt.Sprintf("Mult/n=%d", n), bits: bitsOf(5 * ell), rounds: 1, f: func(e *Engine) error {
				_, err := e.MulElem(n, share(e, x), share(e, y))
				return err
			}},
			tc{name: fmt.Sprintf("SelectShare/n=%d", n), bits: bitsOf(5 * ell), rounds: 1, f: func(e *Engine) error {
				_, err := e.SelectShare(n, share(e, x), share(e, x), share(e, y))
				return err
			}},
			tc{name: fmt.Sprintf("ScaleDown/n=%d", n), bits: 0, rounds: 0, f: func(e *Engine) error {
				e.ScaleDown(share(e, x), 12)
				return nil
			}},
			tc{name: fmt.Sprintf("PrivateCompare/n=%d", n), bits: bitsOf(2 * ell * logp), rounds: 1, f: func(e *Engine) error {
				var rr []uint64
				var bb []byte
				if e.me != mpc.P2 {
					rr, bb = pub, beta
				}
				_, err := e.PrivateCompare(n, share(e, xb), rr, bb)
				return err
			}},
			tc{name: fmt.Sprintf("ShareConvert/n=%d", n), bits: bitsOf(3*ell*logp + 5*ell), rounds: 4, f: func(e *Engine) error {
				_, err := e.ShareConvert(n, share(e, x))
				return err
			}, tableIII: bitsOf(3*ell*logp + 5*ell), tableIIIok: true},
			tc{name: fmt.Sprintf("ComputeMSB/n=%d", n), bits: bitsOf(3*ell*logp + 9*ell), rounds: 4, f: func(e *Engine) error {
				_, err := e.ComputeMSB(n, share(e, x))
				return err
			}, tableIII: bitsOf(3*ell*logp + 9*ell), tableIIIok: true},
			tc{name: fmt.Sprintf("DReLU/n=%d", n), bits: bitsOf(6*ell*logp + 14*ell), rounds: 8, f: func(e *Engine) error {
				_, err := e.DReLU(n, share(e, x))
				return err
			}},
			tc{name: fmt.Sprintf("ReLU/n=%d", n), bits: bitsOf(6*ell*logp + 19*ell), rounds: 9, f: func(e *Engine) error {
				_, err := e.ReLU(n, share(e, x))
				return err
			}, tableIII: bitsOf(6*ell*logp + 19*ell), tableIIIok: true},
		)
	}
	// MaxPool, value only: (6ℓ log p + 19ℓ)(k − 1) per window of k,
	// 9⌈log2 k⌉ rounds; with the index (the paper's MaxPool row and ArgMax)
	// (6ℓ log p + 24ℓ)(k − 1).
	for _, k := range []int{1, 2, 4, 9, 16} {
		k := k
		const windows = 25
		pp := tensor.PoolParams{NC: 1, H: 5 * k, W: 5, KH: k, KW: 1, SH: k, SW: 1}
		x := rnd(5 * k * 5)
		counts := make([]int, windows)
		for i := range counts {
			counts[i] = k
		}
		row := int64(windows) * int64(k-1)
		cases = append(cases,
			tc{name: fmt.Sprintf("MaxPool/k=%d", k), bits: row * (6*ell*logp + 19*ell), rounds: 9 * log2ceil(k), f: func(e *Engine) error {
				_, err := e.MaxPool(share(e, x), pp)
				return err
			}},
			tc{name: fmt.Sprintf("MaxPoolIndex/k=%d", k), bits: row * (6*ell*logp + 24*ell), rounds: 9 * log2ceil(k), f: func(e *Engine) error {
				_, _, err := e.MaxGroups(share(e, x), counts, true, false)
				return err
			}, tableIII: row * (6*ell*logp + 24*ell), tableIIIok: true},
			tc{name: fmt.Sprintf("ArgMax/k=%d", k), bits: row * (6*ell*logp + 24*ell), rounds: 9 * log2ceil(k), f: func(e *Engine) error {
				_, err := e.ArgMax(share(e, x), ir.Shape{windows, k}, 1, false)
				return err
			}},
		)
	}
	// Padded windows skip the padding: a 3×3 window at a corner has 4
	// real elements.
	{
		pp := tensor.PoolParams{NC: 2, H: 4, W: 4, KH: 3, KW: 3, SH: 2, SW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
		x := rnd(2 * 16)
		var cmp int64
		pp.Windows(func(_ int, idx []int) { cmp += int64(len(idx) - 1) })
		cases = append(cases, tc{name: "MaxPool/padded", bits: 2 * cmp * (6*ell*logp + 19*ell), rounds: 9 * log2ceil(9), f: func(e *Engine) error {
			_, err := e.MaxPool(share(e, x), pp)
			return err
		}})
	}
	// Products.
	for _, mm := range [][3]int{{1, 400, 120}, {5, 7, 3}, {1, 84, 10}} {
		m, k, n := mm[0], mm[1], mm[2]
		a, b := rnd(m*k), rnd(k*n)
		cases = append(cases, tc{name: fmt.Sprintf("MatMul/%dx%dx%d", m, k, n), bits: int64(2*m*k+2*k*n+m*n) * ell, rounds: 1, f: func(e *Engine) error {
			_, err := e.MatMul(share(e, a), share(e, b), ir.Shape{m, k}, ir.Shape{k, n}, ir.Shape{m, n})
			return err
		}})
	}
	{
		a, b := rnd(6), rnd(4)
		cases = append(cases, tc{name: "Mul/broadcast", bits: int64(2*6+2*4+24) * ell, rounds: 1, f: func(e *Engine) error {
			_, err := e.Mul(share(e, a), share(e, b), ir.Shape{2, 1, 3}, ir.Shape{4, 1}, ir.Shape{2, 4, 3})
			return err
		}})
	}
	for _, p := range convCases {
		x, w := rnd(p.N*p.C*p.H*p.W), rnd(p.O*p.C/p.Group*p.KH*p.KW)
		nx, nw, nz := p.N*p.C*p.H*p.W, p.O*p.C/p.Group*p.KH*p.KW, p.N*p.O*p.OutH()*p.OutW()
		want := int64(2*nx+2*nw+nz) * ell
		elems, cols := ConvCost(p)
		if cols {
			want = int64(2*im2colSize(p)+2*nw+nz) * ell
		}
		c := tc{name: "Conv/" + convName(p), bits: want, rounds: 1, f: func(e *Engine) error {
			_, err := e.Conv(share(e, x), share(e, w), p)
			return err
		}}
		if int64(elems)*ell != want {
			t.Errorf("ConvCost(%v) = %d elements, want %d bits", p, elems, want)
		}
		// Table III's Conv2d_{m,i,f,o} for square unpadded stride-1
		// convolutions of one image: (2m²i + 2f²oi + q²o)ℓ, q = m − f + 1.
		if p.N == 1 && p.H == p.W && p.KH == p.KW && p.SH == 1 && p.SW == 1 && p.PadT+p.PadL+p.PadB+p.PadR == 0 && p.Group == 1 {
			m, i, f, o, q := p.H, p.C, p.KH, p.O, p.H-p.KH+1
			c.tableIII, c.tableIIIok = int64(2*m*m*i+2*f*f*o*i+q*q*o)*ell, true
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := measure(t, c.f)
			line := fmt.Sprintf("%-60s bits %9d (formula %9d)  rounds %2d (formula %2d, measured depth %2d)", c.name, m.wireBits, c.bits, m.rounds, c.rounds, m.depth)
			if c.tableIIIok && c.tableIII > 0 {
				line += fmt.Sprintf("  Table III %d (%.2f%%)", c.tableIII, 100*float64(m.wireBits-c.tableIII)/float64(c.tableIII))
				if d := float64(m.wireBits - c.tableIII); d > 0.05*float64(c.tableIII) || d < -0.05*float64(c.tableIII) {
					t.Errorf("more than 5%% from Table III: %s", line)
				}
			}
			t.Log(line)
			if m.wireBits != c.bits || m.acctBits != c.bits {
				t.Errorf("%s: %d bits on the wire, %d accounted, want %d", c.name, m.wireBits, m.acctBits, c.bits)
			}
			if m.rounds != c.rounds || m.depth != c.rounds {
				t.Errorf("%s: %d rounds counted, critical path %d, want %d", c.name, m.rounds, m.depth, c.rounds)
			}
		})
	}
}

func convName(p tensor.ConvParams) string {
	return fmt.Sprintf("N%dC%dH%dW%d_O%d_K%dx%d_S%dx%d_P%d%d%d%d_G%d", p.N, p.C, p.H, p.W, p.O, p.KH, p.KW, p.SH, p.SW, p.PadT, p.PadL, p.PadB, p.PadR, p.Group)
}
