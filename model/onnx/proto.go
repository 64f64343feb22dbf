package onnx

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file decodes the subset of onnx.proto that the importer reads. Field
// numbers are those of onnx.proto (ONNX IR version 8). Unknown fields are
// skipped, as protobuf requires; every length and count is checked against
// the bytes actually present before anything is allocated, so a corrupt or
// truncated file gives an error, never a panic or a huge allocation.

// Element types of TensorProto.DataType.
const (
	typeUndefined = 0
	typeFloat     = 1
	typeUint8     = 2
	typeInt8      = 3
	typeUint16    = 4
	typeInt16     = 5
	typeInt32     = 6
	typeInt64     = 7
	typeString    = 8
	typeBool      = 9
	typeFloat16   = 10
	typeDouble    = 11
	typeUint32    = 12
	typeUint64    = 13
	typeBfloat16  = 16
)

var typeNames = map[int64]string{
	typeUndefined: "UNDEFINED", typeFloat: "FLOAT", typeUint8: "UINT8", typeInt8: "INT8",
	typeUint16: "UINT16", typeInt16: "INT16", typeInt32: "INT32", typeInt64: "INT64",
	typeString: "STRING", typeBool: "BOOL", typeFloat16: "FLOAT16", typeDouble: "DOUBLE",
	typeUint32: "UINT32", typeUint64: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128",
	typeBfloat16: "BFLOAT16",
}

func typeName(t int64) string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type %d", t)
}

// Attribute types of AttributeProto.AttributeType.
const (
	attrFloat   = 1
	attrInt     = 2
	attrString  = 3
	attrTensor  = 4
	attrGraph   = 5
	attrFloats  = 6
	attrInts    = 7
	attrStrings = 8
)

type modelProto struct {
	irVersion int64
	opsets    []opsetID
	graph     *graphProto
}

type opsetID struct {
	domain  string
	version int64
}

type graphProto struct {
	name        string
	nodes       []*nodeProto
	initializer []*tensorProto
	input       []*valueInfo
	output      []*valueInfo
	valueInfo   []*valueInfo
	sparseInit  bool // has sparse initializers (unsupported)
}

type nodeProto struct {
	name    string
	opType  string
	domain  string
	inputs  []string
	outputs []string
	attrs   []*attribute
}

type attribute struct {
	name    string
	typ     int64
	f       float32
	i       int64
	s       []byte
	t       *tensorProto
	g       *graphProto // GRAPH: a subgraph (If's branches, Loop's body)
	floats  []float32
	ints    []int64
	strs    []string
	refAttr string
}

type tensorProto struct {
	name       string
	dims       []int64
	dataType   int64
	floatData  []float32
	int32Data  []int32
	int64Data  []int64
	doubleData []float64
	uint64Data []uint64
	rawData    []byte
	hasRaw     bool
	external   bool
	segment    bool
}

type valueInfo struct {
	name     string
	hasType  bool
	tensor   bool // type is a tensor type
	elemType int64
	hasShape bool
	dims     []dim
}

// dim is one dimension of a declared shape: a value, a symbolic name, or
// neither (unknown).
type dim struct {
	value    int64
	param    string
	hasValue bool
}

// errTruncated is wrapped by errors about malformed protobuf bytes.
var errTruncated = errors.New("malformed protobuf")

// Limits on subgraphs (graph-valued attributes): how deep they nest, and
// how many nodes the model holds in all its graphs together. Every graph,
// nested or not, is decoded with the same checks as the main graph.
const (
	maxGraphDepth = 16
	maxNodes      = 1 << 20
)

// decoder counts what one model's decoding has read, across its graphs.
type decoder struct {
	nodes    int
	maxNodes int
}

// fieldIter walks the fields of one message.
type fieldIter struct {
	b   []byte
	msg string // message name for errors
	num protowire.Number
	typ protowire.Type
	err error
	val []byte // the field's bytes (BytesType) or its raw encoding
	v   uint64 // VarintType, Fixed32Type, Fixed64Type value
}

func newIter(b []byte, msg string) *fieldIter { return &fieldIter{b: b, msg: msg} }

