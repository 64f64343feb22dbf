package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/image/draw"
)

// maxImageSide bounds each side of a decoded image (the pixel count is
// bounded by Options.MaxPixels), so a corrupt
// header cannot make the decoder allocate gigabytes.
const maxImageSide = 1 << 16

// LoadImage reads one PNG or JPEG image. Grayscale images (8 or 16 bit) have
// 1 channel, all others 3 (R,G,B; alpha is ignored). Raw values are on the
// 8-bit scale 0..255 (16-bit images are divided by 257), so the default
// PixelMax of 255 maps them to [0,1]. The label is -1.
func LoadImage(path string, opt Options) (Sample, error) {
	c, err := opt.check(255)
	if err != nil {
		return Sample{}, err
	}
	return loadImage(path, -1, c)
}

func loadImage(path string, label int, c checked) (Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return Sample{}, fmt.Errorf("data: %w", err)
	}
	b, err := readAtMost(f, MaxFileBytes)
	f.Close()
	if err != nil {
		return Sample{}, fmt.Errorf("data: %s: %w", path, err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Sample{}, fmt.Errorf("data: %s: cannot decode image: %v", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxImageSide || cfg.Height > maxImageSide {
		return Sample{}, fmt.Errorf("data: %s: image size %dx%d out of range (1..%d per side)", path, cfg.Width, cfg.Height, maxImageSide)
	}
	if cfg.Width > c.MaxPixels/cfg.Height {
		return Sample{}, fmt.Errorf("data: %s: image of %dx%d has more than %d pixels (raise the pixel limit to load it)", path, cfg.Width, cfg.Height, c.MaxPixels)
	}
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return Sample{}, fmt.Errorf("data: %s: cannot decode image: %v", path, err)
	}
	if format != "png" && format != "jpeg" {
		return Sample{}, fmt.Errorf("data: %s: unsupported image format %q (want PNG or JPEG)", path, format)
	}
	raw, h, w, ch := imagePixels(img)
	if h == 0 || w == 0 {
		return Sample{}, fmt.Errorf("data: %s: empty image", path)
	}
	return c.finish(path, raw, h, w, ch, label)
}

// imagePixels returns the HWC pixels of img on the 0..255 scale.
func imagePixels(img image.Image) (raw []float32, h, w, c int) {
	r := img.Bounds()
	h, w = r.Dy(), r.Dx()
	switch im := img.(type) {
	case *image.Gray:
		raw = make([]float32, h*w)
		for y := 0; y < h; y++ {
			row := im.Pix[y*im.Stride : y*im.Stride+w]
			for x, v := range row {
				raw[y*w+x] = float32(v)
			}
		}
		return raw, h, w, 1
	case *image.Gray16:
		raw = make([]float32, h*w)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				raw[y*w+x] = float32(im.Gray16At(r.Min.X+x, r.Min.Y+y).Y) / 257
			}
		}
		return raw, h, w, 1
	}
	raw = make([]float32, h*w*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := color.NRGBA64Model.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA64)
			i := 3 * (y*w + x)
			raw[i] = float32(p.R) / 257
			raw[i+1] = float32(p.G) / 257
			raw[i+2] = float32(p.B) / 257
		}
	}
	return raw, h, w, 3
}

