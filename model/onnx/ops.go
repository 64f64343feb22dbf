package onnx

import (
	"math"
	"sort"

	"veil/ir"
)

// opInfo describes how one ONNX op is imported.
type opInfo struct {
	// since is the oldest opset from which the op means what lower
	// implements (older versions had other attributes or semantics).
	since int64
	// outputs is how many outputs lower produces (allOutputs: every one);
	// further outputs must be unused.
	outputs int
	lower   func(imp *importer, n *node) error
}

// allOutputs marks an op whose lowering produces all its outputs (Split).
const allOutputs = math.MaxInt

// opTable lists the supported ONNX ops. It is filled in init because the
// lowering functions refer to it indirectly (through importer.lower).
var opTable map[string]opInfo

func init() {
	simple := func(op ir.Op, since int64, arity int) opInfo {
		return opInfo{since: since, outputs: 1, lower: func(imp *importer, n *node) error {
			return imp.direct(n, op, arity)
		}}
	}
	opTable = map[string]opInfo{
		"Add":                simple(ir.OpAdd, 7, 2),
		"Sub":                simple(ir.OpSub, 7, 2),
		"Mul":                simple(ir.OpMul, 7, 2),
		"Div":                simple(ir.OpDiv, 7, 2),
		"MatMul":             simple(ir.OpMatMul, 1, 2),
		"Relu":               simple(ir.OpRelu, 6, 1),
		"Sigmoid":            simple(ir.OpSigmoid, 6, 1),
		"Tanh":               simple(ir.OpTanh, 6, 1),
		"Sqrt":               simple(ir.OpSqrt, 6, 1),
		"Neg":                simple(ir.OpNeg, 6, 1),
		"Floor":              simple(ir.OpFloor, 6, 1),
		"Reciprocal":         simple(ir.OpReciprocal, 6, 1),
		"Identity":           simple(ir.OpIdentity, 1, 1),
		"Equal":              simple(ir.OpEqual, 7, 2),
		"Where":              simple(ir.OpWhere, 9, 3),
		"Expand":             simple(ir.OpExpand, 8, 2),
		"Range":              simple(ir.OpRange, 11, 3),
		"Gather":             {1, 1, lowerGather},
		"Conv":               {1, 1, lowerConv},
		"Gemm":               {7, 1, lowerGemm},
		"Clip":               {6, 1, lowerClip},
		"LeakyRelu":          {6, 1, lowerLeakyRelu},
		"Elu":                {6, 1, lowerElu},
		"GatherND":           {11, 1, lowerGatherND},
		"Selu":               {6, 1, lowerElu},
		"MaxPool":            {1, 1, lowerPool},
		"AveragePool":        {1, 1, lowerPool},
		"GlobalAveragePool":  {1, 1, lowerGlobalAveragePool},
		"BatchNormalization": {7, 1, lowerBatchNorm},
		"Flatten":            {1, 1, lowerFlatten},
		"Reshape":            {5, 1, lowerReshape},
		"Transpose":          {1, 1, lowerTranspose},
		"Concat":             {4, 1, lowerConcat},
		"Pad":                {2, 1, lowerPad},
		"Squeeze":            {1, 1, lowerSqueeze},
		"Unsqueeze":          {1, 1, lowerUnsqueeze},
		"Dropout":            {7, 1, lowerDropout},
		"Softmax":            {1, 1, lowerSoftmax(ir.OpSoftmax)},
		"LogSoftmax":         {1, 1, lowerSoftmax(ir.OpLogSoftmax)},
		"ArgMax":             {1, 1, lowerArgMax},
		"ReduceMean":         {1, 1, lowerReduce(ir.OpReduceMean, 18)},
		"ReduceSum":          {1, 1, lowerReduce(ir.OpReduceSum, 13)},
		"Constant":           {1, 1, lowerConstant},
		"Shape":              {1, 1, lowerShape},
		"Cast":               {6, 1, lowerCast},
		"Slice":              {1, 1, lowerSlice},
		"ConstantOfShape":    {9, 1, lowerConstantOfShape},

		"Abs":                   simple(ir.OpAbs, 6, 1),
		"Exp":                   simple(ir.OpExp, 6, 1),
		"Log":                   simple(ir.OpLog, 6, 1),
		"Erf":                   simple(ir.OpErf, 9, 1),
		"Softplus":              simple(ir.OpSoftplus, 1, 1),
		"HardSwish":             simple(ir.OpHardSwish, 14, 1),
		"PRelu":                 simple(ir.OpPRelu, 7, 2),
		"Max":                   {6, 1, lowerVariadic(ir.OpMax)},
		"Min":                   {6, 1, lowerVariadic(ir.OpMin)},
		"HardSigmoid":           {6, 1, lowerHardSigmoid},
		"Gelu":                  {20, 1, lowerGelu},
		"Pow":                   {7, 1, lowerPow},
		"ReduceMax":             {1, 1, lowerReduce(ir.OpReduceMax, 18)},
		"ReduceMin":             {1, 1, lowerReduce(ir.OpReduceMin, 18)},
		"GlobalMaxPool":         {1, 1, lowerGlobalMaxPool},
		"LayerNormalization":    {17, 3, lowerLayerNorm},
		"InstanceNormalization": {6, 1, lowerInstanceNorm},
		"ConvTranspose":         {1, 1, lowerConvTranspose},
		"Resize":                {10, 1, lowerResize},
		"Upsample":              {7, 1, lowerUpsample},
		"DepthToSpace":          {1, 1, lowerDepthToSpace},
		"SpaceToDepth":          {1, 1, lowerSpaceToDepth},
		"Tile":                  {6, 1, lowerTile},
		"Split":                 {2, allOutputs, lowerSplit},
		"If":                    {1, allOutputs, lowerIf},
		"LSTM":                  {7, 3, lowerLSTM},
		"GRU":                   {7, 2, lowerGRU},
		"RNN":                   {7, 2, lowerRNN},
		"Not":                   {1, 1, lowerNot},
		"Size":                  {1, 1, lowerSize},
	}
}

