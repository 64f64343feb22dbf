package ot

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/mpc"
)

// ks are the SoftSpoken parameters the tests cover (1 is IKNP).
var ks = []int{1, 2, 4, 8}

// pair connects a COTSender (party 0) and a COTReceiver (party 1) with
// SoftSpoken parameter k over a local network and returns them with the
// networks.
func pair(t testing.TB, k int) (*COTSender, *COTReceiver, []mpc.Network) {
	t.Helper()
	nets := mpc.NewLocal(2, 30*time.Second)
	t.Cleanup(func() { nets[0].Close(); nets[1].Close() })
	var s *COTSender
	var r *COTReceiver
	var serr, rerr error
	both(func() { s, serr = NewCOTSender(Peer(nets[0], mpc.P1), k) }, func() { r, rerr = NewCOTReceiver(Peer(nets[1], mpc.P0), k) })
	if err := errors.Join(serr, rerr); err != nil {
		t.Fatal(err)
	}
	return s, r, nets
}

// both runs f and g concurrently and waits for both.
func both(f, g func()) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f() }()
	go func() { defer wg.Done(); g() }()
	wg.Wait()
}

func randomBits(r *mrand.Rand, n int) Bits {
	b := NewBits(n)
	for i := range b {
		b[i] = r.Uint64()
	}
	return b
}

func TestTranspose(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	var m, orig [128]Block
	for i := range m {
		m[i] = Block{r.Uint64(), r.Uint64()}
	}
	orig = m
	transpose128(&m)
	for i := range 128 {
		for j := range 128 {
			if m[i].Bit(j) != orig[j].Bit(i) {
				t.Fatalf("bit %d of row %d is %d, want bit %d of row %d = %d", j, i, m[i].Bit(j), i, j, orig[j].Bit(i))
			}
		}
	}
}

// TestTransposeBlock checks transposeBlock (AVX2 where present) against
// the portable path and the definition, for strides of whole blocks.
func TestTransposeBlock(t *testing.T) {
	r := mrand.New(mrand.NewPCG(21, 22))
	for _, stride := range []int{2, 4, 2048} {
		src := make([]uint64, 127*stride+2)
		for i := range src {
			src[i] = r.Uint64()
		}
		var got, ref [128]Block
		transposeBlock(&got, src, stride)
		transposeBlockGo(&ref, src, stride)
		if got != ref {
			t.Fatalf("stride %d: transposeBlock (AVX2: %v) differs from the portable path", stride, useAVX2)
		}
		for j := range 128 {
			for i := range 128 {
				if got[j].Bit(i) != src[i*stride+j/64]>>(j%64)&1 {
					t.Fatalf("stride %d: bit %d of row %d is not bit %d of column %d", stride, i, j, j, i)
				}
			}
		}
	}
}

// TestTransposeColumns checks transposeColumns (two blocks at a time
// with AVX-512 where present) against the portable block transpose, for
// row counts around the blocks and pairs of blocks.
func TestTransposeColumns(t *testing.T) {
	r := mrand.New(mrand.NewPCG(29, 30))
	for _, n := range []int{128, 200, 256, 384, 512, 640, 1000, 128 * 65} {
		blocks := (n + 127) / 128
		stride := 2 * blocks
		cols := make([]uint64, 128*stride)
		for i := range cols {
			cols[i] = r.Uint64()
		}
		got := make([]Block, n)
		transposeColumns(got, cols, stride)
		for b := range blocks {
			var ref [128]Block
			transposeBlockGo(&ref, cols[2*b:], stride)
			for j := 0; j < 128 && b*128+j < n; j++ {
				if got[b*128+j] != ref[j] {
					t.Fatalf("%d rows: row %d differs from the portable transpose (AVX-512: %v)", n, b*128+j, useAVX512)
				}
			}
		}
	}
}

