package tf

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"veil/ir"
)

// smallModelJSON is a hand-written TF.js graph model exercising each
// weight encoding: uint8-quantized float32 (w), float16 (b), plain float32
// (s), uint16-quantized float32 (u), uint8-quantized int32 (k) and an
// inline Const (half). Group 1's weights straddle its two shards.
//
//	y = Reshape(((x·w + b) · s - u) + half, k)
const smallModelJSON = `{
  "format": "graph-model",
  "generatedBy": "hand",
  "convertedBy": "model/tf tests",
  "modelTopology": {
    "node": [
      {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
        "shape": {"shape": {"dim": [{"size": "-1"}, {"size": "2"}]}}}},
      {"name": "w", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"},
        "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}, {"size": "3"}]}}}}},
      {"name": "b", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"},
        "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "3"}]}}}}},
      {"name": "s", "op": "Const", "input": ["^x"], "attr": {"dtype": {"type": "DT_FLOAT"},
        "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {}}}}},
      {"name": "u", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"},
        "value": {"tensor": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": 3}]}}}}},
      {"name": "k", "op": "Const", "attr": {"dtype": {"type": "DT_INT32"},
        "value": {"tensor": {"dtype": "DT_INT32", "tensorShape": {"dim": [{"size": "2"}]}}}}},
      {"name": "half", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"},
        "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {}, "floatVal": [0.5]}}}},
      {"name": "mm", "op": "_FusedMatMul", "input": ["x", "w", "b"], "attr": {
        "transpose_a": {"b": false}, "transpose_b": {"b": false}, "T": {"type": "DT_FLOAT"},
        "fused_ops": {"list": {"s": ["Qmlhc0FkZA=="]}}, "num_args": {"i": "1"}, "epsilon": {"f": 0}}},
      {"name": "m", "op": "Mul", "input": ["mm", "s"], "attr": {"T": {"type": "DT_FLOAT"}}},
      {"name": "d", "op": "Sub", "input": ["m", "u"], "attr": {"T": {"type": "DT_FLOAT"}}},
      {"name": "a", "op": "AddV2", "input": ["d", "half"], "attr": {"T": {"type": "DT_FLOAT"}}},
      {"name": "r", "op": "Reshape", "input": ["a", "k"], "attr": {"T": {"type": "DT_FLOAT"}}},
      {"name": "Identity", "op": "Identity", "input": ["r"], "attr": {"T": {"type": "DT_FLOAT"}}}
    ],
    "library": {},
    "versions": {"producer": 175}
  },
  "signature": {"outputs": {"Identity:0": {"name": "Identity:0"}}},
  "weightsManifest": [
    {"paths": ["group1-shard1of2.bin", "group1-shard2of2.bin"], "weights": [
      {"name": "w", "shape": [2, 3], "dtype": "float32", "quantization": {"dtype": "uint8", "min": -1, "scale": 0.1}},
      {"name": "b", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16"}}
    ]},
    {"paths": ["group2-shard1of1.bin"], "weights": [
      {"name": "s", "shape": [], "dtype": "float32"},
      {"name": "unused", "shape": [2], "dtype": "float32"},
      {"name": "u", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint16", "min": 0.5, "scale": 0.001}},
      {"name": "k", "shape": [2], "dtype": "int32", "quantization": {"dtype": "uint8", "min": -1.4, "scale": 0.6}}
    ]}
  ]
}`

// Weight bytes of smallModelJSON and the values they decode to.
var (
	smallW     = []byte{0, 5, 10, 15, 20, 255} // v*0.1 - 1
	smallB     = []float32{0.5, -1.25, 3}      // float16
	smallS     = float32(2)                    // float32
	smallU     = []uint16{0, 1000, 65535}      // v*0.001 + 0.5
	smallK     = []byte{4, 12}                 // int32 round(v*0.6 - 1.4) → [1, 6]
	smallShard = func() (g1a, g1b, g2 []byte) {
		var g1 []byte
		g1 = append(g1, smallW...)
		for _, v := range smallB {
			g1 = binary.LittleEndian.AppendUint16(g1, floatToHalf(v))
		}
		g2 = binary.LittleEndian.AppendUint32(nil, math.Float32bits(smallS))
		g2 = binary.LittleEndian.AppendUint32(g2, math.Float32bits(7)) // unused
		g2 = binary.LittleEndian.AppendUint32(g2, math.Float32bits(8))
		for _, v := range smallU {
			g2 = binary.LittleEndian.AppendUint16(g2, v)
		}
		g2 = append(g2, smallK...)
		return g1[:4], g1[4:], g2
	}
)

