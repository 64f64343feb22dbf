package testfile

import (
	"os"
	"testing"
)

func TestPath(t *testing.T) {
	for _, rel := range []string{"models/fashion_lenet.onnx", "data/digits/test.csv"} {
		if _, err := os.Stat(Path(rel)); err != nil {
			t.Errorf("Path(%q): %v", rel, err)
		}
	}
}