// TestVOLESums checks the unrolled k = 4 sums (with AVX-512 where there
// is one, on the words up to a multiple of 8) against the definition
// (u the sum of all expansions, v_j of those whose index has bit j) and
// the generic tree for every k.
func TestVOLESums(t *testing.T) {
	r := mrand.New(mrand.NewPCG(23, 24))
	for _, n := range []int{3, 37, 256} {
		testVOLESums(t, r, n)
	}
}

// testVOLESums is TestVOLESums on n words (with AVX-512, the first
// multiple of 8 in assembly and the rest in Go).
func testVOLESums(t *testing.T, r *mrand.Rand, n int) {
	for _, k := range ks {
		g := make([][]uint64, 1<<k)
		for y := range g {
			g[y] = make([]uint64, n)
			for i := range g[y] {
				g[y][i] = r.Uint64()
			}
		}
		u, v := make([]uint64, n), make([][]uint64, k)
		for j := range v {
			v[j] = make([]uint64, n)
		}
		voleSums(g, u, v)
		for i := range n {
			var wu uint64
			wv := make([]uint64, k)
			for y := range g {
				wu ^= g[y][i]
				for j := range k {
					if y>>j&1 == 1 {
						wv[j] ^= g[y][i]
					}
				}
			}
			if u[i] != wu {
				t.Fatalf("k %d, word %d: u wrong", k, i)
			}
			for j := range k {
				if v[j][i] != wv[j] {
					t.Fatalf("k %d, word %d: v_%d wrong", k, i, j)
				}
			}
		}
	}
}

func BenchmarkTranspose(b *testing.B) {
	src := make([]uint64, 128*2)
	var dst [128]Block
	b.SetBytes(128 * 16)
	for b.Loop() {
		transposeBlock(&dst, src, 2)
	}
}

func TestBaseOT(t *testing.T) {
	nets := mpc.NewLocal(2, 10*time.Second)
	choices := []bool{false, true, true, false, true, false, false, true, true, true}
	var keys [][2]Block
	var got []Block
	var serr, rerr error
	both(func() { keys, serr = BaseSend(Peer(nets[0], mpc.P1), len(choices)) },
		func() { got, rerr = BaseReceive(Peer(nets[1], mpc.P0), choices) })
	if err := errors.Join(serr, rerr); err != nil {
		t.Fatal(err)
	}
	for i, c := range choices {
		ci := 0
		if c {
			ci = 1
		}
		if got[i] != keys[i][ci] || got[i] == keys[i][1-ci] {
			t.Errorf("OT %d (choice %v): receiver's key is not exactly the chosen one", i, c)
		}
	}
}

// fakeConn replays fixed messages and swallows what is sent.
type fakeConn struct{ msgs [][]byte }

func (c *fakeConn) Send([]byte) error { return nil }
func (c *fakeConn) Recv() ([]byte, error) {
	if len(c.msgs) == 0 {
		return nil, errors.New("no more messages")
	}
	m := c.msgs[0]
	c.msgs = c.msgs[1:]
	return m, nil
}