// writeSmallModel writes smallModelJSON and its shards to a new directory.
func writeSmallModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	a, b, c := smallShard()
	for name, data := range map[string][]byte{
		"model.json":           []byte(smallModelJSON),
		"group1-shard1of2.bin": a,
		"group1-shard2of2.bin": b,
		"group2-shard1of1.bin": c,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// smallWant computes smallModelJSON's output for x [n, 2] by hand, with
// the dequantization written out as TF.js does it.
func smallWant(x []float32) []float32 {
	n := len(x) / 2
	out := make([]float32, 0, 3*n)
	for i := 0; i < n; i++ {
		for j := 0; j < 3; j++ {
			w0 := float32(float64(smallW[j])*0.1 - 1)
			w1 := float32(float64(smallW[3+j])*0.1 - 1)
			u := float32(float64(smallU[j])*0.001 + 0.5)
			v := x[2*i]*w0 + x[2*i+1]*w1 + smallB[j]
			out = append(out, v*smallS-u+0.5)
		}
	}
	return out
}

func TestSmallTFJSModel(t *testing.T) {
	dir := writeSmallModel(t)
	x := ir.FloatTensor(ir.Shape{2, 2}, []float32{1, -2, 0.5, 3})
	want := smallWant(x.F)
	for _, path := range []string{dir, filepath.Join(dir, "model.json")} {
		g, err := LoadTFJS(path, Options{InputShape: []int{2, 2}})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := ir.Run(g, map[string]*ir.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		if !outs[0].Shape.Equal(ir.Shape{1, 6}) {
			t.Fatalf("output shape %v, want [1 6] (the int32 weight k)", outs[0].Shape)
		}
		for i := range want {
			if relErr(outs[0].F[i], want[i]) > 1e-6 {
				t.Errorf("%s: output[%d] = %v, want %v", path, i, outs[0].F[i], want[i])
			}
		}
	}

	// The GraphDef path gives the same graph and the same bits.
	gd, err := ReadTFJS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(gd.Outputs) != 1 || gd.Outputs[0] != "Identity" {
		t.Errorf("signature outputs %q, want [Identity]", gd.Outputs)
	}
	k := findNode(gd, "k").Attrs["value"].Tensor
	if k.DType != DTInt32 || k.Ints[0] != 1 || k.Ints[1] != 6 {
		t.Errorf("int32 weight k = %v %v, want DT_INT32 [1 6]", k.DType, k.Ints)
	}
	pb := filepath.Join(t.TempDir(), "small.pb")
	if err := ConvertTFJS(dir, pb, false); err != nil {
		t.Fatal(err)
	}
	back, err := LoadGraphDef(pb, Options{InputShape: []int{2, 2}})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := ir.Run(back, map[string]*ir.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if relErr(outs[0].F[i], want[i]) > 1e-6 {
			t.Errorf("GraphDef: output[%d] = %v, want %v", i, outs[0].F[i], want[i])
		}
	}
}

func findNode(gd *GraphDef, name string) *NodeDef {
	for _, n := range gd.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func TestTFJSErrors(t *testing.T) {
	a, b, c := smallShard()
	model := []byte(smallModelJSON)
	edit := func(old, new string) []byte {
		if !strings.Contains(smallModelJSON, old) {
			t.Fatalf("test model has no %q", old)
		}
		return []byte(strings.Replace(smallModelJSON, old, new, 1))
	}
	withShards := func(model []byte) fstest.MapFS {
		return fstest.MapFS{
			"m/model.json": {Data: model}, "m/group1-shard1of2.bin": {Data: a},
			"m/group1-shard2of2.bin": {Data: b}, "m/group2-shard1of1.bin": {Data: c},
		}
	}
	tests := []struct {
		name   string
		files  fstest.MapFS
		substr []string
	}{
		{"missing shard", fstest.MapFS{
			"m/model.json": {Data: model}, "m/group1-shard1of2.bin": {Data: a}, "m/group2-shard1of1.bin": {Data: c},
		}, []string{"m/group1-shard2of2.bin"}},
		{"truncated last shard", fstest.MapFS{
			"m/model.json": {Data: model}, "m/group1-shard1of2.bin": {Data: a}, "m/group1-shard2of2.bin": {Data: b},
			"m/group2-shard1of1.bin": {Data: c[:len(c)-1]},
		}, []string{`weight "k"`, "m/group2-shard1of1.bin", "truncated"}},
		{"truncated middle shard", fstest.MapFS{
			"m/model.json": {Data: model}, "m/group1-shard1of2.bin": {Data: a}, "m/group1-shard2of2.bin": {Data: b[:1]},
			"m/group2-shard1of1.bin": {Data: c[:3]},
		}, []string{"truncated"}},
		{"corrupt JSON", fstest.MapFS{"m/model.json": {Data: model[:len(model)/2]}}, []string{"m/model.json", "decoding model.json"}},
		{"not JSON", fstest.MapFS{"m/model.json": {Data: []byte("\x00\x01")}}, []string{"decoding model.json"}},
		{"layers model", fstest.MapFS{"m/model.json": {Data: []byte(`{"format": "layers-model", "modelTopology": {}}`)}}, []string{`"layers-model"`}},
		{"keras topology", fstest.MapFS{"m/model.json": {Data: []byte(`{"modelTopology": {"model_config": {}}, "weightsManifest": []}`)}}, []string{"Keras"}},
		{"no topology", fstest.MapFS{"m/model.json": {Data: []byte(`{"weightsManifest": []}`)}}, []string{"no modelTopology"}},
		{"shard outside the model", withShards(edit("group1-shard1of2.bin", "../secret.bin")), []string{"leaves"}},
		{"bad quantization", withShards(edit(`"dtype": "float16"`, `"dtype": "int4"`)), []string{`"int4"`}},
		{"missing scale", withShards(edit(`"min": -1, "scale": 0.1`, `"min": -1`)), []string{"min and scale"}},
		{"string weight", withShards(edit(`"name": "unused", "shape": [2], "dtype": "float32"`, `"name": "unused", "shape": [2], "dtype": "string"`)), []string{`"string"`}},
		{"bad int64", withShards(edit(`"num_args": {"i": "1"}`, `"num_args": {"i": "one"}`)), []string{`"mm"`, "num_args"}},
		{"bad base64", withShards(edit(`"Qmlhc0FkZA=="`, `"!!"`)), []string{"base64"}},
		{"bad type", withShards(edit(`"type": "DT_INT32"`, `"type": "DT_NOPE"`)), []string{"DT_NOPE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gd, err := readTFJS(tc.files, "m/model.json", "")
			if err == nil {
				_, err = Import(gd, "m", Options{})
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestTFJSMissingWeight checks that a Const with neither manifest weights
// nor values of its own is an error, not silently zero.
func TestTFJSMissingWeight(t *testing.T) {
	a, b, c := smallShard()
	model := strings.Replace(smallModelJSON, `{"name": "s", "shape": [], "dtype": "float32"}`, `{"name": "s_renamed", "shape": [], "dtype": "float32"}`, 1)
	fsys := fstest.MapFS{
		"model.json": {Data: []byte(model)}, "group1-shard1of2.bin": {Data: a},
		"group1-shard2of2.bin": {Data: b}, "group2-shard1of1.bin": {Data: c},
	}
	_, err := readTFJS(fsys, "model.json", "")
	if err == nil || !strings.Contains(err.Error(), `Const "s" has no weights`) {
		t.Fatalf("error %v, want one about Const \"s\"", err)
	}
}

// TestReadTFJSNamesFiles checks that on-disk errors name the shard's path.
func TestReadTFJSNamesFiles(t *testing.T) {
	dir := writeSmallModel(t)
	shard := filepath.Join(dir, "group2-shard1of1.bin")
	if err := os.Truncate(shard, 5); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTFJS(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), shard) {
		t.Fatalf("error %v does not name %s", err, shard)
	}
	if err := os.Remove(shard); err != nil {
		t.Fatal(err)
	}
	_, err = LoadTFJS(filepath.Join(dir, "model.json"), Options{})
	if err == nil || !strings.Contains(err.Error(), shard) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v does not name %s as missing", err, shard)
	}
	if _, err := LoadTFJS(filepath.Join(dir, "nope"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing model: %v", err)
	}
}
