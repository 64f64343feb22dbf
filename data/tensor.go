package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A Tensor is a raw array of numbers for a model input that is not an
// image (audio, features, token ids): its values as float32 and, where
// the file gives one, its shape.
type Tensor struct {
	Values []float32
	Shape  []int // nil when the format has none (raw, text)
}

// MaxTensorValues bounds the values LoadTensor reads from one file
// (2^28, 1 GiB as float32), the limit of a graph value.
const MaxTensorValues = 1 << 28

// LoadTensor reads a raw tensor, chosen by the file's extension:
//
//   - .npy: NumPy's format, version 1–3, C order, of float32, float64,
//     int8/16/32/64, uint8/16/32 or bool, either byte order; its shape
//     comes with it;
//   - .f32 or .raw: little-endian float32 values, nothing else;
//   - .csv or .txt: decimal numbers separated by commas, spaces or
//     newlines (lines starting with # are comments).
//
// Integer types are converted to float32 exactly up to 2^24.
func LoadTensor(path string) (*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var t *Tensor
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".npy":
		t, err = readNPY(f, st.Size())
	case ".f32", ".raw":
		t, err = readRawF32(f, st.Size())
	case ".csv", ".txt":
		t, err = readText(f, st.Size())
	default:
		return nil, fmt.Errorf("%s: unknown tensor format %q (want .npy, .f32, .raw, .csv or .txt)", path, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func readRawF32(r io.Reader, size int64) (*Tensor, error) {
	if size%4 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of float32 values", size)
	}
	if size/4 > MaxTensorValues {
		return nil, fmt.Errorf("%d values, more than %d", size/4, MaxTensorValues)
	}
	v := make([]float32, size/4)
	if err := binary.Read(r, binary.LittleEndian, v); err != nil {
		return nil, err
	}
	return &Tensor{Values: v}, nil
}

func readText(r io.Reader, size int64) (*Tensor, error) {
	if size > 16*MaxTensorValues {
		return nil, fmt.Errorf("text file of %d bytes is too large", size)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var v []float32
	for n, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == ';' }) {
			x, err := strconv.ParseFloat(f, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q is not a number", n+1, f)
			}
			v = append(v, float32(x))
		}
	}
	if len(v) == 0 {
		return nil, errors.New("no numbers")
	}
	return &Tensor{Values: v}, nil
}

// readNPY reads a .npy file of size bytes.
func readNPY(r io.Reader, size int64) (*Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("not a .npy file: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, errors.New("not a .npy file (no \\x93NUMPY magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, err
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, err
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf(".npy version %d.%d is not supported", pre[6], pre[7])
	}
	if hlen > 1<<16 || int64(hlen) > size {
		return nil, fmt.Errorf(".npy header of %d bytes", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf(".npy header: %w", err)
	}
	descr, fortran, shape, err := parseNPYHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	if fortran {
		return nil, errors.New(".npy array in Fortran order is not supported (save it in C order)")
	}
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > MaxTensorValues/d) {
			return nil, fmt.Errorf(".npy shape %v is too large", shape)
		}
		n *= d
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch descr[0] {
	case '>':
		order = binary.BigEndian
	case '<', '|', '=':
	default:
		return nil, fmt.Errorf(".npy dtype %q is not supported", descr)
	}
	kind := descr[1:]
	width, ok := map[string]int{"f4": 4, "f8": 8, "i1": 1, "i2": 2, "i4": 4, "i8": 8, "u1": 1, "u2": 2, "u4": 4, "b1": 1}[kind]
	if !ok {
		return nil, fmt.Errorf(".npy dtype %q is not supported", descr)
	}
	raw := make([]byte, n*width)
	if int64(len(raw)) > size {
		return nil, fmt.Errorf(".npy shape %v needs %d bytes, the file has %d", shape, len(raw), size)
	}
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf(".npy data for shape %v: %w", shape, err)
	}
	v := make([]float32, n)
	for i := range v {
		b := raw[i*width : (i+1)*width]
		switch kind {
		case "f4":
			v[i] = math.Float32frombits(order.Uint32(b))
		case "f8":
			v[i] = float32(math.Float64frombits(order.Uint64(b)))
		case "i1":
			v[i] = float32(int8(b[0]))
		case "u1", "b1":
			v[i] = float32(b[0])
		case "i2":
			v[i] = float32(int16(order.Uint16(b)))
		case "u2":
			v[i] = float32(order.Uint16(b))
		case "i4":
			v[i] = float32(int32(order.Uint32(b)))
		case "u4":
			v[i] = float32(order.Uint32(b))
		case "i8":
			v[i] = float32(int64(order.Uint64(b)))
		}
	}
	if shape == nil {
		shape = []int{}
	}
	return &Tensor{Values: v, Shape: shape}, nil
}

// parseNPYHeader reads the Python dict literal of a .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }.
func parseNPYHeader(h string) (descr string, fortran bool, shape []int, err error) {
	field := func(key string) (string, bool) {
		i := strings.Index(h, "'"+key+"'")
		if i < 0 {
			return "", false
		}
		rest := strings.TrimSpace(h[i+len(key)+2:])
		rest, ok := strings.CutPrefix(rest, ":")
		return strings.TrimSpace(rest), ok
	}
	d, ok := field("descr")
	if !ok || len(d) < 2 || d[0] != '\'' {
		return "", false, nil, fmt.Errorf(".npy header %q has no descr", h)
	}
	end := strings.IndexByte(d[1:], '\'')
	if end < 2 {
		return "", false, nil, fmt.Errorf(".npy header %q: bad descr", h)
	}
	descr = d[1 : 1+end]
	if fo, ok := field("fortran_order"); ok {
		fortran = strings.HasPrefix(fo, "True")
	}
	s, ok := field("shape")
	if !ok || !strings.HasPrefix(s, "(") {
		return "", false, nil, fmt.Errorf(".npy header %q has no shape", h)
	}
	end = strings.IndexByte(s, ')')
	if end < 0 {
		return "", false, nil, fmt.Errorf(".npy header %q: bad shape", h)
	}
	for _, f := range strings.Split(s[1:end], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(strings.TrimSuffix(f, "L"))
		if err != nil || d < 0 {
			return "", false, nil, fmt.Errorf(".npy header: shape %q", s[:end+1])
		}
		shape = append(shape, d)
	}
	if len(shape) > 32 {
		return "", false, nil, fmt.Errorf(".npy shape of rank %d", len(shape))
	}
	return descr, fortran, shape, nil
}

// WriteNPY writes v of the given shape as a little-endian float32 .npy
// file (version 1).
func WriteNPY(w io.Writer, v []float32, shape []int) error {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", sh)
	pad := 64 - (10+len(h)+1)%64
	h += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	binary.Write(&b, binary.LittleEndian, v)
	_, err := w.Write(b.Bytes())
	return err
}