func TestBaseOTRefusesBadElements(t *testing.T) {
	identity := marshal(baseGroup.Identity())
	bad := make([]byte, elementSize)
	for i := range bad {
		bad[i] = 0xff
	}
	good := marshal(baseGroup.Generator())
	for _, c := range []struct {
		name string
		run  func() error
		want string
	}{
		{"A too short", func() error { _, err := BaseReceive(&fakeConn{[][]byte{good[:31]}}, []bool{true}); return err }, "A has 31 bytes"},
		{"A not an element", func() error { _, err := BaseReceive(&fakeConn{[][]byte{bad}}, []bool{true}); return err }, "A is not a ristretto255 element"},
		{"A the identity", func() error { _, err := BaseReceive(&fakeConn{[][]byte{identity}}, []bool{true}); return err }, "identity"},
		{"B count", func() error { _, err := BaseSend(&fakeConn{[][]byte{good}}, 2); return err }, "32 bytes of B_i, want 64"},
		{"B not an element", func() error { _, err := BaseSend(&fakeConn{[][]byte{append(good[:32:32], bad...)}}, 2); return err }, "base OT 1: B is not"},
	} {
		if err := c.run(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestCorrelatedOTs checks q_j ⊕ t_j = r_j·Δ for every k over batch sizes
// around the 64- and 128-bit boundaries and the chunk size, extending the
// same pair again and again (the last batch in column buffers kept from
// a larger one).
func TestCorrelatedOTs(t *testing.T) {
	for _, k := range ks {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) { testCorrelatedOTs(t, k) })
	}
}

func testCorrelatedOTs(t *testing.T, k int) {
	s, r, _ := pair(t, k)
	rng := mrand.New(mrand.NewPCG(3, 4))
	delta := s.Delta()
	for _, n := range []int{1, 63, 64, 65, 127, 128, 129, 1000, chunkOTs + 5, 100} {
		choices := randomBits(rng, n)
		var q, tt []Block
		var serr, rerr error
		both(func() { q, serr = s.Extend(n) }, func() { tt, rerr = r.Extend(choices, n) })
		if err := errors.Join(serr, rerr); err != nil {
			t.Fatal(err)
		}
		if len(q) != n || len(tt) != n {
			t.Fatalf("n %d: %d and %d strings", n, len(q), len(tt))
		}
		for j := range n {
			want := Block{}
			if choices.Bit(j) == 1 {
				want = delta
			}
			if q[j].Xor(tt[j]) != want {
				t.Fatalf("n %d, OT %d (choice %d): q ⊕ t ≠ r·Δ", n, j, choices.Bit(j))
			}
		}
	}
}

// checkRandomOTs checks that the receiver's message mc[j] of every random
// OT is exactly the one of m0[j], m1[j] its choice bit picks.
func checkRandomOTs(t *testing.T, m0, m1, mc []Block, choices Bits) {
	t.Helper()
	for j := range mc {
		want, other := m0[j], m1[j]
		if choices.Bit(j) == 1 {
			want, other = other, want
		}
		if mc[j] != want || mc[j] == other {
			t.Fatalf("random OT %d: the receiver's message is not exactly the chosen one", j)
		}
	}
}

// TestRandomOTsIntoReusedBuffers runs random OTs into buffers full of
// garbage, twice over the same buffers, and checks every OT as
// TestDerivedOTs does: nothing of a buffer's old content survives.
func TestRandomOTsIntoReusedBuffers(t *testing.T) {
	s, r, _ := pair(t, DefaultK)
	rng := mrand.New(mrand.NewPCG(7, 8))
	const n = 2000
	m0, m1, mc := make([]Block, n), make([]Block, n), make([]Block, n)
	for range 2 {
		for _, buf := range [][]Block{m0, m1, mc} {
			for j := range buf {
				buf[j] = Block{rng.Uint64(), rng.Uint64()}
			}
		}
		choices := randomBits(rng, n)
		var serr, rerr error
		both(func() { serr = s.RandomOTsInto(m0, m1) }, func() { rerr = r.RandomOTsInto(choices, mc) })
		if err := errors.Join(serr, rerr); err != nil {
			t.Fatal(err)
		}
		checkRandomOTs(t, m0, m1, mc, choices)
	}
	if err := s.RandomOTsInto(m0, m1[:10]); err == nil {
		t.Fatal("buffers of different lengths accepted")
	}
}

// TestLazyRandomOTs checks that messages derived range by range are
// those RandomOTsInto derives for the same OTs: a session's next OTs
// taken eagerly on one pair of extensions and lazily on another with
// the same keys would differ, so both parties take the same OTs
// lazily, and the messages are checked as TestDerivedOTs does and
// against an eager pass over the same strings.
func TestLazyRandomOTs(t *testing.T) {
	s, r, _ := pair(t, DefaultK)
	rng := mrand.New(mrand.NewPCG(9, 10))
	const n = 1000
	choices := randomBits(rng, n)
	q, tt := make([]Block, n), make([]Block, n)
	var sr SenderROTs
	var rr ReceiverROTs
	var serr, rerr error
	first := s.next
	both(func() { sr, serr = s.LazyRandomOTs(q) }, func() { rr, rerr = r.LazyRandomOTs(choices, tt) })
	if err := errors.Join(serr, rerr); err != nil {
		t.Fatal(err)
	}
	m0, m1, mc := make([]Block, n), make([]Block, n), make([]Block, n)
	for lo := 0; lo < n; lo += 37 { // ranges of uneven length
		hi := min(lo+37, n)
		sr.Messages(lo, m0[lo:hi], m1[lo:hi])
		rr.Chosen(lo, mc[lo:hi])
	}
	checkRandomOTs(t, m0, m1, mc, choices)
	want0, want1 := make([]Block, n), make([]Block, n)
	for j := range q {
		want1[j] = q[j].Xor(s.Delta())
	}
	HashBlocks(want0, q, first)
	HashBlocks(want1, want1, first)
	if !slices.Equal(m0, want0) || !slices.Equal(m1, want1) {
		t.Fatal("lazily derived messages differ from RandomOTsInto's for the same strings")
	}
}

func TestDerivedOTs(t *testing.T) {
	s, r, _ := pair(t, DefaultK)
	rng := mrand.New(mrand.NewPCG(5, 6))
	const n = 3000
	choices := randomBits(rng, n)

	var m0, m1, mc []Block
	var serr, rerr error
	both(func() { m0, m1, serr = s.RandomOTs(n) }, func() { mc, rerr = r.RandomOTs(choices, n) })
	if err := errors.Join(serr, rerr); err != nil {
		t.Fatal(err)
	}
	checkRandomOTs(t, m0, m1, mc, choices)

	c := make([]uint64, n)
	for j := range c {
		c[j] = rng.Uint64()
	}
	var a, y []uint64
	both(func() { a, serr = s.Correlated(c) }, func() { y, rerr = r.Correlated(choices, n) })
	if err := errors.Join(serr, rerr); err != nil {
		t.Fatal(err)
	}
	for j := range n {
		if y[j] != a[j]+choices.Bit(j)*c[j] {
			t.Fatalf("correlated OT %d: y ≠ a + r·c", j)
		}
	}

	x0, x1 := make([]uint64, n), make([]uint64, n)
	for j := range x0 {
		x0[j], x1[j] = rng.Uint64(), rng.Uint64()
	}
	var got []uint64
	both(func() { serr = s.Send(x0, x1) }, func() { got, rerr = r.Receive(choices, n) })
	if err := errors.Join(serr, rerr); err != nil {
		t.Fatal(err)
	}
	for j := range n {
		want := x0[j]
		if choices.Bit(j) == 1 {
			want = x1[j]
		}
		if got[j] != want {
			t.Fatalf("chosen OT %d: got %x, want %x", j, got[j], want)
		}
	}
}

// TestCommunication checks the bytes on the wire against the documented
// costs for every k: base OTs 32 bytes from the receiver's end and
// 32·128 from the sender's, then the GGM level sums (32·128 bytes from
// the receiver), then κ/k bits per correlated OT (whole 128-OT blocks
// per message of at most 2^16), 8 bytes more per correlated OT over
// Z_2^64; the local network adds 4 bytes of framing per message.
func TestCommunication(t *testing.T) {
	for _, k := range ks {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			s, r, nets := pair(t, k)
			sent := func() (int64, int64) {
				return nets[0].Stats().BytesSent[mpc.P1], nets[1].Stats().BytesSent[mpc.P0]
			}
			if gs, gr := sent(); gs != 32*kappa+4 || gr != 32+4+32*kappa+4 {
				t.Fatalf("setup: the sender sent %d bytes, the receiver %d; want %d and %d", gs, gr, 32*kappa+4, 32+4+32*kappa+4)
			}
			rng := mrand.New(mrand.NewPCG(7, 8))
			for _, n := range []int{1000, chunkOTs + 1} {
				s0, r0 := sent()
				choices := randomBits(rng, n)
				c := make([]uint64, n)
				both(func() { _, _ = s.Correlated(c) }, func() { _, _ = r.Correlated(choices, n) })
				s1, r1 := sent()
				msgs := int64((n + chunkOTs - 1) / chunkOTs)
				wantR := int64(0)
				for off := 0; off < n; off += chunkOTs {
					wantR += int64(128 / k * 16 * ((min(chunkOTs, n-off) + 127) / 128))
				}
				if s1-s0 != int64(8*n)+4 || r1-r0 != wantR+4*msgs {
					t.Errorf("%d correlated OTs: sender %d bytes, receiver %d; want %d and %d", n, s1-s0, r1-r0, 8*n+4, wantR+4*msgs)
				}
				if got := int64(CorrectionBytes(n, k)); got != wantR {
					t.Errorf("CorrectionBytes(%d, %d) = %d, want %d", n, k, got, wantR)
				}
			}
		})
	}
}

