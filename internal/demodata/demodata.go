// Package demodata holds the model and the test images that veil demo
// and veil bench use when no model or data is given, embedded in the
// binary so that they run from any working directory.
//
// The files are copies of testdata/models/fashion_lenet.onnx and of the
// first [FashionTestImages] images and labels of
// testdata/data/fashion-mnist/test (IDX, gzipped): about 300 KB in all.
// The package's test checks that they still match testdata/; it rewrites
// them from it with
//
//	go test ./internal/demodata -update
package demodata

import (
	"embed"
	"io/fs"
	"os"
)

//go:embed files
var files embed.FS

const (
	// LeNet is the file name of the Fashion-MNIST LeNet (ONNX).
	LeNet = "fashion_lenet.onnx"
	// FashionTest is the directory name of the Fashion-MNIST test
	// images: an IDX images file and an IDX labels file.
	FashionTest = "fashion-mnist-test"
	// FashionTestImages is how many test images FashionTest holds.
	FashionTestImages = 100
)

// FS returns the embedded files, LeNet and FashionTest at its root.
func FS() fs.FS {
	sub, err := fs.Sub(files, "files")
	if err != nil {
		panic(err) // "files" is a valid path, embedded above
	}
	return sub
}

// Extract writes the embedded files into dir, which must not hold files
// of the same names, so that model.Load and data.Load read them from
// filepath.Join(dir, LeNet) and filepath.Join(dir, FashionTest) as they
// read the originals.
func Extract(dir string) error { return os.CopyFS(dir, FS()) }
