// Package fixed converts a float graph into veil's fixed-point program
// (the paper's LLIL) over the ring Z_2^64, runs that program in the clear,
// and chooses the fixed-point scale by sweeping it on labelled data.
//
// A real number x is encoded at scale s as round(x·2^s) in two's
// complement modulo 2^64. Every product of two scale-s values has scale
// 2s and is followed by exactly one ScaleDown by s (the paper's F(MatMul)
// rule), so every tensor the program stores between instructions has
// scale s. Multiplications by public constants (an average's 1/k, a leaky
// ReLU's slope) use the fixed PublicShift instead, and are followed by a
// ScaleDown by PublicShift.
package fixed

import (
	"fmt"

	"veil/ir"
)

// Op is an instruction of the fixed-point program.
//
// The ops are of two sorts. The primitive ops are the interface every
// backend implements (see Backend): each has one exact semantics over
// Z_2^64, given by the cleartext executor (Cleartext), which is the
// oracle of every backend. The composite ops are defined by their
// lowering onto primitives (see Lower): a backend runs that lowering
// unless it implements the op natively (see Fuser), and a native
// implementation must compute exactly what the lowering computes.
//
// Values are signed 64-bit integers in two's complement; "x ≥ 0" means
// the signed reading. The comparison primitive DReLU and everything
// built on it (Relu, MaxPool, ArgMax, Clip) require their operands to lie
// in [−2^61, 2^61), so that differences of two operands do not wrap;
// every value a program computes at a sensible scale lies far inside it.
//
// Primitive ops:
//
//   - products of two secret values or of a value and a weight: Conv,
//     MatMul, Mul;
//   - local linear ops: Add, Sub, SumPool, ReduceSum, and the ops with a
//     public constant: AddPublic, MulPublic, Const;
//   - ScaleDown, the truncation that follows every product;
//   - DReLU, the comparison: a 0/1 bit [x ≥ 0] for every element (a
//     shared bit in a secure backend); less-than is DReLU of a
//     difference;
//   - Mux, the multiplexer: b ? x : y for a 0/1 bit b;
//   - data movement: Reshape, Transpose, Concat, Pad, Slice.
//
// Composite ops: Relu, MaxPool, ArgMax, Clip, DivPublic, Max, Min,
// ReduceMax, Piecewise.
//
// Clip and DivPublic carry their public parameters in the instruction:
// Clip(x) = min(max(x, Min), Max) for Min ≤ Max, both in the comparison
// domain; DivPublic(x) = ⌊x/d + 1/2⌋ (the nearest integer to x/d, a half
// rounded up) for the public divisors d ≥ 1 of Public, broadcast per
// PublicShape like MulPublic's factors. The oracle computes DivPublic
// exactly for every x; its lowering is exact for |x| < 2^DivPublicBits and
// d ≤ 2^DivPublicBits (see Lower), also under a ScaleDown that may add
// one, as Porthos' does (whose ScaleDown of the lowering's products,
// below 2^(2·DivPublicBits+3), fails with probability below 2^−21).
type Op string

// The instructions.
const (
	Conv      Op = "Conv"      // In: x, w [, bias at scale 2s]; Strides, Pads, Group, Layout
	MatMul    Op = "MatMul"    // In: a, b (numpy matmul)
	Mul       Op = "Mul"       // In: a, b element-wise with broadcasting (both secret)
	Add       Op = "Add"       // In: a, b with broadcasting
	Sub       Op = "Sub"       // In: a, b with broadcasting
	AddPublic Op = "AddPublic" // In: x; adds Public (broadcast per PublicShape)
	MulPublic Op = "MulPublic" // In: x; multiplies by Public (broadcast per PublicShape)
	Const     Op = "Const"     // In: none; the public Public (of PublicShape) broadcast to the output shape
	ScaleDown Op = "ScaleDown" // In: x; arithmetic shift right by Shift
	DReLU     Op = "DReLU"     // In: x; 1 where x ≥ 0, else 0 (scale 0)
	Mux       Op = "Mux"       // In: b, x, y of one shape; x where b = 1, y where b = 0 (b must be 0 or 1)
	SumPool   Op = "SumPool"   // In: x; sum over each window's real elements
	ReduceSum Op = "ReduceSum" // In: x; Axes, KeepDims
	Reshape   Op = "Reshape"   // In: x; Shape
	Transpose Op = "Transpose" // In: x; Perm
	Concat    Op = "Concat"    // In: xs…; Axis
	Pad       Op = "Pad"       // In: x; Pads (begin…, end…); Mode "" (constant PadValue) or "edge" (nearest element)
	Slice     Op = "Slice"     // In: x; Starts, Steps per axis (output shape gives the counts)

	Relu    Op = "Relu"    // composite. In: x; max(x, 0)
	MaxPool Op = "MaxPool" // composite. In: x; Kernel, Strides, Pads, Layout; max over each window's real elements
	ArgMax  Op = "ArgMax"  // composite. In: x; Axis, KeepDims, SelectLast; output is an index (scale 0)
	// Clip is composite. In: x; min(max(x, Min), Max).
	Clip Op = "Clip"
	// DivPublic is composite. In: x; ⌊x/d + 1/2⌋ for the divisors d ≥ 1
	// of Public (broadcast per PublicShape): an average pool's exact
	// rounded division by its window counts.
	DivPublic Op = "DivPublic"
	// Max and Min are composite. In: a, b of one shape; the element-wise
	// maximum (minimum).
	Max Op = "Max"
	Min Op = "Min"
	// ReduceMax is composite. In: x; the maximum over Axes (KeepDims).
	ReduceMax Op = "ReduceMax"
	// Piecewise is composite. In: x; a piecewise polynomial of x (see
	// Piecewise's doc in piecewise.go): the secure form of sigmoid, tanh,
	// exp and the other smooth functions, and the first guess of the
	// Newton iterations for reciprocals and square roots.
	Piecewise Op = "Piecewise"
)

