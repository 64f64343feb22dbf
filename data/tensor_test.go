package data

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

// npy builds a .npy file with a given header dict and data.
func npy(version byte, dict string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(version)
	b.WriteByte(0)
	if version == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(dict)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(dict)))
	}
	b.WriteString(dict)
	b.Write(data)
	return b.Bytes()
}

func TestLoadTensor(t *testing.T) {
	var f32 bytes.Buffer
	if err := WriteNPY(&f32, []float32{1, -2.5, 3, 4, 5, 6}, []int{2, 3}); err != nil {
		t.Fatal(err)
	}
	i64 := make([]byte, 0, 24)
	for _, v := range []int64{7, -8, 1 << 20} {
		i64 = binary.LittleEndian.AppendUint64(i64, uint64(v))
	}
	be := binary.BigEndian.AppendUint32(nil, 0x3f800000) // 1.0
	cases := []struct {
		name  string
		file  []byte
		want  []float32
		shape []int
	}{
		{"a.npy", f32.Bytes(), []float32{1, -2.5, 3, 4, 5, 6}, []int{2, 3}},
		{"b.npy", npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }\n", i64), []float32{7, -8, 1 << 20}, []int{3}},
		{"c.npy", npy(2, "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1), }\n", be), []float32{1}, []int{1, 1}},
		{"d.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }\n", []byte{0, 255}), []float32{0, 255}, []int{2}},
		{"e.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", binary.LittleEndian.AppendUint32(nil, 0x40000000)), []float32{2}, []int{}},
		{"x.csv", []byte("# features\n1, 2.5,-3\n4 5\t6\n"), []float32{1, 2.5, -3, 4, 5, 6}, nil},
		{"x.f32", binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0x3f800000), 0xbf800000), []float32{1, -1}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := LoadTensor(writeFile(t, t.TempDir(), c.name, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Values, c.want) || !slices.Equal(got.Shape, c.shape) || (got.Shape == nil) != (c.shape == nil) {
				t.Fatalf("got %v shape %v, want %v shape %v", got.Values, got.Shape, c.want, c.shape)
			}
		})
	}
}

func TestLoadTensorRefuses(t *testing.T) {
	cases := []struct {
		name, want string
		file       []byte
	}{
		{"a.npy", "magic", []byte("not numpy at all")},
		{"b.npy", "Fortran", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n", make([]byte, 4))},
		{"c.npy", "dtype", npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", make([]byte, 8))},
		{"d.npy", "needs", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }\n", make([]byte, 8))},
		{"e.npy", "too large", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (65536, 65536, 65536), }\n", nil)},
		{"f.npy", "shape", npy(1, "{'descr': '<f4', 'fortran_order': False, }\n", nil)},
		{"g.csv", "not a number", []byte("1,2,x\n")},
		{"h.f32", "whole number", []byte{1, 2, 3}},
		{"i.bin", "unknown tensor format", []byte{1, 2, 3, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadTensor(writeFile(t, t.TempDir(), c.name, c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
				t.Fatalf("error %v, want one naming the file and %q", err, c.want)
			}
		})
	}
}

// FuzzReadNPY feeds arbitrary bytes to the .npy reader: it may refuse
// them, but must not panic or allocate beyond what the file's size
// allows.
func FuzzReadNPY(f *testing.F) {
	var b bytes.Buffer
	WriteNPY(&b, []float32{1, 2, 3}, []int{3})
	f.Add(b.Bytes())
	f.Add(npy(2, "{'descr': '>i8', 'fortran_order': False, 'shape': (2, 1), }\n", make([]byte, 16)))
	f.Fuzz(func(t *testing.T, data []byte) {
		tt, err := readNPY(bytes.NewReader(data), int64(len(data)))
		if err == nil && len(tt.Values) > len(data) {
			t.Fatalf("%d values from %d bytes", len(tt.Values), len(data))
		}
	})
}
