package data

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"veil/internal/testmodel/testfile"
)

// td is the repository's committed test data.
var td = testfile.Path("data")

func tdPath(parts ...string) string { return filepath.Join(append([]string{td}, parts...)...) }

func TestLoadCommitted(t *testing.T) {
	fashionTest := tdPath("fashion-mnist", "test")
	mnistTest := tdPath("mnist", "test")
	tests := []struct {
		name        string
		load        func() (*Dataset, error)
		n           int
		h, w, c     int
		firstLabels []int
		counts      []int // per-class counts, if known
	}{
		{
			name: "fashion test IDX pair",
			load: func() (*Dataset, error) {
				return LoadIDX(filepath.Join(fashionTest, "t10k-images-idx3-ubyte.gz"), filepath.Join(fashionTest, "t10k-labels-idx1-ubyte.gz"), Options{})
			},
			n: 10000, h: 28, w: 28, c: 1,
			firstLabels: []int{9, 2, 1, 1, 6, 1, 4, 6, 5, 7},
			counts:      []int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000},
		},
		{
			name: "fashion test directory",
			load: func() (*Dataset, error) { return Load(fashionTest, Options{}) },
			n:    10000, h: 28, w: 28, c: 1,
			firstLabels: []int{9, 2, 1, 1, 6, 1, 4, 6, 5, 7},
		},
		{
			name: "fashion val directory",
			load: func() (*Dataset, error) { return Load(tdPath("fashion-mnist", "val"), Options{}) },
			n:    5000, h: 28, w: 28, c: 1,
		},
		{
			name: "mnist test comma pair",
			load: func() (*Dataset, error) {
				return Load(filepath.Join(mnistTest, "test-images-idx3-ubyte.gz")+","+filepath.Join(mnistTest, "test-labels-idx1-ubyte.gz"), Options{})
			},
			n: 2000, h: 28, w: 28, c: 1,
			counts: []int{214, 221, 200, 205, 185, 169, 189, 236, 184, 197},
		},
		{
			name: "mnist val directory",
			load: func() (*Dataset, error) { return Load(tdPath("mnist", "val"), Options{}) },
			n:    1000, h: 28, w: 28, c: 1,
			counts: []int{86, 108, 94, 107, 99, 87, 112, 101, 100, 106},
		},
		{
			name: "mnist JSON sample",
			load: func() (*Dataset, error) { return Load(tdPath("mnist", "sample.json"), Options{}) },
			n:    16, h: 28, w: 28, c: 1,
		},
		{
			name: "digits test CSV",
			load: func() (*Dataset, error) { return LoadCSV(tdPath("digits", "test.csv"), Options{PixelMax: 16}) },
			n:    397, h: 8, w: 8, c: 1,
		},
		{
			name: "digits val CSV via Load",
			load: func() (*Dataset, error) { return Load(tdPath("digits", "val.csv"), Options{PixelMax: 16}) },
			n:    300, h: 8, w: 8, c: 1,
		},
		{
			name: "fashion PNG folder",
			load: func() (*Dataset, error) { return Load(tdPath("fashion-png"), Options{}) },
			n:    50, h: 28, w: 28, c: 1,
			counts: []int{5, 5, 5, 5, 5, 5, 5, 5, 5, 5},
		},
		{
			name: "single PNG",
			load: func() (*Dataset, error) { return Load(tdPath("fashion-png", "9", "0.png"), Options{}) },
			n:    1, h: 28, w: 28, c: 1,
			firstLabels: []int{-1},
		},
		{
			name: "limit",
			load: func() (*Dataset, error) { return Load(fashionTest, Options{Limit: 3}) },
			n:    3, h: 28, w: 28, c: 1,
			firstLabels: []int{9, 2, 1},
		},
		{
			name: "resize and RGB",
			load: func() (*Dataset, error) {
				return Load(tdPath("digits", "test.csv"), Options{PixelMax: 16, Resize: [2]int{16, 12}, Channels: 3, Limit: 5})
			},
			n: 5, h: 16, w: 12, c: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			if ds.Count() != tc.n {
				t.Fatalf("got %d samples, want %d", ds.Count(), tc.n)
			}
			h, w, c, err := ds.Shape()
			if err != nil {
				t.Fatal(err)
			}
			if h != tc.h || w != tc.w || c != tc.c {
				t.Fatalf("shape %dx%dx%d, want %dx%dx%d", h, w, c, tc.h, tc.w, tc.c)
			}
			for i, want := range tc.firstLabels {
				if got := ds.Samples[i].Label; got != want {
					t.Errorf("label %d = %d, want %d", i, got, want)
				}
			}
			if tc.counts != nil {
				got := make([]int, len(tc.counts))
				for _, l := range ds.Labels() {
					if l < 0 || l >= len(got) {
						t.Fatalf("label %d out of range", l)
					}
					got[l]++
				}
				for k := range got {
					if got[k] != tc.counts[k] {
						t.Fatalf("class counts %v, want %v", got, tc.counts)
					}
				}
			}
			var lo, hi float32 = 1, 0
			for _, s := range ds.Samples {
				if len(s.Pixels) != s.H*s.W*s.C {
					t.Fatalf("%d pixels for %dx%dx%d", len(s.Pixels), s.H, s.W, s.C)
				}
				for _, v := range s.Pixels {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
			if lo < 0 || hi > 1 || hi == 0 {
				t.Fatalf("pixel range [%v,%v], want within [0,1] and not all zero", lo, hi)
			}
		})
	}
}

