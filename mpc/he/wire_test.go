package he

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// wireFixture is a small layer with a valid query, response and public key.
type wireFixture struct {
	ps          parties
	l           Layer
	w, x        []uint64
	pk, q, resp []byte
}

func newWireFixture(t testing.TB) *wireFixture {
	t.Helper()
	p := Default()
	c, err := NewClient(p)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := c.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(p, pk)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewConv(p, conv(1, 2, 6, 6, 2, 3, 3, 1, 1, 1), p.LogT())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	f := &wireFixture{ps: parties{c, s}, l: l, pk: pk,
		w: randVec(rng, l.WeightLen(), 0), x: randVec(rng, l.InputLen(), 0)}
	if f.q, err = c.EncryptInput(l, f.x); err != nil {
		t.Fatal(err)
	}
	if f.resp, _, err = s.Eval(l, f.w, f.x, f.q); err != nil {
		t.Fatal(err)
	}
	return f
}

// mutate returns a copy of b changed by f.
func mutate(b []byte, f func([]byte) []byte) []byte {
	return f(bytes.Clone(b))
}

// malformed lists the mutations of a message that must be refused, and
// what the error must say. body is where the first row starts.
func malformed(msg []byte, body int) []struct {
	name, want string
	data       []byte
} {
	return []struct {
		name, want string
		data       []byte
	}{
		{"empty", "", nil},
		{"truncated header", "", msg[:3]},
		{"wrong kind", "kind", mutate(msg, func(b []byte) []byte { b[0] = 'X'; return b })},
		{"another layer's tag", "another layer", mutate(msg, func(b []byte) []byte { b[1] ^= 1; return b })},
		{"huge declared count", "declares", mutate(msg, func(b []byte) []byte { copy(b[headerLen-4:], []byte{0xff, 0xff, 0xff, 0xff}); return b })},
		{"zero declared count", "declares", mutate(msg, func(b []byte) []byte { copy(b[headerLen-4:], []byte{0, 0, 0, 0}); return b })},
		{"header only", "bytes", msg[:headerLen]},
		{"truncated by one byte", "bytes", msg[:len(msg)-1]},
		{"half", "bytes", msg[:len(msg)/2]},
		{"one byte extra", "bytes", append(bytes.Clone(msg), 0)},
		{"doubled", "bytes", append(bytes.Clone(msg), msg[headerLen:]...)},
		{"first residue ≥ modulus", "modulus", mutate(msg, func(b []byte) []byte {
			copy(b[body:], bytes.Repeat([]byte{0xff}, 6)) // the first 48-bit residue all ones
			return b
		})},
		{"last residue ≥ modulus", "modulus", mutate(msg, func(b []byte) []byte {
			copy(b[len(b)-8:], bytes.Repeat([]byte{0xff}, 8))
			return b
		})},
	}
}