// next advances to the next field; it returns false at the end or on error.
func (it *fieldIter) next() bool {
	if it.err != nil || len(it.b) == 0 {
		return false
	}
	num, typ, n := protowire.ConsumeTag(it.b)
	if n < 0 {
		it.err = fmt.Errorf("%s: bad field tag: %w: %v", it.msg, errTruncated, protowire.ParseError(n))
		return false
	}
	it.b = it.b[n:]
	it.num, it.typ, it.val, it.v = num, typ, nil, 0
	switch typ {
	case protowire.VarintType:
		it.v, n = protowire.ConsumeVarint(it.b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(it.b)
		it.v = uint64(v)
	case protowire.Fixed64Type:
		it.v, n = protowire.ConsumeFixed64(it.b)
	case protowire.BytesType:
		it.val, n = protowire.ConsumeBytes(it.b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, it.b)
	}
	if n < 0 {
		it.err = fmt.Errorf("%s: field %d: %w: %v", it.msg, num, errTruncated, protowire.ParseError(n))
		return false
	}
	it.b = it.b[n:]
	return true
}

// want checks that the current field has wire type t.
func (it *fieldIter) want(t protowire.Type) bool {
	if it.typ != t {
		it.err = fmt.Errorf("%s: field %d has wire type %d, want %d: %w", it.msg, it.num, it.typ, t, errTruncated)
		return false
	}
	return true
}

func (it *fieldIter) str(dst *string) {
	if it.want(protowire.BytesType) {
		*dst = string(it.val)
	}
}

func (it *fieldIter) int64(dst *int64) {
	if it.want(protowire.VarintType) {
		*dst = int64(it.v)
	}
}

// ints appends a repeated int64/int32 field, packed or not.
func (it *fieldIter) ints(dst *[]int64) {
	switch it.typ {
	case protowire.VarintType:
		*dst = append(*dst, int64(it.v))
	case protowire.BytesType:
		b := it.val
		for len(b) > 0 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				it.err = fmt.Errorf("%s: field %d: packed varints: %w", it.msg, it.num, errTruncated)
				return
			}
			*dst = append(*dst, int64(v))
			b = b[n:]
		}
	default:
		it.want(protowire.VarintType)
	}
}

// fixed32s appends a repeated float field, packed or not.
func (it *fieldIter) floats(dst *[]float32) {
	switch it.typ {
	case protowire.Fixed32Type:
		*dst = append(*dst, math.Float32frombits(uint32(it.v)))
	case protowire.BytesType:
		if len(it.val)%4 != 0 {
			it.err = fmt.Errorf("%s: field %d: packed floats of %d bytes: %w", it.msg, it.num, len(it.val), errTruncated)
			return
		}
		if *dst == nil {
			*dst = make([]float32, 0, len(it.val)/4)
		}
		for b := it.val; len(b) > 0; b = b[4:] {
			*dst = append(*dst, math.Float32frombits(uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16|uint32(b[3])<<24))
		}
	default:
		it.want(protowire.Fixed32Type)
	}
}

// fixed64s appends a repeated double or fixed64 field, packed or not.
func (it *fieldIter) fixed64s(dst *[]uint64) {
	switch it.typ {
	case protowire.Fixed64Type:
		*dst = append(*dst, it.v)
	case protowire.BytesType:
		if len(it.val)%8 != 0 {
			it.err = fmt.Errorf("%s: field %d: packed 64-bit values of %d bytes: %w", it.msg, it.num, len(it.val), errTruncated)
			return
		}
		for b := it.val; len(b) > 0; b = b[8:] {
			v, _ := protowire.ConsumeFixed64(b)
			*dst = append(*dst, v)
		}
	default:
		it.want(protowire.Fixed64Type)
	}
}

