package porthos

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"veil/mpc"
	"veil/mpc/prg"
)

// Engine is one party's state in a Porthos session: its network, its
// pairwise PRF streams, its private randomness and the accounting of
// rounds and bytes. An Engine is used by one goroutine; the three parties'
// engines run the same sequence of calls.
type Engine struct {
	net     mpc.Network
	me      mpc.Party
	nonce   [3][]byte // each party's session nonce
	streams map[streamID]*prg.Stream
	// byteStreams wrap the streams used only for byte samples
	byteStreams map[streamID]*byteStream
	priv        *prg.Stream // this party's private randomness

	rounds int
	sent   [3]int64 // payload bytes sent, by peer
	recvd  [3]int64 // payload bytes received, by peer
	msgs   int64    // messages sent

	acct    *accounting
	depth   int     // nesting of accounted operations
	err     error   // sticky: once a call failed the engine refuses more work
	aborted bool    // the peers have been told
	cmp     Compare // comparison protocol (see SetCompare)
	opt     Options
	tmp     scratch // the comparison's temporaries (fastCmpOnce)
	cmpBits int     // the running program's comparison bound (circuitFor)

	// weight masks kept for the session (see byWeight)
	masks     map[weightKey]*weightMask
	maskSeen  map[weightKey]bool // every weight used so far: cached or not
	maskElems int                // elements cached so far
	maskLimit int                // MaskCacheElems; lowered by tests
	digest    [32]byte           // the running program's public digest
	digestDue [3]bool            // peers whose digest of it is still to be checked (agree)

	// testHookInstr, set only by tests, sees this party's share of every
	// instruction's output during Run.
	testHookInstr func(k int, share []uint64)
}

type streamID struct {
	peer  mpc.Party
	label string
}

const nonceLen = 16

// Options select how an Engine computes. They belong to the engine, so
// sessions in one process may use different options; the three parties
// of a session must use the same ones (a mismatch fails: the programs'
// digests or the messages' lengths differ).
type Options struct {
	// Compare is the comparison protocol behind Relu, MaxPool, ArgMax
	// and DReLU; the zero value is CompareFast.
	Compare Compare
	// Lower runs the composite ops Relu, MaxPool and ArgMax as their
	// lowering onto primitives (fixed.Lower) instead of the fused
	// protocols: slower, for testing the fused protocols against the
	// lowering and for measuring what fusion saves.
	Lower bool
	// MagnitudeBits, when set, is how many bits the fast comparison
	// assumes every comparison's input holds in magnitude (|x| < 2^k):
	// 62 runs the full circuit whatever the program traced; a program
	// whose traced bound (fixed.Program.CompareBits) exceeds it is
	// refused. Zero means the program's traced bound, or the full
	// circuit for a program without one.
	MagnitudeBits int
}

// New starts a session for this party over net. The three parties call
// New at the same time: each sends a fresh random nonce to both peers
// (one round, 16 bytes per link and direction), and every pairwise stream
// is then keyed by the pair's secret, the two holders' nonces and its
// label, so a network used for several sessions never reuses randomness.
func New(net mpc.Network, opt Options) (*Engine, error) {
	e := &Engine{net: net, me: net.Me(), streams: map[streamID]*prg.Stream{}, byteStreams: map[streamID]*byteStream{},
		priv: prg.NewRandom("porthos private"), acct: newAccounting(), cmp: opt.Compare, opt: opt,
		masks: map[weightKey]*weightMask{}, maskSeen: map[weightKey]bool{}, maskLimit: MaskCacheElems}
	if n := net.Parties(); n != 3 {
		return nil, fmt.Errorf("porthos: runs between three parties (client, server, helper); this network has %d", n)
	}
	if e.me > mpc.P2 {
		return nil, fmt.Errorf("porthos: unknown party %d", e.me)
	}
	for _, p := range mpc.PartiesOf(3) {
		if p != e.me && len(net.PairKey(p)) < 16 {
			return nil, fmt.Errorf("porthos: %s: no pairwise key with %s", e.me, p)
		}
	}
	done := e.begin("setup", 0)
	defer done()
	e.nonce[e.me] = make([]byte, nonceLen)
	if _, err := rand.Read(e.nonce[e.me]); err != nil {
		return nil, fmt.Errorf("porthos: %s: %w", e.me, err)
	}
	e.round()
	for _, p := range e.peers() {
		if err := e.send(p, append([]byte(nil), e.nonce[e.me]...)); err != nil {
			return nil, e.Abort(fmt.Errorf("porthos: %s: session setup: %w", e.me, err))
		}
	}
	for _, p := range e.peers() {
		b, err := e.recv(p, nonceLen)
		if err != nil {
			return nil, e.Abort(fmt.Errorf("porthos: %s: session setup: %w", e.me, err))
		}
		e.nonce[p] = b
	}
	return e, nil
}

