package zoo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"veil/fixed"
	"veil/ir"
)

// Parameter counts: torchvision's sum(p.numel() for p in m.parameters())
// for the ImageNet networks; the MNIST networks' from their layer shapes
// (weights + biases of every layer).
var want = map[string]struct {
	conv, fc, params int
	classes          int
}{
	"logreg":      {0, 1, 784*10 + 10, 10},
	"secureml":    {0, 3, 784*128 + 128 + 128*128 + 128 + 128*10 + 10, 10},
	"minionn":     {2, 2, 16*1*25 + 16 + 16*16*25 + 16 + 256*100 + 100 + 100*10 + 10, 10},
	"lenet":       {2, 2, 20*1*25 + 20 + 50*20*25 + 50 + 800*500 + 500 + 500*10 + 10, 10},
	"squeezenet":  {26, 0, 1_235_496, 1000},
	"resnet18":    {20, 1, 11_689_512, 1000},
	"resnet34":    {36, 1, 21_797_672, 1000},
	"resnet50":    {53, 1, 25_557_032, 1000},
	"resnet101":   {104, 1, 44_549_160, 1000},
	"resnet152":   {155, 1, 60_192_808, 1000},
	"resnet200":   {203, 1, 64_673_832, 1000}, // literature: 64.7M; the paper: "65 million"
	"densenet121": {120, 1, 7_978_856, 1000},  // the paper's "121 layers": 120 conv + 1 FC
	"mobilenetv2": {52, 1, 3_504_872, 1000},
	"vgg16":       {13, 3, 138_357_544, 1000},
	// torchvision 0.14 (scripts/torchvision/export.py prints them)
	"mobilenetv3small": {52, 2, 2_542_856, 1000},
	"efficientnetb0":   {81, 1, 5_288_548, 1000},
	"googlenet":        {57, 1, 6_624_904, 1000},
	"shufflenetv2":     {56, 1, 2_278_604, 1000},
	"vit":              {1, 73, 5_717_416, 1000}, // MatMuls: 6 per layer (4 with weights, 2 of secrets) and the head
}

// heavy networks are not compiled under -short (they are still built and
// counted): VGG-16's 138M weights take ~5 s to encode.
var heavy = map[string]bool{"vgg16": true, "resnet200": true}

func TestNetworks(t *testing.T) {
	nets := networks
	if len(nets) != len(want) {
		t.Fatalf("%d networks, want %d", len(nets), len(want))
	}
	for _, n := range nets {
		t.Run(n.Name, func(t *testing.T) {
			t.Parallel()
			w, ok := want[n.Name]
			if !ok {
				t.Fatalf("no expected figures for %q", n.Name)
			}
			if n.Paper == "" {
				t.Error("no Paper reference")
			}
			g, err := n.Build(1)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			if len(g.Inputs) != 1 || !g.Values[g.Inputs[0]].Shape.Equal(n.Input) {
				t.Errorf("inputs %v, want one of shape %v", g.Inputs, n.Input)
			}
			if len(g.Outputs) != 1 {
				t.Fatalf("outputs %v, want one", g.Outputs)
			}
			if out := g.Values[g.Outputs[0]].Shape; !out.Equal(ir.Shape{1, w.classes}) {
				t.Errorf("output shape %v, want [1 %d]", out, w.classes)
			}
			s := summarize(g)
			if s.Conv != w.conv || s.FC != w.fc {
				t.Errorf("%d conv + %d FC layers, want %d + %d", s.Conv, s.FC, w.conv, w.fc)
			}
			if s.Params != w.params {
				t.Errorf("%d parameters, want %d", s.Params, w.params)
			}
			if heavy[n.Name] && testing.Short() {
				t.Logf("built and counted; -short skips ir.Optimize and fixed.Compile of %s", n.Name)
				return
			}
			st, err := ir.Optimize(g)
			if err != nil {
				t.Fatal(err)
			}
			if left := g.OpCounts()[ir.OpBatchNorm]; left != 0 {
				t.Errorf("%d BatchNorms left after ir.Optimize", left)
			}
			p, err := compile(g, 12)
			if err != nil {
				t.Fatal(err)
			}
			if n.Name != "logreg" && p.Stats.Comparisons == 0 {
				t.Error("no comparisons")
			}
			t.Logf("%d conv + %d FC, %d params; %d BN folded, %d lowered, %d ReLU/MaxPool swaps; ReLU elems %d, MACs %d",
				s.Conv, s.FC, s.Params, st.BatchNormsFolded, st.BatchNormsLowered, st.ReluPoolSwaps, p.Stats.ReluElems, p.Stats.MACs)
		})
	}
}