// DivPublicBits bounds the domain on which DivPublic's lowering is exact:
// |x| < 2^DivPublicBits and 1 ≤ d ≤ 2^DivPublicBits.
const DivPublicBits = 20

// Primitive reports whether op is a primitive op, which every backend
// implements; the other ops are composite (see Lower).
func (op Op) Primitive() bool {
	_, ok := lowerings[op]
	return !ok && op.known()
}

// known reports whether op is an op of the instruction set.
func (op Op) known() bool {
	switch op {
	case Conv, MatMul, Mul, Add, Sub, AddPublic, MulPublic, Const, ScaleDown, DReLU, Mux,
		SumPool, ReduceSum, Reshape, Transpose, Concat, Pad, Slice, Relu, MaxPool, ArgMax, Clip, DivPublic,
		Max, Min, ReduceMax, Piecewise:
		return true
	}
	return false
}

// Kind says who provides a tensor.
type Kind string

const (
	KindInput  Kind = "input"  // the client's data
	KindWeight Kind = "weight" // the model owner's parameters
	KindValue  Kind = "value"  // computed by an instruction
)

// Tensor is one tensor of the program.
type Tensor struct {
	Name  string   `json:"name"`
	Shape ir.Shape `json:"shape"`
	Kind  Kind     `json:"kind"`
	Scale int      `json:"scale"`          // fixed-point scale of its values
	Data  []uint64 `json:"-"`              // weights only; nil once compacted (see Values)
	Node  string   `json:"node,omitempty"` // the float-graph value it came from
	// Bits, for a weight tensor, when nonzero: every value, read as a
	// signed 64-bit number, lies in [−2^(Bits−1), 2^(Bits−1)). The
	// compiler declares the smallest of StorageWidths that holds the
	// tensor, a storage width: it is public (the client learns it with
	// the program, at most two bits about the weights), so that a
	// backend may size its arithmetic by it (the 2PC backend's RLWE
	// noise budget). Zero declares nothing.
	Bits int `json:"bits,omitempty"`

	// data16 or data32 holds the values of a weight tensor Compact
	// stored at that width, instead of Data; widened, those Values
	// keeps at 64 bits.
	data16  []int16
	data32  []int32
	widened *widened
}

// StorageWidths are the widths, in bits, the compiler declares for
// weight tensors (Tensor.Bits).
var StorageWidths = []int{16, 24, 32, 64}

// StorageBits returns the smallest of StorageWidths whose signed range
// holds every value of data.
func StorageBits(data []uint64) int {
	var m uint64 // the largest of v and −v−1: v fits b bits iff m < 2^(b−1)
	for _, v := range data {
		x := int64(v)
		m = max(m, uint64(x^x>>63))
	}
	for _, b := range StorageWidths {
		if b == 64 || m < 1<<(b-1) {
			return b
		}
	}
	return 64
}

// checkBits checks that a weight tensor's values fit its declared Bits.
func (t *Tensor) checkBits() error {
	if t.Bits == 0 || t.Bits >= 64 {
		return nil
	}
	switch {
	case t.data16 != nil:
		return checkFits(t, t.data16)
	case t.data32 != nil:
		return checkFits(t, t.data32)
	}
	return checkFits(t, t.Data)
}

