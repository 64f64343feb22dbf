package demodata

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"veil/data"
	"veil/internal/testmodel/testfile"
)

var update = flag.Bool("update", false, "rewrite the embedded files from testdata/")

// originals maps each embedded file (under files/) to its source under
// testdata/ and how many leading IDX records it keeps (0: the whole
// file, byte for byte).
var originals = []struct {
	embedded, source string
	records          int
}{
	{LeNet, "models/fashion_lenet.onnx", 0},
	{FashionTest + "/t10k-images-idx3-ubyte.gz", "data/fashion-mnist/test/t10k-images-idx3-ubyte.gz", FashionTestImages},
	{FashionTest + "/t10k-labels-idx1-ubyte.gz", "data/fashion-mnist/test/t10k-labels-idx1-ubyte.gz", FashionTestImages},
}

// TestEmbeddedMatchesTestdata: every embedded file is its testdata/
// original, or the original's first records (compared uncompressed, as
// gzip's output may change between Go versions).
func TestEmbeddedMatchesTestdata(t *testing.T) {
	for _, o := range originals {
		want, err := expected(o.source, o.records)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("files", filepath.FromSlash(o.embedded))
		if *update {
			if o.records > 0 {
				want, err = gzipped(want)
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := fs.ReadFile(FS(), o.embedded)
		if err != nil {
			t.Fatal(err)
		}
		if o.records > 0 {
			if got, err = gunzip(got); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from testdata/%s (first %d records); rewrite it with go test ./internal/demodata -update", path, o.source, o.records)
		}
	}
}

// TestExtractLoads: the extracted images read with data.Load as the
// first FashionTestImages of the original test set.
func TestExtractLoads(t *testing.T) {
	dir := t.TempDir()
	if err := Extract(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LeNet)); err != nil {
		t.Fatal(err)
	}
	got, err := data.Load(filepath.Join(dir, FashionTest), data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := data.Load(testfile.Path("data/fashion-mnist/test"), data.Options{Limit: FashionTestImages})
	if err != nil {
		t.Fatal(err)
	}
	if got.Count() != FashionTestImages || want.Count() != FashionTestImages {
		t.Fatalf("%d embedded images, %d original ones; want %d", got.Count(), want.Count(), FashionTestImages)
	}
	for i := range got.Samples {
		g, w := got.Samples[i], want.Samples[i]
		if g.Label != w.Label || !slices.Equal(g.Pixels, w.Pixels) {
			t.Fatalf("image %d: label %d, original's %d (or the pixels differ)", i, g.Label, w.Label)
		}
	}
}

// expected returns testdata/source, or (records > 0) its uncompressed IDX
// content cut to the first records.
func expected(source string, records int) ([]byte, error) {
	b, err := os.ReadFile(testfile.Path(source))
	if err != nil || records == 0 {
		return b, err
	}
	if b, err = gunzip(b); err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	return idxHead(b, records)
}

// idxHead returns the IDX file b (unsigned bytes) cut to its first n
// records, its first dimension set to n.
func idxHead(b []byte, n int) ([]byte, error) {
	if len(b) < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] == 0 {
		return nil, fmt.Errorf("not an IDX file of unsigned bytes")
	}
	dims := int(b[3])
	hdr := 4 + 4*dims
	if len(b) < hdr {
		return nil, fmt.Errorf("IDX header cut short")
	}
	per := 1
	for d := 1; d < dims; d++ {
		per *= int(binary.BigEndian.Uint32(b[4+4*d:]))
	}
	if int(binary.BigEndian.Uint32(b[4:])) < n || len(b) < hdr+n*per {
		return nil, fmt.Errorf("fewer than %d records", n)
	}
	out := append([]byte(nil), b[:hdr+n*per]...)
	binary.BigEndian.PutUint32(out[4:], uint32(n))
	return out, nil
}

func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