// Me is this engine's party.
func (e *Engine) Me() mpc.Party { return e.me }

// Rounds is the number of communication rounds run so far: exchanges
// that must happen one after another, counted identically by all three
// parties (a data-independent message from P2 counts in the round of
// the protocol step it belongs to).
func (e *Engine) Rounds() int { return e.rounds }

// Err is the error that stopped the engine, if any.
func (e *Engine) Err() error { return e.err }

func (e *Engine) peers() []mpc.Party {
	switch e.me {
	case mpc.P0:
		return []mpc.Party{mpc.P1, mpc.P2}
	case mpc.P1:
		return []mpc.Party{mpc.P0, mpc.P2}
	}
	return []mpc.Party{mpc.P0, mpc.P1}
}

// other is the other primary party (P0 ↔ P1).
func (e *Engine) other() mpc.Party {
	if e.me == mpc.P0 {
		return mpc.P1
	}
	return mpc.P0
}

// stream returns the PRF stream this party shares with peer for label.
// Both holders get the same stream: the key is their pairwise secret, the
// salt their two nonces in party order. P2's streams are keyed only by
// k02 and k12, the only secrets it has.
func (e *Engine) stream(peer mpc.Party, label string) *prg.Stream {
	id := streamID{peer, label}
	if s, ok := e.streams[id]; ok {
		return s
	}
	lo, hi := min(e.me, peer), max(e.me, peer)
	info := fmt.Sprintf("porthos %d%d %s %s%s", lo, hi, label, hex.EncodeToString(e.nonce[lo]), hex.EncodeToString(e.nonce[hi]))
	s := prg.MustNew(e.net.PairKey(peer), info)
	e.streams[id] = s
	return s
}

// round counts one communication round.
func (e *Engine) round() { e.rounds++ }

// send queues msg for peer. Empty messages are not sent (the receiver
// knows the length it expects).
func (e *Engine) send(to mpc.Party, msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	if err := e.net.Send(to, msg); err != nil {
		return e.whyGone(to, err)
	}
	e.sent[to] += int64(len(msg))
	e.msgs++
	return nil
}

// whyGone explains a failed send to peer: a peer that stopped because a
// third party failed told this one so before it hung up (see Abort), and
// that notice is still to be read; the error then names the culprit
// rather than the messenger. Otherwise it returns err.
func (e *Engine) whyGone(peer mpc.Party, err error) error {
	for range maxDrain {
		b, rerr := e.net.Recv(peer)
		if rerr != nil {
			return err
		}
		if len(b) == 1 {
			if culprit := mpc.Party(b[0]); culprit != e.me && culprit != peer && culprit <= mpc.P2 {
				return &mpc.PeerError{Peer: culprit, Err: fmt.Errorf("failure reported by %s", peer)}
			}
			return err
		}
	}
	return err
}

// maxDrain bounds the messages whyGone reads past.
const maxDrain = 64