// TestSenderViewUniform checks what the COTSender sees of the receiver's
// choices r, for every k: group g's correction c_g = u ⊕ r, with the
// streams the sender knows removed, is G_{d_g} ⊕ r, uniform bytes
// whatever r: a chi-square test over 256 byte values, for choices all 0
// and all 1. (Were the receiver to leave out any one stream, for some
// d_g it would be r itself.)
func TestSenderViewUniform(t *testing.T) {
	const n = 1 << 14
	for _, k := range ks {
		for _, fill := range []uint64{0, ^uint64(0)} {
			nets := mpc.NewLocal(2, 30*time.Second)
			rec := &recorder{Conn: Peer(nets[0], mpc.P1)}
			var s *COTSender
			var r *COTReceiver
			var serr, rerr error
			both(func() { s, serr = NewCOTSender(rec, k) }, func() { r, rerr = NewCOTReceiver(Peer(nets[1], mpc.P0), k) })
			if err := errors.Join(serr, rerr); err != nil {
				t.Fatal(err)
			}
			// The sender's streams, replayed from their leaves.
			w := chunkWords(n)
			known := make([][]uint64, len(s.seeds))
			for g, seeds := range s.seeds {
				known[g] = make([]uint64, w)
				buf := make([]uint64, w)
				for _, seed := range seeds {
					if seed != nil {
						newKeystream(seed.leaf).fill(buf)
						xorWords(known[g], buf)
					}
				}
			}
			choices := NewBits(n)
			for i := range choices {
				choices[i] = fill
			}
			rec.msgs = nil
			both(func() { _, serr = s.Extend(n) }, func() { _, rerr = r.Extend(choices, n) })
			if err := errors.Join(serr, rerr); err != nil {
				t.Fatal(err)
			}
			c := rec.msgs[0]
			var counts [256]int
			for g := range known {
				for i, v := range known[g] {
					for b := range 8 {
						counts[c[(g*w+i)*8+b]^byte(v>>(8*b))]++
					}
				}
			}
			total := float64(len(known) * w * 8)
			chi := 0.0
			for _, c := range counts {
				d := float64(c) - total/256
				chi += d * d / (total / 256)
			}
			// 255 degrees of freedom: mean 255, sd 22.6; 400 is beyond 6 sd.
			if chi > 400 {
				t.Errorf("k %d, choices all %x: the sender's view is not uniform (chi-square %.0f over 255 degrees of freedom)", k, fill&1, chi)
			}
			nets[0].Close()
			nets[1].Close()
		}
	}
}

