package main

import (
	"fmt"
	"regexp"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"veil/internal/bench"
)

var depthRE = regexp.MustCompile(`(\d+)$`)

// depth returns the number a network's name ends with (resnet50 → 50).
func depth(name string) (float64, bool) {
	m := depthRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	v, err := strconv.Atoi(m[1])
	return float64(v), err == nil
}

// writeScalingChart plots wall time and communication against network
// depth (the number each name ends with, e.g. ResNet-n), as the paper's
// Figure 10, into a PNG file.
func writeScalingChart(path string, rs []bench.Result) error {
	times, gbs := make(plotter.XYs, 0, len(rs)), make(plotter.XYs, 0, len(rs))
	for _, r := range rs {
		d, ok := depth(r.Network)
		if !ok {
			return fmt.Errorf("--chart: network %q has no depth in its name (e.g. resnet50)", r.Network)
		}
		times = append(times, plotter.XY{X: d, Y: r.WallS})
		gbs = append(gbs, plotter.XY{X: d, Y: float64(r.BytesTotal) / 1e9})
	}
	panel := func(title, ylabel string, xy plotter.XYs) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "depth (layers)"
		p.Y.Label.Text = ylabel
		p.Add(plotter.NewGrid())
		l, s, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		s.Shape = draw.CircleGlyph{}
		p.Add(l, s)
		p.Y.Min = 0
		return p, nil
	}
	pt, err := panel("Secure inference time (3 parties, one machine)", "wall time (s)", times)
	if err != nil {
		return err
	}
	pc, err := panel("Communication (all parties)", "GB", gbs)
	if err != nil {
		return err
	}
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{{pt, pc}}, tiles, dc)
	pt.Draw(canvases[0][0])
	pc.Draw(canvases[0][1])
	return savePNG(path, img)
}
