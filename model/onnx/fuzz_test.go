package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"veil/internal/testmodel/testfile"
	"veil/ir"
)

// seedModels are small valid models for the fuzz corpus and the
// truncation test.
var seedModels = []string{
	testfile.Path("onnx-node/test_conv_with_strides_padding/model.onnx"),
	testfile.Path("onnx-node/test_gemm_all_attributes/model.onnx"),
	testfile.Path("onnx-node/test_reshape_negative_dim/model.onnx"),
	testfile.Path("onnx-node/test_slice/model.onnx"),
	testfile.Path("onnx-node/test_constantofshape_float_ones/model.onnx"),
	testfile.Path("onnx-node/test_maxpool_2d_pads/model.onnx"),
	testfile.Path("onnx-node/test_batchnorm_epsilon/model.onnx"),
	testfile.Path("onnx-node/test_softmax_axis_1/model.onnx"),
	testfile.Path("onnx-node/test_if/model.onnx"),
	testfile.Path("onnx-node/test_lstm_defaults/model.onnx"),
}

func readSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, p := range seedModels {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// checkDecode is the property the fuzzer checks: Decode never panics, and
// a graph it returns validates and (when small) runs without panicking.
func checkDecode(t *testing.T, data []byte) {
	g, err := Decode(data, "fuzz", Options{})
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		return
	}
	if err := g.Validate(); err != nil {
		t.Fatalf("Decode returned a graph that does not validate: %v", err)
	}
	size := 0
	for _, v := range g.Values {
		size += v.Shape.Size()
	}
	if size > 1<<16 {
		return
	}
	feeds := map[string]*ir.Tensor{}
	for _, in := range g.Inputs {
		feeds[in] = ir.NewFloat(g.Values[in].Shape)
	}
	_, _ = ir.Run(g, feeds) // errors are fine; panics are not
}

// FuzzDecode feeds corrupted models to the importer. The seed corpus is a
// few valid node tests plus truncated and bit-flipped variants of them.
func FuzzDecode(f *testing.F) {
	for _, b := range readSeeds(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
		for _, i := range []int{3, len(b) / 3, len(b) - 5} {
			c := append([]byte(nil), b...)
			c[i] ^= 0x5a
			f.Add(c)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(checkDecode)
}

// TestTruncated decodes every prefix of the seed models: each must give an
// error or a valid graph, never a panic.
func TestTruncated(t *testing.T) {
	for i, b := range readSeeds(t) {
		ok := 0
		for n := 0; n < len(b); n++ {
			if _, err := Decode(b[:n], "truncated", Options{}); err == nil {
				ok++
			}
		}
		t.Logf("%s: %d of %d proper prefixes decode", filepath.Base(filepath.Dir(seedModels[i])), ok, len(b))
	}
}

// TestBadInput checks that malformed files give clear errors.
func TestBadInput(t *testing.T) {
	relu := func(inits ...[]byte) []byte {
		return graphSpec{nodes: [][]byte{nodeB("Relu", s("x"), s("y"))}, inits: inits,
			inputs: [][]byte{vinfo("x", 2)}, outputs: [][]byte{vinfo("y", 2)}}.bytes()
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"empty", nil, "empty file"},
		{"garbage", []byte("this is not a protobuf file at all"), "not a valid ONNX model"},
		{"truncated-length", []byte{0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f}, "not a valid ONNX model"},
		{"wrong-wire-type", cat(fInt(7, 1)), "field 7 has wire type 0, want 2"},
		{"no-graph", cat(fInt(1, 8), fBytes(8, fInt(2, 13))), "no graph"},
		{"no-opset", cat(fInt(1, 8), fBytes(7, nil)), "imports no opset"},
		{"external-data", relu(cat(fStr(8, "w"), packedInts(1, []int64{2}), fInt(2, typeFloat), fInt(14, 1))),
			`tensor "w" keeps its data in an external file`},
		{"huge-dims", relu(cat(fStr(8, "w"), packedInts(1, []int64{1 << 40, 1 << 40}), fInt(2, typeFloat))),
			"hold more than"},
		{"negative-dims", relu(cat(fStr(8, "w"), packedInts(1, []int64{-1}), fInt(2, typeFloat))),
			"dimension 0 is negative"},
		{"short-raw-data", relu(cat(fStr(8, "w"), packedInts(1, []int64{4}), fInt(2, typeFloat), fBytes(9, make([]byte, 12)))),
			"raw_data holds 3 elements, want 4"},
		{"string-tensor", relu(cat(fStr(8, "w"), packedInts(1, []int64{1}), fInt(2, typeString), fBytes(6, []byte("a")))),
			"element type STRING, which is not supported"},
		{"no-outputs", graphSpec{nodes: [][]byte{nodeB("Relu", s("x"), s("y"))}, inputs: [][]byte{vinfo("x", 2)}}.bytes(),
			"no outputs"},
		{"output-not-computed", graphSpec{nodes: [][]byte{nodeB("Relu", s("x"), s("y"))}, inputs: [][]byte{vinfo("x", 2)},
			outputs: [][]byte{vinfo("z", 2)}}.bytes(), `graph output "z" is not defined`},
		{"string-input", graphSpec{nodes: [][]byte{nodeB("Relu", s("x"), s("y"))}, inputs: [][]byte{vinfoT("x", typeString, 2)},
			outputs: [][]byte{vinfo("y", 2)}}.bytes(), `graph input "x" has element type STRING`},
		{"huge-constant-of-shape", graphSpec{nodes: [][]byte{
			nodeB("Constant", nil, s("sh"), aTensor("value", tInt("", []int64{2}, []int64{1 << 20, 1 << 20}))),
			nodeB("ConstantOfShape", s("sh"), s("c")), nodeB("Add", s("x", "c"), s("y"))},
			inputs: [][]byte{vinfo("x", 2)}, outputs: [][]byte{vinfo("y", 2)}}.bytes(), "more than 268435456 elements"},
		{"duplicate-attribute", graphSpec{nodes: [][]byte{nodeB("LeakyRelu", s("x"), s("y"), aFloat("alpha", 1), aFloat("alpha", 2))},
			inputs: [][]byte{vinfo("x", 2)}, outputs: [][]byte{vinfo("y", 2)}}.bytes(), `attribute "alpha" is given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, tt.name, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestRunWrongInputShape checks that running an imported graph on an input
// of the wrong shape is an error.
func TestRunWrongInputShape(t *testing.T) {
	g, err := Load(seedModels[0], Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ir.Run(g, map[string]*ir.Tensor{"x": ir.NewFloat(ir.Shape{1, 1, 3, 3}), "W": ir.NewFloat(ir.Shape{1, 1, 3, 3})})
	if err == nil || !strings.Contains(err.Error(), "the model expects") {
		t.Fatalf("error %v, want a shape mismatch", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.onnx"), Options{})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("error %v, want a missing-file error", err)
	}
}