// TestGGMPuncture checks that the punctured tree rebuilt from the opened
// level sums has every leaf but d, for every depth and index.
func TestGGMPuncture(t *testing.T) {
	for _, k := range ks {
		leaves, sums := ggmExpand(Block{uint64(k), 77}, k)
		if len(leaves) != 1<<k || len(sums) != k {
			t.Fatalf("k %d: %d leaves, %d levels", k, len(leaves), len(sums))
		}
		seen := map[Block]bool{}
		for _, l := range leaves {
			seen[l] = true
		}
		if len(seen) != len(leaves) {
			t.Fatalf("k %d: repeated leaves", k)
		}
		for d := range 1 << k {
			open := make([]Block, k)
			for l := range open {
				open[l] = sums[l][1-(d>>(k-1-l)&1)]
			}
			got := ggmPuncture(open, d, k)
			for x := range leaves {
				switch {
				case x == d && got[x] != (Block{}):
					t.Fatalf("k %d, d %d: the punctured leaf is known", k, d)
				case x != d && got[x] != leaves[x]:
					t.Fatalf("k %d, d %d: leaf %d wrong", k, d, x)
				}
			}
		}
	}
	for _, k := range []int{0, 3, 16} {
		if err := checkK(k); err == nil {
			t.Errorf("k %d accepted", k)
		}
	}
}

