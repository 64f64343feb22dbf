package tf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DataType is TensorFlow's element type (the DataType enum of types.proto).
type DataType int32

// The element types this package knows by name. Tensors of the types marked
// "decoded" can be read and written; the rest are named only for errors.
const (
	DTInvalid    DataType = 0
	DTFloat      DataType = 1  // decoded
	DTDouble     DataType = 2  // decoded (rounded to float32)
	DTInt32      DataType = 3  // decoded
	DTUint8      DataType = 4  // decoded
	DTInt16      DataType = 5  // decoded
	DTInt8       DataType = 6  // decoded
	DTString     DataType = 7  // decoded as bytes; no IR value
	DTComplex64  DataType = 8  //
	DTInt64      DataType = 9  // decoded
	DTBool       DataType = 10 // decoded (as 0 and 1)
	DTQInt8      DataType = 11 //
	DTQUint8     DataType = 12 //
	DTQInt32     DataType = 13 //
	DTBFloat16   DataType = 14 // decoded
	DTQInt16     DataType = 15 //
	DTQUint16    DataType = 16 //
	DTUint16     DataType = 17 // decoded
	DTComplex128 DataType = 18 //
	DTHalf       DataType = 19 // decoded
	DTResource   DataType = 20 //
	DTVariant    DataType = 21 //
	DTUint32     DataType = 22 // decoded
	DTUint64     DataType = 23 // decoded
)

var dataTypeNames = map[DataType]string{
	DTInvalid: "DT_INVALID", DTFloat: "DT_FLOAT", DTDouble: "DT_DOUBLE",
	DTInt32: "DT_INT32", DTUint8: "DT_UINT8", DTInt16: "DT_INT16",
	DTInt8: "DT_INT8", DTString: "DT_STRING", DTComplex64: "DT_COMPLEX64",
	DTInt64: "DT_INT64", DTBool: "DT_BOOL", DTQInt8: "DT_QINT8",
	DTQUint8: "DT_QUINT8", DTQInt32: "DT_QINT32", DTBFloat16: "DT_BFLOAT16",
	DTQInt16: "DT_QINT16", DTQUint16: "DT_QUINT16", DTUint16: "DT_UINT16",
	DTComplex128: "DT_COMPLEX128", DTHalf: "DT_HALF", DTResource: "DT_RESOURCE",
	DTVariant: "DT_VARIANT", DTUint32: "DT_UINT32", DTUint64: "DT_UINT64",
}

// String returns the enum name, such as "DT_FLOAT".
func (d DataType) String() string {
	if s, ok := dataTypeNames[d]; ok {
		return s
	}
	return "DataType(" + strconv.Itoa(int(d)) + ")"
}

