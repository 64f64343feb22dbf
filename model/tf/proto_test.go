package tf

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// A tiny protobuf encoder for hand-made messages.

type msg []byte

func (m msg) str(num protowire.Number, s string) msg {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendString(m, s)
}

func (m msg) sub(num protowire.Number, sub msg) msg {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendBytes(m, sub)
}

func (m msg) varint(num protowire.Number, v uint64) msg {
	m = protowire.AppendTag(m, num, protowire.VarintType)
	return protowire.AppendVarint(m, v)
}

func (m msg) fixed32(num protowire.Number, v uint32) msg {
	m = protowire.AppendTag(m, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(m, v)
}

// attrEntry is a NodeDef.attr map entry.
func attrEntry(key string, value msg) msg {
	return msg(nil).sub(fNodeAttr, msg(nil).str(fMapKey, key).sub(fMapValue, value))
}

func shapeMsg(dims ...int64) msg {
	var m msg
	for _, d := range dims {
		m = m.sub(fShapeDim, msg(nil).varint(fDimSize, uint64(d)))
	}
	return m
}

// TestTensorProtoForms decodes TensorProtos written in the proto's various
// forms: repeated values (packed and not), a single value filling the
// shape, tensor_content, and every decoded dtype.
func TestTensorProtoForms(t *testing.T) {
	half := func(v float32) uint64 { return uint64(floatToHalf(v)) }
	tests := []struct {
		name   string
		tensor msg
		want   *Tensor
	}{
		{"float_val unpacked", msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(2)).
			fixed32(fTensorFloat, math.Float32bits(1.5)).fixed32(fTensorFloat, math.Float32bits(-2)),
			&Tensor{DType: DTFloat, Shape: []int64{2}, Floats: []float32{1.5, -2}}},
		{"float_val packed fills shape", msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(2, 3)).
			sub(fTensorFloat, protowire.AppendFixed32(nil, math.Float32bits(0.25))),
			&Tensor{DType: DTFloat, Shape: []int64{2, 3}, Floats: []float32{0.25, 0.25, 0.25, 0.25, 0.25, 0.25}}},
		{"last value repeats", msg(nil).varint(fTensorDType, uint64(DTInt32)).sub(fTensorShape, shapeMsg(4)).
			varint(fTensorInt, 7).varint(fTensorInt, uint64(0xffffffffffffffff)),
			&Tensor{DType: DTInt32, Shape: []int64{4}, Ints: []int64{7, -1, -1, -1}}},
		{"no values is zeros", msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(3)),
			&Tensor{DType: DTFloat, Shape: []int64{3}, Floats: []float32{0, 0, 0}}},
		{"scalar", msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, nil).fixed32(fTensorFloat, math.Float32bits(3)),
			&Tensor{DType: DTFloat, Shape: []int64{}, Floats: []float32{3}}},
		{"int64_val", msg(nil).varint(fTensorDType, uint64(DTInt64)).sub(fTensorShape, shapeMsg(2)).
			sub(fTensorInt64, protowire.AppendVarint(protowire.AppendVarint(nil, 1<<40), uint64(1<<64-5))),
			&Tensor{DType: DTInt64, Shape: []int64{2}, Ints: []int64{1 << 40, -5}}},
		{"half_val", msg(nil).varint(fTensorDType, uint64(DTHalf)).sub(fTensorShape, shapeMsg(3)).
			varint(fTensorHalf, half(1)).varint(fTensorHalf, half(-0.5)).varint(fTensorHalf, half(65504)),
			&Tensor{DType: DTHalf, Shape: []int64{3}, Floats: []float32{1, -0.5, 65504}}},
		{"bool_val", msg(nil).varint(fTensorDType, uint64(DTBool)).sub(fTensorShape, shapeMsg(2)).varint(fTensorBool, 1).varint(fTensorBool, 0),
			&Tensor{DType: DTBool, Shape: []int64{2}, Ints: []int64{1, 0}}},
		{"tensor_content float", msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(2)).
			sub(fTensorContent, protowire.AppendFixed32(protowire.AppendFixed32(nil, math.Float32bits(1)), math.Float32bits(2))),
			&Tensor{DType: DTFloat, Shape: []int64{2}, Floats: []float32{1, 2}}},
		{"tensor_content int8", msg(nil).varint(fTensorDType, uint64(DTInt8)).sub(fTensorShape, shapeMsg(3)).sub(fTensorContent, msg{0xff, 0x7f, 0x80}),
			&Tensor{DType: DTInt8, Shape: []int64{3}, Ints: []int64{-1, 127, -128}}},
		{"tensor_content uint8", msg(nil).varint(fTensorDType, uint64(DTUint8)).sub(fTensorShape, shapeMsg(2)).sub(fTensorContent, msg{0xff, 1}),
			&Tensor{DType: DTUint8, Shape: []int64{2}, Ints: []int64{255, 1}}},
		{"tensor_content double", msg(nil).varint(fTensorDType, uint64(DTDouble)).sub(fTensorShape, shapeMsg(1)).
			sub(fTensorContent, protowire.AppendFixed64(nil, math.Float64bits(0.125))),
			&Tensor{DType: DTDouble, Shape: []int64{1}, Floats: []float32{0.125}}},
		{"tensor_content bfloat16", msg(nil).varint(fTensorDType, uint64(DTBFloat16)).sub(fTensorShape, shapeMsg(1)).sub(fTensorContent, msg{0x80, 0x3f}),
			&Tensor{DType: DTBFloat16, Shape: []int64{1}, Floats: []float32{1}}},
		{"string_val", msg(nil).varint(fTensorDType, uint64(DTString)).sub(fTensorShape, shapeMsg(1)).str(fTensorString, "hi"),
			&Tensor{DType: DTString, Shape: []int64{1}, Strings: [][]byte{[]byte("hi")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTensor(tc.tensor, newPadBudget())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			// And back: the writer's form decodes to the same tensor.
			b, err := appendTensor(nil, got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := parseTensor(b, newPadBudget())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, tc.want) {
				t.Fatalf("after writing: %+v, want %+v", again, tc.want)
			}
		})
	}
}

