package fixed_test

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"veil/fixed"
	"veil/fixed/fixedtest"

	"veil/ir"
)

// fuzzRunLimit bounds the elements and multiply-adds of a program the
// fuzz targets execute after it validates, so that each input runs in
// milliseconds.
const fuzzRunLimit = 1 << 18

// fuzzHang is the time one input may take before the target fails.
const fuzzHang = 10 * time.Second

// checkProgram is the property the fuzz targets check: fixed.Parse never
// panics, and a program it accepts (full or public) is consistent and,
// when small, runs in the cleartext executor without panicking.
func checkProgram(t *testing.T, data []byte) {
	defer time.AfterFunc(fuzzHang, func() { panic("one input took more than " + fuzzHang.String()) }).Stop()
	p, err := fixed.Parse(data)
	c, cerr := fixed.ParseCompact(data)
	if (err == nil) != (cerr == nil) {
		t.Fatalf("fixed.Parse: %v; read compacted: %v", err, cerr)
	}
	if err != nil {
		if err.Error() == "" || cerr.Error() == "" {
			t.Fatal("empty error message")
		}
		return
	}
	for id, tt := range p.Tensors {
		if !slices.Equal(tt.Values(), c.Tensors[id].Values()) {
			t.Fatalf("weight %q reads back differently compacted", tt.Name)
		}
	}
	if p.HasWeightData() {
		if err := p.Validate(); err != nil {
			t.Fatalf("fixed.Parse returned a program that does not validate: %v", err)
		}
	} else if err := p.ValidatePublic(); err != nil {
		t.Fatalf("fixed.Parse returned a public program that does not validate: %v", err)
	}
	p.ComputeStats()
	live := 0
	for _, tt := range p.Tensors {
		live += tt.Shape.Size()
	}
	if live > fuzzRunLimit || p.Stats.MACs > fuzzRunLimit {
		return
	}
	inputs := make([][]uint64, len(p.Inputs))
	for i, id := range p.Inputs {
		inputs[i] = make([]uint64, p.Tensors[id].Shape.Size())
		for j := range inputs[i] {
			inputs[i][j] = uint64(j) * 0x9e3779b97f4a7c15
		}
	}
	out, err := p.Run(inputs...)
	if err != nil {
		if p.HasWeightData() {
			t.Fatalf("a valid program failed to run: %v", err)
		}
		return
	}
	for i, id := range p.Outputs {
		if len(out[i]) != p.Tensors[id].Shape.Size() {
			t.Fatalf("output %d has %d values, shape %v", i, len(out[i]), p.Tensors[id].Shape)
		}
	}
}

// seedPrograms returns a small full program and its public part as
// program files.
func seedPrograms(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		p, err := fixed.Compile(fixedtest.MixedGraph(tb, rand.New(rand.NewPCG(7, 8)), l, "softmax"), 10)
		if err != nil {
			tb.Fatal(err)
		}
		for _, q := range []*fixed.Program{p, p.Public()} {
			var b bytes.Buffer
			if err := q.Write(&b); err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, b.Bytes())
		}
	}
	var b bytes.Buffer
	if err := reshapeProgram(ir.Shape{28, 28}).Write(&b); err != nil {
		tb.Fatal(err)
	}
	return append(seeds, b.Bytes())
}

func FuzzProgram(f *testing.F) {
	for _, s := range seedPrograms(f) {
		f.Add(s)
	}
	f.Fuzz(checkProgram)
}

