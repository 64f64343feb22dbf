package onnx

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"veil/internal/testmodel/testfile"
	"veil/ir"
)

// The conformance suite runs the ONNX backend node tests in
// testdata/onnx-node (copied from Debian's libonnx-testdata by
// testdata/onnx-node/copy.py) through Load and ir.Run, and compares with
// the reference outputs. Cases listed in testdata/onnx-node/unsupported.txt
// must instead fail at import with the error given there.
//
// Regenerate CONFORMANCE.md with
//
//	go test ./model/onnx -run TestConformanceReport -conformance.write

var writeConformance = flag.Bool("conformance.write", false, "write model/onnx/CONFORMANCE.md from the conformance run")

var nodeTestDir = testfile.Path("onnx-node")

// Tolerances, as ONNX's backend tests use (rtol 1e-3), with a slightly
// looser atol for float32 against numpy's float64 references.
const (
	rtol = 1e-3
	atol = 1e-5
)

// constInputs lists, per op, the positions of float inputs that the IR
// needs as constants (they become attributes). Non-float inputs (shapes,
// indices, axes, conditions) are always bound as constants.
var constInputs = map[string][]int{
	"Clip":          {1, 2},
	"Pad":           {1, 2, 3},
	"Dropout":       {1, 2},
	"Range":         {0, 1, 2},
	"Pow":           {1},
	"Resize":        {1, 2, 3},
	"Upsample":      {1},
	"ConvTranspose": {1, 2},
	// Recurrent weights W, R, B (and LSTM's peepholes P) are a model's
	// initializers; the states and the sequence are data.
	"LSTM": {1, 2, 3, 7},
	"GRU":  {1, 2, 3},
	"RNN":  {1, 2, 3},
}

type caseResult struct {
	name string
	ops  string
	err  error // nil: passed (or failed at import as expected)
	// unsupported: listed as expected to fail at import, and did.
	unsupported bool
}

func readUnsupported(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(nodeTestDir, "unsupported.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, want, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("unsupported.txt: line %q has no expected error", line)
		}
		m[name] = strings.TrimSpace(want)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func readTensorFile(path string) (*ir.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tp, err := decodeTensor(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tp.toIR()
}

// runCase imports and runs one node test.
func runCase(dir string, wantErr string) (ops string, err error) {
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return "", err
	}
	m, err := decodeModel(data)
	if err != nil || m.graph == nil {
		return "", fmt.Errorf("decoding model: %v", err)
	}
	ops = opsOf(m.graph)
	isInit := map[string]bool{}
	for _, t := range m.graph.initializer {
		isInit[t.name] = true
	}
	bindPos := map[string]bool{}
	if len(m.graph.nodes) == 1 {
		nd := m.graph.nodes[0]
		for _, p := range constInputs[nd.opType] {
			if p < len(nd.inputs) {
				bindPos[nd.inputs[p]] = true
			}
		}
	}
	read := map[string]bool{}
	for _, nd := range m.graph.nodes {
		for _, in := range nd.inputs {
			read[in] = true
		}
	}
	opt := Options{Constants: map[string]*ir.Tensor{}}
	feeds := map[string]*ir.Tensor{}
	i := -1
	for _, in := range m.graph.input {
		if isInit[in.name] {
			continue
		}
		i++
		if !in.tensor || !isFloatType(in.elemType) && !isIntType(in.elemType) {
			continue // strings, sequences …: the import must fail
		}
		t, err := readTensorFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
		if wantErr != "" && errors.Is(err, fs.ErrNotExist) {
			continue // large unsupported cases come without data
		}
		if err != nil {
			return ops, err
		}
		if in.elemType == typeBfloat16 && t.DType == ir.Int64 {
			// The reference data stores bfloat16 bits as UINT16.
			f := make([]float32, len(t.I))
			for j, v := range t.I {
				f[j] = math.Float32frombits(uint32(v) << 16)
			}
			t = ir.FloatTensor(t.Shape, f)
		}
		switch {
		case bindPos[in.name] || !isFloatType(in.elemType) || !read[in.name]:
			// Shapes, indices, axes, conditions, integer data and inputs
			// no node reads become constants.
			opt.Constants[in.name] = t
		default:
			if len(feeds) == 0 {
				opt.InputShape = t.Shape
			}
			feeds[in.name] = t
		}
	}
	g, err := Decode(data, filepath.Base(dir), opt)
	if wantErr != "" {
		if err == nil {
			return ops, fmt.Errorf("imported, but it is listed as unsupported (%q)", wantErr)
		}
		if !strings.Contains(err.Error(), wantErr) {
			return ops, fmt.Errorf("import error %q does not contain %q", err, wantErr)
		}
		return ops, nil
	}
	if err != nil {
		return ops, err
	}
	if err := g.Validate(); err != nil {
		return ops, fmt.Errorf("imported graph does not validate: %v", err)
	}
	outs, err := ir.Run(g, feeds)
	if err != nil {
		return ops, fmt.Errorf("run: %v", err)
	}
	for k, got := range outs {
		want, err := readTensorFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("output_%d.pb", k)))
		if err != nil {
			return ops, err
		}
		if err := compare(got, want); err != nil {
			return ops, fmt.Errorf("output %d (%s): %v", k, g.Outputs[k], err)
		}
	}
	return ops, nil
}

