package porthos

import (
	"veil/mpc"
	"veil/mpc/prg"
)

// byteStream draws the byte-based samples of PORTHOS.md section 1 (Z_p,
// Z_p^* and permutations of 64 slots, all by byte rejection) from a PRF
// stream through a local buffer and lookup tables. It consumes the
// stream's bytes in order, exactly as prg.Stream's Mod, ModNonZero and
// Perm would, so it draws the same values; it only reads ahead. A stream
// used through a byteStream must not be used otherwise.
type byteStream struct {
	st  *prg.Stream
	buf []byte
	pos int
}

const byteBuf = 4096

// bytes returns the byteStream this party shares with peer for label.
func (e *Engine) bytes(peer mpc.Party, label string) *byteStream {
	id := streamID{peer, label}
	if b, ok := e.byteStreams[id]; ok {
		return b
	}
	b := &byteStream{st: e.stream(peer, label), buf: make([]byte, byteBuf), pos: byteBuf}
	e.byteStreams[id] = b
	return b
}

const reject = 0xFF

// Lookup tables: the sample a byte gives, or reject.
var (
	zpTable     [256]byte     // b mod p for b < 3p
	zpStarTable [256]byte     // the same without 0
	intnTable   [64][256]byte // intnTable[i][b] = b mod (i+1) below ⌊256/(i+1)⌋·(i+1)
)

func init() {
	for b := 0; b < 256; b++ {
		zpTable[b], zpStarTable[b] = reject, reject
		if b < 256/prime*prime {
			zpTable[b] = byte(b % prime)
			if b%prime != 0 {
				zpStarTable[b] = byte(b % prime)
			}
		}
		for i := range intnTable {
			n := i + 1
			intnTable[i][b] = reject
			if b < 256/n*n {
				intnTable[i][b] = byte(b % n)
			}
		}
	}
}

// fill sets dst to samples through table t.
func (s *byteStream) fill(dst []byte, t *[256]byte) {
	i := 0
	for i < len(dst) {
		if s.pos == len(s.buf) {
			s.st.Read(s.buf)
			s.pos = 0
		}
		// Branch-free: every byte writes its sample at dst[i] and
		// advances i unless it was rejected (reject + 1 = 256).
		src := s.buf[s.pos:]
		j := 0
		for ; j < len(src) && i < len(dst); j++ {
			v := t[src[j]]
			dst[i] = v
			i += 1 - int((uint(v)+1)>>8)
		}
		s.pos += j
	}
}

// zp sets dst to uniform elements of Z_p.
func (s *byteStream) zp(dst []byte) { s.fill(dst, &zpTable) }

// zpStar sets dst to uniform elements of Z_p \ {0}.
func (s *byteStream) zpStar(dst []byte) { s.fill(dst, &zpStarTable) }

// shuffle64 permutes a in place by Fisher–Yates from the last slot
// down: for i = 63 … 1 it swaps slots i and u_i, u_i uniform in [0, i] by
// byte rejection. Afterwards a[k] holds the element that was at π(k),
// where π is the permutation prg.Stream.Perm draws from the same bytes
// (see perm64). A branch-free variant, trying every byte on the current
// slot and swapping a slot with itself on rejection, measured slower:
// its swaps form a longer dependency chain than the mispredicted
// rejections cost.
func (s *byteStream) shuffle64(a *[64]byte) {
	i := 63
	// Fast path: with 256 buffered bytes (63 slots need about 70), run on
	// locals, which the compiler keeps in registers.
	if len(s.buf)-s.pos >= 256 {
		buf := s.buf[s.pos : s.pos+256]
		j := 0
		for i > 0 && j < len(buf) {
			v := intnTable[i&63][buf[j]]
			j++
			if v != reject {
				a[i&63], a[v&63] = a[v&63], a[i&63]
				i--
			}
		}
		s.pos += j
	}
	for i > 0 {
		if s.pos == len(s.buf) {
			s.st.Read(s.buf)
			s.pos = 0
		}
		v := intnTable[i&63][s.buf[s.pos]]
		s.pos++
		if v != reject {
			a[i&63], a[v&63] = a[v&63], a[i&63]
			i--
		}
	}
}

// perm64 sets perm to the permutation π of 0..63 that prg.Stream.Perm
// draws (Fisher–Yates on the identity).
func (s *byteStream) perm64(perm *[64]byte) {
	for i := range perm {
		perm[i] = byte(i)
	}
	s.shuffle64(perm)
}