// FuzzInstr reaches the checks of one instruction faster than mutating a
// file does: it builds a one-instruction program from the fuzzer's
// numbers, and whatever Validate accepts must run.
func FuzzInstr(f *testing.F) {
	f.Add(uint8(0), int64(1), int64(3), int64(8), int64(8), int64(4), int64(3), int64(1), int64(1), int64(1), int64(0), int64(1), int64(2), int64(0))
	f.Add(uint8(3), int64(1), int64(2), int64(5), int64(5), int64(2), int64(2), int64(2), int64(2), int64(0), int64(1), int64(0), int64(1), int64(3))
	f.Add(uint8(6), int64(1), int64(4), int64(6), int64(6), int64(0), int64(0), int64(1), int64(2), int64(2), int64(1), int64(0), int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, op uint8, n, c, h, w, o, k, s0, s1, p0, p1, a0, a1, a2 int64) {
		in := ir.Shape{int(n), int(c), int(h), int(w)}
		if _, err := in.CheckedSize(fuzzRunLimit); err != nil {
			return
		}
		p := &fixed.Program{Name: "fuzz", Scale: 8, PublicShift: 16, Inputs: []int{0}, Outputs: []int{1}}
		x := &fixed.Tensor{Name: "x", Shape: in, Kind: fixed.KindInput, Scale: 8}
		ins := fixed.Instr{In: []int{0}, Out: 1}
		var extra []*fixed.Tensor
		var out ir.Shape
		switch op % 8 {
		case 0, 1: // fixed.Conv, depthwise when op is 1
			ws := ir.Shape{int(o), int(c), int(k), int(k)}
			ins.Group = 1
			if op%8 == 1 {
				ws[1], ins.Group = 1, int(c)
			}
			if _, err := ws.CheckedSize(fuzzRunLimit); err != nil {
				return
			}
			extra = append(extra, &fixed.Tensor{Name: "w", Shape: ws, Kind: fixed.KindWeight, Scale: 8, Data: make([]uint64, ws.Size())})
			ins.Op, ins.In = fixed.Conv, []int{0, 2}
			ins.Strides, ins.Pads = []int{int(s0), int(s1)}, []int{int(p0), int(p1), int(a0), int(a1)}
			out = ir.Shape{int(n), int(o), poolOut(h, k, s0, p0, a0), poolOut(w, k, s1, p1, a1)}
		case 2, 3:
			ins.Op = fixed.MaxPool
			if op%8 == 3 {
				ins.Op = fixed.SumPool
			}
			ins.Kernel, ins.Strides, ins.Pads = []int{int(k), int(o)}, []int{int(s0), int(s1)}, []int{int(p0), int(p1), int(a0), int(a1)}
			out = ir.Shape{int(n), int(c), poolOut(h, k, s0, p0, a0), poolOut(w, o, s1, p1, a1)}
		case 4:
			ins.Op, ins.Pads = fixed.Pad, []int{int(p0), int(p1), int(a0), int(a1), int(s0), int(s1), int(k), int(o)}
			out = ir.Shape{int(n + p0 + s0), int(c + p1 + s1), int(h + a0 + k), int(w + a1 + o)}
		case 5:
			ins.Op, ins.Shape = fixed.Reshape, ir.Shape{int(p0), int(p1), int(a0)}
			out = ins.Shape
		case 6:
			ins.Op = fixed.Slice
			ins.Starts, ins.Steps = []int{0, int(p0), int(p1), 0}, []int{1, int(a0), int(a1), 1}
			out = ir.Shape{int(n), int(s0), int(s1), int(w)}
		case 7:
			ins.Op, ins.Axes, ins.KeepDims = fixed.ReduceSum, []int{int(a0), int(a1)}, a2 != 0
			out = ir.Shape{int(n), int(c), int(h), int(w)}
			for _, ax := range ins.Axes {
				if ax >= 0 && ax < 4 {
					out[ax] = 1
				}
			}
			if !ins.KeepDims {
				out = out[:2]
			}
		}
		p.Tensors = append([]*fixed.Tensor{x, {Name: "y", Shape: out, Kind: fixed.KindValue, Scale: 8}}, extra...)
		p.Instrs = []fixed.Instr{ins}
		if err := p.Validate(); err != nil {
			return
		}
		p.ComputeStats()
		if p.Stats.MACs > fuzzRunLimit || out.Size() > fuzzRunLimit {
			return
		}
		if _, err := p.Run(make([]uint64, in.Size())); err != nil {
			t.Fatalf("a valid %s instruction failed to run: %v", ins.Op, err)
		}
	})
}

// poolOut is the output size of a window, or -1 for a non-positive stride
// (which Validate must refuse, not divide by).
func poolOut(x, k, s, p0, p1 int64) int {
	if s <= 0 {
		return -1
	}
	return int((x+p0+p1-k)/s + 1)
}