// opsOf names the ops a test exercises (Constant only when alone).
func opsOf(g *graphProto) string {
	set := map[string]bool{}
	for _, n := range g.nodes {
		if n.opType != "Constant" {
			set[n.opType] = true
		}
	}
	if len(set) == 0 && len(g.nodes) > 0 {
		set["Constant"] = true
	}
	var ops []string
	for op := range set {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return strings.Join(ops, "+")
}

// compare checks got against a reference: shapes equal, integers exact,
// floats within rtol/atol (NaN matches NaN).
func compare(got, want *ir.Tensor) error {
	if !got.Shape.Equal(want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	g, w := got.Floats(), want.Floats()
	if want.DType == ir.Int64 {
		gi, err := got.Ints()
		if err != nil {
			return err
		}
		for i := range gi {
			if gi[i] != want.I[i] {
				return fmt.Errorf("element %d is %d, want %d", i, gi[i], want.I[i])
			}
		}
		return nil
	}
	for i := range w {
		a, b := float64(g[i]), float64(w[i])
		if math.IsNaN(b) && math.IsNaN(a) || a == b {
			continue
		}
		if !(math.Abs(a-b) <= atol+rtol*math.Abs(b)) {
			return fmt.Errorf("element %d is %v, want %v", i, a, b)
		}
	}
	return nil
}

func runConformance(t *testing.T) []caseResult {
	t.Helper()
	unsup := readUnsupported(t)
	dirs, err := filepath.Glob(filepath.Join(nodeTestDir, "test_*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no node tests in testdata/onnx-node")
	}
	seen := map[string]bool{}
	var res []caseResult
	for _, dir := range dirs {
		name := filepath.Base(dir)
		seen[name] = true
		ops, err := runCase(dir, unsup[name])
		res = append(res, caseResult{name: name, ops: ops, err: err, unsupported: unsup[name] != "" && err == nil})
	}
	for name := range unsup {
		if !seen[name] {
			t.Errorf("unsupported.txt lists %s, which is not in testdata/onnx-node", name)
		}
	}
	return res
}

func TestConformance(t *testing.T) {
	for _, r := range runConformance(t) {
		if r.err != nil {
			t.Errorf("%s (%s): %v", r.name, r.ops, r.err)
		}
	}
}

// TestConformanceReport prints per-op counts, and with -conformance.write
// writes them to CONFORMANCE.md.
func TestConformanceReport(t *testing.T) {
	res := runConformance(t)
	type counts struct{ pass, unsup, fail int }
	per := map[string]*counts{}
	var unsupLines []string
	unsup := readUnsupported(t)
	for _, r := range res {
		c := per[r.ops]
		if c == nil {
			c = &counts{}
			per[r.ops] = c
		}
		switch {
		case r.err != nil:
			c.fail++
		case r.unsupported:
			c.unsup++
			unsupLines = append(unsupLines, fmt.Sprintf("| %s | %s | %s |", r.name, r.ops, unsup[r.name]))
		default:
			c.pass++
		}
	}
	ops := make([]string, 0, len(per))
	for op := range per {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var b strings.Builder
	b.WriteString("# ONNX conformance\n\n")
	b.WriteString("ONNX backend node tests (Debian libonnx-testdata, copied into\n")
	b.WriteString("testdata/onnx-node) run through `onnx.Load` and `ir.Run`; floats within\n")
	b.WriteString(fmt.Sprintf("rtol %g + atol %g, integers exact. \"Unsupported\" cases must fail at\n", rtol, atol))
	b.WriteString("import with the error listed in testdata/onnx-node/unsupported.txt.\n\n")
	b.WriteString("Regenerate: `go test ./model/onnx -run TestConformanceReport -conformance.write`\n\n")
	b.WriteString("| op | pass | unsupported (import error) | fail |\n|---|---:|---:|---:|\n")
	var tp, tu, tf int
	for _, op := range ops {
		c := per[op]
		b.WriteString(fmt.Sprintf("| %s | %d | %d | %d |\n", op, c.pass, c.unsup, c.fail))
		tp, tu, tf = tp+c.pass, tu+c.unsup, tf+c.fail
	}
	b.WriteString(fmt.Sprintf("| **total** | **%d** | **%d** | **%d** |\n", tp, tu, tf))
	b.WriteString("\n## Expected unsupported\n\n| case | op | import error contains |\n|---|---|---|\n")
	b.WriteString(strings.Join(unsupLines, "\n") + "\n")
	t.Log("\n" + b.String())
	if tf > 0 {
		t.Errorf("%d conformance cases failed (see TestConformance)", tf)
	}
	if *writeConformance {
		if err := os.WriteFile("CONFORMANCE.md", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCopyScriptOps checks that testdata/onnx-node/copy.py selects cases by
// the same op list as the importer supports.
func TestCopyScriptOps(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(nodeTestDir, "copy.py"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), `SUPPORTED = set("""`)
	list, _, ok2 := strings.Cut(rest, `"""`)
	if !ok || !ok2 {
		t.Fatal("copy.py: no SUPPORTED list")
	}
	got := strings.Fields(list)
	sort.Strings(got)
	if want := SupportedOps(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("copy.py SUPPORTED = %v\nSupportedOps() = %v", got, want)
	}
}
