package slalom

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"testing"

	"veil/fixed"
	"veil/ir"
)

// pipeDevice starts an in-process device on one end of a net.Pipe and
// returns T's end. (The separate-process device is tested in cmd/veil.)
func pipeDevice(t testing.TB, d *Device) *Remote {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Serve(NewConn(b))
		b.Close()
	}()
	t.Cleanup(func() { a.Close(); <-done })
	return &Remote{C: NewConn(a)}
}

func newTrusted(t testing.TB, p *Program, mode Mode, d *Device) *Trusted {
	t.Helper()
	if d == nil {
		d = &Device{}
	}
	tr, err := NewTrusted(p, mode, pipeDevice(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.Prepare()
	return tr
}

var allModes = []Mode{
	{},
	{Verify: true},
	{Verify: true, PerLayer: true},
	{Verify: true, Check: OnTheFly},
	{Verify: true, Check: Structured},
	{Verify: true, Blind: true, Check: Structured},
	{Blind: true},
	{Verify: true, Blind: true},
}

// fieldLinear is an honest device's layer on a clamped signed input: Z =
// lift(f(x) + b mod P), which is f(x) + b over the integers.
func fieldLinear(l *Layer, x []int64) []int64 {
	r := make([]uint64, len(x))
	for i, v := range x {
		r[i] = toField(v)
	}
	y := Forward(l, r, true)
	z := make([]int64, len(y))
	for i, v := range y {
		z[i] = lift(v)
	}
	return z
}

// tinyProgram is a small compiled program: a dense layer 4 → 3 with its
// bias and a ReLU (one linear layer, requantized).
func tinyProgram(tb testing.TB) *Program {
	tb.Helper()
	g := ir.NewGraph("tiny")
	if err := g.AddInput("x", ir.Shape{1, 4}); err != nil {
		tb.Fatal(err)
	}
	g.AddConst("w", ir.FloatTensor(ir.Shape{4, 3}, []float32{0.5, -1, 0.25, 1, 0.75, -0.5, -0.25, 0.125, 1, 2, -2, 0.5}))
	g.AddConst("b", ir.FloatTensor(ir.Shape{3}, []float32{0.1, -0.2, 0.3}))
	for _, n := range []*ir.Node{
		{Name: "mm", Op: ir.OpMatMul, Inputs: []string{"x", "w"}, Output: "z"},
		{Name: "add", Op: ir.OpAdd, Inputs: []string{"z", "b"}, Output: "y"},
		{Name: "relu", Op: ir.OpRelu, Inputs: []string{"y"}, Output: "r"},
	} {
		if err := g.AddNode(n); err != nil {
			tb.Fatal(err)
		}
	}
	if err := g.SetOutputs("r"); err != nil {
		tb.Fatal(err)
	}
	p, err := Compile(g, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// smallProgram reports whether a program message (programWire) asks D
// for little work per input: every tensor and the multiply-adds of the
// instructions D runs in the clear within maxRun (or the message does
// not parse).
func smallProgram(body []byte) bool {
	if len(body) < 4 {
		return true
	}
	n := int(binary.LittleEndian.Uint32(body))
	if n > len(body)/8 {
		return true
	}
	var fp fixed.Program
	if json.Unmarshal(body[4+8*n:], &fp) != nil || fp.ValidateStructure() != nil {
		return true
	}
	fp.ComputeStats()
	for _, t := range fp.Tensors {
		if t.Shape.Size() > maxRun {
			return false
		}
	}
	return fp.Stats.MACs <= 16*maxRun
}
