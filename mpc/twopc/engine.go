package twopc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"veil/fixed"
	"veil/mpc"
	"veil/mpc/he"
	"veil/mpc/ot"
)

// Engine is one party's state in a two-party session: the OT extensions
// in both directions, the RLWE keys of the linear layers (each party
// encrypts its own shares under its key and evaluates on the other's
// ciphertexts), and the session's error. An Engine is used by one
// goroutine; both parties' engines run the same sequence of calls.
type Engine struct {
	net    mpc.Network
	me     mpc.Party
	p      *party
	params *he.Params
	client *he.Client // encrypts this party's shares
	server *he.Server // evaluates on the other party's
	opt    Options

	err     error // sticky: once a call failed the engine refuses more work
	aborted bool
	ops     []mpc.OpCost // by op, in order of first use

	masks       []linearMask              // made offline, in the order the run takes them (masks.go)
	planned     int                       // runs announced and not begun (Plan)
	stock       *stock                    // offline work made for later runs (ahead.go)
	kernelCache map[kernelKey]*he.Kernels // see Engine.kernels
	kernelBytes int
}

// Options select how an Engine computes; both parties must use the same.
type Options struct {
	// MagnitudeBits, when set, is how many bits every comparison (DReLU,
	// ReLU and the composites built on them) compares: values must lie
	// below 2^MagnitudeBits in magnitude, and a program whose traced
	// bound (fixed.Program.CompareBits) exceeds it is refused. Zero means
	// the program's traced bound, or 62 for a program without one
	// (exact for every value a 64-bit fixed-point program holds without
	// overflow).
	MagnitudeBits int
	// OTK is the SoftSpoken parameter k of both OT extensions (see
	// mpc/ot): 1 is IKNP; zero means ot.DefaultK. Both parties must use
	// the same.
	OTK int
}

// compareBits is the comparison width for prog.
func (o Options) compareBits(prog *fixed.Program) (int, error) {
	return prog.ComparisonBits(o.MagnitudeBits)
}

// New starts a session for this party over net: both OT extensions
// (base OTs, then the extensions' keys) and the RLWE public keys in both
// directions.
func New(net mpc.Network, opt Options) (*Engine, error) {
	if n := net.Parties(); n != 2 {
		return nil, fmt.Errorf("2pc: runs between two parties (client and server); this network has %d", n)
	}
	if k := opt.MagnitudeBits; k != 0 && (k < 8 || k > 62) {
		return nil, fmt.Errorf("2pc: magnitude bound 2^%d outside 2^8…2^62", k)
	}
	if opt.OTK == 0 {
		opt.OTK = ot.DefaultK
	}
	e := &Engine{net: net, me: net.Me(), opt: opt}
	p, err := newParty(net, opt.OTK)
	if err != nil {
		return nil, e.Abort(err)
	}
	e.p = p
	if err := e.setupHE(); err != nil {
		return nil, e.Abort(fmt.Errorf("2pc: %s: %w", e.me, err))
	}
	return e, nil
}

// setupHE makes this party's key and sends its public key; the other's
// public key makes this party's evaluator.
func (e *Engine) setupHE() error {
	e.params = he.Default()
	c, err := he.NewClient(e.params)
	if err != nil {
		return err
	}
	pk, err := c.PublicKey()
	if err != nil {
		return err
	}
	other, err := e.p.exchange(pk, "RLWE public keys")
	if err != nil {
		return err
	}
	s, err := he.NewServer(e.params, other)
	if err != nil {
		return fmt.Errorf("the other party's RLWE public key: %w", err)
	}
	e.client, e.server = c, s
	return nil
}

// Run executes prog once (see mpc.Engine). P0 passes the encoded inputs
// and gets the outputs; P1 passes none and holds the weights.
func (e *Engine) Run(ctx context.Context, prog *fixed.Program, inputs ...[]uint64) ([][]uint64, error) {
	if e.err != nil {
		return nil, fmt.Errorf("2pc: %s: engine stopped after an earlier error: %w", e.me, e.err)
	}
	if err := prog.ValidatePublic(); err != nil {
		return nil, e.Abort(fmt.Errorf("2pc: %s: program %q: %w", e.me, prog.Name, err))
	}
	out, err := prog.Execute(ctx, &backend{e: e}, inputs, nil)
	if c, ok := e.net.(mpc.Checkpointer); ok && err == nil {
		if err = c.Checkpoint(); err != nil {
			err = fmt.Errorf("transcript check before releasing the output: %w", err)
		}
	}
	if err != nil {
		return nil, e.Abort(fmt.Errorf("2pc: %s: %w", e.me, err))
	}
	return out, nil
}