func decodeModel(b []byte) (*modelProto, error) {
	d := &decoder{maxNodes: maxNodes}
	m := &modelProto{}
	it := newIter(b, "ModelProto")
	for it.next() {
		switch it.num {
		case 1:
			it.int64(&m.irVersion)
		case 7:
			if !it.want(protowire.BytesType) {
				break
			}
			if m.graph != nil {
				it.err = fmt.Errorf("ModelProto: more than one graph")
				break
			}
			g, err := d.graph(it.val, 0)
			if err != nil {
				return nil, err
			}
			m.graph = g
		case 8:
			if !it.want(protowire.BytesType) {
				break
			}
			var op opsetID
			sub := newIter(it.val, "OperatorSetIdProto")
			for sub.next() {
				switch sub.num {
				case 1:
					sub.str(&op.domain)
				case 2:
					sub.int64(&op.version)
				}
			}
			if sub.err != nil {
				return nil, sub.err
			}
			m.opsets = append(m.opsets, op)
		}
	}
	if it.err != nil {
		return nil, it.err
	}
	return m, nil
}

// graph decodes a GraphProto nested depth graphs below the main one.
func (d *decoder) graph(b []byte, depth int) (*graphProto, error) {
	if depth > maxGraphDepth {
		return nil, fmt.Errorf("subgraphs are nested more than %d deep", maxGraphDepth)
	}
	g := &graphProto{}
	it := newIter(b, "GraphProto")
	for it.next() {
		var err error
		switch it.num {
		case 1:
			if it.want(protowire.BytesType) {
				if d.nodes++; d.nodes > d.maxNodes {
					return nil, fmt.Errorf("the model has more than %d nodes", d.maxNodes)
				}
				var n *nodeProto
				if n, err = d.node(it.val, depth); err == nil {
					g.nodes = append(g.nodes, n)
				}
			}
		case 2:
			it.str(&g.name)
		case 5:
			if it.want(protowire.BytesType) {
				var t *tensorProto
				if t, err = decodeTensor(it.val); err == nil {
					g.initializer = append(g.initializer, t)
				}
			}
		case 15:
			g.sparseInit = true
		case 11, 12, 13:
			if it.want(protowire.BytesType) {
				var v *valueInfo
				if v, err = decodeValueInfo(it.val); err == nil {
					switch it.num {
					case 11:
						g.input = append(g.input, v)
					case 12:
						g.output = append(g.output, v)
					default:
						g.valueInfo = append(g.valueInfo, v)
					}
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("GraphProto %q: %w", g.name, err)
		}
	}
	if it.err != nil {
		return nil, it.err
	}
	return g, nil
}

func (d *decoder) node(b []byte, depth int) (*nodeProto, error) {
	n := &nodeProto{}
	it := newIter(b, "NodeProto")
	for it.next() {
		switch it.num {
		case 1, 2:
			var s string
			it.str(&s)
			if it.num == 1 {
				n.inputs = append(n.inputs, s)
			} else {
				n.outputs = append(n.outputs, s)
			}
		case 3:
			it.str(&n.name)
		case 4:
			it.str(&n.opType)
		case 7:
			it.str(&n.domain)
		case 5:
			if it.want(protowire.BytesType) {
				a, err := d.attr(it.val, depth)
				if err != nil {
					return nil, fmt.Errorf("node %q: %w", n.name, err)
				}
				n.attrs = append(n.attrs, a)
			}
		}
	}
	if it.err != nil {
		return nil, fmt.Errorf("node %q: %w", n.name, it.err)
	}
	return n, nil
}

func (d *decoder) attr(b []byte, depth int) (*attribute, error) {
	a := &attribute{}
	it := newIter(b, "AttributeProto")
	for it.next() {
		switch it.num {
		case 1:
			it.str(&a.name)
		case 20:
			it.int64(&a.typ)
		case 2:
			if it.want(protowire.Fixed32Type) {
				a.f = math.Float32frombits(uint32(it.v))
			}
		case 3:
			it.int64(&a.i)
		case 4:
			if it.want(protowire.BytesType) {
				a.s = it.val
			}
		case 5:
			if it.want(protowire.BytesType) {
				t, err := decodeTensor(it.val)
				if err != nil {
					return nil, fmt.Errorf("attribute %q: %w", a.name, err)
				}
				a.t = t
			}
		case 6:
			if it.want(protowire.BytesType) {
				if a.g != nil {
					return nil, fmt.Errorf("attribute %q holds more than one graph", a.name)
				}
				g, err := d.graph(it.val, depth+1)
				if err != nil {
					return nil, fmt.Errorf("attribute %q: %w", a.name, err)
				}
				a.g = g
			}
		case 7:
			it.floats(&a.floats)
		case 8:
			it.ints(&a.ints)
		case 9:
			if it.want(protowire.BytesType) {
				a.strs = append(a.strs, string(it.val))
			}
		case 21:
			it.str(&a.refAttr)
		}
	}
	if it.err != nil {
		return nil, fmt.Errorf("attribute %q: %w", a.name, it.err)
	}
	return a, nil
}

func decodeTensor(b []byte) (*tensorProto, error) {
	t := &tensorProto{}
	it := newIter(b, "TensorProto")
	for it.next() {
		switch it.num {
		case 1:
			it.ints(&t.dims)
		case 2:
			it.int64(&t.dataType)
		case 3:
			t.segment = true
		case 4:
			it.floats(&t.floatData)
		case 5:
			var xs []int64
			it.ints(&xs)
			for _, x := range xs {
				t.int32Data = append(t.int32Data, int32(x))
			}
		case 7:
			it.ints(&t.int64Data)
		case 8:
			it.str(&t.name)
		case 9:
			if it.want(protowire.BytesType) {
				t.rawData, t.hasRaw = it.val, true
			}
		case 10:
			var xs []uint64
			it.fixed64s(&xs)
			for _, x := range xs {
				t.doubleData = append(t.doubleData, math.Float64frombits(x))
			}
		case 11:
			var xs []int64
			it.ints(&xs)
			for _, x := range xs {
				t.uint64Data = append(t.uint64Data, uint64(x))
			}
		case 13:
			t.external = true
		case 14:
			var loc int64
			it.int64(&loc)
			if loc == 1 {
				t.external = true
			}
		}
	}
	if it.err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.name, it.err)
	}
	return t, nil
}