// recorder keeps the messages it receives.
type recorder struct {
	Conn
	msgs [][]byte
}

func (r *recorder) Recv() ([]byte, error) {
	m, err := r.Conn.Recv()
	r.msgs = append(r.msgs, m)
	return m, err
}

func TestMalformedExtension(t *testing.T) {
	s, r, nets := pair(t, DefaultK)
	// A receiver message of the wrong length.
	nets[1].Send(mpc.P0, make([]byte, 100))
	if _, err := s.Extend(10); err == nil || !strings.Contains(err.Error(), "100 bytes of corrections") {
		t.Errorf("short u: %v", err)
	}
	if _, err := r.Extend(NewBits(10), 100); err == nil || !strings.Contains(err.Error(), "64 choice bits for 100 OTs") {
		t.Errorf("too few choices: %v", err)
	}
}

func BenchmarkCorrelatedOTs(b *testing.B) {
	for _, k := range ks {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			s, r, _ := pair(b, k)
			const n = 1 << 16
			choices := randomBits(mrand.New(mrand.NewPCG(9, 10)), n)
			c := make([]uint64, n)
			b.SetBytes(n)
			for b.Loop() {
				both(func() { _, _ = s.Correlated(c) }, func() { _, _ = r.Correlated(choices, n) })
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/OT")
		})
	}
}

// TestFixedCipher checks the batched AES (AES-NI where present) and the
// key schedule against crypto/aes, and the FIPS-197 example.
func TestFixedCipher(t *testing.T) {
	// FIPS-197 appendix B.
	key := []byte{0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c}
	in := []byte{0x32, 0x43, 0xf6, 0xa8, 0x88, 0x5a, 0x30, 0x8d, 0x31, 0x31, 0x98, 0xa2, 0xe0, 0x37, 0x07, 0x34}
	want := []byte{0x39, 0x25, 0x84, 0x1d, 0x02, 0xdc, 0x09, 0xfb, 0xdc, 0x11, 0x85, 0x97, 0x19, 0x6a, 0x0b, 0x32}
	c := newFixedCipher(key)
	r := mrand.New(mrand.NewPCG(11, 12))
	for _, n := range []int{1, 7, 8, 9, 64, 1000} {
		src := make([]Block, n)
		for i := range src {
			src[i] = Block{r.Uint64(), r.Uint64()}
		}
		src[0] = blockFrom(in)
		got, ref := make([]Block, n), make([]Block, n)
		c.encrypt(got, src)
		c.encryptGo(ref, src)
		for i := range ref {
			if got[i] != ref[i] {
				t.Fatalf("n %d, block %d: batched %x, crypto/aes %x (AES-NI: %v)", n, i, got[i], ref[i], useAESNI)
			}
		}
		var b [16]byte
		got[0].bytes(b[:])
		if string(b[:]) != string(want) {
			t.Fatalf("FIPS-197 example: %x, want %x", b, want)
		}
	}
}