func TestResNet200MatchesLiterature(t *testing.T) {
	// ResNet-200 has 64.7M parameters (He et al. 2016; fb.resnet.torch);
	// the paper rounds it to 65 million.
	p := want["resnet200"].params
	if d := math.Abs(float64(p)-64.7e6) / 64.7e6; d > 0.005 {
		t.Errorf("ResNet-200 has %d parameters, %.1f%% off 64.7M", p, 100*d)
	}
}

// small builds the networks whose architecture allows it at a lower
// resolution, to check the numerics of their full depth quickly.
func small(name string, hw int) (*ir.Graph, error) {
	switch name {
	case "squeezenet":
		return squeezeNet11(hw, 1)
	case "densenet121":
		return denseNet121(hw, 1)
	case "mobilenetv2":
		return mobileNetV2(hw, 1)
	case "mobilenetv3small":
		return mobileNetV3Small(hw, 1)
	case "efficientnetb0":
		return efficientNetB0(hw, 1)
	case "googlenet":
		return googLeNet(hw, 1)
	case "shufflenetv2":
		return shuffleNetV2(hw, 1)
	case "vit":
		return vit("vit_ti_4", hw, 4, 12, 3, 192, 768, 1)
	}
	var d int
	if _, err := fmt.Sscanf(name, "resnet%d", &d); err == nil {
		return resNet(d, hw, 1)
	}
	n, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return n.Build(1)
}

// compile compiles the optimized graph g at scale s with the ranges its
// secure functions need (LayerNorm's rsqrt) traced on three random
// inputs: uniform in [0, 1) like veil bench's, and N(0, 1).
func compile(g *ir.Graph, s int) (*fixed.Program, error) {
	r := rand.New(rand.NewPCG(7, 8))
	var xs []fixed.Example
	for i := 0; i < 3; i++ {
		x := make([]float32, g.Values[g.Inputs[0]].Shape.Size())
		for j := range x {
			if i == 0 {
				x[j] = r.Float32()
			} else {
				x[j] = float32(r.NormFloat64())
			}
		}
		xs = append(xs, fixed.Example{Input: x})
	}
	ranges, err := fixed.TraceRanges(g, xs)
	if err != nil {
		return nil, err
	}
	return fixed.CompileWith(g, s, fixed.Options{Ranges: ranges})
}

// checkNumerics runs g on a random N(0, 1) input in float (before
// ir.Optimize) and in fixed point at scale 12 (after), and checks that the
// outputs are finite, O(1)…O(100), and agree to 2% of their range.
func checkNumerics(t *testing.T, g *ir.Graph) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	x := ir.NewFloat(g.Values[g.Inputs[0]].Shape)
	for i := range x.F {
		x.F[i] = float32(r.NormFloat64())
	}
	outs, err := ir.Run(g, map[string]*ir.Tensor{g.Inputs[0]: x})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	p, err := compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	y, err := p.Predict(x.F)
	if err != nil {
		t.Fatal(err)
	}
	var big, diff float64
	for i, v := range outs[0].F {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("float output %d is %v", i, v)
		}
		big = math.Max(big, math.Abs(float64(v)))
		diff = math.Max(diff, math.Abs(float64(v)-y[i]))
	}
	t.Logf("max |float output| %.3g, max |fixed − float| %.3g", big, diff)
	if big < 0.1 || big > 1000 {
		t.Errorf("max |float output| %.3g: activations vanish or explode", big)
	}
	if diff > 0.02*math.Max(1, big) {
		t.Errorf("fixed point at scale 12 is off by %.3g (outputs up to %.3g)", diff, big)
	}
}