func checkFits[T int16 | int32 | uint64](t *Tensor, data []T) error {
	lim := int64(1) << (t.Bits - 1)
	for i, v := range data {
		if x := int64(v); x < -lim || x >= lim {
			return fmt.Errorf("weight %q element %d is %d, beyond its declared %d bits", t.Name, i, x, t.Bits)
		}
	}
	return nil
}

// Instr is one instruction: Out = Op(In…).
type Instr struct {
	Op          Op       `json:"op"`
	In          []int    `json:"in"`
	Out         int      `json:"out"`
	Node        string   `json:"node,omitempty"` // float-graph node it was lowered from
	Strides     []int    `json:"strides,omitempty"`
	Pads        []int    `json:"pads,omitempty"`
	Kernel      []int    `json:"kernel,omitempty"`
	Group       int      `json:"group,omitempty"`
	Layout      string   `json:"layout,omitempty"` // "NCHW" or "NHWC"
	Axis        int      `json:"axis,omitempty"`
	Axes        []int    `json:"axes,omitempty"`
	KeepDims    bool     `json:"keepdims,omitempty"`
	SelectLast  bool     `json:"select_last,omitempty"` // ArgMax: last of equal maxima
	Perm        []int    `json:"perm,omitempty"`
	Shape       ir.Shape `json:"shape,omitempty"`
	Starts      []int    `json:"starts,omitempty"`
	Steps       []int    `json:"steps,omitempty"`
	Shift       int      `json:"shift,omitempty"`
	Public      []int64  `json:"public,omitempty"`
	PublicShape ir.Shape `json:"public_shape,omitempty"`
	PadValue    int64    `json:"pad_value,omitempty"`
	Mode        string   `json:"mode,omitempty"` // Pad: "" (constant) or "edge"
	Min         int64    `json:"min,omitempty"`  // Clip: the lower bound
	Max         int64    `json:"max,omitempty"`  // Clip: the upper bound
	// Piecewise: the breakpoints (at the input's scale) and the domain
	// [lo, hi] on which the approximation is documented (see Piecewise).
	Breaks []int64 `json:"breaks,omitempty"`
	Domain []int64 `json:"domain,omitempty"`
	// Mirror, when set to [a, b, c] (b at the output's scale), makes a
	// Piecewise table describe f on x ≥ 0 only, with f(x) = a·f(|x|) + b +
	// c·|x| for x < 0 (a, c ∈ {−1, 0, 1}): the odd and sigmoid-like
	// functions, which then need half the pieces.
	Mirror []int64 `json:"mirror,omitempty"`
	// Func names the real function a Piecewise approximates ("sigmoid",
	// "exp", …), for reports and error messages.
	Func string `json:"func,omitempty"`
}

// Preprocess is the image preprocessing a program was compiled with: the
// image (its pixels scaled to [0, 1], which depends on the file format,
// not the model) resized to Resize [H, W] (bilinear) and converted to
// Channels channels (BGR order if BGR), then Mean subtracted and divided
// by Std per channel. It is public: the
// server hands it to every client with the public program, so that a
// client does not feed unnormalized images to a model trained on
// normalized ones.
type Preprocess struct {
	Mean     []float64 `json:"mean,omitempty"`
	Std      []float64 `json:"std,omitempty"`
	Resize   []int     `json:"resize,omitempty"`
	Channels int       `json:"channels,omitempty"`
	BGR      bool      `json:"bgr,omitempty"`
}

// ScaleRow is one line of a scale sweep.
type ScaleRow struct {
	Scale         int     `json:"scale"`
	FloatAccuracy float64 `json:"float_accuracy"`
	FixedAccuracy float64 `json:"fixed_accuracy"`
	Agreement     float64 `json:"agreement"`      // fixed top-1 equals float top-1
	MeanAbsError  float64 `json:"mean_abs_error"` // of the decoded outputs against float
	N             int     `json:"n"`
	// TruncBits is the bit length of the largest |value| any ScaleDown
	// truncates (over the first examples): secure truncation of shares
	// fails with probability about 2^(TruncBits−64) per element.
	TruncBits int `json:"trunc_bits"`
	// Secure says whether that probability is at most 2^−SafetyBits, so
	// that the scale may be chosen for secure execution.
	Secure bool `json:"secure"`
}

