package tf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// field is one decoded protobuf field: v holds varint and fixed values, b
// the payload of length-delimited ones.
type field struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

// eachField calls fn for every field of the message in b, in order.
func eachField(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			f.v = uint64(x)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (f field) want(t protowire.Type) error {
	if f.typ != t {
		return fmt.Errorf("field %d has wire type %d, want %d", f.num, f.typ, t)
	}
	return nil
}

func (f field) bytes() ([]byte, error) { return f.b, f.want(protowire.BytesType) }

func (f field) str() (string, error) {
	b, err := f.bytes()
	return string(b), err
}

func (f field) varint() (uint64, error) { return f.v, f.want(protowire.VarintType) }

func (f field) fixed32() (uint32, error) { return uint32(f.v), f.want(protowire.Fixed32Type) }

// varints returns the values of a repeated varint field, packed or not.
func (f field) varints() ([]uint64, error) {
	if f.typ == protowire.VarintType {
		return []uint64{f.v}, nil
	}
	if err := f.want(protowire.BytesType); err != nil {
		return nil, err
	}
	var out []uint64
	for b := f.b; len(b) > 0; {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, fmt.Errorf("field %d: %w", f.num, protowire.ParseError(n))
		}
		out = append(out, v)
		b = b[n:]
	}
	return out, nil
}

// fixed32s returns the values of a repeated fixed32 field, packed or not.
func (f field) fixed32s() ([]uint32, error) {
	if f.typ == protowire.Fixed32Type {
		return []uint32{uint32(f.v)}, nil
	}
	if err := f.want(protowire.BytesType); err != nil {
		return nil, err
	}
	if len(f.b)%4 != 0 {
		return nil, fmt.Errorf("field %d: packed fixed32 of %d bytes", f.num, len(f.b))
	}
	out := make([]uint32, len(f.b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(f.b[4*i:])
	}
	return out, nil
}

// fixed64s returns the values of a repeated fixed64 field, packed or not.
func (f field) fixed64s() ([]uint64, error) {
	if f.typ == protowire.Fixed64Type {
		return []uint64{f.v}, nil
	}
	if err := f.want(protowire.BytesType); err != nil {
		return nil, err
	}
	if len(f.b)%8 != 0 {
		return nil, fmt.Errorf("field %d: packed fixed64 of %d bytes", f.num, len(f.b))
	}
	out := make([]uint64, len(f.b)/8)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(f.b[8*i:])
	}
	return out, nil
}

// ParseGraphDef decodes a binary tensorflow.GraphDef (a frozen .pb file).
func ParseGraphDef(data []byte) (*GraphDef, error) {
	gd := &GraphDef{}
	pad := newPadBudget()
	err := eachField(data, func(f field) error {
		switch f.num {
		case fGraphNode:
			b, err := f.bytes()
			if err != nil {
				return err
			}
			n, err := parseNodeDef(b, pad)
			if err != nil {
				return fmt.Errorf("node %d%s: %w", len(gd.Nodes), quoteName(n), err)
			}
			gd.Nodes = append(gd.Nodes, n)
		case fGraphLibrary:
			b, err := f.bytes()
			if err != nil {
				return err
			}
			return eachField(b, func(f field) error {
				if f.num != fLibraryFunction {
					return nil
				}
				b, err := f.bytes()
				if err != nil {
					return err
				}
				fn, err := parseFunctionDef(b, pad)
				if err != nil {
					name := ""
					if fn != nil && fn.Name != "" {
						name = fmt.Sprintf(" %q", fn.Name)
					}
					return fmt.Errorf("library function %d%s: %w", len(gd.Functions), name, err)
				}
				gd.Functions = append(gd.Functions, fn)
				return nil
			})
		case fGraphVersions:
			b, err := f.bytes()
			if err != nil {
				return err
			}
			return eachField(b, func(f field) error {
				switch f.num {
				case fVersionProducer, fVersionMinConsumer:
					v, err := f.varint()
					if err != nil {
						return fmt.Errorf("versions: %w", err)
					}
					if f.num == fVersionProducer {
						gd.Producer = int32(v)
					} else {
						gd.MinConsumer = int32(v)
					}
				}
				return nil
			})
		}
		return nil
	})
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("decoding GraphDef (the file is truncated or is not a binary GraphDef): %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding GraphDef: %w", err)
	}
	return gd, nil
}

