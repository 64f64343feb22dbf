package fixed

import (
	"context"
	"fmt"
)

// Value is a backend's own representation of one tensor of a running
// program: cleartext ring elements for the oracle, this party's shares
// for a secret-sharing backend, nothing at a party that holds no part of
// it. The walker (Execute) only passes values between the backend's
// methods; it never looks inside.
type Value any

// A Backend executes programs for one party of one backend: the
// cleartext oracle (Cleartext), a party of a secure protocol, or a
// trusted executor that outsources its linear layers. Execute drives it;
// every party of a secure backend runs the same sequence of calls.
//
// A backend implements every primitive op (see Op) and may implement
// composite ops natively (see Fuser); Execute lowers the composite ops
// it does not implement onto primitives (see Lower), so a new composite
// op runs on every backend as soon as its lowering exists.
type Backend interface {
	// Begin starts one execution of p. inputs are this party's
	// encoded program inputs, one per p.Inputs (nil at a party that
	// owns none). It checks what the party brings (inputs, weights) and
	// may agree on p with the other parties. p is the program as lowered
	// for this backend; it is valid (see Validate or ValidatePublic).
	Begin(ctx context.Context, p *Program, inputs [][]uint64) error
	// Input returns the value of the i-th program input (p.Inputs[i]).
	// Execute calls it for every input, in order, before the first
	// instruction.
	Input(i int) (Value, error)
	// Weight returns the value of the weight tensor p.Tensors[id].
	// Execute calls it once per weight, when an instruction first reads
	// it.
	Weight(id int) (Value, error)
	// Exec executes instruction k, p.Instrs[k], on its arguments (one
	// value per in.In, in order) and returns the value of in.Out. An
	// instruction whose op the backend does not implement is an error.
	Exec(k int, in *Instr, args []Value) (Value, error)
	// End returns the program outputs this party learns, decoded to
	// ring elements, from the values of p.Outputs (nil where the party
	// learns nothing).
	End(outs []Value) ([][]uint64, error)
}

// A Fuser is a Backend that implements some composite ops natively (a
// fused protocol that is cheaper than the lowering). Execute lowers only
// the composite ops for which Fuses is false. A fused implementation must
// compute exactly what the lowering computes, on the same domain; the
// backend's tests check it against the lowering.
type Fuser interface {
	Fuses(op Op) bool
}

// ExecOptions adjusts Execute.
type ExecOptions struct {
	// Lower, when set, lowers every composite op even where the backend
	// fuses it: for testing a fused op against its lowering, and for
	// measuring what fusion saves.
	Lower bool
	// Observe, when set, sees the value of every instruction's output
	// (instruction k of the executed, lowered program) as it is
	// computed.
	Observe func(k int, in *Instr, out Value)
}

// Execute runs p on backend b: the one program walker every executor
// shares. It lowers the composite ops b does not implement natively,
// starts b with this party's inputs, reads weights lazily (when an
// instruction first reads each), executes the instructions in order,
// drops every computed value after its last reader, stops between
// instructions when ctx is done, and finally hands the output values to
// b.End. Errors name the instruction and the float-graph node it was
// lowered from.
func (p *Program) Execute(ctx context.Context, b Backend, inputs [][]uint64, opt *ExecOptions) ([][]uint64, error) {
	if opt == nil {
		opt = &ExecOptions{}
	}
	fuses := func(Op) bool { return false }
	if f, ok := b.(Fuser); ok && !opt.Lower {
		fuses = f.Fuses
	}
	q, err := p.Lower(fuses)
	if err != nil {
		return nil, err
	}
	if err := b.Begin(ctx, q, inputs); err != nil {
		return nil, err
	}
	vals := make([]Value, len(q.Tensors))
	ready := make([]bool, len(q.Tensors))
	for i, id := range q.Inputs {
		v, err := b.Input(i)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", q.Tensors[id].Name, err)
		}
		vals[id], ready[id] = v, true
	}
	last := q.LastUse()
	args := make([]Value, 0, 4)
	for k := range q.Instrs {
		in := &q.Instrs[k]
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("before instruction %d (%s, node %q): %w", k, in.Op, in.Node, err)
		}
		args = args[:0]
		for _, id := range in.In {
			if !ready[id] {
				if q.Tensors[id].Kind != KindWeight {
					return nil, fmt.Errorf("instruction %d (%s, node %q): tensor %q is read before it is computed", k, in.Op, in.Node, q.Tensors[id].Name)
				}
				w, err := b.Weight(id)
				if err != nil {
					return nil, fmt.Errorf("instruction %d (%s, node %q): weight %q: %w", k, in.Op, in.Node, q.Tensors[id].Name, err)
				}
				vals[id], ready[id] = w, true
			}
			args = append(args, vals[id])
		}
		out, err := b.Exec(k, in, args)
		if err != nil {
			return nil, fmt.Errorf("instruction %d (%s, node %q): %w", k, in.Op, in.Node, err)
		}
		vals[in.Out], ready[in.Out] = out, true
		if opt.Observe != nil {
			opt.Observe(k, in, out)
		}
		for _, id := range in.In {
			if last[id] == k {
				vals[id] = nil
			}
		}
	}
	outs := make([]Value, len(q.Outputs))
	for i, id := range q.Outputs {
		outs[i] = vals[id]
	}
	return b.End(outs)
}
