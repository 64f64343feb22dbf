// Package tf imports TensorFlow models into veil's float graph (package
// ir): frozen GraphDef files (.pb) and TF.js graph models (model.json with
// binary weight shards, as tensorflowjs_converter writes them).
//
// Both formats decode to a GraphDef, which Import lowers onto IR ops:
// activations stay NHWC, convolution filters (HWIO, or HWCM for depthwise)
// are transposed to the IR's [O, I/group, KH, KW], Grappler's and the
// TF.js converter's fused ops (_FusedConv2D, FusedDepthwiseConv2dNative,
// _FusedMatMul, with BiasAdd or FusedBatchNorm and an activation, Prelu
// included) are split back into their parts, and constant subgraphs fold
// away: the shape arithmetic around Reshape and Conv2DBackpropInput
// (Shape, StridedSlice, Pack, Cast …) leaves no node behind. Data
// movement (StridedSlice with all its masks, Pack, Unpack, Split, Tile,
// Gather …) becomes the IR's Slice, Reshape, Concat and Gather; resizing,
// transposed convolution, DepthToSpace and Pow go through the builders
// that package ir shares between the importers; an If or StatelessIf
// whose predicate is a constant is replaced by the branch it takes, from
// the graph's function library. The per-op files (elementwise.go,
// shapes.go, stridedslice.go, reduce.go, image.go, fused.go, control.go)
// document each mapping; the converter table in ops.go lists them all.
//
// WriteGraphDef writes a GraphDef back out; ConvertTFJS uses it to turn a
// TF.js model into a frozen .pb with its weights dequantized to float32.
//
// The binary decoder is written against the protobuf wire format with
// google.golang.org/protobuf/encoding/protowire; no generated code.
package tf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"veil/ir"
)

// LoadGraphDef reads a binary frozen GraphDef (.pb) and imports it.
func LoadGraphDef(path string, opt Options) (*ir.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tf: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	g, err := DecodeGraphDef(data, name, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// DecodeGraphDef decodes a binary frozen GraphDef and imports it as a
// graph called name.
func DecodeGraphDef(data []byte, name string, opt Options) (*ir.Graph, error) {
	gd, err := ParseGraphDef(data)
	if err != nil {
		return nil, fmt.Errorf("tf: %w", err)
	}
	return Import(gd, name, opt)
}

// LoadTFJS reads a TF.js graph model (path is its model.json or the
// directory holding it, with the weight shards beside it) and imports it.
// The graph is named after the model's directory.
func LoadTFJS(path string, opt Options) (*ir.Graph, error) {
	gd, err := ReadTFJS(path)
	if err != nil {
		return nil, err
	}
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	g, err := Import(gd, filepath.Base(abs), opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// ConvertTFJS reads the TF.js graph model at src (model.json or its
// directory) and writes it to dst as a binary frozen GraphDef, every
// weight a float32 Const (dequantized). Without unfuse the ops stay as the
// TF.js converter wrote them, fused ones included, so the .pb imports to
// exactly the same graph; with unfuse they are rewritten by Unfuse into
// standard TensorFlow ops, so that TensorFlow itself can read the file
// (FusedDepthwiseConv2dNative exists only in TF.js).
func ConvertTFJS(src, dst string, unfuse bool) error {
	gd, err := ReadTFJS(src)
	if err != nil {
		return err
	}
	if unfuse {
		if err := Unfuse(gd); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
	}
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("tf: %w", err)
	}
	if err := WriteGraphDef(f, gd); err != nil {
		f.Close()
		return fmt.Errorf("tf: writing %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tf: %w", err)
	}
	return nil
}