func decodeValueInfo(b []byte) (*valueInfo, error) {
	v := &valueInfo{}
	it := newIter(b, "ValueInfoProto")
	for it.next() {
		switch it.num {
		case 1:
			it.str(&v.name)
		case 2:
			if !it.want(protowire.BytesType) {
				break
			}
			tp := newIter(it.val, "TypeProto")
			for tp.next() {
				// A TypeProto that sets none of its value cases (tensor,
				// sequence, map, sparse tensor, optional) leaves the type
				// unknown, as exporters write for subgraph outputs.
				switch tp.num {
				case 1, 4, 5, 8, 9:
					v.hasType = true
				}
				if tp.num != 1 { // sequence, map, optional, sparse …
					continue
				}
				if !tp.want(protowire.BytesType) {
					break
				}
				v.tensor = true
				tt := newIter(tp.val, "TypeProto.Tensor")
				for tt.next() {
					switch tt.num {
					case 1:
						tt.int64(&v.elemType)
					case 2:
						if !tt.want(protowire.BytesType) {
							break
						}
						v.hasShape = true
						sh := newIter(tt.val, "TensorShapeProto")
						for sh.next() {
							if sh.num != 1 || !sh.want(protowire.BytesType) {
								continue
							}
							var d dim
							di := newIter(sh.val, "TensorShapeProto.Dimension")
							for di.next() {
								switch di.num {
								case 1:
									di.int64(&d.value)
									d.hasValue = true
								case 2:
									di.str(&d.param)
								}
							}
							if di.err != nil {
								return nil, fmt.Errorf("value %q: %w", v.name, di.err)
							}
							v.dims = append(v.dims, d)
						}
						if sh.err != nil {
							return nil, fmt.Errorf("value %q: %w", v.name, sh.err)
						}
					}
				}
				if tt.err != nil {
					return nil, fmt.Errorf("value %q: %w", v.name, tt.err)
				}
			}
			if tp.err != nil {
				return nil, fmt.Errorf("value %q: %w", v.name, tp.err)
			}
			// A ValueInfoProto with a type that is not a tensor stays
			// !tensor; the importer rejects it where it matters.
		}
	}
	if it.err != nil {
		return nil, fmt.Errorf("value %q: %w", v.name, it.err)
	}
	return v, nil
}
