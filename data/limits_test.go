package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"veil/internal/testmodel/testfile"
)

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// gzipZeros returns the gzip of prefix followed by n zero bytes.
func gzipZeros(prefix []byte, n int) []byte {
	var out bytes.Buffer
	w, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	w.Write(prefix)
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zero))
		w.Write(zero[:k])
		n -= k
	}
	w.Close()
	return out.Bytes()
}

// A 2 MB gzip IDX file used to make the loader allocate 4.5 GB before it
// failed: decompression is now bounded by what the header declares.
func TestIDXGzipBomb(t *testing.T) {
	dir := t.TempDir()
	hdr := idxBytes([]uint32{10, 28, 28}, nil)
	bomb := gzipZeros(hdr, 512<<20) // 10 images declared, 512 MiB of zeros sent
	path := filepath.Join(dir, "bomb-images.gz")
	if err := os.WriteFile(path, bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("bomb: %d bytes of gzip, 512 MiB decompressed", len(bomb))
	var err error
	n := allocated(func() { _, err = LoadIDX(path, "", Options{}) })
	if err == nil || !strings.Contains(err.Error(), "trailing data") || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadIDX: %v, want an error naming the file and its trailing data", err)
	}
	if n > 8<<20 {
		t.Errorf("loading the bomb allocated %d bytes, want at most 8 MiB", n)
	}
}

// A header declaring the largest legal body with little data behind it
// costs only what arrives; one declaring more is refused before reading.
func TestIDXDeclaredSizeBounds(t *testing.T) {
	dir := t.TempDir()
	// 256 Mi bytes declared (the limit), 1 KiB present.
	legal := idxBytes([]uint32{1 << 8, 1 << 10, 1 << 10}, make([]byte, 1024))
	p := filepath.Join(dir, "legal-images")
	os.WriteFile(p, legal, 0o644)
	var err error
	n := allocated(func() { _, err = LoadIDX(p, "", Options{}) })
	if err == nil || !strings.Contains(err.Error(), "truncated IDX data") {
		t.Errorf("LoadIDX: %v, want truncated IDX data", err)
	}
	if n > 4<<20 {
		t.Errorf("a short file declaring %d bytes allocated %d bytes", MaxFileBytes, n)
	}
	over := idxBytes([]uint32{1<<8 + 1, 1 << 10, 1 << 10}, nil)
	p = filepath.Join(dir, "over-images")
	os.WriteFile(p, over, 0o644)
	if _, err := LoadIDX(p, "", Options{}); !errors.Is(err, errTooLarge) {
		t.Errorf("LoadIDX of a header declaring more than the limit: %v", err)
	}
}

// Text formats are bounded after decompression too.
func TestTextGzipBomb(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bomb.csv.gz")
	os.WriteFile(p, gzipZeros([]byte("1,2,3,4,0\n"), MaxFileBytes), 0o644)
	var err error
	n := allocated(func() { _, err = LoadCSV(p, Options{}) })
	if !errors.Is(err, errTooLarge) || !strings.Contains(err.Error(), p) {
		t.Errorf("LoadCSV: %v, want a refusal naming the file", err)
	}
	if n > 2*MaxFileBytes {
		t.Errorf("allocated %d bytes, want at most %d", n, 2*MaxFileBytes)
	}
}

// pngHeader returns a valid 1×1 gray PNG whose IHDR claims w×h (the
// decoder reads the size before any pixel data).
func pngHeader(t testing.TB, w, h uint32) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	// IHDR data starts at 16: width, height; its CRC follows the 13 bytes.
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// A 783 KB 16384×16384 PNG cost 8.6 GB and 28 s: images above the pixel
// limit are now refused from their header.
func TestImagePixelLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.png")
	os.WriteFile(big, pngHeader(t, 16384, 16384), 0o644)
	var err error
	n := allocated(func() { _, err = LoadImage(big, Options{}) })
	if err == nil || !strings.Contains(err.Error(), "more than 16777216 pixels") || !strings.Contains(err.Error(), big) {
		t.Errorf("LoadImage: %v, want a refusal naming the file and the limit", err)
	}
	if n > 1<<20 {
		t.Errorf("refusing the image allocated %d bytes", n)
	}
	// The limit can be raised: then the (truncated) pixel data is what fails.
	if _, err := LoadImage(big, Options{MaxPixels: 1 << 28}); err == nil || strings.Contains(err.Error(), "pixels") {
		t.Errorf("LoadImage with a raised limit: %v, want a decoding error", err)
	}
	if _, err := LoadImage(big, Options{Resize: [2]int{1 << 13, 1 << 12}}); err == nil || !strings.Contains(err.Error(), "Resize") {
		t.Errorf("a resize target above the limit: %v", err)
	}
}