// parseFunctionDef decodes a tensorflow.FunctionDef: its signature's
// name and arguments, its body and its ret map.
func parseFunctionDef(b []byte, pad *padBudget) (*FunctionDef, error) {
	fn := &FunctionDef{Ret: map[string]string{}}
	err := eachField(b, func(f field) error {
		switch f.num {
		case fFunctionSignature:
			b, err := f.bytes()
			if err != nil {
				return err
			}
			return eachField(b, func(f field) error {
				var err error
				switch f.num {
				case fOpDefName:
					fn.Name, err = f.str()
				case fOpDefInputArg, fOpDefOutputArg:
					var b []byte
					if b, err = f.bytes(); err != nil {
						return err
					}
					var arg FuncArg
					err = eachField(b, func(f field) error {
						var err error
						var v uint64
						switch f.num {
						case fArgDefName:
							arg.Name, err = f.str()
						case fArgDefType:
							v, err = f.varint()
							arg.Type = DataType(int32(v))
						}
						return err
					})
					if f.num == fOpDefInputArg {
						fn.Inputs = append(fn.Inputs, arg)
					} else {
						fn.Outputs = append(fn.Outputs, arg)
					}
				}
				return err
			})
		case fFunctionNode:
			b, err := f.bytes()
			if err != nil {
				return err
			}
			n, err := parseNodeDef(b, pad)
			if err != nil {
				return fmt.Errorf("node %d%s: %w", len(fn.Nodes), quoteName(n), err)
			}
			fn.Nodes = append(fn.Nodes, n)
		case fFunctionRet:
			b, err := f.bytes()
			if err != nil {
				return err
			}
			var key, val string
			err = eachField(b, func(f field) error {
				var err error
				switch f.num {
				case fMapKey:
					key, err = f.str()
				case fMapValue:
					val, err = f.str()
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("ret: %w", err)
			}
			fn.Ret[key] = val
		}
		return nil
	})
	return fn, err
}

func quoteName(n *NodeDef) string {
	if n == nil || n.Name == "" {
		return ""
	}
	return fmt.Sprintf(" %q", n.Name)
}

func parseNodeDef(b []byte, pad *padBudget) (*NodeDef, error) {
	n := &NodeDef{Attrs: map[string]*AttrValue{}}
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case fNodeName:
			n.Name, err = f.str()
		case fNodeOp:
			n.Op, err = f.str()
		case fNodeInput:
			var s string
			s, err = f.str()
			n.Inputs = append(n.Inputs, s)
		case fNodeDevice:
			n.Device, err = f.str()
		case fNodeAttr:
			var entry []byte
			if entry, err = f.bytes(); err != nil {
				return err
			}
			var key string
			var val *AttrValue
			err = eachField(entry, func(f field) error {
				var err error
				switch f.num {
				case fMapKey:
					key, err = f.str()
				case fMapValue:
					var b []byte
					if b, err = f.bytes(); err == nil {
						val, err = parseAttrValue(b, pad)
					}
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("attr %q: %w", key, err)
			}
			if val == nil {
				val = &AttrValue{}
			}
			n.Attrs[key] = val
		}
		return err
	})
	return n, err
}

func parseAttrValue(b []byte, pad *padBudget) (*AttrValue, error) {
	a := &AttrValue{}
	err := eachField(b, func(f field) error {
		var err error
		var v uint64
		var bs []byte
		switch f.num {
		case fAttrList:
			if bs, err = f.bytes(); err == nil {
				a.Kind = AttrList
				a.List, err = parseListValue(bs, pad)
			}
		case fAttrS:
			if bs, err = f.bytes(); err == nil {
				a.Kind, a.S = AttrS, bs
			}
		case fAttrI:
			if v, err = f.varint(); err == nil {
				a.Kind, a.I = AttrI, int64(v)
			}
		case fAttrF:
			var x uint32
			if x, err = f.fixed32(); err == nil {
				a.Kind, a.F = AttrF, math.Float32frombits(x)
			}
		case fAttrB:
			if v, err = f.varint(); err == nil {
				a.Kind, a.B = AttrB, v != 0
			}
		case fAttrType:
			if v, err = f.varint(); err == nil {
				a.Kind, a.Type = AttrType, DataType(int32(v))
			}
		case fAttrShape:
			if bs, err = f.bytes(); err == nil {
				a.Kind = AttrShape
				a.Shape, err = parseShape(bs)
			}
		case fAttrTensor:
			if bs, err = f.bytes(); err == nil {
				a.Kind = AttrTensor
				a.Tensor, err = parseTensor(bs, pad)
			}
		case fAttrPlaceholder:
			if bs, err = f.bytes(); err == nil {
				a.Kind, a.S = AttrPlaceholder, bs
			}
		case fAttrFunc:
			if bs, err = f.bytes(); err == nil {
				a.Kind = AttrFunc
				a.Func, err = parseFuncName(bs)
			}
		}
		return err
	})
	return a, err
}

func parseFuncName(b []byte) (string, error) {
	var name string
	err := eachField(b, func(f field) error {
		var err error
		if f.num == fNameAttrListName {
			name, err = f.str()
		}
		return err
	})
	return name, err
}

func parseListValue(b []byte, pad *padBudget) (*AttrListValue, error) {
	l := &AttrListValue{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case fListS:
			s, err := f.bytes()
			l.S = append(l.S, s)
			return err
		case fListI:
			vs, err := f.varints()
			for _, v := range vs {
				l.I = append(l.I, int64(v))
			}
			return err
		case fListF:
			vs, err := f.fixed32s()
			for _, v := range vs {
				l.F = append(l.F, math.Float32frombits(v))
			}
			return err
		case fListB:
			vs, err := f.varints()
			for _, v := range vs {
				l.B = append(l.B, v != 0)
			}
			return err
		case fListType:
			vs, err := f.varints()
			for _, v := range vs {
				l.Type = append(l.Type, DataType(int32(v)))
			}
			return err
		case fListShape:
			bs, err := f.bytes()
			if err != nil {
				return err
			}
			s, err := parseShape(bs)
			l.Shape = append(l.Shape, s)
			return err
		case fListTensor:
			bs, err := f.bytes()
			if err != nil {
				return err
			}
			t, err := parseTensor(bs, pad)
			l.Tensor = append(l.Tensor, t)
			return err
		case fListFunc:
			bs, err := f.bytes()
			if err != nil {
				return err
			}
			name, err := parseFuncName(bs)
			l.Func = append(l.Func, name)
			return err
		}
		return nil
	})
	return l, err
}

