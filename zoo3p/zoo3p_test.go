package zoo3p

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"veil/ir"
)

// TestManifest checks the committed manifest itself (no cache needed):
// the acceptance floor of 25 models from 5 packages and the coverage it
// asks for.
func TestManifest(t *testing.T) {
	m, err := LoadManifest(ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]bool{}
	kinds := map[string]int{}
	for _, x := range m.Models {
		pkgs[x.Package] = true
		kinds[x.Kind]++
		if x.License == "" || x.Note == "" || x.Kind == "" {
			t.Errorf("%s: licence, note and kind are required", x.ID)
		}
		for _, in := range x.Inputs {
			if in.Value == nil && len(in.Range) != 2 {
				t.Errorf("%s: input %s needs a range or a value", x.ID, in.Name)
			}
		}
	}
	if len(m.Models) < 25 || len(pkgs) < 5 {
		t.Errorf("%d models from %d packages; want at least 25 from 5", len(m.Models), len(pkgs))
	}
	if kinds["detector"] == 0 || kinds["audio"] == 0 {
		t.Errorf("kinds %v: want detectors and audio models", kinds)
	}
}

func TestCompare(t *testing.T) {
	want := RefTensor{Name: "y", Shape: []int{1, 4}, Data: []float32{100, -2, 1e-9, 0}, AbsMax: 100}
	cases := []struct {
		got []float32
		ok  bool
	}{
		{[]float32{100, -2, 1e-9, 0}, true},
		{[]float32{100.009, -2.0001, 1e-9, 0}, true},          // 9e-5 relative, and within the floor
		{[]float32{100.02, -2, 1e-9, 0}, false},               // 2e-4 relative
		{[]float32{100, -2, 5e-4, -5e-4}, true},               // below the floor 1e-5·100
		{[]float32{100, -2, 2e-3, 0}, false},                  // above it
		{[]float32{100, float32(math.NaN()), 1e-9, 0}, false}, // NaN
	}
	for i, c := range cases {
		d := Compare(ir.FloatTensor(ir.Shape{1, 4}, c.got), want, FloatTol)
		if d.OK != c.ok {
			t.Errorf("case %d: OK = %v, want %v (%v)", i, d.OK, c.ok, d)
		}
	}
	if d := Compare(ir.FloatTensor(ir.Shape{4}, make([]float32, 4)), want, FloatTol); d.Problem != "" {
		t.Errorf("[4] against [1,4]: %v", d)
	}
	if d := Compare(ir.FloatTensor(ir.Shape{2, 2}, make([]float32, 4)), want, FloatTol); d.Problem == "" {
		t.Errorf("[2,2] against [1,4] compared")
	}
}

// TestZoo3P imports every model of the manifest with veil's importer, runs
// ir.Run on the reference input and compares every output with the
// independent reference (before and after ir.Optimize). It needs the
// cache that scripts/zoo3p/fetch and scripts/zoo3p/reference fill; without
// it the test fails with that command, unless VEIL_ZOO3P_SKIP=1.
//
// VEIL_ZOO3P_TABLE=FILE writes the status table (markdown) to FILE.
// Run one model with -run 'TestZoo3P/<id>$'.
func TestZoo3P(t *testing.T) {
	m, err := LoadManifest(ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	cache := CacheDir()
	var missing []string
	for _, x := range m.Models {
		if _, err := os.Stat(RefPath(cache, x.ID)); err != nil {
			missing = append(missing, x.ID)
		} else if _, err := os.Stat(x.Path(cache)); err != nil {
			missing = append(missing, x.ID)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("zoo3p cache %s lacks %d of %d models (%s); fill it with\n\t%s\n(VEIL_ZOO3P names another cache; VEIL_ZOO3P_SKIP=1 skips this test)",
			cache, len(missing), len(m.Models), strings.Join(missing, " "), FetchCommand)
		if os.Getenv("VEIL_ZOO3P_SKIP") == "1" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	var results []Result
	for i := range m.Models {
		x := &m.Models[i]
		t.Run(x.ID, func(t *testing.T) {
			ref, err := LoadRef(cache, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			r := Check(x, cache, ref)
			results = append(results, r)
			if r.Ops != nil {
				t.Logf("ops: %s", opsOf(&r))
			}
			for _, d := range r.Outputs {
				t.Logf("float:     %v", d)
			}
			for _, d := range r.OptOutput {
				t.Logf("optimized: %v", d)
			}
			if !r.FloatOK() {
				t.Error(r.Status())
			}
		})
	}
	if f := os.Getenv("VEIL_ZOO3P_TABLE"); f != "" {
		if err := os.WriteFile(f, []byte(Table(m, cache, results)), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// Table renders the README's status table: one row per model, in manifest
// order, for the results given (models without a result say "not run").
func Table(m *Manifest, cache string, results []Result) string {
	by := map[string]*Result{}
	for i := range results {
		by[results[i].ID] = &results[i]
	}
	var b strings.Builder
	b.WriteString("| # | package | model | format | kind | size | licence | inputs | import today | float vs reference |\n")
	b.WriteString("|--:|---------|-------|--------|------|-----:|---------|--------|--------------|--------------------|\n")
	for i, x := range m.Models {
		var ins []string
		for _, in := range x.Inputs {
			ins = append(ins, fmt.Sprintf("%s %s", strings.Trim(strings.ReplaceAll(fmt.Sprint(in.Shape), " ", "×"), "[]"), in.DType))
		}
		imp, flt := "not run", ""
		if r := by[x.ID]; r != nil {
			switch {
			case r.ImportErr != nil:
				imp = "**fails**: " + shortErr(r.ImportErr.Error(), x.Path(cache))
			default:
				imp = "yes"
				flt = cellStatus(r)
			}
		}
		fmt.Fprintf(&b, "| %d | %s@%s | `%s` | %s | %s | %.1f MB | %s | %s | %s | %s |\n", i+1, x.Package, x.Version, x.ID, x.Format, x.Kind,
			float64(x.Size(cache))/1e6, x.License, strings.Join(ins, ", "), esc(imp), esc(flt))
	}
	return b.String()
}

func cellStatus(r *Result) string {
	if r.FloatOK() {
		worst := 0.0
		for _, d := range append(append([]Diff(nil), r.Outputs...), r.OptOutput...) {
			worst = math.Max(worst, d.MaxAbs)
		}
		return fmt.Sprintf("equal (%d outputs, max abs err %.2g)", len(r.Outputs), worst)
	}
	return shortErr(r.Status(), "")
}

// shortErr drops the cache path from an error and bounds its length.
func shortErr(s, path string) string {
	if path != "" {
		s = strings.ReplaceAll(s, path+": ", "")
		s = strings.ReplaceAll(s, path, filepath.Base(path))
	}
	if len(s) > 220 {
		s = s[:217] + "..."
	}
	return s
}

func esc(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }

// opsOf lists a result's op counts, for logs.
func opsOf(r *Result) string {
	var s []string
	for op, n := range r.Ops {
		s = append(s, fmt.Sprintf("%s:%d", op, n))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}