// TestHashPaths checks the hash (both passes in assembly where AES-NI
// is present) against its definition H(t, x) = π(π(x) ⊕ t) ⊕ π(x) with π
// through crypto/aes, for counter and listed tweaks and lengths around
// the eight-block batches.
func TestHashPaths(t *testing.T) {
	r := mrand.New(mrand.NewPCG(25, 26))
	for _, n := range []int{1, 7, 8, 9, 32, 40, 64, 100, 1001} {
		src := make([]Block, n)
		tweaks := make([]uint64, n)
		for i := range src {
			src[i], tweaks[i] = Block{r.Uint64(), r.Uint64()}, r.Uint64()
		}
		first := r.Uint64()
		for _, tw := range [][]uint64{nil, tweaks} {
			got := make([]Block, n)
			hashRange(got, src, first, tw)
			for i, x := range src {
				var p, q [1]Block
				pi.encryptGo(p[:], []Block{x})
				ti := first + uint64(i)
				if tw != nil {
					ti = tw[i]
				}
				pi.encryptGo(q[:], []Block{{p[0][0] ^ ti, p[0][1]}})
				if want := q[0].Xor(p[0]); got[i] != want {
					t.Fatalf("n %d, listed tweaks %v, block %d: %x, want %x (AES-NI: %v)", n, tw != nil, i, got[i], want, useAESNI)
				}
			}
		}
	}
}

// TestKeystreamPaths checks a leaf's keystream, filled in pieces of odd
// and even lengths around the four- and 32-block batches of VAES, against
// crypto/aes's CTR with a zero counter read as little-endian words.
func TestKeystreamPaths(t *testing.T) {
	r := mrand.New(mrand.NewPCG(27, 28))
	leaf := Block{r.Uint64(), r.Uint64()}
	var key [16]byte
	leaf.bytes(key[:])
	block, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	pieces := []int{1, 2, 3, 7, 8, 9, 63, 64, 65, 256, 1, 255, 3000}
	total := 0
	for _, n := range pieces {
		total += n
	}
	want := make([]byte, 8*total)
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(want, want)
	k := newKeystream(leaf)
	off := 0
	for _, n := range pieces {
		got := make([]uint64, n)
		k.fill(got)
		for i, v := range got {
			if w := binary.LittleEndian.Uint64(want[8*(off+i):]); v != w {
				t.Fatalf("word %d (piece of %d at %d): %#x, want %#x (VAES: %v)", off+i, n, off, v, w, useVAES)
			}
		}
		off += n
	}
}

func BenchmarkHash(b *testing.B) {
	src := make([]Block, 1<<12)
	b.SetBytes(int64(16 * len(src)))
	for b.Loop() {
		HashBlocks(src, src, 0)
	}
}

// TestPrecomputed checks correlated OTs taken from a precomputed pool,
// across its end (part pooled, part extended on the spot): q_j ⊕ t_j =
// r_j·Δ for the chosen r_j, one bit per pooled OT from the receiver
// online, and random OTs derived from them.
func TestPrecomputed(t *testing.T) {
	s, r, nets := pair(t, DefaultK)
	rng := mrand.New(mrand.NewPCG(13, 14))
	const pooled = 1000
	var serr, rerr error
	both(func() { serr = s.Precompute(pooled) }, func() { rerr = r.Precompute(pooled) })
	if err := errors.Join(serr, rerr); err != nil {
		t.Fatal(err)
	}
	if s.Pooled() != pooled || r.Pooled() != pooled {
		t.Fatalf("pools of %d and %d, want %d", s.Pooled(), r.Pooled(), pooled)
	}
	delta := s.Delta()
	for _, n := range []int{1, 300, 600, 500, 20} { // the fourth spans the pool's end
		choices := randomBits(rng, n)
		before := nets[1].Stats().BytesSent[mpc.P0]
		pool := r.Pooled()
		var q, tt []Block
		both(func() { q, serr = s.Extend(n) }, func() { tt, rerr = r.Extend(choices, n) })
		if err := errors.Join(serr, rerr); err != nil {
			t.Fatal(err)
		}
		for j := range n {
			want := Block{}
			if choices.Bit(j) == 1 {
				want = delta
			}
			if q[j].Xor(tt[j]) != want {
				t.Fatalf("n %d, OT %d (choice %d): q ⊕ t ≠ r·Δ", n, j, choices.Bit(j))
			}
		}
		k := min(n, pool)
		var want int64
		if k > 0 {
			want = int64((k+7)/8 + 4)
		}
		if n > k {
			want += int64(CorrectionBytes(n-k, DefaultK)) + 4
		}
		if got := nets[1].Stats().BytesSent[mpc.P0] - before; got != want {
			t.Errorf("n %d (%d pooled): the receiver sent %d bytes, want %d", n, k, got, want)
		}
	}
	if s.Pooled() != 0 || r.Pooled() != 0 {
		t.Errorf("pools of %d and %d left", s.Pooled(), r.Pooled())
	}
	// Random OTs from a fresh pool.
	both(func() { serr = s.Precompute(64) }, func() { rerr = r.Precompute(64) })
	choices := randomBits(rng, 64)
	var m0, m1, mc []Block
	both(func() { m0, m1, serr = s.RandomOTs(64) }, func() { mc, rerr = r.RandomOTs(choices, 64) })
	if err := errors.Join(serr, rerr); err != nil {
		t.Fatal(err)
	}
	for j := range 64 {
		want := m0[j]
		if choices.Bit(j) == 1 {
			want = m1[j]
		}
		if mc[j] != want {
			t.Fatalf("random OT %d from the pool: not the chosen message", j)
		}
	}
}