func parseShape(b []byte) (*TensorShape, error) {
	s := &TensorShape{Dims: []int64{}}
	err := eachField(b, func(f field) error {
		switch f.num {
		case fShapeDim:
			bs, err := f.bytes()
			if err != nil {
				return err
			}
			var size int64
			err = eachField(bs, func(f field) error {
				if f.num == fDimSize {
					v, err := f.varint()
					size = int64(v)
					return err
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("shape dim: %w", err)
			}
			s.Dims = append(s.Dims, size)
		case fShapeUnknownRank:
			v, err := f.varint()
			s.UnknownRank = v != 0
			return err
		}
		return nil
	})
	return s, err
}

// tensorFields gathers a TensorProto's fields before they are checked
// against its dtype and shape.
type tensorFields struct {
	dtype   DataType
	shape   *TensorShape
	content []byte
	floats  []float32
	doubles []float64
	ints    []int64 // int_val, half_val (bit patterns), bool_val, int64_val, uint32_val, uint64_val
	strings [][]byte
	// which repeated field held values, for the error message when it does
	// not match the dtype.
	valField protowire.Number
}

func parseTensor(b []byte, pad *padBudget) (*Tensor, error) {
	var tf tensorFields
	addVal := func(num protowire.Number) error {
		if tf.valField != 0 && tf.valField != num {
			return fmt.Errorf("tensor has values in both field %d and field %d", tf.valField, num)
		}
		tf.valField = num
		return nil
	}
	err := eachField(b, func(f field) error {
		switch f.num {
		case fTensorDType:
			v, err := f.varint()
			tf.dtype = DataType(int32(v))
			return err
		case fTensorShape:
			bs, err := f.bytes()
			if err != nil {
				return err
			}
			tf.shape, err = parseShape(bs)
			return err
		case fTensorContent:
			bs, err := f.bytes()
			tf.content = bs
			return err
		case fTensorFloat:
			vs, err := f.fixed32s()
			if err != nil {
				return err
			}
			for _, v := range vs {
				tf.floats = append(tf.floats, math.Float32frombits(v))
			}
			return addVal(f.num)
		case fTensorDouble:
			vs, err := f.fixed64s()
			if err != nil {
				return err
			}
			for _, v := range vs {
				tf.doubles = append(tf.doubles, math.Float64frombits(v))
			}
			return addVal(f.num)
		case fTensorInt, fTensorHalf, fTensorBool, fTensorInt64, fTensorUint32, fTensorUint64:
			vs, err := f.varints()
			if err != nil {
				return err
			}
			for _, v := range vs {
				switch f.num {
				case fTensorInt:
					tf.ints = append(tf.ints, int64(int32(v)))
				case fTensorUint32:
					tf.ints = append(tf.ints, int64(uint32(v)))
				default:
					tf.ints = append(tf.ints, int64(v))
				}
			}
			return addVal(f.num)
		case fTensorString:
			bs, err := f.bytes()
			tf.strings = append(tf.strings, bs)
			if err != nil {
				return err
			}
			return addVal(f.num)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tensor: %w", err)
	}
	t, err := tf.build(pad)
	if err != nil {
		return nil, fmt.Errorf("tensor: %w", err)
	}
	return t, nil
}

// valueField is the repeated TensorProto field that holds elements of d.
func valueField(d DataType) protowire.Number {
	switch d {
	case DTFloat:
		return fTensorFloat
	case DTDouble:
		return fTensorDouble
	case DTInt32, DTUint8, DTInt16, DTInt8:
		return fTensorInt
	case DTInt64:
		return fTensorInt64
	case DTBool:
		return fTensorBool
	case DTHalf, DTBFloat16:
		return fTensorHalf
	case DTUint32:
		return fTensorUint32
	case DTUint64:
		return fTensorUint64
	case DTString:
		return fTensorString
	}
	return 0
}

// padBudget bounds the memory that padding short tensors creates in one
// model: a few bytes of protobuf (a shape and no values) would otherwise
// expand to gigabytes, tensor after tensor.
type padBudget struct{ left int }

// maxPadBytes is the padBudget of one model: 256 MiB of elements that no
// byte of the file holds (TensorFlow stores tf.zeros and tf.fill results
// this way; real models' padded constants are far smaller).
const maxPadBytes = 256 << 20

func newPadBudget() *padBudget { return &padBudget{left: maxPadBytes} }

// take charges n padded elements of size bytes each.
func (b *padBudget) take(n, size int) error {
	if n > 0 && (size > b.left/n) {
		return fmt.Errorf("padding %d elements would take the model's padded constants past %d bytes", n, maxPadBytes)
	}
	b.left -= n * size
	return nil
}

// build checks the gathered fields against the dtype and shape and expands
// them into a Tensor. As in TensorFlow, a repeated-value field shorter than
// the shape is padded with its last value (all zeros when empty); the
// padding is charged to pad.
func (tf *tensorFields) build(pad *padBudget) (*Tensor, error) {
	t := &Tensor{DType: tf.dtype, Shape: []int64{}}
	if tf.shape != nil {
		if tf.shape.UnknownRank {
			return nil, errors.New("constant tensor has unknown rank")
		}
		t.Shape = tf.shape.Dims
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return nil, err
	}
	d := tf.dtype
	want := valueField(d)
	if want == 0 {
		return nil, fmt.Errorf("dtype %v is not supported", d)
	}
	if tf.valField != 0 && tf.valField != want {
		return nil, fmt.Errorf("dtype %v holds its values in field %d, not field %d", d, want, tf.valField)
	}
	if d == DTString {
		if len(tf.strings) > n {
			return nil, fmt.Errorf("%d strings for shape %v", len(tf.strings), t.Shape)
		}
		if err := pad.take(n-len(tf.strings), 24); err != nil { // a slice header each
			return nil, err
		}
		t.Strings = tf.strings
		for len(t.Strings) < n {
			var last []byte
			if len(tf.strings) > 0 {
				last = tf.strings[len(tf.strings)-1]
			}
			t.Strings = append(t.Strings, last)
		}
		return t, nil
	}
	if len(tf.content) > 0 {
		if tf.valField != 0 {
			return nil, errors.New("tensor has both tensor_content and repeated values")
		}
		if len(tf.content) != n*elemSize(d) {
			return nil, fmt.Errorf("tensor_content has %d bytes, shape %v of %v needs %d", len(tf.content), t.Shape, d, n*elemSize(d))
		}
		decodeContent(t, tf.content, n)
		return t, nil
	}
	count := len(tf.floats) + len(tf.doubles) + len(tf.ints)
	if count > n {
		return nil, fmt.Errorf("%d values for shape %v", count, t.Shape)
	}
	size := 8
	if d.isFloat() {
		size = 4
	}
	if err := pad.take(n-count, size); err != nil {
		return nil, err
	}
	if d.isFloat() {
		t.Floats = make([]float32, n)
		for i := range t.Floats {
			j := min(i, count-1)
			switch {
			case count == 0:
			case d == DTFloat:
				t.Floats[i] = tf.floats[j]
			case d == DTDouble:
				t.Floats[i] = float32(tf.doubles[j])
			case d == DTHalf:
				t.Floats[i] = halfToFloat(uint16(tf.ints[j]))
			case d == DTBFloat16:
				t.Floats[i] = bfloat16ToFloat(uint16(tf.ints[j]))
			}
		}
		return t, nil
	}
	t.Ints = make([]int64, n)
	for i := range t.Ints {
		if count > 0 {
			t.Ints[i] = normInt(d, tf.ints[min(i, count-1)])
		}
	}
	return t, nil
}

// normInt wraps v to the range of integer type d, as a C++ cast would.
func normInt(d DataType, v int64) int64 {
	switch d {
	case DTInt32:
		return int64(int32(v))
	case DTUint8:
		return int64(uint8(v))
	case DTInt16:
		return int64(int16(v))
	case DTInt8:
		return int64(int8(v))
	case DTUint16:
		return int64(uint16(v))
	case DTUint32:
		return int64(uint32(v))
	case DTBool:
		if v != 0 {
			return 1
		}
		return 0
	}
	return v
}

// decodeContent fills t from little-endian tensor_content bytes b holding
// n elements of t.DType.
func decodeContent(t *Tensor, b []byte, n int) {
	le := binary.LittleEndian
	if t.DType.isFloat() {
		t.Floats = make([]float32, n)
		for i := range t.Floats {
			switch t.DType {
			case DTFloat:
				t.Floats[i] = math.Float32frombits(le.Uint32(b[4*i:]))
			case DTDouble:
				t.Floats[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
			case DTHalf:
				t.Floats[i] = halfToFloat(le.Uint16(b[2*i:]))
			case DTBFloat16:
				t.Floats[i] = bfloat16ToFloat(le.Uint16(b[2*i:]))
			}
		}
		return
	}
	t.Ints = make([]int64, n)
	for i := range t.Ints {
		var v int64
		switch t.DType {
		case DTUint8:
			v = int64(b[i])
		case DTInt8:
			v = int64(int8(b[i]))
		case DTBool:
			v = int64(b[i])
		case DTInt16:
			v = int64(int16(le.Uint16(b[2*i:])))
		case DTUint16:
			v = int64(le.Uint16(b[2*i:]))
		case DTInt32:
			v = int64(int32(le.Uint32(b[4*i:])))
		case DTUint32:
			v = int64(le.Uint32(b[4*i:]))
		case DTInt64, DTUint64:
			v = int64(le.Uint64(b[8*i:]))
		}
		t.Ints[i] = normInt(t.DType, v)
	}
}
