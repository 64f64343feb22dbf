package porthos

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"veil/fixed"
	"veil/mpc"
)

// Run executes prog for this party in a fresh session over net (see New)
// and returns the program's outputs at P0, nil at P1 and P2, together
// with this party's traffic. P0 passes the encoded inputs
// (prog.EncodeInput), P1 and P2 pass none; P1's prog must carry the
// weights, while P0 and P2 should hold prog.Public(): they never read
// weight data. It uses the default Options; see (*Engine).Run.
func Run(ctx context.Context, net mpc.Network, prog *fixed.Program, inputs ...[]uint64) ([][]uint64, mpc.Cost, error) {
	e, err := New(net, Options{})
	if err != nil {
		return nil, mpc.Cost{}, err
	}
	out, err := e.Run(ctx, prog, inputs...)
	return out, e.Cost(), err
}

// Run executes prog once in this engine's session.
//
// The program runs through fixed's walker ((*fixed.Program).Execute),
// with Relu, MaxPool and ArgMax fused (or lowered onto primitives, with
// Options.Lower). The parties first compare the digests of their programs
// (32 bytes to each peer, one round), so that mismatched programs fail at
// once. P0 shares its inputs and P1 each weight when an instruction first
// reads it (Share: no traffic). Each instruction then runs on shares:
//
//   - Conv, MatMul, Mul: products with a weight take the server's weight
//     in the clear and mask each weight once per session (see byWeight);
//     products of two shared values are Beaver products; a Conv masks
//     the image or its im2col matrix, whichever is smaller; a Conv bias
//     is added locally;
//   - Relu, MaxPool, ArgMax, DReLU: the comparison protocols (Porthos's
//     or the fast one, as selected by Options.Compare);
//   - Mux: SelectShare, one Beaver product;
//   - ScaleDown: local truncation (see ScaleDown for its error);
//   - Add, Sub, MulPublic, SumPool, ReduceSum and the copy-only Reshape,
//     Transpose, Concat, Slice: applied to each share locally, exactly as
//     the cleartext executor applies them (fixed.Program.Apply);
//   - AddPublic, Const and Pad: the public constant is added by P0 only.
//
// Finally all outputs are revealed to P0 in one round; P1 and P2 learn
// nothing. On a network that authenticates the transcript
// (mpc.Checkpointer, such as mpc/aramis), the parties then confirm that
// every message arrived intact and in order, and P0 releases the outputs
// only if they did. Any error (a peer failure is an *mpc.PeerError naming the
// peer) aborts the session with an error naming this party, the
// instruction and its node; the peers are told (see Abort) and no output
// is released.
func (e *Engine) Run(ctx context.Context, prog *fixed.Program, inputs ...[]uint64) ([][]uint64, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	out, err := e.run(ctx, prog, inputs)
	if c, ok := e.net.(mpc.Checkpointer); ok && err == nil {
		if err = c.Checkpoint(); err != nil {
			err = fmt.Errorf("%s: transcript check before releasing the output: %w", e.me, err)
		}
	}
	if err != nil {
		err = fmt.Errorf("porthos: %w", err)
		e.Abort(err)
		return nil, err
	}
	return out, nil
}

func (e *Engine) run(ctx context.Context, prog *fixed.Program, inputs [][]uint64) ([][]uint64, error) {
	if err := prog.ValidatePublic(); err != nil {
		return nil, fmt.Errorf("%s: program %q: %w", e.me, prog.Name, err)
	}
	opt := &fixed.ExecOptions{Lower: e.opt.Lower}
	if e.testHookInstr != nil {
		opt.Observe = func(k int, _ *fixed.Instr, v fixed.Value) { e.testHookInstr(k, v.([]uint64)) }
	}
	out, err := prog.Execute(ctx, &backend{e: e}, inputs, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.me, err)
	}
	return out, nil
}

// backend runs a program for one party of the engine's session: the
// fixed.Backend of Porthos. Values are this party's shares ([]uint64;
// nil at P2, which holds no shares) and, for weights, a *weight until an
// instruction needs it shared.
type backend struct {
	e      *Engine
	prog   *fixed.Program
	inputs [][]uint64
}

// weight is a weight tensor before and after it is shared: P1 uses data
// in the clear where a product takes it as its weight operand (see
// byWeight), and shares it (Share from P1: no traffic) when an
// instruction first needs it shared.
type weight struct {
	id     int
	shared []uint64
	done   bool
}

func (b *backend) Begin(_ context.Context, prog *fixed.Program, inputs [][]uint64) error {
	e := b.e
	if err := mpc.CheckRole(e.me, prog, inputs); err != nil {
		return err
	}
	if err := e.agree(prog); err != nil {
		return err
	}
	bits, err := prog.ComparisonBits(e.opt.MagnitudeBits)
	if err != nil {
		return err
	}
	e.cmpBits = bits // public: every party compares on the same circuit
	b.prog, b.inputs = prog, inputs
	return nil
}

