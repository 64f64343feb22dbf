package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"veil/data"
	"veil/fixed"
	"veil/ir"
	"veil/model"
)

// dataFlags are the preprocessing flags shared by commands that read
// images.
type dataFlags struct {
	spec      string
	pixelMax  float64
	mean      string
	std       string
	resize    string
	channels  int
	bgr       bool
	limit     int
	maxPixels int
	// changed reports whether a flag was given on the command line.
	changed func(name string) bool
}

func (f *dataFlags) register(cmd *cobra.Command, dataUsage string) {
	fl := cmd.Flags()
	fl.StringVar(&f.spec, "data", "", dataUsage)
	fl.Float64Var(&f.pixelMax, "pixel-max", 0, "divide raw pixel values by this (default 255; 16 for the sklearn digits CSV)")
	fl.StringVar(&f.mean, "mean", "", "per-channel mean to subtract after scaling, e.g. 0.485,0.456,0.406")
	fl.StringVar(&f.std, "std", "", "per-channel standard deviation to divide by after the mean")
	fl.StringVar(&f.resize, "resize", "", "resize images to HxW (bilinear), e.g. 224x224")
	fl.IntVar(&f.channels, "channels", 0, "convert images to 1 (gray) or 3 (RGB) channels")
	fl.BoolVar(&f.bgr, "bgr", false, "reverse the channel order to BGR")
	fl.IntVar(&f.limit, "limit", 0, "use only the first N images (0 = all)")
	fl.IntVar(&f.maxPixels, "max-pixels", data.DefaultMaxPixels, "refuse images (and resize targets) of more than this many pixels, width × height")
	f.changed = fl.Changed
}

// given reports whether flag name was given on the command line.
func (f *dataFlags) given(name string) bool { return f.changed != nil && f.changed(name) }

// preprocess returns the preprocessing the flags ask for, to record in a
// compiled program (nil when they ask for none). The pixel scale is not
// part of it: it belongs to the file format (255 for PNG, 16 for the
// digits CSV), not to the model.
func (f *dataFlags) preprocess() (*fixed.Preprocess, error) {
	o, err := f.options(0)
	if err != nil {
		return nil, err
	}
	pp := &fixed.Preprocess{Mean: o.Mean, Std: o.Std, Channels: o.Channels, BGR: o.BGR}
	if o.Resize[0] > 0 {
		pp.Resize = []int{o.Resize[0], o.Resize[1]}
	}
	if pp.Mean == nil && pp.Std == nil && pp.Resize == nil && pp.Channels == 0 && !pp.BGR {
		return nil, nil
	}
	return pp, nil
}

// follow makes the flags apply the preprocessing recorded in a program:
// a flag not given takes the recorded value; a flag given with another
// value is a usage error. It reports whether it changed any flag.
func (f *dataFlags) follow(pp *fixed.Preprocess, program string) (bool, error) {
	if pp == nil {
		return false, nil
	}
	changed := false
	floats := func(v []float64) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.FormatFloat(x, 'g', -1, 64)
		}
		return strings.Join(s, ",")
	}
	resize := ""
	if len(pp.Resize) == 2 {
		resize = fmt.Sprintf("%dx%d", pp.Resize[0], pp.Resize[1])
	}
	cur, err := f.preprocess()
	if err != nil {
		return false, err
	}
	if cur == nil {
		cur = &fixed.Preprocess{}
	}
	for _, c := range []struct {
		flag      string
		have, rec string
		set       func()
	}{
		{"mean", floats(cur.Mean), floats(pp.Mean), func() { f.mean = floats(pp.Mean) }},
		{"std", floats(cur.Std), floats(pp.Std), func() { f.std = floats(pp.Std) }},
		{"resize", f.resize, resize, func() { f.resize = resize }},
		{"channels", strconv.Itoa(f.channels), strconv.Itoa(pp.Channels), func() { f.channels = pp.Channels }},
		{"bgr", strconv.FormatBool(f.bgr), strconv.FormatBool(pp.BGR), func() { f.bgr = pp.BGR }},
	} {
		if c.have == c.rec {
			continue
		}
		if f.given(c.flag) {
			return false, usagef("--%s %s contradicts program %s, compiled with --%s %q: leave the flag out (the program's preprocessing applies)", c.flag, c.have, program, c.flag, c.rec)
		}
		c.set()
		changed = true
	}
	return changed, nil
}

func parseFloats(s, flag string) ([]float64, error) {
	if s == "" {
		return nil, nil
	}
	var out []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %v", flag, s, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseInts(s, sep, flag string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, sep) {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %q is not an integer", flag, s, p)
		}
		out = append(out, v)
	}
	return out, nil
}

func (f *dataFlags) options(limit int) (data.Options, error) {
	if f.maxPixels < 0 {
		return data.Options{}, fmt.Errorf("--max-pixels %d: must be positive", f.maxPixels)
	}
	o := data.Options{PixelMax: f.pixelMax, Channels: f.channels, BGR: f.bgr, Limit: limit, MaxPixels: f.maxPixels}
	var err error
	if o.Mean, err = parseFloats(f.mean, "mean"); err != nil {
		return o, err
	}
	if o.Std, err = parseFloats(f.std, "std"); err != nil {
		return o, err
	}
	if f.resize != "" {
		hw, err := parseInts(strings.ReplaceAll(f.resize, ",", "x"), "x", "resize")
		if err != nil || len(hw) != 2 || hw[0] < 1 || hw[1] < 1 {
			return o, fmt.Errorf("--resize %q: want HxW, e.g. 224x224", f.resize)
		}
		o.Resize = [2]int{hw[0], hw[1]}
	}
	return o, nil
}

