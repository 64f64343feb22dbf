package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes builds an IDX file of unsigned bytes.
func idxBytes(dims []uint32, body []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, idxUint8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(body)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writePNG(t *testing.T, dir, name string, w, h int) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, b.Bytes())
}

func TestSmallIDX(t *testing.T) {
	dir := t.TempDir()
	img := writeFile(t, dir, "imgs.idx", idxBytes([]uint32{2, 2, 3}, []byte{0, 255, 51, 0, 0, 0, 1, 2, 3, 4, 5, 6}))
	lbl := writeFile(t, dir, "labels.idx.gz", gz(idxBytes([]uint32{2}, []byte{4, 7})))
	ds, err := LoadIDX(img, lbl, Options{PixelMax: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Count() != 2 || ds.Samples[1].Label != 7 || ds.Samples[0].H != 2 || ds.Samples[0].W != 3 || ds.Samples[1].Pixels[5] != 6 {
		t.Fatalf("unexpected %+v", ds.Samples)
	}
	// Without labels every label is -1.
	ds, err = Load(img, Options{})
	if err != nil || ds.Samples[0].Label != -1 || ds.Samples[0].Pixels[1] != 1 {
		t.Fatalf("unlabelled: %v %+v", err, ds)
	}
	// A 4-D IDX is N,H,W,C.
	rgb := writeFile(t, dir, "rgb.idx", idxBytes([]uint32{1, 1, 2, 3}, []byte{255, 0, 0, 0, 0, 255}))
	ds, err = LoadIDX(rgb, "", Options{BGR: true})
	if err != nil || ds.Samples[0].C != 3 || !equal(ds.Samples[0].Pixels, []float32{0, 0, 1, 1, 0, 0}) {
		t.Fatalf("rgb: %v %+v", err, ds)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good := idxBytes([]uint32{2, 2, 2}, make([]byte, 8))
	goodLbl := idxBytes([]uint32{2}, []byte{1, 2})
	w := func(name string, b []byte) string { return writeFile(t, dir, name, b) }

	imgs := w("good-images", good)
	lbls := w("good-labels", goodLbl)
	tests := []struct {
		name string
		load func() error
		want []string // substrings of the error
	}{
		{"bad magic", func() error {
			_, err := LoadIDX(w("magic", []byte{1, 2, 8, 3, 0, 0, 0, 0}), lbls, Options{})
			return err
		},
			[]string{"magic", "bad IDX magic"}},
		{"unknown type", func() error {
			_, err := LoadIDX(w("type", []byte{0, 0, 0x42, 1, 0, 0, 0, 0}), "", Options{})
			return err
		},
			[]string{"type", "unknown element type 0x42"}},
		{"short header", func() error { _, err := LoadIDX(w("short", []byte{0, 0}), "", Options{}); return err },
			[]string{"short", "truncated IDX header"}},
		{"truncated dims", func() error { _, err := LoadIDX(w("dims", []byte{0, 0, 8, 3, 0, 0}), "", Options{}); return err },
			[]string{"dims", "truncated IDX header"}},
		{"truncated data", func() error { _, err := LoadIDX(w("trunc", good[:len(good)-1]), lbls, Options{}); return err },
			[]string{"trunc", "truncated IDX data"}},
		{"huge dims", func() error {
			_, err := LoadIDX(w("huge", idxBytes([]uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil)), "", Options{})
			return err
		}, []string{"huge", "declare more data than the loader's limit"}},
		{"trailing data", func() error { _, err := LoadIDX(w("trail", append(good, 0)), lbls, Options{}); return err },
			[]string{"trail", "trailing data"}},
		{"count mismatch", func() error {
			_, err := LoadIDX(imgs, w("three-labels", idxBytes([]uint32{3}, []byte{1, 2, 3})), Options{})
			return err
		}, []string{"count mismatch", "good-images", "three-labels", "2 images", "3 labels"}},
		{"labels rank", func() error {
			_, err := LoadIDX(imgs, w("rank-labels", idxBytes([]uint32{2, 1}, []byte{1, 2})), Options{})
			return err
		}, []string{"rank-labels", "want 1"}},
		{"images rank", func() error { _, err := LoadIDX(lbls, "", Options{}); return err },
			[]string{"good-labels", "want 3"}},
		{"bad gzip", func() error { _, err := LoadIDX(w("broken.gz", gz(good)[:20]), "", Options{}); return err },
			[]string{"broken.gz", "gzip"}},
		{"missing file", func() error { _, err := LoadIDX(filepath.Join(dir, "nope"), "", Options{}); return err },
			[]string{"nope"}},
		{"bad pair spec", func() error { _, err := Load("a,b,c", Options{}); return err },
			[]string{"images,labels"}},
		{"unknown format", func() error { _, err := Load(w("notes.txt", []byte("hello")), Options{}); return err },
			[]string{"notes.txt", "unrecognized"}},

		{"csv ragged", func() error {
			_, err := LoadCSV(w("ragged.csv", []byte("1,2,3,4,0\n1,2,3,1\n")), Options{})
			return err
		},
			[]string{"ragged.csv:2", "4 fields, want 5"}},
		{"csv not square", func() error { _, err := LoadCSV(w("square.csv", []byte("1,2,3,0\n")), Options{}); return err },
			[]string{"square.csv:1", "square"}},
		{"csv bad label", func() error { _, err := LoadCSV(w("label.csv", []byte("1,2,3,4,x\n")), Options{}); return err },
			[]string{"label.csv:1", "not an integer"}},
		{"csv fractional label", func() error { _, err := LoadCSV(w("frac.csv", []byte("1,2,3,4,1.5\n")), Options{}); return err },
			[]string{"frac.csv:1", "not an integer"}},
		{"csv bad value", func() error {
			_, err := LoadCSV(w("value.csv", []byte("1,2,3,4,0\n1,z,3,4,0\n")), Options{})
			return err
		},
			[]string{"value.csv:2", "field 2", "not a number"}},
		{"csv empty", func() error { _, err := LoadCSV(w("empty.csv", nil), Options{}); return err },
			[]string{"empty.csv", "no samples"}},
		{"csv bad quotes", func() error { _, err := LoadCSV(w("quote.csv", []byte("1,\"2,3\n")), Options{}); return err },
			[]string{"quote.csv"}},

		{"json garbage", func() error {
			_, err := LoadMNISTJSON(w("bad.json", []byte("[{\"input\": [1,")), Options{})
			return err
		},
			[]string{"bad.json", "not an mnist JSON set"}},
		{"json not square", func() error {
			_, err := LoadMNISTJSON(w("sq.json", []byte(`[{"input":[0,1,0],"output":[1]}]`)), Options{})
			return err
		}, []string{"sq.json", "entry 0", "square"}},
		{"json mixed sizes", func() error {
			_, err := LoadMNISTJSON(w("mixed.json", []byte(`[{"input":[0,1,0,1],"output":[1]},{"input":[0],"output":[1]}]`)), Options{})
			return err
		}, []string{"mixed.json", "mixed image sizes"}},
		{"json truncated digits", func() error {
			_, err := LoadMNISTJSON(w("3.json", []byte(`{"data":[0,1,2]}`)), Options{})
			return err
		}, []string{"3.json", "truncated"}},
		{"json no data", func() error { _, err := LoadMNISTJSON(w("nodata.json", []byte(`{"x":1}`)), Options{}); return err },
			[]string{"nodata.json", "\"data\""}},

		{"folder non-integer label", func() error {
			writePNG(t, dir, "folder1/cat/0.png", 2, 2)
			_, err := LoadImageFolder(filepath.Join(dir, "folder1"), Options{})
			return err
		}, []string{"folder1", `"cat"`, "not a class index"}},
		{"folder mixed sizes", func() error {
			writePNG(t, dir, "folder2/0/a.png", 2, 2)
			writePNG(t, dir, "folder2/1/b.png", 3, 2)
			_, err := LoadImageFolder(filepath.Join(dir, "folder2"), Options{})
			return err
		}, []string{"folder2", "mixed image sizes", "b.png", "2x3x1", "2x2x1"}},
		{"folder empty", func() error {
			os.MkdirAll(filepath.Join(dir, "folder3", "0"), 0o755)
			_, err := LoadImageFolder(filepath.Join(dir, "folder3"), Options{})
			return err
		}, []string{"folder3", "no PNG or JPEG"}},
		{"corrupt png", func() error {
			_, err := LoadImage(w("corrupt.png", []byte("\x89PNG\r\n\x1a\nxx")), Options{})
			return err
		}, []string{"corrupt.png", "cannot decode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load()
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	// Mixed sizes are fine once resized.
	ds, err := LoadImageFolder(filepath.Join(dir, "folder2"), Options{Resize: [2]int{4, 4}})
	if err != nil || ds.Count() != 2 || ds.Samples[1].Label != 1 {
		t.Fatalf("resized folder: %v", err)
	}
}

func TestLoadDirectoryDispatch(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "pair/train-images-idx3-ubyte", idxBytes([]uint32{1, 1, 1}, []byte{9}))
	writeFile(t, dir, "pair/train-labels-idx1-ubyte", idxBytes([]uint32{1}, []byte{3}))
	ds, err := Load(filepath.Join(dir, "pair"), Options{PixelMax: 9})
	if err != nil || ds.Count() != 1 || ds.Samples[0].Label != 3 || ds.Samples[0].Pixels[0] != 1 {
		t.Fatalf("IDX directory: %v %+v", err, ds)
	}
	// Two images files: not an IDX pair, so it is read as an image folder
	// (whose contents are not images).
	writeFile(t, dir, "pair/t10k-images-idx3-ubyte", idxBytes([]uint32{1, 1, 1}, []byte{9}))
	if _, err := Load(filepath.Join(dir, "pair"), Options{}); err == nil || !strings.Contains(err.Error(), "no PNG or JPEG") {
		t.Fatalf("ambiguous IDX directory: %v", err)
	}
	// Images directly in the directory are unlabelled.
	writePNG(t, dir, "flat/a.png", 3, 3)
	writePNG(t, dir, "flat/b.png", 3, 3)
	ds, err = Load(filepath.Join(dir, "flat"), Options{Channels: 3})
	if err != nil || ds.Count() != 2 || ds.Samples[0].Label != -1 || ds.Samples[0].C != 3 {
		t.Fatalf("flat folder: %v %+v", err, ds)
	}
}

func TestCSVHeaderAndJPEG(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "h.csv.gz", gz([]byte("p0,p1,p2,p3,label\n\n0,16,8,4,2\n16,16,16,16,3.0\n")))
	ds, err := Load(p, Options{PixelMax: 16})
	if err != nil || ds.Count() != 2 || ds.Samples[1].Label != 3 || !equal(ds.Samples[0].Pixels, []float32{0, 1, 0.5, 0.25}) {
		t.Fatalf("csv with header: %v %+v", err, ds)
	}
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	jp := writeFile(t, dir, "x.JPG", b.Bytes())
	ds, err = Load(jp, Options{})
	if err != nil || ds.Samples[0].C != 3 || ds.Samples[0].H != 2 || ds.Samples[0].W != 4 || ds.Samples[0].Label != -1 {
		t.Fatalf("jpeg: %v %+v", err, ds)
	}
	if v := ds.Samples[0].Pixels[0]; v < 0.75 || v > 0.82 {
		t.Fatalf("jpeg pixel %v, want about 200/255", v)
	}
	s, err := LoadImage(jp, Options{Channels: 1})
	if err != nil || s.C != 1 || len(s.Pixels) != 8 {
		t.Fatalf("jpeg to gray: %v %+v", err, s)
	}
}

func TestNaturalLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"2.png", "10.png", true},
		{"10.png", "2.png", false},
		{"2.png", "a.png", true},
		{"a.png", "b.png", true},
		{"b.png", "a.png", false},
	} {
		if got := naturalLess(tc.a, tc.b); got != tc.less {
			t.Errorf("naturalLess(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// FuzzLoadIDX feeds arbitrary image and label files to LoadIDX: it must
// return an error or a consistent dataset, never panic. The seed corpus runs
// in every `go test`.
func FuzzLoadIDX(f *testing.F) {
	good := idxBytes([]uint32{2, 2, 2}, []byte{0, 1, 2, 3, 4, 5, 6, 255})
	lbl := idxBytes([]uint32{2}, []byte{0, 9})
	f.Add(good, lbl)
	f.Add(gz(good), gz(lbl))
	f.Add(good[:len(good)-1], lbl)
	f.Add(append(append([]byte{}, good...), 0), lbl)
	f.Add(idxBytes([]uint32{1, 1, 1, 1}, []byte{7}), idxBytes([]uint32{1}, []byte{1}))
	f.Add([]byte{0, 0, idxFloat32, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x3f, 0x80, 0, 0}, []byte{0, 0, idxInt16, 1, 0, 0, 0, 1, 0xff, 0xff})
	f.Add([]byte{0, 0, idxFloat64, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, []byte{0, 0, idxInt32, 1, 0, 0, 0, 1, 0, 0, 0, 5})
	f.Add(idxBytes([]uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil), lbl)
	f.Add(idxBytes([]uint32{0, 0, 0}, nil), idxBytes([]uint32{0}, nil))
	f.Add([]byte{0, 0, 8}, []byte{})
	f.Add([]byte{1, 2, 3, 4}, []byte{0x1f, 0x8b, 0, 0})
	f.Add(gz(good)[:15], lbl)
	f.Fuzz(func(t *testing.T, images, labels []byte) {
		dir := t.TempDir()
		ip := filepath.Join(dir, "images")
		lp := filepath.Join(dir, "labels")
		if err := os.WriteFile(ip, images, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lp, labels, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, opt := range []Options{{}, {Channels: 3, BGR: true, Limit: 1}, {Resize: [2]int{2, 3}, Mean: []float64{0.5}}} {
			ds, err := LoadIDX(ip, lp, opt)
			if err != nil {
				if !strings.Contains(err.Error(), dir) && !strings.Contains(err.Error(), "cannot") {
					t.Fatalf("error does not name the file: %v", err)
				}
				continue
			}
			for _, s := range ds.Samples {
				if len(s.Pixels) != s.H*s.W*s.C || s.Label < 0 {
					t.Fatalf("inconsistent sample %dx%dx%d, %d pixels, label %d", s.H, s.W, s.C, len(s.Pixels), s.Label)
				}
			}
		}
	})
}