// recv returns the next message from peer, which must be exactly want
// bytes long (nothing is received when want is 0). A one-byte message is
// an abort notice (see Abort); every protocol message is a whole number
// of 8-byte words, so the two cannot be confused.
func (e *Engine) recv(from mpc.Party, want int) ([]byte, error) {
	if want == 0 {
		return nil, nil
	}
	if e.digestDue[from] {
		if err := e.checkDigest(from); err != nil {
			return nil, err
		}
	}
	return e.recvMsg(from, want)
}

// recvMsg is recv without the program check.
func (e *Engine) recvMsg(from mpc.Party, want int) ([]byte, error) {
	b, err := e.net.Recv(from)
	if err != nil {
		return nil, err
	}
	e.recvd[from] += int64(len(b))
	if len(b) == 1 {
		culprit := mpc.Party(b[0])
		if culprit > mpc.P2 || culprit == e.me {
			culprit = from
		}
		if culprit == from {
			return nil, &mpc.PeerError{Peer: from, Err: errAborted}
		}
		return nil, &mpc.PeerError{Peer: culprit, Err: fmt.Errorf("failure reported by %s", from)}
	}
	if len(b) != want {
		return nil, &mpc.PeerError{Peer: from, Err: fmt.Errorf("message of %d bytes, want %d", len(b), want)}
	}
	return b, nil
}

var errAborted = errors.New("aborted the session")

// Abort stops the engine after err and tells the peers, with a one-byte
// notice naming the party to blame (the failed peer for an
// *mpc.PeerError, this party otherwise), so that a party blocked waiting
// for this one returns at once with an error naming the culprit. The
// notice is not sent to the culprit. On a network that can abort
// verifiably (mpc.Aborter, such as mpc/aramis) the network's own
// authenticated abort is used instead. Abort returns err.
func (e *Engine) Abort(err error) error {
	if err == nil {
		return nil
	}
	if e.aborted {
		return err
	}
	e.aborted = true
	if e.err == nil {
		e.err = err
	}
	mpc.NotifyAbort(e.net, err)
	return err
}

// check returns the sticky error of a failed engine.
func (e *Engine) check() error {
	if e.err != nil {
		return fmt.Errorf("porthos: %s: engine stopped after an earlier error: %w", e.me, e.err)
	}
	return nil
}

// fail records err as sticky and returns it wrapped with the protocol,
// and with the party unless an enclosing operation (such as Run) names it.
func (e *Engine) fail(proto string, err error) error {
	if e.depth > 1 {
		err = fmt.Errorf("%s: %w", proto, err)
	} else {
		err = fmt.Errorf("%s: %s: %w", e.me, proto, err)
	}
	if e.err == nil {
		e.err = err
	}
	return err
}

// accounting of traffic, rounds and time by top-level operation.
type accounting struct {
	order []string
	ops   map[string]*mpc.OpCost
}

func newAccounting() *accounting { return &accounting{ops: map[string]*mpc.OpCost{}} }

// begin starts accounting an operation on n elements; the returned
// function ends it. Nested operations are charged to the outermost.
func (e *Engine) begin(op string, n int) func() {
	e.depth++
	if e.depth > 1 {
		return func() { e.depth-- }
	}
	r0, s0, m0, t0 := e.rounds, e.sent, e.msgs, time.Now()
	return func() {
		e.depth--
		st := e.acct.ops[op]
		if st == nil {
			st = &mpc.OpCost{Op: op, Sent: make([]int64, len(e.sent))}
			e.acct.ops[op] = st
			e.acct.order = append(e.acct.order, op)
		}
		st.Calls++
		st.Elems += int64(n)
		st.Rounds += e.rounds - r0
		for p := range st.Sent {
			st.Sent[p] += e.sent[p] - s0[p]
		}
		st.Msgs += e.msgs - m0
		st.Time += time.Since(t0)
	}
}
