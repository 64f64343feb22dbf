// Package testfile locates the repository's committed test data
// (testdata/ at the repository root) for tests in any package.
//
// It imports nothing of veil, so that the tests of the packages
// [veil/internal/testmodel] itself imports (data, ir, model, model/onnx,
// model/tf …) can use it without an import cycle. Tests of other packages
// may use testmodel.Path, which is the same function, next to testmodel's
// model and image loaders.
package testfile

import (
	"path/filepath"
	"runtime"
)

// Path returns the path of rel (slash-separated, relative to the
// repository's testdata directory, e.g. "models/fashion_lenet.onnx"),
// whatever the working directory of the test.
func Path(rel string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testfile: no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", filepath.FromSlash(rel))
}