// TestNumerics checks every network but VGG-16 (whose classifier needs
// 224×224 inputs) through its full depth, at 32×32 for the ImageNet ones.
// VEIL_ZOO_FULL=1 runs every network at its real input size instead
// (about five minutes on two cores).
func TestNumerics(t *testing.T) {
	full := os.Getenv("VEIL_ZOO_FULL") != ""
	for _, n := range networks {
		t.Run(n.Name, func(t *testing.T) {
			var g *ir.Graph
			var err error
			switch {
			case full:
				g, err = n.Build(1)
			case n.Name == "vgg16":
				t.Skip("VGG-16 only at 224×224: set VEIL_ZOO_FULL=1")
			case testing.Short() && heavy[n.Name]:
				t.Skip("-short")
			default:
				g, err = small(n.Name, 32)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkNumerics(t, g)
		})
	}
}

func TestSeeds(t *testing.T) {
	n, err := Lookup("lenet")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := n.Build(7)
	b, _ := n.Build(7)
	c, _ := n.Build(8)
	wa, wb, wc := a.Const("conv2.weight").F, b.Const("conv2.weight").F, c.Const("conv2.weight").F
	same, differ := true, false
	for i := range wa {
		same = same && wa[i] == wb[i]
		differ = differ || wa[i] != wc[i]
	}
	if !same {
		t.Error("the same seed gave different weights")
	}
	if !differ {
		t.Error("different seeds gave the same weights")
	}
	// He initialisation: conv2 has fan-in 20·5·5, so variance 2/500.
	var ss float64
	for _, v := range wa {
		ss += float64(v) * float64(v)
	}
	if v := ss / float64(len(wa)); math.Abs(v-2.0/500)/(2.0/500) > 0.1 {
		t.Errorf("conv2 weight variance %.4g, want about %.4g", v, 2.0/500)
	}
}

func TestLookup(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range networks {
		if seen[n.Name] {
			t.Errorf("duplicate name %q", n.Name)
		}
		seen[n.Name] = true
		for _, q := range []string{n.Name, strings.ToUpper(n.Name)} {
			m, err := Lookup(q)
			if err != nil || m.Name != n.Name {
				t.Errorf("Lookup(%q) = %q, %v", q, m.Name, err)
			}
		}
	}
	_, err := Lookup("alexnet")
	if err == nil || !strings.Contains(err.Error(), "resnet50") || !strings.Contains(err.Error(), "alexnet") {
		t.Errorf("Lookup(alexnet) error %v should name it and list the networks", err)
	}
	if got := strings.Join(Names(), ","); got != "logreg,secureml,minionn,lenet,squeezenet,resnet18,resnet34,resnet50,resnet101,resnet152,resnet200,densenet121,mobilenetv2,vgg16,mobilenetv3small,efficientnetb0,googlenet,shufflenetv2,vit" {
		t.Errorf("Names() = %s", got)
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range networks {
		b.Run(n.Name, func(b *testing.B) {
			for b.Loop() {
				if _, err := n.Build(1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// summary counts a graph's layers and parameters.
type summary struct {
	Conv   int // Conv nodes
	FC     int // MatMul nodes (fully connected layers)
	Params int // learnable parameters, counted as torchvision counts them
}

// summarize counts the Conv and MatMul nodes of g and its parameters as
// PyTorch's sum(p.numel() for p in model.parameters()) does: every float
// constant a node reads, except the running mean and variance of a
// BatchNorm (which are buffers, not parameters) and scalars (constants of
// the exported arithmetic: GELU's √2, attention's √d). Call it before
// ir.Optimize, which folds BatchNorms away.
func summarize(g *ir.Graph) summary {
	var s summary
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		switch n.Op {
		case ir.OpConv:
			s.Conv++
		case ir.OpMatMul:
			s.FC++
		}
		for i, in := range n.Inputs {
			if n.Op == ir.OpBatchNorm && i >= 3 {
				continue
			}
			c := g.Const(in)
			if c == nil || c.DType != ir.Float32 || len(c.Shape) == 0 || seen[in] {
				continue
			}
			seen[in] = true
			s.Params += c.Len()
		}
	}
	return s
}

// TestBatch builds every network for a batch of two examples
// (ir.Graph.WithBatch): its outputs lead with the batch, the rest of
// their shapes as for one; ViT, built for one example, is refused.
func TestBatch(t *testing.T) {
	for _, name := range Names() {
		if testing.Short() && name != "lenet" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			n, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			g, err := n.Build(1)
			if err != nil {
				t.Fatal(err)
			}
			b, err := g.WithBatch(2)
			if name == "vit" {
				if err == nil {
					t.Error("ViT, built for one example, took a batch")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range b.Outputs {
				if s, one := b.Values[o].Shape, g.Values[o].Shape; s[0] != 2 || !s[1:].Equal(one[1:]) {
					t.Errorf("output %q: %v batched, %v for one", o, s, one)
				}
			}
		})
	}
}