// Program is a compiled fixed-point model.
type Program struct {
	Name        string    `json:"name"`
	Scale       int       `json:"scale"`
	PublicShift int       `json:"public_shift"`
	Layout      string    `json:"layout"` // the image input's layout
	Tensors     []*Tensor `json:"tensors"`
	Instrs      []Instr   `json:"instrs"`
	Inputs      []int     `json:"inputs"`
	Outputs     []int     `json:"outputs"`
	Post        string    `json:"post,omitempty"` // "softmax", "logsoftmax" or "sigmoid", applied to the revealed output in the clear
	// Preprocess is how raw images were turned into inputs when the
	// program was compiled; every client applies it (see Preprocess).
	Preprocess *Preprocess `json:"preprocess,omitempty"`
	// CompareBits, when set, bounds every comparison's input below
	// 2^CompareBits in magnitude, traced on calibration data with
	// headroom (see TraceCompareBits): backends whose comparisons cost
	// per bit compare that many. It is public: the client learns it.
	CompareBits int        `json:"compare_bits,omitempty"`
	ScaleTable  []ScaleRow `json:"scale_table,omitempty"`
	Source      string     `json:"source,omitempty"`
	SourceHash  string     `json:"source_sha256,omitempty"`
	Stats       Stats      `json:"stats"`
}

// Stats are static counts of a program.
type Stats struct {
	Instrs     int            `json:"instrs"`
	ByOp       map[string]int `json:"by_op"`
	ScaleDowns int            `json:"scale_downs"`
	Params     int            `json:"params"`
	ReluElems  int            `json:"relu_elems"` // comparisons a secure backend makes for ReLU
	// Comparisons is the number of secure comparisons (DReLU elements)
	// the program makes once lowered (see Lower): one per ReLU element,
	// about window − 1 per MaxPool output by a tree over whole windows,
	// fewer by the row-then-column passes of the lowering
	// (maxPoolComparisons), axis − 1 per ArgMax output, one per DReLU
	// element.
	Comparisons int   `json:"comparisons"`
	MACs        int64 `json:"macs"` // multiply-adds of Conv, MatMul, Mul
}

// ComputeStats fills p.Stats from the instructions.
func (p *Program) ComputeStats() {
	st := Stats{ByOp: map[string]int{}}
	for _, in := range p.Instrs {
		st.Instrs++
		st.ByOp[string(in.Op)]++
		out := p.Tensors[in.Out].Shape
		switch in.Op {
		case ScaleDown:
			st.ScaleDowns++
		case Relu:
			st.ReluElems += out.Size()
			st.Comparisons += out.Size()
		case DReLU:
			st.Comparisons += out.Size()
		case Clip, DivPublic: // two DReLUs per element (see Lower)
			st.Comparisons += 2 * out.Size()
		case Max, Min:
			st.Comparisons += out.Size()
		case Piecewise:
			st.Comparisons += len(in.Breaks) * out.Size()
			if len(in.Mirror) == 3 {
				st.Comparisons += out.Size()
			}
		case ReduceMax:
			st.Comparisons += p.Tensors[in.In[0]].Shape.Size() - out.Size()
		case MaxPool:
			if len(out) == 4 && len(in.Kernel) == 2 && len(in.Strides) == 2 {
				hAx, wAx := spatialAxes(in.Layout)
				n, _ := maxPoolComparisons(in.Kernel, in.Strides, out[hAx], out[wAx])
				st.Comparisons += out.Size() / max(out[hAx]*out[wAx], 1) * n
			}
		case ArgMax:
			x := p.Tensors[in.In[0]].Shape
			ax := in.Axis
			if ax < 0 {
				ax += len(x)
			}
			st.Comparisons += out.Size() * (x[ax] - 1)
		case Conv:
			w := p.Tensors[in.In[1]].Shape
			st.MACs += int64(out.Size()) * int64(w[1]*w[2]*w[3])
		case MatMul:
			a := p.Tensors[in.In[0]].Shape
			st.MACs += int64(out.Size()) * int64(a[len(a)-1])
		case Mul:
			st.MACs += int64(out.Size())
		}
	}
	for _, t := range p.Tensors {
		if t.Kind == KindWeight {
			st.Params += t.Shape.Size()
		}
	}
	p.Stats = st
}

// Encode returns x at scale s: round(x·2^s) modulo 2^64.
func Encode(x float64, s int) uint64 {
	v := x * float64(uint64(1)<<s)
	if v >= 0 {
		return uint64(int64(v + 0.5))
	}
	return uint64(-int64(-v + 0.5))
}

// Decode returns the real number a scale-s value stands for.
func Decode(v uint64, s int) float64 {
	return float64(int64(v)) / float64(uint64(1)<<s)
}

// checkEncodable reports whether |x|·2^s fits well inside int64.
func checkEncodable(x float64, s int) error {
	if v := x * float64(uint64(1)<<s); v >= 1<<62 || v <= -(1<<62) || v != v {
		return fmt.Errorf("value %g does not fit at scale %d", x, s)
	}
	return nil
}