func TestMalformedQuery(t *testing.T) {
	f := newWireFixture(t)
	for _, tc := range malformed(f.q, headerLen+seedLen) {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.ps.s.Eval(f.l, f.w, f.x, tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "he: ") {
				t.Fatalf("Eval: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestMalformedResponse(t *testing.T) {
	f := newWireFixture(t)
	for _, tc := range malformed(f.resp, headerLen) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.ps.c.DecryptOutput(f.l, tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "he: ") {
				t.Fatalf("DecryptOutput: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestMalformedPublicKey(t *testing.T) {
	f := newWireFixture(t)
	p := Default()
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"empty", "bytes", nil},
		{"truncated", "bytes", f.pk[:len(f.pk)-1]},
		{"one byte extra", "bytes", append(bytes.Clone(f.pk), 0)},
		{"wrong kind", "kind", mutate(f.pk, func(b []byte) []byte { b[0] = kindQuery; return b })},
		{"residue ≥ modulus", "modulus", mutate(f.pk, func(b []byte) []byte {
			copy(b[1+seedLen:], bytes.Repeat([]byte{0xff}, 6)) // the first 48-bit residue all ones
			return b
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServer(p, tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewServer: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestWrongLayer checks that a query or response of one layer is refused
// by another, and that lengths and parameter sets are checked.
func TestWrongLayer(t *testing.T) {
	f := newWireFixture(t)
	p := Default()
	other, err := NewConv(p, conv(1, 2, 40, 40, 2, 3, 3, 1, 1, 1), p.LogT())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.ps.s.Eval(other, make([]uint64, other.WeightLen()), make([]uint64, other.InputLen()), f.q); err == nil {
		t.Error("Eval accepted another layer's query")
	}
	if _, err := f.ps.c.DecryptOutput(other, f.resp); err == nil {
		t.Error("DecryptOutput accepted another layer's response")
	}
	if _, err := f.ps.c.EncryptInput(f.l, f.x[1:]); err == nil {
		t.Error("EncryptInput accepted a short input")
	}
	if _, _, err := f.ps.s.Eval(f.l, f.w[1:], f.x, f.q); err == nil {
		t.Error("Eval accepted short weights")
	}
	if _, _, err := f.ps.s.Eval(f.l, f.w, append(f.x, 0), f.q); err == nil {
		t.Error("Eval accepted a long input share")
	}
	lit := DefaultLiteral()
	lit.LogT = 32
	p32, err := NewParams(lit)
	if err != nil {
		t.Fatal(err)
	}
	l32, err := NewConv(p32, conv(1, 2, 6, 6, 2, 3, 3, 1, 1, 1), p32.LogT())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ps.c.EncryptInput(l32, f.x); err != errParams {
		t.Errorf("EncryptInput with another parameter set's layer: %v", err)
	}
}

// TestSizes checks the message sizes against the documented formulas.
func TestSizes(t *testing.T) {
	p := Default()
	if got, want := p.CiphertextBytes(), 32+8192*(48+48+48+60)/8; got != want || got != 208928 {
		t.Errorf("CiphertextBytes = %d, want %d", got, want)
	}
	if got := p.PublicKeyBytes(); got != 1+208928 {
		t.Errorf("PublicKeyBytes = %d", got)
	}
	for _, k := range []int{0, 1, 7, 49, 8192} {
		if got, want := p.ResponseBytes(k), 8192*96/8+2*((48*k+7)/8); got != want {
			t.Errorf("ResponseBytes(%d) = %d, want %d", k, got, want)
		}
	}
	f := newWireFixture(t)
	if len(f.pk) != p.PublicKeyBytes() {
		t.Errorf("public key of %d bytes, PublicKeyBytes %d", len(f.pk), p.PublicKeyBytes())
	}
	if len(f.q) != f.l.QueryBytes() || len(f.resp) != f.l.ResponseBytes() {
		t.Errorf("messages of %d and %d bytes, the layer says %d and %d", len(f.q), len(f.resp), f.l.QueryBytes(), f.l.ResponseBytes())
	}
	// Every layer: 13 + n_q·205,856 bytes up (144,416 on three moduli),
	// 13 + n_r·81,920 + 10 bytes per output down (40-bit residues fill
	// whole bytes).
	var layers []Layer
	for _, wbits := range weightBounds {
		for _, tc := range convCases {
			l, err := NewConv(p, tc.cp, wbits)
			if err != nil {
				t.Fatal(err)
			}
			layers = append(layers, l)
		}
		for _, d := range [][3]int{{1, 784, 10}, {16, 100, 10}, {1, 4096, 1000}} {
			l, err := NewMatMul(p, d[0], d[1], d[2], wbits)
			if err != nil {
				t.Fatal(err)
			}
			layers = append(layers, l)
		}
	}
	moduli := map[int]int{}
	for _, l := range layers {
		nq, nr := l.Ciphertexts()
		moduli[l.Moduli()]++
		fresh := map[int]int{3: 147488, 4: 208928}[l.Moduli()]
		if got, want := l.QueryBytes(), 13+nq*fresh; got != want {
			t.Errorf("%v: QueryBytes %d, want %d", l, got, want)
		}
		if got, want := l.ResponseBytes(), 13+nr*98304+12*l.OutputLen(); got != want {
			t.Errorf("%v: ResponseBytes %d, want %d", l, got, want)
		}
	}
	if moduli[3] == 0 || moduli[4] == 0 {
		t.Errorf("layers by moduli %v: want some on three and some on four", moduli)
	}
}

func TestRowPadding(t *testing.T) {
	enc := putRow(nil, []uint64{1, 2, 3}, 3) // 9 bits: 7 padding bits
	if err := getRow(enc, make([]uint64, 3), 3, 8); err != nil {
		t.Fatal(err)
	}
	enc[1] |= 0x80
	if err := getRow(enc, make([]uint64, 3), 3, 8); err == nil || !strings.Contains(err.Error(), "padding") {
		t.Fatalf("nonzero padding: %v", err)
	}
}

func TestBitPacking(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for b := 1; b <= 64; b++ {
		for _, n := range []int{0, 1, 7, 8, 9, 100} {
			row := make([]uint64, n)
			for j := range row {
				row[j] = rng.Uint64() >> (64 - b)
			}
			enc := putRow(nil, row, b)
			if len(enc) != rowBytes(n, b) {
				t.Fatalf("b = %d, n = %d: %d bytes, want %d", b, n, len(enc), rowBytes(n, b))
			}
			got := make([]uint64, n)
			if err := getRow(enc, got, b, ^uint64(0)); err != nil {
				t.Fatal(err)
			}
			for j := range row {
				if got[j] != row[j] {
					t.Fatalf("b = %d, n = %d: value %d = %#x, want %#x", b, n, j, got[j], row[j])
				}
			}
		}
	}
}

func FuzzQuery(f *testing.F) {
	w := newWireFixture(f)
	f.Add(w.q)
	f.Add(w.q[:100])
	f.Add(mutate(w.q, func(b []byte) []byte { b[headerLen+seedLen] = 0xff; return b }))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, _, err := w.ps.s.Eval(w.l, w.w, w.x, data); err == nil && len(data) != w.l.QueryBytes() {
			t.Fatal("Eval accepted a query of the wrong size")
		}
	})
}

func FuzzResponse(f *testing.F) {
	w := newWireFixture(f)
	f.Add(w.resp)
	f.Add(w.resp[:100])
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := w.ps.c.DecryptOutput(w.l, data); err == nil && len(data) != w.l.ResponseBytes() {
			t.Fatal("DecryptOutput accepted a response of the wrong size")
		}
	})
}

func FuzzPublicKey(f *testing.F) {
	w := newWireFixture(f)
	f.Add(w.pk)
	f.Add(w.pk[:50])
	f.Fuzz(func(t *testing.T, data []byte) {
		NewServer(Default(), data)
	})
}