// LoadImageFolder reads dir/<label>/*.png|*.jpg|*.jpeg, where every
// sub-directory name is an integer class index (a non-integer name is an
// error). Images directly inside dir get label -1. Hidden entries are
// skipped. Samples are ordered by label, then by file name (numeric names in
// numeric order). All images must end up the same size and channel count
// (set Options.Resize or Options.Channels to make mixed folders uniform).
func LoadImageFolder(dir string, opt Options) (*Dataset, error) {
	c, err := opt.check(255)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	type item struct {
		path  string
		label int
	}
	var items []item
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !e.IsDir() {
			if isImageName(strings.ToLower(name)) {
				items = append(items, item{filepath.Join(dir, name), -1})
			}
			continue
		}
		label, err := strconv.Atoi(name)
		if err != nil || label < 0 {
			return nil, fmt.Errorf("data: %s: sub-directory %q is not a class index (image folders are <dir>/<label index>/*.png, with a non-negative integer label)", dir, name)
		}
		files, err := os.ReadDir(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		var names []string
		for _, f := range files {
			if !f.IsDir() && !strings.HasPrefix(f.Name(), ".") && isImageName(strings.ToLower(f.Name())) {
				names = append(names, f.Name())
			}
		}
		sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
		for _, n := range names {
			items = append(items, item{filepath.Join(dir, name, n), label})
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].label != items[j].label {
			return items[i].label < items[j].label
		}
		return naturalLess(filepath.Base(items[i].path), filepath.Base(items[j].path))
	})
	if len(items) == 0 {
		return nil, fmt.Errorf("data: %s: no PNG or JPEG images found (want <dir>/<label index>/*.png)", dir)
	}
	ds := &Dataset{Source: dir}
	for _, it := range items[:c.take(len(items))] {
		s, err := loadImage(it.path, it.label, c)
		if err != nil {
			return nil, err
		}
		if len(ds.Samples) > 0 {
			f := ds.Samples[0]
			if s.H != f.H || s.W != f.W || s.C != f.C {
				return nil, fmt.Errorf("data: %s: mixed image sizes: %s is %dx%dx%d but %s is %dx%dx%d (set Resize/Channels to make them uniform)",
					dir, it.path, s.H, s.W, s.C, items[0].path, f.H, f.W, f.C)
			}
		}
		if err := ds.add(s); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// naturalLess orders names with integer stems numerically ("2.png" before
// "10.png"), and others lexically.
func naturalLess(a, b string) bool {
	sa := strings.TrimSuffix(a, filepath.Ext(a))
	sb := strings.TrimSuffix(b, filepath.Ext(b))
	na, ea := strconv.Atoi(sa)
	nb, eb := strconv.Atoi(sb)
	switch {
	case ea == nil && eb == nil && na != nb:
		return na < nb
	case ea == nil && eb != nil:
		return true
	case ea != nil && eb == nil:
		return false
	}
	return a < b
}

// resize scales s to h×w with bilinear interpolation
// (golang.org/x/image/draw.BiLinear). Values are clamped to [0,1] and held
// with 16-bit precision while resizing.
func resize(s *Sample, h, w int) error {
	if s.C != 1 && s.C != 3 {
		return fmt.Errorf("cannot resize a %d-channel image (want 1 or 3)", s.C)
	}
	q := func(v float32) uint16 {
		switch {
		case !(v > 0): // also NaN
			return 0
		case v >= 1:
			return 0xffff
		}
		return uint16(v*0xffff + 0.5)
	}
	srcRect := image.Rect(0, 0, s.W, s.H)
	dstRect := image.Rect(0, 0, w, h)
	if s.C == 1 {
		src := image.NewGray16(srcRect)
		for i, v := range s.Pixels {
			u := q(v)
			src.Pix[2*i], src.Pix[2*i+1] = byte(u>>8), byte(u)
		}
		dst := image.NewGray16(dstRect)
		draw.BiLinear.Scale(dst, dstRect, src, srcRect, draw.Src, nil)
		out := make([]float32, h*w)
		for i := range out {
			out[i] = float32(uint16(dst.Pix[2*i])<<8|uint16(dst.Pix[2*i+1])) / 0xffff
		}
		s.Pixels, s.H, s.W = out, h, w
		return nil
	}
	src := image.NewRGBA64(srcRect)
	for p := 0; p < s.H*s.W; p++ {
		for ch := 0; ch < 3; ch++ {
			u := q(s.Pixels[3*p+ch])
			src.Pix[8*p+2*ch], src.Pix[8*p+2*ch+1] = byte(u>>8), byte(u)
		}
		src.Pix[8*p+6], src.Pix[8*p+7] = 0xff, 0xff
	}
	dst := image.NewRGBA64(dstRect)
	draw.BiLinear.Scale(dst, dstRect, src, srcRect, draw.Src, nil)
	out := make([]float32, h*w*3)
	for p := 0; p < h*w; p++ {
		for ch := 0; ch < 3; ch++ {
			out[3*p+ch] = float32(uint16(dst.Pix[8*p+2*ch])<<8|uint16(dst.Pix[8*p+2*ch+1])) / 0xffff
		}
	}
	s.Pixels, s.H, s.W = out, h, w
	return nil
}
