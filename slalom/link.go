package slalom

import (
	"fmt"
	"runtime"

	"veil/fixed"
)

// Link is T's connection to the untrusted device D (package
// slalom/device's Remote over the network). T writes the residues of a
// request straight into the link's buffer (ResidueSize bytes each, see
// AppendResidues) and checks every answer itself; the link checks what
// the wire can tell (the answer's type, sequence number, layer and size),
// and Exchange and Next report a refused answer or a broken connection
// as a *CheckError naming the layer.
type Link interface {
	// Setup hands D the public layers (weights and bias in the clear)
	// and waits until D holds them.
	Setup(p *Program) error
	// SetupProgram hands D the public program, so that D can run the
	// whole network from X_0 (the one-round-trip integrity mode).
	SetupProgram(p *Program) error
	// Frame returns the buffer of the next compute request: room for n
	// residues, valid until the next request.
	Frame(n int) []byte
	// Exchange sends the request whose residues are in buf (from Frame)
	// for layer l and returns the raw residues of D's answer,
	// l.OutLen() of them, valid until the next request. The caller must
	// still refuse any value ≥ P.
	Exchange(l *Layer, buf []byte) ([]byte, error)
	// RunAllFrame returns the buffer for X_0 as n residues.
	RunAllFrame(n int) []byte
	// RunAllSend sends X_0 from buf (from RunAllFrame) and tells D to run
	// the whole network, whose answers, one per linear layer (layers in
	// all), come through Next. A run aborted by T is drained first.
	RunAllSend(buf []byte, layers int) error
	// Next returns the raw residues of D's streamed answer for layer l
	// of the current run, checked as Exchange checks them.
	Next(l *Layer) ([]byte, error)
}

// ResidueSize is the size of a residue on the wire and in sealed
// records: three little-endian bytes (every residue is below 2^24).
const ResidueSize = rb

// rb is ResidueSize, short for the hot loops.
const rb = 3

func put24(b []byte, v uint32) {
	b = b[:3]
	b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16)
}

// nativeLE reports a little-endian machine with cheap unaligned loads,
// where T's decode loops read a residue as 4 bytes, masked.
var nativeLE = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" || runtime.GOARCH == "386" || runtime.GOARCH == "riscv64"

func get24(b []byte) uint32 {
	b = b[:3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
}

// AppendResidues appends the low 24 bits of every value of v to b,
// ResidueSize bytes each (the values are residues mod P).
func AppendResidues[T uint32 | uint64](b []byte, v []T) []byte {
	n := len(b)
	b = append(b, make([]byte, rb*len(v))...)
	for i, x := range v {
		put24(b[n+rb*i:], uint32(x))
	}
	return b
}

// DecodeResidues parses count residues of ResidueSize bytes, refusing
// any value ≥ P.
func DecodeResidues(b []byte, count int) ([]uint32, error) {
	if len(b) != rb*count {
		return nil, fmt.Errorf("%d bytes for %d values", len(b), count)
	}
	v := make([]uint32, count)
	for i := range v {
		x := get24(b[rb*i:])
		if x >= P {
			return nil, fmt.Errorf("value %d at %d is not a residue mod p", x, i)
		}
		v[i] = x
	}
	return v, nil
}

// D's side of the link: what the device computes, with T's kernels and
// executor.

// Compute is D's answer to a compute request for l: f(x) + b mod P, for
// residues x.
func (l *Layer) Compute(x []uint32) []uint32 { return toU32(Forward(l, toU64(x), true)) }

// PublicProgram is the program D runs in the one-round-trip integrity
// mode, rebuilt from what T sends it: fp, the fixed program without
// weight data (fixed.Program.Public), and the layers of D's setup, which
// say where they sit in fp (ClipAt, LinAt). It refuses, rather than
// panics on, a program that is not a valid fixed program with one input
// and one output or in which a layer does not sit where it says (see
// newPlan): D's linear layers use the weights of their setup.
func PublicProgram(fp *fixed.Program, layers []*Layer) (*Program, error) {
	if err := fp.ValidateStructure(); err != nil {
		return nil, err
	}
	if len(fp.Inputs) != 1 || len(fp.Outputs) != 1 {
		return nil, fmt.Errorf("program of %d inputs and %d outputs", len(fp.Inputs), len(fp.Outputs))
	}
	in, out := fp.Tensors[fp.Inputs[0]], fp.Tensors[fp.Outputs[0]]
	p := &Program{Name: fp.Name, Lx: fp.Scale, Input: in.Shape, InClamp: H, Layers: layers, Fixed: fp,
		OutScale: out.Scale, OutLen: out.Shape.Size()}
	if _, err := p.plans(); err != nil {
		return nil, err
	}
	return p, nil
}

// Stream is D's part of the one-round-trip integrity mode: it runs the
// program from X_0 (residues, as T sent them) through T's executor, every
// linear layer by Compute, and hands each layer's output to emit, which
// sends it and returns what it sent. D goes on from what it sent, honest
// or not, as T does not (T goes on from its own checked values).
func (p *Program) Stream(x0 []uint32, emit func(l *Layer, y []uint32) ([]uint32, error)) error {
	q := make([]int64, len(x0))
	for i, v := range x0 {
		q[i] = lift(uint64(v))
	}
	_, err := p.execute(q, adapt(func(l *Layer, x []int64) ([]int64, error) {
		xr := make([]uint32, len(x))
		for i, v := range x {
			xr[i] = uint32(toField(v))
		}
		y, err := emit(l, l.Compute(xr))
		if err != nil {
			return nil, err
		}
		z := make([]int64, l.OutLen())
		for i := range z {
			if i < len(y) {
				z[i] = lift(uint64(y[i] % P))
			}
		}
		return z, nil
	}, nil), nil)
	return err
}
