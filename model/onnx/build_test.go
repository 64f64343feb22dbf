package onnx

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A minimal ONNX encoder for tests: it writes the same onnx.proto fields
// that the decoder reads.

func fBytes(num protowire.Number, b []byte) []byte {
	out := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(out, b)
}

func fStr(num protowire.Number, s string) []byte { return fBytes(num, []byte(s)) }

func fInt(num protowire.Number, v int64) []byte {
	out := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(out, uint64(v))
}

func fFloat(num protowire.Number, v float32) []byte {
	out := protowire.AppendTag(nil, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(out, math.Float32bits(v))
}

func packedInts(num protowire.Number, vs []int64) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return fBytes(num, b)
}

func packedFloats(num protowire.Number, vs []float32) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendFixed32(b, math.Float32bits(v))
	}
	return fBytes(num, b)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Attributes.
func aInt(name string, v int64) []byte {
	return cat(fStr(1, name), fInt(20, attrInt), fInt(3, v))
}

func aInts(name string, vs ...int64) []byte {
	return cat(fStr(1, name), fInt(20, attrInts), packedInts(8, vs))
}

func aFloat(name string, v float32) []byte {
	return cat(fStr(1, name), fInt(20, attrFloat), fFloat(2, v))
}

func aFloats(name string, vs ...float32) []byte {
	return cat(fStr(1, name), fInt(20, attrFloats), packedFloats(7, vs))
}

func aStr(name, s string) []byte {
	return cat(fStr(1, name), fInt(20, attrString), fStr(4, s))
}

func aStrs(name string, ss ...string) []byte {
	b := cat(fStr(1, name), fInt(20, attrStrings))
	for _, x := range ss {
		b = append(b, fStr(9, x)...)
	}
	return b
}

// aGraph encodes a graph-valued attribute holding body (from graphBody).
func aGraph(name string, body []byte) []byte {
	return cat(fStr(1, name), fInt(20, attrGraph), fBytes(6, body))
}

func aTensor(name string, t []byte) []byte {
	return cat(fStr(1, name), fInt(20, attrTensor), fBytes(5, t))
}

// Tensors.
func tFloat(name string, dims []int64, data []float32) []byte {
	return cat(fStr(8, name), packedInts(1, dims), fInt(2, typeFloat), packedFloats(4, data))
}

func tInt(name string, dims []int64, data []int64) []byte {
	return cat(fStr(8, name), packedInts(1, dims), fInt(2, typeInt64), packedInts(7, data))
}

// nodeB encodes a NodeProto.
func nodeB(op string, ins, outs []string, attrs ...[]byte) []byte {
	var b []byte
	for _, in := range ins {
		b = append(b, fStr(1, in)...)
	}
	for _, o := range outs {
		b = append(b, fStr(2, o)...)
	}
	b = append(b, fStr(3, "n_"+op)...)
	b = append(b, fStr(4, op)...)
	for _, a := range attrs {
		b = append(b, fBytes(5, a)...)
	}
	return b
}

// vinfo encodes a float tensor ValueInfoProto; dims are int (value) or
// string (symbolic).
func vinfo(name string, dims ...any) []byte {
	return vinfoT(name, typeFloat, dims...)
}

func vinfoT(name string, elem int64, dims ...any) []byte {
	var shape []byte
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape = append(shape, fBytes(1, fInt(1, int64(d)))...)
		case string:
			shape = append(shape, fBytes(1, fStr(2, d))...)
		}
	}
	tt := cat(fInt(1, elem), fBytes(2, shape))
	return cat(fStr(1, name), fBytes(2, fBytes(1, tt)))
}

// graphSpec is a model under construction.
type graphSpec struct {
	opset   int64
	nodes   [][]byte
	inits   [][]byte
	inputs  [][]byte
	outputs [][]byte
}

func (s graphSpec) bytes() []byte {
	opset := s.opset
	if opset == 0 {
		opset = 13
	}
	return cat(fInt(1, 8), fStr(2, "veil-test"), fBytes(7, s.body("test")), fBytes(8, cat(fStr(1, ""), fInt(2, opset))))
}

// body encodes the GraphProto alone (a subgraph, with aGraph).
func (s graphSpec) body(name string) []byte {
	var g []byte
	for _, n := range s.nodes {
		g = append(g, fBytes(1, n)...)
	}
	g = append(g, fStr(2, name)...)
	for _, t := range s.inits {
		g = append(g, fBytes(5, t)...)
	}
	for _, v := range s.inputs {
		g = append(g, fBytes(11, v)...)
	}
	for _, v := range s.outputs {
		g = append(g, fBytes(12, v)...)
	}
	return g
}