// parseDataType accepts an enum name ("DT_FLOAT") or number ("1").
func parseDataType(s string) (DataType, error) {
	for d, name := range dataTypeNames {
		if name == s {
			return d, nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return DataType(n), nil
	}
	return 0, fmt.Errorf("unknown data type %q", s)
}

// isFloat reports whether d's elements are held in Tensor.Floats.
func (d DataType) isFloat() bool {
	return d == DTFloat || d == DTDouble || d == DTHalf || d == DTBFloat16
}

// isInt reports whether d's elements are held in Tensor.Ints.
func (d DataType) isInt() bool {
	switch d {
	case DTInt32, DTUint8, DTInt16, DTInt8, DTInt64, DTBool, DTUint16, DTUint32, DTUint64:
		return true
	}
	return false
}

// GraphDef is a TensorFlow graph: the subset of tensorflow.GraphDef that
// frozen inference graphs use.
type GraphDef struct {
	Nodes []*NodeDef
	// Functions is the graph's function library, which the branches of
	// If and StatelessIf name (gradients are not kept).
	Functions []*FunctionDef
	// Producer and MinConsumer are the graph's VersionDef.
	Producer, MinConsumer int32
	// Outputs names the graph's output tensors ("node" or "node:i") when
	// the source says which they are (a TF.js signature); binary GraphDefs
	// do not, and Import then takes every node no other node reads.
	Outputs []string
}

// FunctionDef is one function of a graph's library: the subset of
// tensorflow.FunctionDef that names its arguments and results and holds
// its body. Inside the body a node reads an argument by its name and
// another node's output as "node:output_arg:index".
type FunctionDef struct {
	Name    string
	Inputs  []FuncArg  // the signature's input_arg, in order
	Outputs []FuncArg  // the signature's output_arg, in order
	Nodes   []*NodeDef // node_def
	// Ret maps each output_arg name to the body tensor that returns it.
	Ret map[string]string
}

// FuncArg is an argument or result of a function (tensorflow.OpDef.ArgDef:
// its name and, when it has a fixed one, its type).
type FuncArg struct {
	Name string
	Type DataType
}

// NodeDef is one operation of a GraphDef.
type NodeDef struct {
	Name   string
	Op     string
	Inputs []string // "node", "node:i", or "^node" for a control input
	Device string
	Attrs  map[string]*AttrValue
}

// AttrKind says which field of an AttrValue is set.
type AttrKind uint8

// The kinds of attribute value (the oneof of tensorflow.AttrValue).
const (
	AttrNone AttrKind = iota
	AttrS
	AttrI
	AttrF
	AttrB
	AttrType
	AttrShape
	AttrTensor
	AttrList
	AttrFunc        // only the function's name is kept
	AttrPlaceholder // the placeholder's name is kept in S
)

// AttrValue is the value of one node attribute.
type AttrValue struct {
	Kind   AttrKind
	S      []byte
	I      int64
	F      float32
	B      bool
	Type   DataType
	Shape  *TensorShape
	Tensor *Tensor
	List   *AttrListValue
	Func   string
}

// AttrListValue is a list-valued attribute (tensorflow.AttrValue.ListValue).
type AttrListValue struct {
	S      [][]byte
	I      []int64
	F      []float32
	B      []bool
	Type   []DataType
	Shape  []*TensorShape
	Tensor []*Tensor
	Func   []string
}

// TensorShape is a possibly partial shape; -1 marks an unknown dimension.
type TensorShape struct {
	Dims        []int64
	UnknownRank bool
}

// String formats s like "[-1,224,224,3]".
func (s *TensorShape) String() string {
	if s == nil || s.UnknownRank {
		return "<unknown rank>"
	}
	parts := make([]string, len(s.Dims))
	for i, d := range s.Dims {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Tensor is a decoded tensorflow.TensorProto: every element is present
// (the proto's short forms are expanded). Float types keep their elements
// in Floats, integer types and DT_BOOL in Ints, DT_STRING in Strings.
type Tensor struct {
	DType   DataType
	Shape   []int64
	Floats  []float32
	Ints    []int64
	Strings [][]byte
}

// maxTensorElements bounds the element count of any decoded tensor, so a
// hostile file cannot ask for an absurd allocation (a VGG-16 fc layer has
// about 1e8). Tests lower it.
var maxTensorElements = 1 << 29

// numElements returns the product of dims, checking each is non-negative
// and the product stays within maxTensorElements.
func numElements(dims []int64) (int, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", dims)
		}
		if d != 0 && n > int64(maxTensorElements)/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", dims, maxTensorElements)
		}
		n *= d
	}
	return int(n), nil
}

// attr returns n's attribute name, or nil.
func (n *NodeDef) attr(name string) *AttrValue {
	if n.Attrs == nil {
		return nil
	}
	return n.Attrs[name]
}

// halfToFloat decodes an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: frac × 2^-24, exact in float32.
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// floatToHalf encodes f as binary16, rounding to nearest even.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	if exp == 0xff { // Inf or NaN (keep a quiet NaN bit)
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := frac | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 != 0) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 != 0) {
		h++ // may carry into the exponent, which is still right
	}
	return sign | uint16(h)
}

// bfloat16ToFloat decodes a bfloat16 value (the top half of a float32).
func bfloat16ToFloat(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// floatToBFloat16 rounds f to bfloat16, nearest even.
func floatToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