// loadExamples reads a labelled dataset and converts it to inputs of the
// given shape and layout. A dataset with unlabelled images (a folder
// without class sub-folders, a single image) is a usage error.
func (f *dataFlags) loadExamples(spec string, limit int, shape ir.Shape, layout ir.Layout) ([]fixed.Example, error) {
	xs, err := f.loadInputs(spec, limit, shape, layout)
	if err != nil {
		return nil, err
	}
	unlabelled := 0
	for _, x := range xs {
		if x.Label < 0 {
			unlabelled++
		}
	}
	if unlabelled > 0 {
		return nil, usagef("%s: %d of %d images have no label: labelled images come as an IDX pair, a CSV or JSON set, or a folder with one sub-folder per class (DIR/LABEL/IMAGE.png); for unlabelled images use veil predict", spec, unlabelled, len(xs))
	}
	return xs, nil
}

// loadInputs reads a dataset, labelled or not (unlabelled examples have
// label −1), and converts it to inputs of the given shape and layout.
func (f *dataFlags) loadInputs(spec string, limit int, shape ir.Shape, layout ir.Layout) ([]fixed.Example, error) {
	opt, err := f.options(limit)
	if err != nil {
		return nil, err
	}
	ds, err := data.Load(spec, opt)
	if err != nil {
		return nil, flagError(err)
	}
	if len(ds.Samples) == 0 {
		return nil, fmt.Errorf("%s: no images", spec)
	}
	inputs, err := model.Inputs(ds.Samples, shape, layout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	xs := make([]fixed.Example, len(inputs))
	for i, x := range inputs {
		xs[i] = fixed.Example{Input: x, Label: ds.Samples[i].Label}
	}
	return xs, nil
}

// flagError makes an error of data's options (a --mean with the wrong
// number of values) a usage error naming the flag.
func flagError(err error) error {
	var oe *data.OptionError
	if errors.As(err, &oe) {
		return usageError{fmt.Errorf("--%s: %w", oe.Option, oe.Err)}
	}
	return err
}

// modelFlags are the import flags shared by commands that load models.
type modelFlags struct {
	inputShapes []string
	inputConsts []string
}

func (m *modelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&m.inputShapes, "input-shape", nil, "[NAME=]DIMS: fix an input's shape, e.g. 1,3,224,224 (needed where the model leaves dimensions open); NAME= for a model with several inputs; repeatable")
	cmd.Flags().StringArrayVar(&m.inputConsts, "input-const", nil, "NAME=V[,V…]: bind an input to constant values, folded into the model (an audio model's sample rate); repeatable")
}

// options parses the import flags.
func (m *modelFlags) options() (model.Options, error) {
	var opt model.Options
	for _, f := range m.inputShapes {
		name, dims, named := strings.Cut(f, "=")
		if !named {
			dims = f
		}
		s, err := parseInts(dims, ",", "input-shape")
		if err != nil {
			return opt, usageError{err}
		}
		switch {
		case !named && opt.InputShape != nil:
			return opt, usagef("--input-shape %s: a second shape without a name (write NAME=DIMS)", f)
		case !named:
			opt.InputShape = s
		default:
			if opt.InputShapes == nil {
				opt.InputShapes = map[string][]int{}
			}
			opt.InputShapes[name] = s
		}
	}
	for _, f := range m.inputConsts {
		name, vals, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return opt, usagef("--input-const %q: want NAME=V[,V…]", f)
		}
		v, err := parseFloats(vals, "input-const")
		if err != nil {
			return opt, usageError{err}
		}
		if opt.Constants == nil {
			opt.Constants = map[string]*ir.Tensor{}
		}
		t := ir.NewFloat(ir.Shape{len(v)})
		if len(v) == 1 {
			t = ir.NewFloat(ir.Shape{})
		}
		for i, x := range v {
			t.F[i] = float32(x)
		}
		opt.Constants[name] = t
	}
	return opt, nil
}

// load imports and optimizes a model.
func (m *modelFlags) load(path string) (*ir.Graph, ir.PassStats, error) {
	opt, err := m.options()
	if err != nil {
		return nil, ir.PassStats{}, err
	}
	g, err := model.Load(path, opt)
	if err != nil {
		return nil, ir.PassStats{}, err
	}
	st, err := ir.Optimize(g)
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", path, err)
	}
	return g, st, nil
}

// parseScales parses "auto", "N" or a range "A:B".
func parseScales(s string) (scales []int, auto bool, err error) {
	switch {
	case s == "auto":
		return nil, true, nil
	case strings.Contains(s, ":"):
		r, err := parseInts(s, ":", "scales")
		if err != nil || len(r) != 2 || r[0] < 1 || r[1] > 30 || r[0] > r[1] {
			return nil, false, fmt.Errorf("scale range %q: want A:B with 1 ≤ A ≤ B ≤ 30", s)
		}
		for v := r[0]; v <= r[1]; v++ {
			scales = append(scales, v)
		}
		return scales, false, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 30 {
		return nil, false, fmt.Errorf("--scale %q: want auto or an integer in [1, 30]", s)
	}
	return []int{v}, false, nil
}

func pct(x float64) string {
	if x < 0 {
		return "   —  "
	}
	return fmt.Sprintf("%6.2f%%", 100*x)
}
