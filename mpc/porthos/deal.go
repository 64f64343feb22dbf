package porthos

import "veil/mpc"

// Deal: P2 gives P0 and P1 fresh shares of a vector v of n items it
// knows, sending only one share of each item (the paper's halving trick).
// With h = ⌊n/2⌋:
//
//   - items e < h: P0 and P2 draw P0's share from their common stream,
//     and P2 sends P1's share v_e − s0_e;
//   - items e ≥ h: P1 and P2 draw P1's share from theirs, and P2 sends
//     P0's share v_e − s1_e.
//
// An item is one element of Z_L or Z_{L−1} (8 bytes on the wire) or the
// 64 bits of a Z_L value as 64 shares over Z_p, most significant bit
// first (64 bytes). n items cost n item-sizes in total, split evenly over
// the two links.
//
// Security: the drawn share is a PRF output unknown to the receiver of the
// other, so each receiver sees a uniformly random share, independent of
// v; the two shares together are fresh shares of v.
//
// P2 collects the messages of one round in a dealer and sends them at
// once; P0 and P1 read the items back in the same order from the message
// they receive.

// halves returns h = ⌊n/2⌋.
func halves(n int) int { return n / 2 }

// dealtLen is the number of bytes this party (P0 or P1) receives for n
// items of size sz.
func (e *Engine) dealtLen(n, sz int) int {
	h := halves(n)
	if e.me == mpc.P0 {
		return (n - h) * sz
	}
	return h * sz
}

// dealer builds P2's messages to P0 and P1 for one round.
type dealer struct {
	e  *Engine
	to [2][]byte // messages to P0 and P1
}

// bits deals the bits of every v_e over Z_p.
func (d *dealer) bits(label string, v []uint64) {
	h := halves(len(v))
	s0, s1 := d.e.bytes(mpc.P0, label), d.e.bytes(mpc.P1, label)
	m0, m1 := grow(d.to[0], 64*(len(v)-h)), grow(d.to[1], 64*h)
	// Items e < h: P0's share is drawn, P1's is sent; then the reverse.
	m1 = dealBits(m1, v[:h], s0)
	m0 = dealBits(m0, v[h:], s1)
	d.to[0], d.to[1] = m0, m1
}

// dealBits appends, for every x in v, the shares b − s mod p of its bits
// (MSB first), s drawn from st.
func dealBits(m []byte, v []uint64, st *byteStream) []byte {
	var s [64]byte
	for _, x := range v {
		st.zp(s[:])
		for k := range s {
			b := byte(x>>(63-k)) & 1
			m = append(m, subP(b, s[k]))
		}
	}
	return m
}

// ring deals every v_e over Z_L, or over Z_{L−1} if odd.
func (d *dealer) ring(label string, v []uint64, odd bool) {
	h := halves(len(v))
	s0, s1 := d.e.stream(mpc.P0, label), d.e.stream(mpc.P1, label)
	w := make([]uint64, len(v))
	for i, x := range v {
		st := s1
		if i < h {
			st = s0
		}
		if odd {
			w[i] = subOdd(x, st.OddRing())
		} else {
			w[i] = x - st.Uint64()
		}
	}
	d.to[1] = putU64s(d.to[1], w[:h])
	d.to[0] = putU64s(d.to[0], w[h:])
}

func (d *dealer) send() error {
	if err := d.e.send(mpc.P0, d.to[0]); err != nil {
		return err
	}
	return d.e.send(mpc.P1, d.to[1])
}

// dealtBits returns this party's shares (n×64 bytes, MSB first) of the
// bits P2 dealt under label, reading the sent half from *msg.
func (e *Engine) dealtBits(label string, n int, msg *[]byte) []byte {
	h := halves(n)
	out := make([]byte, 64*n)
	drawn, sent := out[:64*h], out[64*h:]
	if e.me == mpc.P1 {
		drawn, sent = out[64*h:], out[:64*h]
	}
	e.bytes(mpc.P2, label).zp(drawn)
	*msg = (*msg)[copy(sent, *msg):]
	return out
}

// dealtRing returns this party's shares of the n ring elements P2 dealt
// under label (over Z_{L−1} if odd).
func (e *Engine) dealtRing(label string, n int, odd bool, msg *[]byte) []uint64 {
	h := halves(n)
	out := make([]uint64, n)
	st := e.stream(mpc.P2, label)
	drawn, sent := out[:h], out[h:]
	if e.me == mpc.P1 {
		drawn, sent = out[h:], out[:h]
	}
	if odd {
		for i := range drawn {
			drawn[i] = st.OddRing()
		}
	} else {
		st.Uint64s(drawn)
	}
	*msg = getU64s(sent, *msg)
	return out
}

// subP returns a − b mod p for a, b in [0, p).
func subP(a, b byte) byte {
	if a >= b {
		return a - b
	}
	return a + prime - b
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b
}