func TestHalfConversion(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := halfToFloat(uint16(h))
		if f != f {
			if back := floatToHalf(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back := floatToHalf(f); back != uint16(h) {
			t.Fatalf("half %#04x → %v → %#04x", h, f, back)
		}
	}
	for _, tc := range []struct {
		h uint16
		f float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.960464477539063e-08},
		{0x0400, 6.103515625e-05}, {0x3555, 0.333251953125}, {0x7c00, float32(math.Inf(1))},
	} {
		if got := halfToFloat(tc.h); got != tc.f {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", tc.h, got, tc.f)
		}
	}
	// Rounding: halfway cases go to even; overflow goes to infinity.
	if got := floatToHalf(1 + 1.0/2048); got != 0x3c00 {
		t.Errorf("1+2^-11 → %#04x, want 0x3c00", got)
	}
	if got := floatToHalf(1 + 3.0/2048); got != 0x3c02 {
		t.Errorf("1+3·2^-11 → %#04x, want 0x3c02", got)
	}
	if got := floatToHalf(70000); got != 0x7c00 {
		t.Errorf("70000 → %#04x, want inf", got)
	}
}

// TestGraphDefRoundTrip writes a GraphDef with every kind of attribute
// and reads it back.
func TestGraphDefRoundTrip(t *testing.T) {
	gd := &GraphDef{
		Producer: 1205, MinConsumer: 12,
		Nodes: []*NodeDef{
			{Name: "a", Op: "Weird", Inputs: []string{"b:1", "^c"}, Device: "/cpu:0", Attrs: map[string]*AttrValue{
				"s":     aS("text"),
				"i":     aI(-3),
				"zero":  aI(0),
				"f":     aF(0.5),
				"b":     aB(true),
				"bf":    aB(false),
				"type":  aT(DTHalf),
				"shape": {Kind: AttrShape, Shape: &TensorShape{Dims: []int64{-1, 0, 3}}},
				"rank":  {Kind: AttrShape, Shape: &TensorShape{Dims: []int64{}, UnknownRank: true}},
				"t":     {Kind: AttrTensor, Tensor: &Tensor{DType: DTHalf, Shape: []int64{2}, Floats: []float32{1, -0.25}}},
				"empty": {Kind: AttrList, List: &AttrListValue{}},
				"list": {Kind: AttrList, List: &AttrListValue{
					S: [][]byte{[]byte("x"), []byte("")}, I: []int64{1, -2}, F: []float32{1.5}, B: []bool{true, false},
					Type:   []DataType{DTFloat, DTInt32},
					Shape:  []*TensorShape{{Dims: []int64{1, 2}}},
					Tensor: []*Tensor{{DType: DTInt64, Shape: []int64{1}, Ints: []int64{-9}}},
					Func:   []string{"g"},
				}},
				"func":        {Kind: AttrFunc, Func: "body"},
				"placeholder": {Kind: AttrPlaceholder, S: []byte("T")},
			}},
			{Name: "b", Op: "Const", Attrs: map[string]*AttrValue{}},
		},
	}
	data, err := marshalGraphDef(gd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseGraphDef(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, gd) {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v", got.Nodes[0].Attrs, gd.Nodes[0].Attrs)
	}
	again, err := marshalGraphDef(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Fatal("writing the same graph twice gave different bytes")
	}
}

// TestCorruptGraphDef feeds malformed protobuf to the decoder.
func TestCorruptGraphDef(t *testing.T) {
	node := func(attrs ...msg) msg {
		m := msg(nil).str(fNodeName, "n").str(fNodeOp, "Const")
		for _, a := range attrs {
			m = append(m, a...)
		}
		return msg(nil).sub(fGraphNode, m)
	}
	tensor := func(t msg) msg { return attrEntry("value", msg(nil).sub(fAttrTensor, t)) }
	tests := []struct {
		name   string
		data   []byte
		substr string
	}{
		{"length past the end", []byte{0x0a, 0x05, 0x01}, "GraphDef"},
		{"bad tag", []byte{0x00}, "GraphDef"},
		{"node as varint", msg(nil).varint(fGraphNode, 1), "wire type"},
		{"truncated varint", []byte{0x0a, 0x02, 0x10, 0x80}, "GraphDef"},
		{"name as varint", msg(nil).sub(fGraphNode, msg(nil).varint(fNodeName, 3)), "wire type"},
		{"short content", node(tensor(msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(2)).sub(fTensorContent, msg{1, 2, 3}))), "tensor_content has 3 bytes"},
		{"too many values", node(tensor(msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(1)).
			fixed32(fTensorFloat, 1).fixed32(fTensorFloat, 2))), "2 values"},
		{"values in the wrong field", node(tensor(msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(1)).varint(fTensorInt, 1))), "field"},
		{"negative dimension", node(tensor(msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(uint64ToInt(1<<64-2))))), "negative"},
		{"huge tensor", node(tensor(msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(1<<40, 1<<40)))), "elements"},
		// 215866984·20552254·41579 = 10·2^64 + 784: a product that wraps
		// to the number of values present.
		{"wrapping shape", node(tensor(msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(215866984, 20552254, 41579)).
			sub(fTensorContent, make(msg, 4*784)))), "elements"},
		{"unsupported dtype", node(tensor(msg(nil).varint(fTensorDType, uint64(DTComplex64)).sub(fTensorShape, shapeMsg(1)))), "DT_COMPLEX64"},
		{"packed floats not a multiple of 4", node(tensor(msg(nil).varint(fTensorDType, uint64(DTFloat)).sub(fTensorShape, shapeMsg(1)).sub(fTensorFloat, msg{1, 2}))), "packed fixed32"},
		{"const without value", node(), "no tensor value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeGraphDef(tc.data, "bad", Options{Outputs: []string{"n"}})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q does not mention %q", err, tc.substr)
			}
		})
	}
}

func uint64ToInt(v uint64) int64 { return int64(v) }

// TestTruncatedGraphDef cuts a valid GraphDef at every byte: the decoder
// must fail cleanly or decode a prefix of the nodes, never panic, and a
// cut inside the last node must be an error.
func TestTruncatedGraphDef(t *testing.T) {
	c := opCases()[0]
	data, err := marshalGraphDef(&GraphDef{Nodes: c.nodes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeGraphDef(data, "full", Options{}); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n++ {
		gd, err := ParseGraphDef(data[:n])
		if err != nil {
			continue
		}
		if len(gd.Nodes) == len(c.nodes) && reflect.DeepEqual(gd.Nodes[len(gd.Nodes)-1], c.nodes[len(c.nodes)-1]) {
			t.Fatalf("cut at %d of %d bytes decoded the whole graph", n, len(data))
		}
		Import(gd, "cut", Options{}) // must not panic
	}
}