// Input shares P0's input.
func (b *backend) Input(i int) (fixed.Value, error) {
	e := b.e
	var x []uint64
	if e.me == mpc.P0 {
		x = b.inputs[i]
	}
	n := b.prog.Tensors[b.prog.Inputs[i]].Shape.Size()
	done := e.begin("Share", n)
	defer done()
	return e.Share(mpc.P0, n, x)
}

func (b *backend) Weight(id int) (fixed.Value, error) { return &weight{id: id}, nil }

// share returns the shares of a weight, sharing it on first use.
func (b *backend) share(w *weight) ([]uint64, error) {
	if w.done {
		return w.shared, nil
	}
	e := b.e
	t := b.prog.Tensors[w.id]
	var data []uint64
	if e.me == mpc.P1 {
		data = t.Values()
	}
	done := e.begin("Share", t.Shape.Size())
	v, err := e.Share(mpc.P1, t.Shape.Size(), data)
	done()
	if err != nil {
		return nil, fmt.Errorf("sharing weight %q: %w", t.Name, err)
	}
	w.shared, w.done = v, true
	return v, nil
}

func (b *backend) Exec(_ int, in *fixed.Instr, vals []fixed.Value) (fixed.Value, error) {
	e := b.e
	wi := b.prog.WeightOperand(in)
	args := make([][]uint64, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case []uint64:
			args[i] = v
		case *weight:
			if i == wi { // used in the clear by P1 (see byWeight)
				if e.me == mpc.P1 {
					args[i] = b.prog.Tensors[v.id].Values()
				}
				continue
			}
			sh, err := b.share(v)
			if err != nil {
				return nil, err
			}
			args[i] = sh
		}
	}
	done := e.begin(string(in.Op), b.prog.Tensors[in.Out].Shape.Size())
	defer done()
	out, err := e.instr(b.prog, in, args, wi)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Fuses reports the composite ops Porthos runs as one protocol: Relu
// (DReLU and the product in one pass), MaxPool and ArgMax (a tree of
// comparisons with the selection folded in).
func (b *backend) Fuses(op fixed.Op) bool {
	return op == fixed.Relu || op == fixed.MaxPool || op == fixed.ArgMax
}

func (b *backend) End(outs []fixed.Value) ([][]uint64, error) {
	vals := make([][]uint64, len(outs))
	for i, v := range outs {
		switch v := v.(type) {
		case []uint64:
			vals[i] = v
		case *weight: // an output that is a weight: shared like any other
			sh, err := b.share(v)
			if err != nil {
				return nil, err
			}
			vals[i] = sh
		}
	}
	return b.e.revealOutputs(b.prog, vals)
}

// agree sends the program's digest to both peers without waiting for
// theirs: recv checks a peer's digest before the first message of the
// run from it, and checkDigests checks any left before the outputs are
// released, so the check costs no round. What a party sends before it
// has seen a peer's digest is a protocol message padded as always, and a
// mismatch stops every party before any output.
func (e *Engine) agree(prog *fixed.Program) error {
	defer e.begin("setup", 0)()
	if err := e.checkDigests(); err != nil { // a previous run's, if it never heard from a peer
		return err
	}
	e.digest = prog.PublicDigest()
	for _, p := range e.peers() {
		if err := e.send(p, append([]byte(nil), e.digest[:]...)); err != nil {
			return fmt.Errorf("program check: %w", err)
		}
		e.digestDue[p] = true
	}
	return nil
}

// checkDigest receives peer's program digest, due since agree, and
// compares it with this party's.
func (e *Engine) checkDigest(peer mpc.Party) error {
	e.digestDue[peer] = false
	b, err := e.recvMsg(peer, len(e.digest))
	if err != nil {
		return fmt.Errorf("program check: %w", err)
	}
	if !bytes.Equal(b, e.digest[:]) {
		return fmt.Errorf("program check: %w", &mpc.PeerError{Peer: peer, Err: errOtherProgram})
	}
	return nil
}

// checkDigests checks every peer's digest still due.
func (e *Engine) checkDigests() error {
	for _, p := range e.peers() {
		if e.digestDue[p] {
			if err := e.checkDigest(p); err != nil {
				return err
			}
		}
	}
	return nil
}

var errOtherProgram = errors.New("runs a different program")

// revealOutputs opens all outputs to P0 in one round.
func (e *Engine) revealOutputs(prog *fixed.Program, vals [][]uint64) ([][]uint64, error) {
	if err := e.checkDigests(); err != nil { // every peer runs this program: no output share goes out before
		return nil, err
	}
	n := 0
	var all []uint64
	for i, id := range prog.Outputs {
		n += prog.Tensors[id].Shape.Size()
		all = append(all, vals[i]...)
	}
	done := e.begin("Reveal", n)
	v, err := e.Reveal(mpc.P0, n, all)
	done()
	if err != nil {
		return nil, fmt.Errorf("revealing the outputs: %w", err)
	}
	if e.me != mpc.P0 {
		return nil, nil
	}
	outs := make([][]uint64, len(prog.Outputs))
	for i, id := range prog.Outputs {
		k := prog.Tensors[id].Shape.Size()
		outs[i], v = v[:k:k], v[k:]
	}
	return outs, nil
}
