package zoo3p

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"veil/ir"
)

// Inputs returns the k-th seeded input of g (k ≥ 1; the reference input
// is the 0th), drawn like scripts/zoo3p/reference.mjs draws the reference
// input but from Go's PCG seeded with FNV-1a of "id/input/k": an image-like
// input is a smooth random image (a random 8×8 grid per channel,
// bilinearly upsampled, 70 %, plus 30 % per-pixel noise) mapped onto the
// input's range, any other input uniform in its range; integer dtypes are
// rounded; a Value input takes its value. A "text" input (OCR) is an
// image in its range too: for tracing ranges that is the wider domain.
func Inputs(x *Model, g *ir.Graph, k int) (map[string]*ir.Tensor, error) {
	byName := map[string]*Input{}
	for i := range x.Inputs {
		byName[x.Inputs[i].Name] = &x.Inputs[i]
	}
	feed := map[string]*ir.Tensor{}
	for i, name := range g.Inputs {
		in := byName[name]
		if in == nil && len(g.Inputs) == len(x.Inputs) {
			in = &x.Inputs[i]
		}
		if in == nil {
			return nil, fmt.Errorf("graph input %q is not in the manifest", name)
		}
		shape := g.Values[name].Shape
		feed[name] = ir.FloatTensor(shape, draw(x.ID, in, shape, k))
	}
	return feed, nil
}

func draw(id string, in *Input, shape ir.Shape, k int) []float32 {
	n := shape.Size()
	out := make([]float32, n)
	if in.Value != nil {
		for i := range out {
			out[i] = float32(*in.Value)
		}
		return out
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", id, in.Name, k)
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(k)))
	u := make([]float64, n)
	if ax := imageAxes(shape); ax != nil {
		const G = 8
		H, W, C := shape[ax[0]], shape[ax[1]], shape[ax[2]]
		grid := make([]float64, G*G*C)
		for i := range grid {
			grid[i] = r.Float64()
		}
		strides := make([]int, 4)
		strides[3] = 1
		for i := 2; i >= 0; i-- {
			strides[i] = strides[i+1] * shape[i+1]
		}
		for y := 0; y < H; y++ {
			gy := float64(y) / math.Max(float64(H-1), 1) * (G - 1)
			y0 := min(int(gy), G-2)
			fy := gy - float64(y0)
			for xx := 0; xx < W; xx++ {
				gx := float64(xx) / math.Max(float64(W-1), 1) * (G - 1)
				x0 := min(int(gx), G-2)
				fx := gx - float64(x0)
				for c := 0; c < C; c++ {
					at := func(a, b int) float64 { return grid[(a*G+b)*C+c] }
					smooth := (1-fy)*((1-fx)*at(y0, x0)+fx*at(y0, x0+1)) + fy*((1-fx)*at(y0+1, x0)+fx*at(y0+1, x0+1))
					u[y*strides[ax[0]]+xx*strides[ax[1]]+c*strides[ax[2]]] = 0.7*smooth + 0.3*r.Float64()
				}
			}
		}
	} else {
		for i := range u {
			u[i] = r.Float64()
		}
	}
	lo, hi := in.Range[0], in.Range[1]
	for i, v := range u {
		v = lo + (hi-lo)*v
		if in.DType != "float32" {
			v = math.Round(v)
		}
		out[i] = float32(v)
	}
	return out
}

// imageAxes returns the H, W and C axes of a shape that looks like one
// image (batch 1, 1–4 channels, both sides at least 16), else nil.
func imageAxes(s ir.Shape) []int {
	if len(s) != 4 || s[0] != 1 {
		return nil
	}
	if s[3] <= 4 && s[1] >= 16 && s[2] >= 16 {
		return []int{1, 2, 3}
	}
	if s[1] <= 4 && s[2] >= 16 && s[3] >= 16 {
		return []int{2, 3, 1}
	}
	return nil
}