// SupportedOps returns the ONNX op types the importer handles.
func SupportedOps() []string {
	ops := make([]string, 0, len(opTable))
	for op := range opTable {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// direct maps a node one to one onto an ir op with no attributes.
func (imp *importer) direct(n *node, op ir.Op, arity int) error {
	if len(n.inputs) != arity {
		return n.errorf("takes %d inputs, got %d", arity, len(n.inputs))
	}
	for i, in := range n.inputs {
		if in == "" {
			return n.errorf("input %d is missing", i)
		}
	}
	_, err := imp.add(n, op, n.out(), ir.Attrs{}, n.inputs...)
	return err
}

// inputs checks that the node has between lo and hi inputs, and that the
// first lo of them are present.
func inputs(n *node, lo, hi int) error {
	if len(n.inputs) < lo || len(n.inputs) > hi {
		if lo == hi {
			return n.errorf("takes %d inputs, got %d", lo, len(n.inputs))
		}
		return n.errorf("takes %d to %d inputs, got %d", lo, hi, len(n.inputs))
	}
	for i := 0; i < lo; i++ {
		if n.inputs[i] == "" {
			return n.errorf("input %d is missing", i)
		}
	}
	return nil
}

func lowerGather(imp *importer, n *node) error {
	if err := inputs(n, 2, 2); err != nil {
		return err
	}
	axis := n.int("axis", 0)
	data, err := imp.value(n, n.in(0))
	if err != nil {
		return err
	}
	idx, err := imp.value(n, n.in(1))
	if err != nil {
		return err
	}
	// Constant indices are checked here; the fixed-point compiler turns a
	// Gather of computed data at constant indices into data movement.
	if idx.Const != nil {
		ax, err := axesOf(n, []int64{axis}, len(data.Shape))
		if err != nil {
			return err
		}
		is, err := idx.Const.Ints()
		if err != nil {
			return n.errorf("indices: %v", err)
		}
		size := int64(data.Shape[ax[0]])
		for _, i := range is {
			if i < -size || i >= size {
				return n.errorf("index %d out of range for axis %d of size %d", i, ax[0], size)
			}
		}
	}
	_, err = imp.add(n, ir.OpGather, n.out(), ir.Attrs{Axis: int(axis)}, n.inputs...)
	return err
}

func lowerLeakyRelu(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	alpha := n.float("alpha", 0.01)
	_, err := imp.add(n, ir.OpLeakyRelu, n.out(), ir.Attrs{Alpha: alpha}, n.in(0))
	return err
}

// lowerGatherND imports GatherND (batch_dims 0) at constant indices
// through ir.Graph.AddGatherND.
func lowerGatherND(imp *importer, n *node) error {
	if err := inputs(n, 2, 2); err != nil {
		return err
	}
	if bd := n.int("batch_dims", 0); bd != 0 {
		return n.errorf("attribute batch_dims=%d is not supported (only 0)", bd)
	}
	idx, err := imp.value(n, n.in(1))
	if err != nil {
		return err
	}
	if idx.Const == nil {
		return n.errorf("indices computed from the data are not supported (only constant indices)")
	}
	return imp.g.AddGatherND(n.name, n.in(0), n.out(), idx.Const)
}

// lowerElu imports Elu (alpha, default 1) and Selu (alpha, gamma) through
// ir.Graph.AddElu.
func lowerElu(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	alpha, scale := n.float("alpha", 1), float32(1)
	if n.opType == "Selu" {
		alpha, scale = n.float("alpha", 1.67326319217681884765625), n.float("gamma", 1.05070102214813232421875)
	}
	return imp.g.AddElu(n.name, n.in(0), n.out(), alpha, scale)
}

// windowAttrs reads the attributes shared by Conv, ConvTranspose and the
// pools for a 1-D or 2-D window of size k over spatial dims in: strides,
// dilations (must be 1), auto_pad and pads. It returns strides and pads
// in the ONNX order ([begin…, end…], one per spatial dimension).
func windowAttrs(n *node, in, k []int) (strides, pads []int, err error) {
	d := len(k)
	strides = make([]int, d)
	for i := range strides {
		strides[i] = 1
	}
	if s := n.ints("strides"); s != nil {
		if len(s) != d {
			return nil, nil, n.errorf("strides %v: want %d values for a %d-D window", s, d, d)
		}
		for _, v := range s {
			if v < 1 || v > maxElements {
				return nil, nil, n.errorf("strides %v must be positive", s)
			}
		}
		strides = toInts(s)
	}
	if dl := n.ints("dilations"); dl != nil {
		for _, v := range dl {
			if v != 1 {
				return nil, nil, n.errorf("attribute dilations=%v is not supported (only dilation 1)", dl)
			}
		}
	}
	autoPad := n.str("auto_pad", "NOTSET")
	p := n.ints("pads")
	switch autoPad {
	case "NOTSET", "":
		pads = make([]int, 2*d)
		if p != nil {
			if len(p) != 2*d {
				return nil, nil, n.errorf("pads %v: want %d values for a %d-D window", p, 2*d, d)
			}
			for _, v := range p {
				if v < 0 || v > maxElements {
					return nil, nil, n.errorf("pads %v are not supported (negative or too large)", p)
				}
			}
			pads = toInts(p)
		}
	case "VALID":
		pads = make([]int, 2*d)
	case "SAME_UPPER", "SAME_LOWER":
		pads = make([]int, 2*d)
		for i := 0; i < d; i++ {
			out := (in[i] + strides[i] - 1) / strides[i]
			total := max(0, (out-1)*strides[i]+k[i]-in[i])
			small, big := total/2, total-total/2
			if autoPad == "SAME_UPPER" {
				pads[i], pads[i+d] = small, big
			} else {
				pads[i], pads[i+d] = big, small
			}
		}
	default:
		return nil, nil, n.errorf("auto_pad %q is not supported", autoPad)
	}
	return strides, pads, nil
}

// lift2D turns 1-D window attributes (strides [s], pads [b, e]) into the
// 2-D ones of a window of height 1; 2-D ones are returned unchanged.
func lift2D(strides, pads []int) ([]int, []int) {
	if len(strides) == 2 {
		return strides, pads
	}
	return []int{1, strides[0]}, []int{0, pads[0], 0, pads[1]}
}

// spatial1D reports whether the shapes (N, C, L) describe a 1-D window op,
// which lowers to the 2-D op on (N, C, 1, L).
func spatial1D(xs ir.Shape) bool { return len(xs) == 3 }

// unsqueezeH reshapes (N, C, L) to (N, C, 1, L).
func (imp *importer) unsqueezeH(n *node, x string, xs ir.Shape) (string, error) {
	return imp.reshape(n, x, "", ir.Shape{xs[0], xs[1], 1, xs[2]})
}

// squeezeH adds the op, whose output is (N, C′, 1, L′), and reshapes it to
// (N, C′, L′) as out.
func (imp *importer) squeezeH(n *node, y, out string) error {
	ys, err := imp.shape(n, y)
	if err != nil {
		return err
	}
	_, err = imp.reshape(n, y, out, ir.Shape{ys[0], ys[1], ys[3]})
	return err
}

func lowerConv(imp *importer, n *node) error {
	if err := inputs(n, 2, 3); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	ws, err := imp.shape(n, n.in(1))
	if err != nil {
		return err
	}
	oneD := spatial1D(xs) && len(ws) == 3
	if !oneD && (len(xs) != 4 || len(ws) != 4) {
		return n.errorf("only 1-D and 2-D convolution are supported (input %v, weights %v)", xs, ws)
	}
	if k := n.ints("kernel_shape"); k != nil && !ir.Shape(toInts(k)).Equal(ws[2:]) {
		return n.errorf("kernel_shape %v disagrees with weights %v", k, ws)
	}
	strides, pads, err := windowAttrs(n, xs[2:], ws[2:])
	if err != nil {
		return err
	}
	strides, pads = lift2D(strides, pads)
	group := n.int("group", 1)
	if group < 1 || group > maxElements {
		return n.errorf("group %d is not valid", group)
	}
	x, w, out := n.in(0), n.in(1), n.out()
	if oneD {
		if x, err = imp.unsqueezeH(n, x, xs); err != nil {
			return err
		}
		if w, err = imp.unsqueezeH(n, w, ws); err != nil {
			return err
		}
		out = ""
	}
	ins := []string{x, w}
	if b := n.in(2); b != "" {
		ins = append(ins, b)
	}
	y, err := imp.add(n, ir.OpConv, out, ir.Attrs{Strides: strides, Pads: pads, Group: int(group), Layout: ir.NCHW}, ins...)
	if err != nil || !oneD {
		return err
	}
	return imp.squeezeH(n, y, n.out())
}

// lowerPool imports MaxPool and AveragePool over 1-D or 2-D windows.
// ceil_mode=1 rounds the output size up, dropping a last window that would
// start in the end padding (as PyTorch and ONNX's reference do), by padding
// the end further: padding never wins a max, and for AveragePool the
// model's own padding, when it counts (count_include_pad=1), becomes an
// explicit zero Pad so that only the extra padding stays uncounted.
func lowerPool(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	k := n.ints("kernel_shape")
	if k == nil {
		return n.errorf("kernel_shape is required")
	}
	oneD := spatial1D(xs) && len(k) == 1
	if !oneD && (len(k) != 2 || len(xs) != 4) {
		return n.errorf("only 1-D and 2-D pooling are supported (input %v, kernel_shape %v)", xs, k)
	}
	for _, v := range k {
		if v < 1 || v > maxElements {
			return n.errorf("kernel_shape %v must be positive", k)
		}
	}
	kernel := toInts(k)
	strides, pads, err := windowAttrs(n, xs[2:], kernel)
	if err != nil {
		return err
	}
	d := len(kernel)
	var extra []int // end padding that ceil_mode adds
	if n.int("ceil_mode", 0) != 0 {
		extra = make([]int, d)
		for i := 0; i < d; i++ {
			in, s := xs[2+i], strides[i]
			span := in + pads[i] + pads[i+d] - kernel[i]
			if span < 0 {
				continue // the window does not fit: shape inference says so
			}
			out := (span+s-1)/s + 1
			if (out-1)*s >= in+pads[i] {
				out-- // the last window would hold only padding
			}
			extra[i] = max(0, (out-1)*s+kernel[i]-(in+pads[i]+pads[i+d]))
		}
	}
	attrs := ir.Attrs{Layout: ir.NCHW}
	op := ir.OpMaxPool
	x := n.in(0)
	if n.opType == "AveragePool" {
		op = ir.OpAvgPool
		attrs.CountIncludePad = n.int("count_include_pad", 0) != 0
		if attrs.CountIncludePad && extra != nil {
			// Pad explicitly (those zeros count), then pool with the extra
			// end padding, which does not.
			full := make([]int, 2*len(xs))
			for i := 0; i < d; i++ {
				full[2+i], full[len(xs)+2+i] = pads[i], pads[i+d]
			}
			if x, err = imp.add(n, ir.OpPad, "", ir.Attrs{Pads: full}, x); err != nil {
				return err
			}
			if xs, err = imp.shape(n, x); err != nil {
				return err
			}
			pads = make([]int, 2*d)
			attrs.CountIncludePad = false
		}
	} else {
		// storage_order only affects the Indices output, which lower
		// refuses when it is used.
		n.ignore("storage_order")
	}
	for i := range extra {
		pads[i+d] += extra[i]
	}
	attrs.Kernel = kernel
	if oneD {
		attrs.Kernel = []int{1, kernel[0]}
		if x, err = imp.unsqueezeH(n, x, xs); err != nil {
			return err
		}
	}
	attrs.Strides, attrs.Pads = lift2D(strides, pads)
	if !oneD {
		_, err = imp.add(n, op, n.out(), attrs, x)
		return err
	}
	y, err := imp.add(n, op, "", attrs, x)
	if err != nil {
		return err
	}
	return imp.squeezeH(n, y, n.out())
}

func lowerGlobalAveragePool(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	if len(xs) < 3 {
		return n.errorf("input must have spatial dimensions, got %v", xs)
	}
	var axes []int
	for i := 2; i < len(xs); i++ {
		axes = append(axes, i)
	}
	_, err = imp.add(n, ir.OpReduceMean, n.out(), ir.Attrs{Axes: axes, KeepDims: true}, n.in(0))
	return err
}

func lowerBatchNorm(imp *importer, n *node) error {
	if err := inputs(n, 5, 5); err != nil {
		return err
	}
	if imp.opset < 9 && n.int("spatial", 1) != 1 {
		return n.errorf("spatial=0 is not supported")
	}
	if n.int("training_mode", 0) != 0 {
		return n.errorf("training_mode=1 is not supported (inference only)")
	}
	n.ignore("momentum")
	eps := n.float("epsilon", 1e-5)
	_, err := imp.add(n, ir.OpBatchNorm, n.out(), ir.Attrs{Epsilon: eps, Axis: 1}, n.inputs...)
	return err
}

func lowerFlatten(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	axis := n.int("axis", 1)
	r := int64(len(xs))
	if axis < -r || axis > r {
		return n.errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	if axis == 1 { // the usual flatten after the batch axis: kept as it is, so the graph takes a batch (ir.Graph.WithBatch)
		c, err := imp.constInt(n, "shape", ir.Shape{2}, []int64{0, -1})
		if err != nil {
			return err
		}
		_, err = imp.add(n, ir.OpReshape, n.out(), ir.Attrs{}, n.in(0), c)
		return err
	}
	_, err = imp.reshape(n, n.in(0), n.out(), ir.Shape{xs[:axis].Size(), xs[axis:].Size()})
	return err
}

func lowerReshape(imp *importer, n *node) error {
	if err := inputs(n, 2, 2); err != nil {
		return err
	}
	az := n.int("allowzero", 0) != 0
	_, err := imp.add(n, ir.OpReshape, n.out(), ir.Attrs{AllowZero: az}, n.in(0), n.in(1))
	return err
}

func lowerTranspose(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	var perm []int
	if p := n.ints("perm"); p != nil {
		perm = toInts(p)
	}
	_, err := imp.add(n, ir.OpTranspose, n.out(), ir.Attrs{Perm: perm}, n.in(0))
	return err
}

func lowerConcat(imp *importer, n *node) error {
	if len(n.inputs) == 0 {
		return n.errorf("needs at least one input")
	}
	for i, in := range n.inputs {
		if in == "" {
			return n.errorf("input %d is missing", i)
		}
	}
	if !n.has("axis") {
		return n.errorf("attribute axis is required")
	}
	axis := n.int("axis", 0)
	if axis < -maxRank || axis > maxRank {
		return n.errorf("axis %d out of range", axis)
	}
	_, err := imp.add(n, ir.OpConcat, n.out(), ir.Attrs{Axis: int(axis)}, n.inputs...)
	return err
}

func lowerPad(imp *importer, n *node) error {
	mode := n.str("mode", "constant")
	switch {
	case mode == "constant", mode == "reflect", mode == "edge":
	case mode == "wrap" && imp.opset >= 19:
	default:
		return n.errorf("mode %q is not supported (only constant, reflect, edge and, from opset 19, wrap)", mode)
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	var pads []int64
	var value float32
	if imp.opset < 11 {
		if err := inputs(n, 1, 1); err != nil {
			return err
		}
		pads = n.ints("pads")
		if pads == nil {
			return n.errorf("attribute pads is required")
		}
		value = n.float("value", 0)
	} else {
		if err := inputs(n, 2, 4); err != nil {
			return err
		}
		if pads, err = imp.constInts(n, n.in(1), "pads"); err != nil {
			return err
		}
		if c := n.in(2); c != "" {
			if value, err = imp.constScalar(n, c, "constant_value"); err != nil {
				return err
			}
		}
		if a := n.in(3); a != "" {
			axesv, err := imp.constInts(n, a, "axes")
			if err != nil {
				return err
			}
			axes, err := axesOf(n, axesv, len(xs))
			if err != nil {
				return err
			}
			if len(pads) != 2*len(axes) {
				return n.errorf("pads %v for axes %v", pads, axesv)
			}
			full := make([]int64, 2*len(xs))
			for i, ax := range axes {
				full[ax], full[ax+len(xs)] = pads[i], pads[i+len(axes)]
			}
			pads = full
		}
	}
	if len(pads) != 2*len(xs) {
		return n.errorf("pads %v for an input of rank %d", pads, len(xs))
	}
	for _, p := range pads {
		if p < 0 || p > maxElements {
			return n.errorf("pads %v are not supported (negative or too large)", pads)
		}
	}
	if mode != "constant" {
		return imp.padGather(n, xs, pads, mode)
	}
	_, err = imp.add(n, ir.OpPad, n.out(), ir.Attrs{Pads: toInts(pads), PadValue: value}, n.in(0))
	return err
}

// maxPadAxis bounds a padded axis of a reflect, edge or wrap Pad (its
// index vector is a constant made at import).
const maxPadAxis = 1 << 20

// padGather imports a reflect, edge or wrap Pad as a Gather at constant
// indices along each padded axis (data movement in the fixed-point
// compiler): index i of the padded axis reads element padIndex(i − begin).
func (imp *importer) padGather(n *node, xs ir.Shape, pads []int64, mode string) error {
	r := len(xs)
	var axes []int
	for ax := range r {
		if pads[ax] != 0 || pads[ax+r] != 0 {
			axes = append(axes, ax)
		}
	}
	if len(axes) == 0 {
		_, err := imp.add(n, ir.OpIdentity, n.out(), ir.Attrs{}, n.in(0))
		return err
	}
	x := n.in(0)
	for k, ax := range axes {
		size, begin, end := int64(xs[ax]), pads[ax], pads[ax+r]
		if size == 0 {
			return n.errorf("mode %q pads an empty axis %d", mode, ax)
		}
		if size+begin+end > maxPadAxis {
			return n.errorf("mode %q: padded axis %d would have %d elements (at most %d are supported)", mode, ax, size+begin+end, maxPadAxis)
		}
		idx := make([]int64, size+begin+end)
		for i := range idx {
			idx[i] = padIndex(int64(i)-begin, size, mode)
		}
		c, err := imp.constInt(n, "indices", ir.Shape{len(idx)}, idx)
		if err != nil {
			return err
		}
		out := ""
		if k == len(axes)-1 {
			out = n.out()
		}
		if x, err = imp.add(n, ir.OpGather, out, ir.Attrs{Axis: ax}, x, c); err != nil {
			return err
		}
	}
	return nil
}

// padIndex maps position i (in [−begin, size+end)) of a padded axis of
// the given size to the element it copies: numpy.pad's reflect (mirrored
// without repeating the edge, periodically), edge (the nearest end) or
// wrap (periodic).
func padIndex(i, size int64, mode string) int64 {
	switch mode {
	case "edge":
		return min(max(i, 0), size-1)
	case "wrap":
		return ((i % size) + size) % size
	}
	if size == 1 {
		return 0
	}
	p := 2 * (size - 1)
	i = ((i % p) + p) % p
	if i >= size {
		i = p - i
	}
	return i
}

// axesInput reads axes from the attribute (before opset since) or from
// input 1 (from opset since); nil means "not given".
func (imp *importer) axesInput(n *node, since int64) ([]int64, error) {
	if imp.opset < since {
		return n.ints("axes"), nil
	}
	if a := n.in(1); a != "" {
		return imp.constInts(n, a, "axes")
	}
	return nil, nil
}

func lowerSqueeze(imp *importer, n *node) error {
	if err := inputs(n, 1, 2); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	axesv, err := imp.axesInput(n, 13)
	if err != nil {
		return err
	}
	drop := make([]bool, len(xs))
	if axesv == nil {
		for i, d := range xs {
			drop[i] = d == 1
		}
	} else {
		axes, err := axesOf(n, axesv, len(xs))
		if err != nil {
			return err
		}
		for _, a := range axes {
			if xs[a] != 1 {
				return n.errorf("cannot squeeze axis %d of %v: its size is not 1", a, xs)
			}
			drop[a] = true
		}
	}
	out := ir.Shape{}
	for i, d := range xs {
		if !drop[i] {
			out = append(out, d)
		}
	}
	_, err = imp.reshape(n, n.in(0), n.out(), out)
	return err
}

func lowerUnsqueeze(imp *importer, n *node) error {
	if err := inputs(n, 1, 2); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	axesv, err := imp.axesInput(n, 13)
	if err != nil {
		return err
	}
	if axesv == nil {
		return n.errorf("axes are required")
	}
	r := len(xs) + len(axesv)
	axes, err := axesOf(n, axesv, r)
	if err != nil {
		return err
	}
	ins := make([]bool, r)
	for _, a := range axes {
		ins[a] = true
	}
	out := make(ir.Shape, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, 1)
		} else {
			out = append(out, xs[j])
			j++
		}
	}
	_, err = imp.reshape(n, n.in(0), n.out(), out)
	return err
}

func lowerDropout(imp *importer, n *node) error {
	if err := inputs(n, 1, 3); err != nil {
		return err
	}
	n.ignore("ratio", "seed")
	if imp.opset < 10 {
		n.ignore("is_test")
	}
	if t := n.in(2); t != "" {
		v, err := imp.constScalar(n, t, "training_mode")
		if err != nil {
			return err
		}
		if v != 0 {
			return n.errorf("training_mode=true is not supported (inference only)")
		}
	}
	_, err := imp.add(n, ir.OpIdentity, n.out(), ir.Attrs{}, n.in(0))
	return err
}

// lowerSoftmax imports Softmax or LogSoftmax (op).
func lowerSoftmax(op ir.Op) func(*importer, *node) error {
	return func(imp *importer, n *node) error {
		return softmaxLike(imp, n, op)
	}
}

func softmaxLike(imp *importer, n *node, op ir.Op) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	r := int64(len(xs))
	if imp.opset >= 13 {
		axis := n.int("axis", -1)
		if axis < -r || axis >= r {
			return n.errorf("axis %d out of range for rank %d", axis, r)
		}
		_, err = imp.add(n, op, n.out(), ir.Attrs{Axis: int(axis)}, n.in(0))
		return err
	}
	// Before opset 13 the input is coerced to 2-D [d0⋯d(axis-1),
	// d(axis)⋯d(r-1)] and normalized over the second dimension.
	axis := n.int("axis", 1)
	if axis < -r || axis > r || r == 0 {
		return n.errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	if axis == r-1 {
		_, err = imp.add(n, op, n.out(), ir.Attrs{Axis: -1}, n.in(0))
		return err
	}
	outer := xs[:axis].Size()
	flat, err := imp.reshape(n, n.in(0), "", ir.Shape{outer, xs[axis:].Size()})
	if err != nil {
		return err
	}
	sm, err := imp.add(n, op, "", ir.Attrs{Axis: 1}, flat)
	if err != nil {
		return err
	}
	_, err = imp.reshape(n, sm, n.out(), xs)
	return err
}

func lowerArgMax(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	axis := n.int("axis", 0)
	if axis < -maxRank || axis > maxRank {
		return n.errorf("axis %d out of range", axis)
	}
	keep := n.int("keepdims", 1) != 0
	_, err := imp.add(n, ir.OpArgMax, n.out(), ir.Attrs{Axis: int(axis), KeepDims: keep, SelectLast: n.int("select_last_index", 0) != 0}, n.in(0))
	return err
}

// lowerReduce imports ReduceMean/ReduceSum, whose axes move from an
// attribute to an input at opset axesInputSince.
func lowerReduce(op ir.Op, axesInputSince int64) func(*importer, *node) error {
	return func(imp *importer, n *node) error {
		if err := inputs(n, 1, 2); err != nil {
			return err
		}
		xs, err := imp.shape(n, n.in(0))
		if err != nil {
			return err
		}
		axesv, err := imp.axesInput(n, axesInputSince)
		if err != nil {
			return err
		}
		keep := n.int("keepdims", 1) != 0
		noop := false
		if imp.opset >= axesInputSince {
			noop = n.int("noop_with_empty_axes", 0) != 0
		}
		if len(axesv) == 0 && noop {
			_, err = imp.add(n, ir.OpIdentity, n.out(), ir.Attrs{}, n.in(0))
			return err
		}
		axes, err := axesOf(n, axesv, len(xs))
		if err != nil {
			return err
		}
		_, err = imp.add(n, op, n.out(), ir.Attrs{Axes: axes, KeepDims: keep}, n.in(0))
		return err
	}
}

func lowerConstant(imp *importer, n *node) error {
	if len(n.inputs) != 0 {
		return n.errorf("takes no inputs, got %d", len(n.inputs))
	}
	var t *ir.Tensor
	set := 0
	if tp := n.tensor("value"); tp != nil {
		v, err := tp.toIR()
		if err != nil {
			return n.errorf("value: %v", err)
		}
		t, set = v, set+1
	}
	if a := n.attr("value_float", attrFloat); a != nil {
		t, set = ir.FloatTensor(ir.Shape{}, []float32{a.f}), set+1
	}
	if fs := n.floats("value_floats"); fs != nil {
		t, set = ir.FloatTensor(ir.Shape{len(fs)}, append([]float32(nil), fs...)), set+1
	}
	if a := n.attr("value_int", attrInt); a != nil {
		t, set = ir.IntTensor(ir.Shape{}, []int64{a.i}), set+1
	}
	if is := n.ints("value_ints"); is != nil {
		t, set = ir.IntTensor(ir.Shape{len(is)}, append([]int64(nil), is...)), set+1
	}
	for _, s := range []string{"sparse_value", "value_string", "value_strings"} {
		if n.has(s) {
			n.ignore(s)
			return n.errorf("attribute %s is not supported", s)
		}
	}
	if n.err != nil {
		return n.err
	}
	if set != 1 {
		return n.errorf("needs exactly one value attribute, got %d", set)
	}
	return imp.g.AddConst(n.out(), t)
}

func lowerShape(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	start, end := n.int("start", 0), n.int("end", math.MaxInt64)
	r := int64(len(xs))
	if start == 0 && end >= r {
		_, err = imp.add(n, ir.OpShape, n.out(), ir.Attrs{}, n.in(0))
		return err
	}
	sh, err := imp.add(n, ir.OpShape, "", ir.Attrs{}, n.in(0))
	if err != nil {
		return err
	}
	st, err := imp.constInt(n, "start", ir.Shape{1}, []int64{start})
	if err != nil {
		return err
	}
	en, err := imp.constInt(n, "end", ir.Shape{1}, []int64{end})
	if err != nil {
		return err
	}
	_, err = imp.add(n, ir.OpSlice, n.out(), ir.Attrs{}, sh, st, en)
	return err
}

func lowerCast(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	if !n.has("to") {
		return n.errorf("attribute to is required")
	}
	to := n.int("to", 0)
	if imp.opset >= 19 {
		// saturate acts only on casts to float8, refused below.
		n.ignore("saturate")
	}
	var dt ir.DType
	switch to {
	case typeFloat, typeDouble:
		dt = ir.Float32
	case typeInt64, typeInt32:
		dt = ir.Int64
	case typeBool:
		return imp.castBool(n)
	default:
		return n.errorf("cast to %s is not supported (the IR has float32 and int64 only)", typeName(to))
	}
	op := ir.OpCast
	if x, err := imp.value(n, n.in(0)); err != nil {
		return err
	} else if x.DType == dt {
		// A cast between float types (or between integer types) changes
		// nothing in the IR's float32 and int64.
		op = ir.OpIdentity
	}
	_, err := imp.add(n, op, n.out(), ir.Attrs{To: dt}, n.in(0))
	return err
}

// castBool imports a Cast to BOOL as an int64 1 where x ≠ 0, else 0:
// Equal(Equal(x, 0), 0), cast to int64 (the IR's booleans).
func (imp *importer) castBool(n *node) error {
	x, err := imp.value(n, n.in(0))
	if err != nil {
		return err
	}
	zero := ir.IntTensor(ir.Shape{}, []int64{0})
	if x.DType == ir.Float32 {
		zero = ir.FloatTensor(ir.Shape{}, []float32{0})
	}
	z := imp.fresh(n, "zero")
	if err := imp.g.AddConst(z, zero); err != nil {
		return err
	}
	isZero, err := imp.add(n, ir.OpEqual, "", ir.Attrs{}, x.Name, z)
	if err != nil {
		return err
	}
	nonZero, err := imp.add(n, ir.OpEqual, "", ir.Attrs{}, isZero, z)
	if err != nil {
		return err
	}
	_, err = imp.add(n, ir.OpCast, n.out(), ir.Attrs{To: ir.Int64}, nonZero)
	return err
}

func lowerSlice(imp *importer, n *node) error {
	if imp.opset >= 10 {
		if err := inputs(n, 3, 5); err != nil {
			return err
		}
		ins := []string{n.in(0), n.in(1), n.in(2)}
		axes, steps := n.in(3), n.in(4)
		if steps != "" && axes == "" {
			starts, err := imp.constInts(n, n.in(1), "starts")
			if err != nil {
				return err
			}
			def := make([]int64, len(starts))
			for i := range def {
				def[i] = int64(i)
			}
			if axes, err = imp.constInt(n, "axes", ir.Shape{len(def)}, def); err != nil {
				return err
			}
		}
		if axes != "" {
			ins = append(ins, axes)
		}
		if steps != "" {
			ins = append(ins, steps)
		}
		_, err := imp.add(n, ir.OpSlice, n.out(), ir.Attrs{}, ins...)
		return err
	}
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	starts, ends, axes := n.ints("starts"), n.ints("ends"), n.ints("axes")
	if starts == nil || ends == nil {
		return n.errorf("attributes starts and ends are required")
	}
	st, err := imp.constInt(n, "starts", ir.Shape{len(starts)}, starts)
	if err != nil {
		return err
	}
	en, err := imp.constInt(n, "ends", ir.Shape{len(ends)}, ends)
	if err != nil {
		return err
	}
	ins := []string{n.in(0), st, en}
	if axes != nil {
		ax, err := imp.constInt(n, "axes", ir.Shape{len(axes)}, axes)
		if err != nil {
			return err
		}
		ins = append(ins, ax)
	}
	_, err = imp.add(n, ir.OpSlice, n.out(), ir.Attrs{}, ins...)
	return err
}

func lowerConstantOfShape(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	var val *ir.Tensor
	if tp := n.tensor("value"); tp != nil {
		v, err := tp.toIR()
		if err != nil {
			return n.errorf("value: %v", err)
		}
		if v.Len() != 1 {
			return n.errorf("value must hold one element, has shape %v", v.Shape)
		}
		val = v
	}
	_, err := imp.add(n, ir.OpConstOfShape, n.out(), ir.Attrs{Value: val}, n.in(0))
	return err
}

func lowerClip(imp *importer, n *node) error {
	lo, hi := float32(-math.MaxFloat32), float32(math.MaxFloat32)
	hasLo, hasHi := false, false
	if imp.opset < 11 {
		if err := inputs(n, 1, 1); err != nil {
			return err
		}
		hasLo, hasHi = n.has("min"), n.has("max")
		lo, hi = n.float("min", lo), n.float("max", hi)
	} else {
		if err := inputs(n, 1, 3); err != nil {
			return err
		}
		// A bound computed from the data (max(x, ReduceMax(x) − 80) of a
		// log-mel front end) makes the Clip a Max and a Min of computed
		// values.
		lowIn, highIn := n.in(1), n.in(2)
		if computed(imp, lowIn) || computed(imp, highIn) {
			return clipComputed(imp, n, lowIn, highIn)
		}
		var err error
		if lowIn != "" {
			if lo, err = imp.constScalar(n, lowIn, "min"); err != nil {
				return err
			}
			hasLo = true
		}
		if highIn != "" {
			if hi, err = imp.constScalar(n, highIn, "max"); err != nil {
				return err
			}
			hasHi = true
		}
	}
	if !hasLo && !hasHi {
		_, err := imp.add(n, ir.OpIdentity, n.out(), ir.Attrs{}, n.in(0))
		return err
	}
	_, err := imp.add(n, ir.OpClip, n.out(), ir.Attrs{Min: lo, Max: hi}, n.in(0))
	return err
}

// computed reports whether value name is present and not a constant.
func computed(imp *importer, name string) bool {
	return name != "" && imp.g.Values[name] != nil && imp.g.Values[name].Const == nil
}

// clipComputed imports Clip(x, lo, hi) with a bound that is not a
// constant: Max(x, lo) and Min(·, hi) for the computed bounds, a Clip for
// a constant one (none for an infinite one), leaving out absent bounds.
func clipComputed(imp *importer, n *node, lo, hi string) error {
	type step struct {
		op    ir.Op
		in    string
		attrs ir.Attrs
	}
	var steps []step
	cl := ir.Attrs{Min: -math.MaxFloat32, Max: math.MaxFloat32}
	constant := false
	for i, b := range []string{lo, hi} {
		switch {
		case b == "":
		case computed(imp, b):
			op := ir.OpMax
			if i == 1 {
				op = ir.OpMin
			}
			steps = append(steps, step{op: op, in: b})
		default:
			v, err := imp.constScalar(n, b, []string{"min", "max"}[i])
			if err != nil {
				return err
			}
			if math.IsInf(float64(v), 0) || math.Abs(float64(v)) >= math.MaxFloat32 {
				continue
			}
			if i == 0 {
				cl.Min = v
			} else {
				cl.Max = v
			}
			constant = true
		}
	}
	if constant {
		steps = append(steps, step{op: ir.OpClip, attrs: cl})
	}
	x := n.in(0)
	for i, st := range steps {
		out := n.out()
		if i < len(steps)-1 {
			out = imp.g.UniqueName(n.out() + "/" + string(st.op))
		}
		ins := []string{x}
		if st.in != "" {
			ins = append(ins, st.in)
		}
		if _, err := imp.add(n, st.op, out, st.attrs, ins...); err != nil {
			return err
		}
		x = out
	}
	return nil
}

func lowerGemm(imp *importer, n *node) error {
	if err := inputs(n, 2, 3); err != nil {
		return err
	}
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	transA, transB := n.int("transA", 0) != 0, n.int("transB", 0) != 0
	for i := 0; i < 2; i++ {
		s, err := imp.shape(n, n.in(i))
		if err != nil {
			return err
		}
		if len(s) != 2 {
			return n.errorf("input %d must be 2-D, got %v", i, s)
		}
	}
	a, b := n.in(0), n.in(1)
	var err error
	if transA {
		if a, err = imp.add(n, ir.OpTranspose, "", ir.Attrs{Perm: []int{1, 0}}, a); err != nil {
			return err
		}
	}
	if transB {
		if b, err = imp.add(n, ir.OpTranspose, "", ir.Attrs{Perm: []int{1, 0}}, b); err != nil {
			return err
		}
	}
	c := n.in(2)
	if beta == 0 {
		c = ""
	}
	scale := alpha != 1
	// out names the value a step computes: the node's output for the last.
	out := func(last bool) string {
		if last {
			return n.out()
		}
		return ""
	}
	y, err := imp.add(n, ir.OpMatMul, out(!scale && c == ""), ir.Attrs{}, a, b)
	if err != nil {
		return err
	}
	if scale {
		k, err := imp.constFloat(n, "alpha", alpha)
		if err != nil {
			return err
		}
		if y, err = imp.add(n, ir.OpMul, out(c == ""), ir.Attrs{}, y, k); err != nil {
			return err
		}
	}
	if c == "" {
		return nil
	}
	if beta != 1 {
		k, err := imp.constFloat(n, "beta", beta)
		if err != nil {
			return err
		}
		if c, err = imp.add(n, ir.OpMul, "", ir.Attrs{}, c, k); err != nil {
			return err
		}
	}
	_, err = imp.add(n, ir.OpAdd, n.out(), ir.Attrs{}, y, c)
	return err
}