// The PNG folder holds Fashion-MNIST test images named by their index in the
// t10k set; they must decode to exactly the IDX pixels.
func TestPNGFolderMatchesIDX(t *testing.T) {
	idx, err := Load(tdPath("fashion-mnist", "test"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	folder, err := LoadImageFolder(tdPath("fashion-png"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for label := 0; label < 10; label++ {
		files, err := filepath.Glob(tdPath("fashion-png", strconv.Itoa(label), "*.png"))
		if err != nil || len(files) != 5 {
			t.Fatalf("label %d: %d files, %v", label, len(files), err)
		}
		for _, f := range files {
			i, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(f), ".png"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := LoadImage(f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := idx.Samples[i]
			if want.Label != label {
				t.Fatalf("%s: t10k label %d", f, want.Label)
			}
			if !equal(s.Pixels, want.Pixels) {
				t.Fatalf("%s differs from t10k image %d", f, i)
			}
		}
	}
	// Ordered by label, then numerically by name.
	prev := -1
	for _, s := range folder.Samples {
		if s.Label < prev {
			t.Fatal("folder samples not ordered by label")
		}
		prev = s.Label
	}
}

// The JSON sample holds the first 16 MNIST test digits rounded to 3 decimals.
func TestMNISTJSONMatchesIDX(t *testing.T) {
	js, err := LoadMNISTJSON(tdPath("mnist", "sample.json"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := Load(tdPath("mnist", "test"), Options{Limit: 16})
	if err != nil {
		t.Fatal(err)
	}
	for i := range js.Samples {
		if js.Samples[i].Label != idx.Samples[i].Label {
			t.Fatalf("sample %d: label %d vs %d", i, js.Samples[i].Label, idx.Samples[i].Label)
		}
		for j, v := range js.Samples[i].Pixels {
			if d := math.Abs(float64(v - idx.Samples[i].Pixels[j])); d > 0.0006 {
				t.Fatalf("sample %d pixel %d: %v vs %v", i, j, v, idx.Samples[i].Pixels[j])
			}
		}
	}
}

// The per-class file format of the npm package: {"data": [...]}, label from
// the file name.
func TestMNISTJSONDigitFile(t *testing.T) {
	dir := t.TempDir()
	vals := make([]float64, 2*784)
	vals[5], vals[784+7] = 0.5, 1
	b, _ := json.Marshal(map[string]any{"data": vals})
	p := filepath.Join(dir, "7.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Count() != 2 || ds.Samples[0].Label != 7 || ds.Samples[0].Pixels[5] != 0.5 || ds.Samples[1].Pixels[7] != 1 {
		t.Fatalf("got %d samples, label %d", ds.Count(), ds.Samples[0].Label)
	}
}

// The models' reference inputs were computed by the training script from the
// same committed files; the Go loader must reproduce them bit for bit.
func TestModelReferenceInputs(t *testing.T) {
	refs, _ := filepath.Glob(testfile.Path("models/*.ref.json"))
	if len(refs) != 3 {
		t.Fatalf("found %d model reference files, want 3", len(refs))
	}
	for _, ref := range refs {
		t.Run(filepath.Base(ref), func(t *testing.T) {
			b, err := os.ReadFile(ref)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				TestSet  string      `json:"test_set"`
				PixelMax float64     `json:"pixel_max"`
				Inputs   [][]float32 `json:"inputs"`
				Labels   []int       `json:"labels"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			set, ok := strings.CutPrefix(r.TestSet, "testdata/")
			if !ok {
				t.Fatalf("test_set %q is not under testdata/", r.TestSet)
			}
			ds, err := Load(testfile.Path(set), Options{PixelMax: r.PixelMax, Limit: len(r.Inputs)})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range ds.Samples {
				if s.Label != r.Labels[i] {
					t.Fatalf("sample %d: label %d, reference %d", i, s.Label, r.Labels[i])
				}
				if !equal(s.CHW(), r.Inputs[i]) {
					t.Fatalf("sample %d: pixels differ from the reference inputs", i)
				}
			}
		})
	}
}

func TestOptions(t *testing.T) {
	gray := func() Sample {
		return Sample{Pixels: []float32{0, 51, 102, 255}, H: 2, W: 2, C: 1, Label: 3}
	}
	rgb := func() Sample {
		return Sample{Pixels: []float32{255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255}, H: 2, W: 2, C: 3}
	}
	tests := []struct {
		name string
		in   Sample
		opt  Options
		want []float32
		c    int
	}{
		{"scale", gray(), Options{}, []float32{0, 0.2, 0.4, 1}, 1},
		{"pixelmax", gray(), Options{PixelMax: 51}, []float32{0, 1, 2, 5}, 1},
		{"gray to rgb", gray(), Options{Channels: 3}, []float32{0, 0, 0, 0.2, 0.2, 0.2, 0.4, 0.4, 0.4, 1, 1, 1}, 3},
		{"rgb to gray", rgb(), Options{Channels: 1}, []float32{0.299, 0.587, 0.114, 1}, 1},
		{"bgr", rgb(), Options{BGR: true}, []float32{0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1}, 3},
		{"mean std single", gray(), Options{Mean: []float64{0.5}, Std: []float64{0.5}}, []float32{-1, -0.6, -0.2, 1}, 1},
		{"mean only", gray(), Options{Mean: []float64{1}}, []float32{-1, -0.8, -0.6, 0}, 1},
		{"mean std per channel after bgr", rgb(), Options{BGR: true, Mean: []float64{0, 0.5, 1}, Std: []float64{1, 0.5, 2}},
			[]float32{0, -1, 0, 0, 1, -0.5, 1, -1, -0.5, 1, 1, 0}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.opt.check(255)
			if err != nil {
				t.Fatal(err)
			}
			s := tc.in
			got, err := c.finish("test", s.Pixels, s.H, s.W, s.C, s.Label)
			if err != nil {
				t.Fatal(err)
			}
			if got.C != tc.c || len(got.Pixels) != len(tc.want) {
				t.Fatalf("C=%d len=%d, want C=%d len=%d", got.C, len(got.Pixels), tc.c, len(tc.want))
			}
			for i := range tc.want {
				if math.Abs(float64(got.Pixels[i]-tc.want[i])) > 1e-6 {
					t.Fatalf("pixels %v, want %v", got.Pixels, tc.want)
				}
			}
		})
	}
}

func TestResize(t *testing.T) {
	// A constant image stays constant; a horizontal ramp stays monotonic.
	c, _ := Options{Resize: [2]int{5, 7}, PixelMax: 1}.check(255)
	flat := make([]float32, 4*4)
	for i := range flat {
		flat[i] = 0.25
	}
	s, err := c.finish("flat", flat, 4, 4, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.H != 5 || s.W != 7 || len(s.Pixels) != 35 {
		t.Fatalf("got %dx%d (%d)", s.H, s.W, len(s.Pixels))
	}
	for _, v := range s.Pixels {
		if math.Abs(float64(v)-0.25) > 1e-4 {
			t.Fatalf("constant image resized to %v", s.Pixels)
		}
	}
	ramp := make([]float32, 0, 3*8*8)
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			v := float32(x) / 7
			ramp = append(ramp, v, v, 1-v)
		}
	}
	c, _ = Options{Resize: [2]int{4, 4}, PixelMax: 1}.check(255)
	s, err = c.finish("ramp", ramp, 8, 8, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	for x := 1; x < 4; x++ {
		if !(s.Pixels[3*x] > s.Pixels[3*(x-1)]) || !(s.Pixels[3*x+2] < s.Pixels[3*(x-1)+2]) {
			t.Fatalf("ramp not monotonic after resize: %v", s.Pixels[:12])
		}
	}
}

func TestCHW(t *testing.T) {
	s := Sample{Pixels: []float32{1, 2, 3, 4, 5, 6}, H: 1, W: 2, C: 3}
	if got, want := s.CHW(), []float32{1, 4, 2, 5, 3, 6}; !equal(got, want) {
		t.Fatalf("CHW %v, want %v", got, want)
	}
}

func TestBadOptions(t *testing.T) {
	for _, opt := range []Options{
		{PixelMax: -1},
		{PixelMax: math.NaN()},
		{Channels: 2},
		{Resize: [2]int{3, 0}},
		{Limit: -1},
		{Std: []float64{0}},
	} {
		if _, err := Load(tdPath("digits", "val.csv"), opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
	if _, err := Load(tdPath("digits", "val.csv"), Options{Mean: []float64{1, 2}}); err == nil || !strings.Contains(err.Error(), "mean: 2 values for an image of 1 channel(s)") {
		t.Errorf("mean length: %v", err)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
