package main

import (
	"fmt"
	"os"
	"path/filepath"

	"veil/internal/demodata"
)

// What veil demo prints for the embedded model and images, which it
// reads from a temporary copy rather than from any path of the user's.
const (
	embeddedLeNetName       = "embedded:" + demodata.LeNet
	embeddedFashionTestName = "embedded:" + demodata.FashionTest
)

// demoFiles is a temporary copy of the model and the test images
// embedded in veil (package veil/internal/demodata), the defaults of
// veil demo and veil bench: the loaders read files, and the copy lets
// them read the embedded ones from any working directory.
type demoFiles struct{ dir string }

// extractDemoFiles writes the embedded files into a new temporary
// directory; remove deletes it.
func extractDemoFiles() (*demoFiles, error) {
	dir, err := os.MkdirTemp("", "veil-demodata-")
	if err != nil {
		return nil, fmt.Errorf("the embedded model and images: %w", err)
	}
	if err := demodata.Extract(dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("the embedded model and images: %w", err)
	}
	return &demoFiles{dir}, nil
}

// lenet is the path of the Fashion-MNIST LeNet's copy.
func (d *demoFiles) lenet() string { return filepath.Join(d.dir, demodata.LeNet) }

// fashionTest is the path of the Fashion-MNIST test images' copy (the
// first demodata.FashionTestImages of the test set, with labels).
func (d *demoFiles) fashionTest() string { return filepath.Join(d.dir, demodata.FashionTest) }

func (d *demoFiles) remove() { os.RemoveAll(d.dir) }
