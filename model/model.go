// Package model loads a trained model from any supported format into the
// float graph and turns data samples into that graph's input tensors.
package model

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"veil/data"
	"veil/ir"
	"veil/model/onnx"
	"veil/model/tf"
)

// Options control how a model is imported.
type Options struct {
	// InputShape overrides the model's declared input shape (needed where
	// it leaves dimensions open), in the model's own layout: the first
	// input's, for a model with several.
	InputShape []int
	// InputShapes fixes the shapes of inputs by name; it takes precedence
	// over InputShape.
	InputShapes map[string][]int
	// Constants binds inputs by name to fixed values (an audio model's
	// sample rate): they become constants of the graph and fold.
	Constants map[string]*ir.Tensor
}

// Format names a model file format.
type Format string

const (
	ONNX     Format = "onnx"
	GraphDef Format = "tf-graphdef"
	TFJS     Format = "tfjs"
	// TFJSLayers is a TF.js layers model (a Keras model config in
	// model.json, as tf.LayersModel.save writes it).
	TFJSLayers Format = "tfjs-layers"
)

// Detect returns the format of the model at path: a directory or a .json
// file is a TF.js graph model (a layers model when model.json says so),
// .pb a frozen TensorFlow GraphDef, .onnx an ONNX model.
func Detect(path string) (Format, error) {
	f, err := detect(path)
	if f == TFJS && tf.IsLayersModel(path) {
		f = TFJSLayers
	}
	return f, err
}

func detect(path string) (Format, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "model.json")); err != nil {
			return "", fmt.Errorf("%s: a directory model must hold model.json (TF.js graph model)", path)
		}
		return TFJS, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".onnx":
		return ONNX, nil
	case ".pb":
		return GraphDef, nil
	case ".json":
		return TFJS, nil
	}
	return "", fmt.Errorf("%s: unknown model format (want .onnx, .pb, or a TF.js model.json or its directory)", path)
}

// Load imports the model at path into a float graph with static shapes.
// Errors name the file and, for unsupported content, the node and op.
func Load(path string, opt Options) (*ir.Graph, error) {
	f, err := Detect(path)
	if err != nil {
		return nil, err
	}
	var g *ir.Graph
	switch f {
	case ONNX:
		g, err = onnx.Load(path, onnx.Options{InputShape: opt.InputShape, InputShapes: opt.InputShapes, Constants: opt.Constants})
	case GraphDef:
		g, err = tf.LoadGraphDef(path, tf.Options{InputShape: opt.InputShape, InputShapes: opt.InputShapes, Constants: opt.Constants})
	case TFJS:
		g, err = tf.LoadTFJS(path, tf.Options{InputShape: opt.InputShape, InputShapes: opt.InputShapes, Constants: opt.Constants})
	case TFJSLayers:
		g, err = tf.LoadLayers(path, tf.Options{InputShape: opt.InputShape, InputShapes: opt.InputShapes, Constants: opt.Constants})
	}
	if err == nil {
		err = g.CheckLive()
	}
	if err != nil {
		if !strings.Contains(err.Error(), path) {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	return g, nil
}

// IsProgramFile reports whether path starts like a compiled veil program.
func IsProgramFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 8)
	n, _ := f.Read(buf)
	return bytes.Equal(buf[:n], []byte("VEILPROG"))
}

// Input converts a sample (HWC pixels) into the graph input of the given
// shape and layout: [1,C,H,W] for NCHW, [1,H,W,C] for NHWC, or a flat
// [1,N] / [N] vector of the pixels in the layout's order.
func Input(s data.Sample, shape ir.Shape, layout ir.Layout) (*ir.Tensor, error) {
	switch len(shape) {
	case 4:
		if shape[0] != 1 {
			return nil, fmt.Errorf("model input %v has batch %d; veil evaluates one image at a time (give --input-shape with batch 1)", shape, shape[0])
		}
		var h, w, c int
		if layout == ir.NHWC {
			h, w, c = shape[1], shape[2], shape[3]
		} else {
			c, h, w = shape[1], shape[2], shape[3]
		}
		if s.H != h || s.W != w || s.C != c {
			return nil, fmt.Errorf("image is %d×%d with %d channel(s), but the model input %v (%s) wants %d×%d with %d; use --resize %dx%d and --channels %d",
				s.H, s.W, s.C, shape, layout, h, w, c, h, w, c)
		}
		if layout == ir.NHWC {
			return ir.FloatTensor(shape, append([]float32(nil), s.Pixels...)), nil
		}
		return ir.FloatTensor(shape, s.CHW()), nil
	case 1, 2, 3:
		if shape.Size() != len(s.Pixels) {
			return nil, fmt.Errorf("image has %d values (%d×%d×%d), but the model input %v wants %d", len(s.Pixels), s.H, s.W, s.C, shape, shape.Size())
		}
		px := s.Pixels
		if layout == ir.NCHW {
			px = s.CHW()
		}
		return ir.FloatTensor(shape, append([]float32(nil), px...)), nil
	}
	return nil, fmt.Errorf("model input has rank %d (%v); veil feeds images to rank 1–4 inputs", len(shape), shape)
}
