package main

import (
	"fmt"
	"slices"
	"strings"

	"veil/data"
	"veil/fixed"
	"veil/ir"
	"veil/model"
)

// An inputFile is one input of an inference read from a file: an image,
// converted to its input's shape and layout once the model is known, or
// a raw tensor (.npy, .f32/.raw, .csv/.txt) with as many values as the
// input holds.
type inputFile struct {
	name  string // the model input it feeds; "" for a model's one input
	path  string
	image *data.Sample
	raw   *data.Tensor
}

// readInput reads path as an image (preprocessed as opt says) or a raw
// tensor.
func readInput(path string, opt data.Options) (inputFile, error) {
	f := inputFile{path: path}
	if data.IsImage(path) {
		s, err := data.LoadImage(path, opt)
		if err != nil {
			return f, flagError(err)
		}
		f.image = &s
		return f, nil
	}
	t, err := data.LoadTensor(path)
	if err != nil {
		return f, err
	}
	f.raw = t
	return f, nil
}

// values are the values as held: the image's pixels (after the
// preprocessing given to readInput) or the tensor's.
func (f inputFile) values() []float32 {
	if f.image != nil {
		return f.image.Pixels
	}
	return f.raw.Values
}

// convert makes f the input p of a model of the given layout.
func (f inputFile) convert(p fixed.Port, layout ir.Layout) ([]float32, error) {
	if f.image != nil {
		t, err := model.Input(*f.image, p.Shape, layout)
		if err != nil {
			return nil, fmt.Errorf("%s for input %s: %w", f.path, p.Name, err)
		}
		return t.F, nil
	}
	if len(f.raw.Values) != p.Shape.Size() {
		shape := ""
		if f.raw.Shape != nil {
			shape = fmt.Sprintf(" of shape %v", f.raw.Shape)
		}
		return nil, fmt.Errorf("%s: %d values%s for input %s of shape %v (%d values)", f.path, len(f.raw.Values), shape, p.Name, p.Shape, p.Shape.Size())
	}
	return f.raw.Values, nil
}

// loadInput reads one input for port p: an image, converted to its
// shape and layout, or a raw tensor with as many values as it holds.
func loadInput(path string, p fixed.Port, layout ir.Layout, opt data.Options) ([]float32, error) {
	f, err := readInput(path, opt)
	if err != nil {
		return nil, err
	}
	return f.convert(p, layout)
}

// readInputFiles reads the files of --input NAME=FILE flags (FILE alone
// for a model's one input), each name once.
func readInputFiles(flags []string, opt data.Options) ([]inputFile, error) {
	var files []inputFile
	for _, fl := range flags {
		name, path, ok := strings.Cut(fl, "=")
		if !ok {
			name, path = "", fl
		}
		if slices.ContainsFunc(files, func(f inputFile) bool { return f.name == name }) {
			if name == "" {
				return nil, usagef("--input %q: a second input without a name (write NAME=FILE)", fl)
			}
			return nil, usagef("--input: input %q given twice", name)
		}
		f, err := readInput(path, opt)
		if err != nil {
			return nil, err
		}
		f.name = name
		files = append(files, f)
	}
	return files, nil
}

// assembleInputs makes one flat input of a model with the given input
// ports and layout from files read by readInputFiles: every port fed by
// exactly one file, in the ports' order.
func assembleInputs(files []inputFile, ports []fixed.Port, layout ir.Layout) ([]float32, error) {
	byName := map[string]inputFile{}
	for _, f := range files {
		name := f.name
		if name == "" {
			if len(ports) != 1 {
				return nil, usagef("--input %q: the model has %d inputs (%s): write NAME=FILE", f.path, len(ports), fixed.FormatPorts(ports))
			}
			name = ports[0].Name
		}
		if !slices.ContainsFunc(ports, func(p fixed.Port) bool { return p.Name == name }) {
			return nil, usagef("--input %s=%s: the model has no input %q (its inputs: %s)", name, f.path, name, fixed.FormatPorts(ports))
		}
		if _, dup := byName[name]; dup {
			return nil, usagef("--input: input %q given twice", name)
		}
		byName[name] = f
	}
	var flat []float32
	for _, p := range ports {
		f, ok := byName[p.Name]
		if !ok {
			return nil, usagef("--input: no value for the model's input %s %v", p.Name, p.Shape)
		}
		x, err := f.convert(p, layout)
		if err != nil {
			return nil, err
		}
		flat = append(flat, x...)
	}
	return flat, nil
}
