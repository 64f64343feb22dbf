package zoo3p

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Table renders the README's status table: one row per model, in manifest
// order, for the results given (models without a result say "not run").
func Table(m *Manifest, cache string, results []Result) string {
	by := map[string]*Result{}
	for i := range results {
		by[results[i].ID] = &results[i]
	}
	var b strings.Builder
	b.WriteString("| # | package | model | format | kind | import | float max rel err | scale | fixed point vs float | 3PC vs cleartext (max dev / bound, traffic, time) |\n")
	b.WriteString("|--:|---------|-------|--------|------|--------|------------------:|------:|----------------------|--------------------------------------------------|\n")
	for i := range m.Models {
		x := &m.Models[i]
		cells := []string{"not run", "", "", "", ""}
		if r := by[x.ID]; r != nil {
			cells = rowCells(x, r, cache)
		}
		fmt.Fprintf(&b, "| %d | %s@%s | `%s` | %s | %s | %s |\n", i+1, x.Package, x.Version, x.ID, x.Format, x.Kind, strings.Join(cells, " | "))
	}
	return b.String()
}

// rowCells are the stage cells of a row: import, float, scale, fixed,
// 3PC. The stage that failed shows its error ("expected failure" when
// the manifest expects it), the stages after it a dash.
func rowCells(x *Model, r *Result, cache string) []string {
	c := []string{"yes", "", "", "", ""}
	at := map[string]int{StageImport: 0, StageFloat: 1, StageCompile: 2, StageFixed: 3, Stage3PC: 4}
	if r.Stage != StageImport {
		c[1] = fmt.Sprintf("%.2g", r.FloatErr())
		if t := x.FloatTol; t != nil {
			c[1] += fmt.Sprintf(" (own tolerance: %g rel + %g of max)", t.RTol, t.ATol)
		}
	}
	if r.Scale != 0 {
		c[2] = fmt.Sprint(r.Scale)
		c[3] = fixedCell(r)
	}
	switch {
	case r.Skip3PC != "":
		c[4] = esc("not run: " + r.Skip3PC)
	case r.MPC != nil:
		dev, bound := r.MPC.MaxDev()
		c[4] = fmt.Sprintf("%g / %.3g units, %.1f MB, %.1f s", dev, bound, float64(r.MPC.Bytes)/1e6, r.MPC.Elapsed.Seconds())
	}
	if r.Stage != "" {
		i := at[r.Stage]
		msg := shortErr(r.Err.Error(), x.Path(cache))
		if x.Expect != nil && x.Expect.Stage == r.Stage {
			msg = "expected failure: " + msg
		} else {
			msg = "**FAILS**: " + msg
		}
		if r.Stage == StageCompile {
			i = 3 // the scale cell stays a dash
			c[2] = "—"
		}
		c[i] = esc(msg)
		for j := i + 1; j < len(c); j++ {
			c[j] = "—"
		}
	}
	return c
}

func fixedCell(r *Result) string {
	var top1, kept, rows, flips int
	var parts []string
	for _, d := range r.Fixed {
		if d.Top1 {
			top1++
			rows += d.Rows
			flips += d.Flips
			if d.Flips == 0 {
				kept++
			}
		}
	}
	if top1 > 0 {
		if rows == top1 {
			parts = append(parts, fmt.Sprintf("top-1 kept (%d/%d outputs)", kept, top1))
		} else {
			parts = append(parts, fmt.Sprintf("top-1 kept on %d/%d rows", rows-flips, rows))
		}
	}
	rel, tiny := r.FixedMaxRel()
	parts = append(parts, fmt.Sprintf("max err %.2g of max", rel))
	if tiny > 0 {
		parts = append(parts, fmt.Sprintf("%d tiny output(s) within %g units", tiny, FixedUnits))
	}
	return strings.Join(parts, ", ")
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