// TestCorrelatedBothWays runs correlated OTs in both directions of one
// connection at once, as the two-party multiplexer does: each party
// starts its receiving end (its choices go out), then sends, then
// finishes; with and without precomputed OTs.
func TestCorrelatedBothWays(t *testing.T) {
	for _, pre := range []bool{false, true} {
		nets := mpc.NewLocal(2, 30*time.Second)
		type end struct {
			s *COTSender
			r *COTReceiver
		}
		var ends [2]end
		setup := func(me mpc.Party) error {
			c := Peer(nets[me], 1-me)
			var err error
			if me == mpc.P0 { // P0 → P1 first, then P1 → P0
				if ends[me].s, err = NewCOTSender(c, DefaultK); err == nil {
					ends[me].r, err = NewCOTReceiver(c, DefaultK)
				}
			} else if ends[me].r, err = NewCOTReceiver(c, DefaultK); err == nil {
				ends[me].s, err = NewCOTSender(c, DefaultK)
			}
			return err
		}
		var err0, err1 error
		both(func() { err0 = setup(mpc.P0) }, func() { err1 = setup(mpc.P1) })
		if err := errors.Join(err0, err1); err != nil {
			t.Fatal(err)
		}
		const n = 700
		if pre {
			both(func() { err0 = errors.Join(ends[0].s.Precompute(n), ends[0].r.Precompute(n)) },
				func() { err1 = errors.Join(ends[1].r.Precompute(n), ends[1].s.Precompute(n)) })
			if err := errors.Join(err0, err1); err != nil {
				t.Fatal(err)
			}
		}
		rng := mrand.New(mrand.NewPCG(7, 8))
		var choices [2]Bits
		var c, a, y [2][]uint64
		for p := range 2 {
			choices[p] = randomBits(rng, n)
			c[p] = make([]uint64, n)
			for j := range c[p] {
				c[p][j] = rng.Uint64()
			}
		}
		run := func(me int) error {
			pending, err := ends[me].r.StartCorrelated(choices[me], n)
			if err != nil {
				return err
			}
			if a[me], err = ends[me].s.Correlated(c[me]); err != nil {
				return err
			}
			y[me], err = pending.Finish()
			return err
		}
		both(func() { err0 = run(0) }, func() { err1 = run(1) })
		if err := errors.Join(err0, err1); err != nil {
			t.Fatalf("precomputed %v: %v", pre, err)
		}
		for me := range 2 {
			other := 1 - me
			for j := range n {
				if y[me][j] != a[other][j]+choices[me].Bit(j)*c[other][j] {
					t.Fatalf("precomputed %v: P%d's correlated OT %d: y ≠ a + r·c", pre, me, j)
				}
			}
		}
		nets[0].Close()
		nets[1].Close()
	}
}