// Abort stops the session after err and tells the other party
// (mpc.NotifyAbort: its one-byte notice breaks the protocol's next
// message there).
func (e *Engine) Abort(err error) error {
	if err == nil || e.aborted {
		return err
	}
	e.aborted = true
	if e.err == nil {
		e.err = err
	}
	mpc.NotifyAbort(e.net, err)
	return err
}

// Cost reports this party's traffic, in total and by instruction op:
// bytes and messages as the network counts them; rounds are the
// messages received, an upper bound on the round trips.
func (e *Engine) Cost() mpc.Cost {
	st := e.net.Stats()
	return mpc.Cost{Party: e.me, Rounds: int(st.MsgsRecv[1-e.me]), Sent: st.BytesSent, Recv: st.BytesRecv, Msgs: st.MsgsSent[1-e.me],
		Ops: slices.Clone(e.ops)}
}

// account runs f as one call of op on n elements and adds its traffic
// and time to op's account.
func (e *Engine) account(op string, n int, f func() error) error {
	return e.accountPhase(op, n, false, f)
}

// accountPhase is account for an online or an offline (ahead of the
// input) operation.
func (e *Engine) accountPhase(op string, n int, offline bool, f func() error) error {
	before, start := e.net.Stats(), time.Now()
	err := f()
	after := e.net.Stats()
	i := slices.IndexFunc(e.ops, func(o mpc.OpCost) bool { return o.Op == op })
	if i < 0 {
		e.ops = append(e.ops, mpc.OpCost{Op: op, Sent: make([]int64, 2), Offline: offline})
		i = len(e.ops) - 1
	}
	o := &e.ops[i]
	o.Calls++
	o.Elems += int64(n)
	o.Rounds += int(after.MsgsRecv[1-e.me] - before.MsgsRecv[1-e.me])
	o.Sent[1-e.me] += after.BytesSent[1-e.me] - before.BytesSent[1-e.me]
	o.Msgs += after.MsgsSent[1-e.me] - before.MsgsSent[1-e.me]
	o.Time += time.Since(start)
	return err
}

// agree exchanges the programs' public digests and the number of runs
// the offline phase is about to make (runsAhead), which must match.
func (e *Engine) agree(d [32]byte, runs int) error {
	msg := binary.LittleEndian.AppendUint32(d[:], uint32(runs))
	got, err := e.p.exchange(msg, "program check")
	if err != nil {
		return err
	}
	if len(got) != len(msg) || !bytes.Equal(got[:len(d)], d[:]) {
		return &mpc.PeerError{Peer: 1 - e.me, Err: errors.New("runs a different program")}
	}
	if theirs := binary.LittleEndian.Uint32(got[len(d):]); theirs != uint32(runs) {
		return &mpc.PeerError{Peer: 1 - e.me, Err: fmt.Errorf("prepares %d runs in this offline phase, this party %d (0: from the stock)", theirs, runs)}
	}
	return nil
}

// reveal opens the values to P0: P1 sends its shares.
func (e *Engine) reveal(x []uint64) ([]uint64, error) {
	if e.me == mpc.P1 {
		return nil, e.net.Send(mpc.P0, words(x))
	}
	b, err := e.net.Recv(mpc.P1)
	if err != nil {
		return nil, err
	}
	if len(b) != 8*len(x) {
		return nil, &mpc.PeerError{Peer: mpc.P1, Err: fmt.Errorf("sent %d bytes of output shares, want %d", len(b), 8*len(x))}
	}
	out := make([]uint64, len(x))
	for i := range out {
		out[i] = x[i] + binary.LittleEndian.Uint64(b[8*i:])
	}
	return out, nil
}

func words(v []uint64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}
