package tf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

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
	if len(gd.Functions) > 0 {
		var lib []byte
		for _, fn := range gd.Functions {
			body, err := appendFunctionDef(nil, fn)
			if err != nil {
				return fmt.Errorf("writing GraphDef: function %q: %w", fn.Name, err)
			}
			lib = appendMessage(lib, fLibraryFunction, body)
		}
		buf = appendMessage(buf[:0], fGraphLibrary, lib)
		if _, err := bw.Write(buf); err != nil {
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

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// appendFunctionDef appends fn as a tensorflow.FunctionDef: the signature
// with its arguments' names and types, the body, and ret in sorted key
// order.
func appendFunctionDef(b []byte, fn *FunctionDef) ([]byte, error) {
	var sig []byte
	if fn.Name != "" {
		sig = appendString(sig, fOpDefName, fn.Name)
	}
	for i, args := range [][]FuncArg{fn.Inputs, fn.Outputs} {
		num := protowire.Number(fOpDefInputArg)
		if i == 1 {
			num = fOpDefOutputArg
		}
		for _, a := range args {
			arg := appendString(nil, fArgDefName, a.Name)
			if a.Type != DTInvalid {
				arg = protowire.AppendTag(arg, fArgDefType, protowire.VarintType)
				arg = protowire.AppendVarint(arg, uint64(int64(a.Type)))
			}
			sig = appendMessage(sig, num, arg)
		}
	}
	b = appendMessage(b, fFunctionSignature, sig)
	for _, n := range fn.Nodes {
		body, err := appendNodeDef(nil, n)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		b = appendMessage(b, fFunctionNode, body)
	}
	keys := make([]string, 0, len(fn.Ret))
	for k := range fn.Ret {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		entry := appendString(nil, fMapKey, k)
		entry = appendString(entry, fMapValue, fn.Ret[k])
		b = appendMessage(b, fFunctionRet, entry)
	}
	return b, nil
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