// The largest image the default limit allows decodes, and stays within
// the documented 32 bytes per pixel.
func TestLargestLegalImage(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a 16 Mi pixel image")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "legal.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, image.NewRGBA64(image.Rect(0, 0, 4096, 4096))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var s Sample
	n := allocated(func() { s, err = LoadImage(p, Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	if s.H != 4096 || s.W != 4096 || s.C != 3 {
		t.Fatalf("decoded %dx%dx%d", s.H, s.W, s.C)
	}
	if limit := uint64(32 * DefaultMaxPixels); n > limit {
		t.Errorf("decoding allocated %d bytes, more than the documented %d", n, limit)
	}
	t.Logf("a %d-pixel 16-bit RGBA PNG allocated %d MiB", DefaultMaxPixels, n>>20)
}

// checkLoaded is what the loader fuzz targets check of a successful load.
func checkLoaded(t *testing.T, ds *Dataset) {
	values := 0
	for _, s := range ds.Samples {
		if len(s.Pixels) != s.H*s.W*s.C || s.H < 1 || s.W < 1 || (s.C != 1 && s.C != 3) {
			t.Fatalf("inconsistent sample %dx%dx%d with %d pixels", s.H, s.W, s.C, len(s.Pixels))
		}
		values += len(s.Pixels)
	}
	if values > MaxValues {
		t.Fatalf("loaded %d values, more than MaxValues", values)
	}
}

// fuzzFile writes b to a fresh file named name and returns its path.
func fuzzFile(t *testing.T, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzLoadImage(f *testing.F) {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2)))
	f.Add(b.Bytes())
	b.Reset()
	png.Encode(&b, image.NewRGBA64(image.Rect(0, 0, 2, 2)))
	f.Add(b.Bytes())
	f.Add(pngHeader(f, 9000, 9000))
	if img, err := os.ReadFile(testfile.Path("data/fashion-png/0/19.png")); err == nil {
		f.Add(img)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := fuzzFile(t, "x.png", b)
		// A small pixel limit keeps each input fast; the bound is what is
		// being tested.
		s, err := LoadImage(p, Options{MaxPixels: 1 << 16, Channels: 3})
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if s.H*s.W > 1<<16 {
			t.Fatalf("decoded %dx%d above the pixel limit", s.H, s.W)
		}
		checkLoaded(t, &Dataset{Samples: []Sample{s}})
	})
}

func FuzzLoadCSV(f *testing.F) {
	f.Add([]byte("1,2,3,4,0\n5,6,7,8,1\n"))
	f.Add([]byte("a,b,c,d,label\n1,2,3,4,0\n"))
	f.Add([]byte("1,2,3,4,0\n5,6,7,8\n"))
	f.Add(gzipZeros([]byte("0,0,0,0,1\n"), 100))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := fuzzFile(t, "x.csv", b)
		ds, err := LoadCSV(p, Options{PixelMax: 16})
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkLoaded(t, ds)
	})
}

func FuzzLoadMNISTJSON(f *testing.F) {
	f.Add([]byte(`[{"input":[0,0.5,1,0],"output":[0,1]}]`))
	f.Add([]byte(`[{"input":[0,0.5,1,0],"label":3}]`))
	f.Add([]byte(`{"data":[0,0.5,1,0]}`))
	f.Add([]byte(`[{"input":[0,0.5,1],"output":[1]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := fuzzFile(t, "7.json", b)
		ds, err := LoadMNISTJSON(p, Options{})
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkLoaded(t, ds)
	})
}
