package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"veil/ir"
)

// maxElements bounds the element count of one tensor (and of a declared
// shape), so that a corrupt dims field cannot ask for an absurd allocation
// or overflow int.
const maxElements = ir.MaxElements

// maxRank bounds the rank of a tensor or declared shape.
const maxRank = 64

// shapeOf checks dims and returns them as an ir.Shape.
func shapeOf(dims []int64) (ir.Shape, error) {
	if len(dims) > maxRank {
		return nil, fmt.Errorf("rank %d is larger than %d", len(dims), maxRank)
	}
	s := make(ir.Shape, len(dims))
	n := int64(1)
	for i, d := range dims {
		if d < 0 {
			return nil, fmt.Errorf("dimension %d is negative (%d)", i, d)
		}
		if d > maxElements || (d > 0 && n > maxElements/d) {
			return nil, fmt.Errorf("dims %v hold more than %d elements", dims, int64(maxElements))
		}
		n *= d
		s[i] = int(d)
	}
	return s, nil
}

// elemSize is the size in bytes of one element in raw_data.
func elemSize(t int64) int {
	switch t {
	case typeUint8, typeInt8, typeBool:
		return 1
	case typeUint16, typeInt16, typeFloat16, typeBfloat16:
		return 2
	case typeFloat, typeInt32, typeUint32:
		return 4
	case typeInt64, typeDouble, typeUint64:
		return 8
	}
	return 0
}

// isFloatType reports whether ONNX element type t maps to ir.Float32.
func isFloatType(t int64) bool {
	return t == typeFloat || t == typeDouble || t == typeFloat16 || t == typeBfloat16
}

// isIntType reports whether ONNX element type t maps to ir.Int64.
func isIntType(t int64) bool {
	switch t {
	case typeUint8, typeInt8, typeUint16, typeInt16, typeInt32, typeInt64, typeBool, typeUint32, typeUint64:
		return true
	}
	return false
}

// halfToFloat converts IEEE 754 binary16 bits to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac × 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// toIR converts a decoded TensorProto into an ir.Tensor: floating types
// become Float32, integer and boolean types Int64.
func (t *tensorProto) toIR() (*ir.Tensor, error) {
	if t.external {
		return nil, fmt.Errorf("tensor %q keeps its data in an external file, which is not supported (save the model with its weights inside)", t.name)
	}
	if t.segment {
		return nil, fmt.Errorf("tensor %q is segmented, which is not supported", t.name)
	}
	shape, err := shapeOf(t.dims)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", t.name, err)
	}
	n := shape.Size()
	dt := t.dataType
	if !isFloatType(dt) && !isIntType(dt) {
		return nil, fmt.Errorf("tensor %q has element type %s, which is not supported", t.name, typeName(dt))
	}
	// count checks that a typed field holds exactly n elements.
	count := func(field string, got int) error {
		if got != n {
			return fmt.Errorf("tensor %q (%s%v): %s holds %d elements, want %d", t.name, typeName(dt), shape, field, got, n)
		}
		return nil
	}
	if t.hasRaw {
		sz := elemSize(dt)
		if err := count("raw_data", len(t.rawData)/sz); err != nil {
			return nil, err
		}
		if len(t.rawData) != n*sz {
			return nil, fmt.Errorf("tensor %q: raw_data has %d bytes, want %d", t.name, len(t.rawData), n*sz)
		}
		return rawToIR(t.rawData, dt, shape), nil
	}
	if n == 0 {
		if isFloatType(dt) {
			return ir.FloatTensor(shape, []float32{}), nil
		}
		return ir.IntTensor(shape, []int64{}), nil
	}
	switch dt {
	case typeFloat:
		if err := count("float_data", len(t.floatData)); err != nil {
			return nil, err
		}
		return ir.FloatTensor(shape, t.floatData), nil
	case typeDouble:
		if err := count("double_data", len(t.doubleData)); err != nil {
			return nil, err
		}
		f := make([]float32, n)
		for i, v := range t.doubleData {
			f[i] = float32(v)
		}
		return ir.FloatTensor(shape, f), nil
	case typeFloat16, typeBfloat16:
		if err := count("int32_data", len(t.int32Data)); err != nil {
			return nil, err
		}
		f := make([]float32, n)
		for i, v := range t.int32Data {
			if dt == typeFloat16 {
				f[i] = halfToFloat(uint16(v))
			} else {
				f[i] = math.Float32frombits(uint32(uint16(v)) << 16)
			}
		}
		return ir.FloatTensor(shape, f), nil
	case typeInt64:
		if err := count("int64_data", len(t.int64Data)); err != nil {
			return nil, err
		}
		return ir.IntTensor(shape, t.int64Data), nil
	case typeUint32, typeUint64:
		if err := count("uint64_data", len(t.uint64Data)); err != nil {
			return nil, err
		}
		v := make([]int64, n)
		for i, x := range t.uint64Data {
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("tensor %q: element %d (%d) does not fit in int64", t.name, i, x)
			}
			v[i] = int64(x)
		}
		return ir.IntTensor(shape, v), nil
	}
	// INT32, INT16, INT8, UINT16, UINT8, BOOL live in int32_data.
	if err := count("int32_data", len(t.int32Data)); err != nil {
		return nil, err
	}
	v := make([]int64, n)
	for i, x := range t.int32Data {
		switch dt {
		case typeUint8:
			v[i] = int64(uint8(x))
		case typeInt8:
			v[i] = int64(int8(x))
		case typeUint16:
			v[i] = int64(uint16(x))
		case typeInt16:
			v[i] = int64(int16(x))
		case typeBool:
			if x != 0 {
				v[i] = 1
			}
		default:
			v[i] = int64(x)
		}
	}
	return ir.IntTensor(shape, v), nil
}

// rawToIR decodes little-endian raw_data of n = shape.Size() elements.
func rawToIR(b []byte, dt int64, shape ir.Shape) *ir.Tensor {
	le := binary.LittleEndian
	n := shape.Size()
	if dt == typeFloat {
		f := make([]float32, n)
		for i := range f {
			f[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return ir.FloatTensor(shape, f)
	}
	if isFloatType(dt) {
		f := make([]float32, n)
		for i := range f {
			switch dt {
			case typeDouble:
				f[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
			case typeFloat16:
				f[i] = halfToFloat(le.Uint16(b[2*i:]))
			case typeBfloat16:
				f[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
			}
		}
		return ir.FloatTensor(shape, f)
	}
	v := make([]int64, n)
	for i := range v {
		switch dt {
		case typeUint8:
			v[i] = int64(b[i])
		case typeInt8:
			v[i] = int64(int8(b[i]))
		case typeBool:
			if b[i] != 0 {
				v[i] = 1
			}
		case typeUint16:
			v[i] = int64(le.Uint16(b[2*i:]))
		case typeInt16:
			v[i] = int64(int16(le.Uint16(b[2*i:])))
		case typeInt32:
			v[i] = int64(int32(le.Uint32(b[4*i:])))
		case typeUint32:
			v[i] = int64(le.Uint32(b[4*i:]))
		case typeInt64, typeUint64:
			v[i] = int64(le.Uint64(b[8*i:]))
		}
	}
	return ir.IntTensor(shape, v)
}
