package twopc

import (
	"fmt"
	"slices"

	"veil/mpc"
	"veil/mpc/ot"
	"veil/mpc/prg"
)

// A party is one end of a two-party session: P0 (the client) or P1 (the
// server), with an OT extension in each direction over the one
// connection to the other. Every protocol below is run by both parties
// with the same arguments' shapes, in the same order: each moves
// messages in a fixed order, and party 0 speaks first where both
// would.
type party struct {
	me    mpc.Party
	net   mpc.Network
	conn  ot.Conn
	snd   *ot.COTSender   // this party sends, the other chooses
	rcv   *ot.COTReceiver // the other sends, this party chooses
	coins *prg.Stream     // this party's private randomness
	tweak uint64          // the next hash tweak of the leaf OTs (from 2^63, apart from the extensions')
	// triples are pair triples made in the offline phase; the next
	// unused one is triples[tripleOff].
	triples   *pairTriples
	tripleOff int
	// The messages of random OTs, reused batch after batch (see
	// sendROTs, chooseROTs); the leaf OTs keep their correlated
	// strings in sent0 and chosen (ot.LazyRandomOTs).
	sent0, sent1, chosen []ot.Block
	leaves               leafRun // the current batch of comparison leaves
}

// rotBatch bounds the random OTs a protocol takes at a time where it
// needs many: the extension's chunk, so that its messages are as if
// taken at once, and the reused buffers stay at 1 MiB each.
const rotBatch = 1 << 16

// sendROTs returns both messages of the next n random OTs this party
// sends, in buffers that the next call reuses.
func (p *party) sendROTs(n int) (m0, m1 []ot.Block, err error) {
	p.sent0, p.sent1 = slices.Grow(p.sent0[:0], n)[:n], slices.Grow(p.sent1[:0], n)[:n]
	return p.sent0, p.sent1, p.snd.RandomOTsInto(p.sent0, p.sent1)
}

// chooseROTs returns the chosen messages of the next n random OTs this
// party receives, in a buffer that the next call reuses.
func (p *party) chooseROTs(choices ot.Bits, n int) ([]ot.Block, error) {
	p.chosen = slices.Grow(p.chosen[:0], n)[:n]
	return p.chosen, p.rcv.RandomOTsInto(choices, p.chosen)
}

// newParty sets up both OT extensions with the peer over net, with
// SoftSpoken parameter k.
func newParty(net mpc.Network, k int) (*party, error) {
	me := net.Me()
	if me != mpc.P0 && me != mpc.P1 {
		return nil, fmt.Errorf("2pc: party %s: a two-party session has parties P0 and P1 only", me)
	}
	p := &party{me: me, net: net, conn: ot.Peer(net, 1-me), coins: prg.NewRandom("veil 2pc coins"), tweak: 1 << 63}
	var err error
	if me == mpc.P0 { // P0 → P1 first, then P1 → P0
		if p.snd, err = ot.NewCOTSender(p.conn, k); err == nil {
			p.rcv, err = ot.NewCOTReceiver(p.conn, k)
		}
	} else {
		if p.rcv, err = ot.NewCOTReceiver(p.conn, k); err == nil {
			p.snd, err = ot.NewCOTSender(p.conn, k)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("2pc: %s: setting up oblivious transfer: %w", me, err)
	}
	return p, nil
}

// first reports whether this party acts first in a protocol where both
// parties play both OT roles: P0 sends first, P1 receives first.
func (p *party) first() bool { return p.me == mpc.P0 }

// toBits packs 0/1 values into choice bits.
func toBits(b []byte) ot.Bits {
	bits := ot.NewBits(len(b))
	for j, v := range b {
		bits.Set(j, uint64(v))
	}
	return bits
}
