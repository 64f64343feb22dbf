package tf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the TensorFlow protos read and written here
// (graph.proto, node_def.proto, attr_value.proto, tensor.proto,
// tensor_shape.proto, versions.proto).
const (
	fGraphNode     = 1
	fGraphVersions = 4

	fVersionProducer    = 1
	fVersionMinConsumer = 2

	fNodeName   = 1
	fNodeOp     = 2
	fNodeInput  = 3
	fNodeDevice = 4
	fNodeAttr   = 5

	fMapKey   = 1
	fMapValue = 2

	fAttrList        = 1
	fAttrS           = 2
	fAttrI           = 3
	fAttrF           = 4
	fAttrB           = 5
	fAttrType        = 6
	fAttrShape       = 7
	fAttrTensor      = 8
	fAttrPlaceholder = 9
	fAttrFunc        = 10

	fListS      = 2
	fListI      = 3
	fListF      = 4
	fListB      = 5
	fListType   = 6
	fListShape  = 7
	fListTensor = 8
	fListFunc   = 9

	fNameAttrListName = 1

	fShapeDim         = 2
	fShapeUnknownRank = 3
	fDimSize          = 1

	fTensorDType   = 1
	fTensorShape   = 2
	fTensorContent = 4
	fTensorFloat   = 5
	fTensorDouble  = 6
	fTensorInt     = 7
	fTensorString  = 8
	fTensorInt64   = 10
	fTensorBool    = 11
	fTensorHalf    = 13
	fTensorUint32  = 16
	fTensorUint64  = 17
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

// elemSize is the byte size of one element of d in tensor_content.
func elemSize(d DataType) int {
	switch d {
	case DTUint8, DTInt8, DTBool:
		return 1
	case DTInt16, DTUint16, DTHalf, DTBFloat16:
		return 2
	case DTFloat, DTInt32, DTUint32:
		return 4
	case DTDouble, DTInt64, DTUint64:
		return 8
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

// WriteGraphDef writes gd to w as a binary tensorflow.GraphDef, the frozen
// .pb format that LoadGraphDef and TensorFlow read. Numeric tensors are
// stored in tensor_content, little-endian; attribute maps are written in
// sorted key order, so equal graphs give equal bytes. Function attributes
// keep only the function's name, and GraphDef.Outputs, which has no place
// in the proto, is not written.
func WriteGraphDef(w io.Writer, gd *GraphDef) error {
	bw := bufio.NewWriter(w)
	var buf []byte
	for _, n := range gd.Nodes {
		body, err := appendNodeDef(nil, n)
		if err != nil {
			return fmt.Errorf("writing GraphDef: node %q: %w", n.Name, err)
		}
		buf = protowire.AppendTag(buf[:0], fGraphNode, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(len(body)))
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		if _, err := bw.Write(body); err != nil {
			return err
		}
	}
	if gd.Producer != 0 || gd.MinConsumer != 0 {
		var v []byte
		if gd.Producer != 0 {
			v = protowire.AppendTag(v, fVersionProducer, protowire.VarintType)
			v = protowire.AppendVarint(v, uint64(int64(gd.Producer)))
		}
		if gd.MinConsumer != 0 {
			v = protowire.AppendTag(v, fVersionMinConsumer, protowire.VarintType)
			v = protowire.AppendVarint(v, uint64(int64(gd.MinConsumer)))
		}
		buf = protowire.AppendTag(buf[:0], fGraphVersions, protowire.BytesType)
		buf = protowire.AppendBytes(buf, v)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// MarshalGraphDef returns gd in the binary format WriteGraphDef writes.
func MarshalGraphDef(gd *GraphDef) ([]byte, error) {
	var w sliceWriter
	err := WriteGraphDef(&w, gd)
	return w, err
}

type sliceWriter []byte

func (w *sliceWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendNodeDef(b []byte, n *NodeDef) ([]byte, error) {
	if n.Name != "" {
		b = appendString(b, fNodeName, n.Name)
	}
	if n.Op != "" {
		b = appendString(b, fNodeOp, n.Op)
	}
	for _, in := range n.Inputs {
		b = appendString(b, fNodeInput, in)
	}
	if n.Device != "" {
		b = appendString(b, fNodeDevice, n.Device)
	}
	keys := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := appendAttrValue(nil, n.Attrs[k])
		if err != nil {
			return nil, fmt.Errorf("attr %q: %w", k, err)
		}
		entry := appendString(nil, fMapKey, k)
		entry = appendMessage(entry, fMapValue, v)
		b = appendMessage(b, fNodeAttr, entry)
	}
	return b, nil
}

func appendAttrValue(b []byte, a *AttrValue) ([]byte, error) {
	if a == nil {
		return b, nil
	}
	switch a.Kind {
	case AttrNone:
	case AttrS:
		b = protowire.AppendTag(b, fAttrS, protowire.BytesType)
		b = protowire.AppendBytes(b, a.S)
	case AttrI:
		b = protowire.AppendTag(b, fAttrI, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case AttrF:
		b = protowire.AppendTag(b, fAttrF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrB:
		b = protowire.AppendTag(b, fAttrB, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(a.B))
	case AttrType:
		b = protowire.AppendTag(b, fAttrType, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(a.Type)))
	case AttrShape:
		b = appendMessage(b, fAttrShape, appendShape(nil, a.Shape))
	case AttrTensor:
		t, err := appendTensor(nil, a.Tensor)
		if err != nil {
			return nil, err
		}
		b = appendMessage(b, fAttrTensor, t)
	case AttrList:
		l, err := appendList(nil, a.List)
		if err != nil {
			return nil, err
		}
		b = appendMessage(b, fAttrList, l)
	case AttrFunc:
		b = appendMessage(b, fAttrFunc, appendString(nil, fNameAttrListName, a.Func))
	case AttrPlaceholder:
		b = appendString(b, fAttrPlaceholder, string(a.S))
	default:
		return nil, fmt.Errorf("unknown attribute kind %d", a.Kind)
	}
	return b, nil
}

func appendList(b []byte, l *AttrListValue) ([]byte, error) {
	if l == nil {
		return b, nil
	}
	for _, s := range l.S {
		b = protowire.AppendTag(b, fListS, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	if len(l.I) > 0 {
		var p []byte
		for _, v := range l.I {
			p = protowire.AppendVarint(p, uint64(v))
		}
		b = appendMessage(b, fListI, p)
	}
	if len(l.F) > 0 {
		var p []byte
		for _, v := range l.F {
			p = protowire.AppendFixed32(p, math.Float32bits(v))
		}
		b = appendMessage(b, fListF, p)
	}
	if len(l.B) > 0 {
		var p []byte
		for _, v := range l.B {
			p = protowire.AppendVarint(p, protowire.EncodeBool(v))
		}
		b = appendMessage(b, fListB, p)
	}
	if len(l.Type) > 0 {
		var p []byte
		for _, v := range l.Type {
			p = protowire.AppendVarint(p, uint64(int64(v)))
		}
		b = appendMessage(b, fListType, p)
	}
	for _, s := range l.Shape {
		b = appendMessage(b, fListShape, appendShape(nil, s))
	}
	for _, t := range l.Tensor {
		tb, err := appendTensor(nil, t)
		if err != nil {
			return nil, err
		}
		b = appendMessage(b, fListTensor, tb)
	}
	for _, f := range l.Func {
		b = appendMessage(b, fListFunc, appendString(nil, fNameAttrListName, f))
	}
	return b, nil
}

func appendShape(b []byte, s *TensorShape) []byte {
	if s == nil {
		return b
	}
	for _, d := range s.Dims {
		var dim []byte
		if d != 0 {
			dim = protowire.AppendTag(dim, fDimSize, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
		}
		b = appendMessage(b, fShapeDim, dim)
	}
	if s.UnknownRank {
		b = protowire.AppendTag(b, fShapeUnknownRank, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return b
}

func appendTensor(b []byte, t *Tensor) ([]byte, error) {
	if t == nil {
		return b, nil
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return nil, err
	}
	b = protowire.AppendTag(b, fTensorDType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(int64(t.DType)))
	b = appendMessage(b, fTensorShape, appendShape(nil, &TensorShape{Dims: t.Shape}))
	if t.DType == DTString {
		if len(t.Strings) != n {
			return nil, fmt.Errorf("%d strings for shape %v", len(t.Strings), t.Shape)
		}
		for _, s := range t.Strings {
			b = protowire.AppendTag(b, fTensorString, protowire.BytesType)
			b = protowire.AppendBytes(b, s)
		}
		return b, nil
	}
	size := elemSize(t.DType)
	if size == 0 {
		return nil, fmt.Errorf("dtype %v is not supported", t.DType)
	}
	if (t.DType.isFloat() && len(t.Floats) != n) || (t.DType.isInt() && len(t.Ints) != n) {
		return nil, fmt.Errorf("tensor of shape %v has %d float and %d integer elements", t.Shape, len(t.Floats), len(t.Ints))
	}
	if n == 0 {
		return b, nil
	}
	le := binary.LittleEndian
	c := make([]byte, n*size)
	for i := 0; i < n; i++ {
		switch t.DType {
		case DTFloat:
			le.PutUint32(c[4*i:], math.Float32bits(t.Floats[i]))
		case DTDouble:
			le.PutUint64(c[8*i:], math.Float64bits(float64(t.Floats[i])))
		case DTHalf:
			le.PutUint16(c[2*i:], floatToHalf(t.Floats[i]))
		case DTBFloat16:
			le.PutUint16(c[2*i:], floatToBFloat16(t.Floats[i]))
		case DTUint8, DTInt8, DTBool:
			c[i] = byte(t.Ints[i])
		case DTInt16, DTUint16:
			le.PutUint16(c[2*i:], uint16(t.Ints[i]))
		case DTInt32, DTUint32:
			le.PutUint32(c[4*i:], uint32(t.Ints[i]))
		case DTInt64, DTUint64:
			le.PutUint64(c[8*i:], uint64(t.Ints[i]))
		}
	}
	return appendMessage(b, fTensorContent, c), nil
}
