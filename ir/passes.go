package ir

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// PassStats records what Optimize changed.
type PassStats struct {
	IdentitiesRemoved int // Identity (and inference Dropout) nodes removed
	ConstantsFolded   int // nodes replaced by their constant value
	BatchNormsFolded  int // BatchNorm nodes folded into the convolution before them
	BatchNormsLowered int // BatchNorm nodes left as a multiply and an add
	ActsHoisted       int // Concats of activations rewritten as one activation of the Concat
	ReluPoolSwaps     int // ReLU→MaxPool pairs swapped to MaxPool→ReLU
	ReluElemsBefore   int // ReLU (and Relu6) elements evaluated before the swaps
	ReluElemsAfter    int // … and after
}

// ReLUsSaved is how many ReLU evaluations the ReLU/MaxPool swap removed.
func (s PassStats) ReLUsSaved() int { return s.ReluElemsBefore - s.ReluElemsAfter }

// Optimize runs the standard pass pipeline in place: identity removal,
// constant folding, batch-norm folding (and lowering of the rest), the
// activations hoisted over Concats, the ReLU/MaxPool swap, and pruning
// of dead nodes.
func Optimize(g *Graph) (PassStats, error) {
	var st PassStats
	st.IdentitiesRemoved = removeIdentities(g)
	n, err := foldConstants(g)
	if err != nil {
		return st, err
	}
	st.ConstantsFolded = n
	if st.BatchNormsFolded, err = foldBatchNorm(g); err != nil {
		return st, err
	}
	if st.BatchNormsLowered, err = lowerBatchNorm(g); err != nil {
		return st, err
	}
	st.ReluElemsBefore = reluElems(g)
	st.ActsHoisted = hoistActivationsOverConcat(g)
	st.ReluPoolSwaps = swapReluMaxPool(g)
	st.ReluElemsAfter = reluElems(g)
	g.Prune()
	return st, g.Validate()
}

func reluElems(g *Graph) int {
	n := 0
	for _, nd := range g.Nodes {
		if nd.Op == OpRelu || nd.Op == OpClip || nd.Op == OpLeakyRelu {
			n += g.Values[nd.Output].Shape.Size()
		}
	}
	return n
}

// removeIdentities deletes Identity nodes, rewiring their readers to the
// Identity's input. It returns how many it removed.
func removeIdentities(g *Graph) int {
	removed := 0
	kept := g.Nodes[:0]
	isInput := map[string]bool{}
	for _, in := range g.Inputs {
		isInput[in] = true
	}
	for _, n := range g.Nodes {
		if n.Op != OpIdentity {
			kept = append(kept, n)
			continue
		}
		src := n.Inputs[0]
		for _, m := range g.Nodes {
			for i, in := range m.Inputs {
				if in == n.Output {
					m.Inputs[i] = src
				}
			}
		}
		for i, o := range g.Outputs {
			if o == n.Output {
				g.Outputs[i] = src
			}
		}
		delete(g.Values, n.Output)
		removed++
	}
	g.Nodes = kept
	return removed
}

// foldConstants evaluates every node whose inputs are all constants and
// replaces it by its value. It returns how many nodes it folded.
func foldConstants(g *Graph) (int, error) {
	folded := 0
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		ins := make([]*Tensor, len(n.Inputs))
		vals := make([]*Value, len(n.Inputs))
		all := true
		for i, in := range n.Inputs {
			if ins[i] = g.Const(in); ins[i] == nil {
				all = false
				break
			}
			vals[i] = g.Values[in]
		}
		if !all {
			kept = append(kept, n)
			continue
		}
		t, err := g.fold(n, vals, ins, g.Values[n.Output].Shape)
		if err != nil {
			return folded, err
		}
		g.Values[n.Output] = &Value{Name: n.Output, Shape: t.Shape.Clone(), DType: t.DType, Const: t}
		folded++
	}
	g.Nodes = kept
	return folded, nil
}

// foldBatchNorm folds each inference BatchNorm whose input is a
// convolution (read by nothing else) into that convolution's weights and
// bias: w' = w·k, b' = (b − mean)·k + beta with k = scale/√(var+ε). It
// returns how many it folded.
func foldBatchNorm(g *Graph) (int, error) {
	readers := g.Consumers()
	isOut := map[string]bool{}
	for _, o := range g.Outputs {
		isOut[o] = true
	}
	folded := 0
	kept := g.Nodes[:0]
	for _, bn := range g.Nodes {
		if bn.Op != OpBatchNorm {
			kept = append(kept, bn)
			continue
		}
		conv := g.Producer(bn.Inputs[0])
		params := make([][]float32, 4)
		ok := conv != nil && conv.Op == OpConv && len(readers[conv.Output]) == 1 && !isOut[conv.Output] &&
			g.Const(conv.Inputs[1]) != nil && (len(conv.Inputs) < 3 || g.Const(conv.Inputs[2]) != nil)
		if ok {
			ax, _ := normAxis(bn.Attrs.Axis, len(g.Values[bn.Inputs[0]].Shape))
			ok = ax == conv.Attrs.Layout.ChannelAxis()
		}
		for i := 0; ok && i < 4; i++ {
			c := g.Const(bn.Inputs[i+1])
			if c == nil || c.DType != Float32 {
				ok = false
				break
			}
			params[i] = c.F
		}
		if !ok {
			kept = append(kept, bn)
			continue
		}
		scale, beta, mean, variance := params[0], params[1], params[2], params[3]
		w := g.Const(conv.Inputs[1])
		O := w.Shape[0]
		per := w.Len() / O
		nw := w.clone()
		nb := make([]float32, O)
		if len(conv.Inputs) == 3 {
			copy(nb, g.Const(conv.Inputs[2]).F)
		}
		for o := 0; o < O; o++ {
			k := float32(float64(scale[o]) / math.Sqrt(float64(variance[o])+float64(bn.Attrs.Epsilon)))
			for i := o * per; i < (o+1)*per; i++ {
				nw.F[i] *= k
			}
			nb[o] = (nb[o]-mean[o])*k + beta[o]
		}
		wName := g.UniqueName(conv.Inputs[1] + "_bnfold")
		bName := g.UniqueName(conv.Output + "_bnfold_bias")
		if err := g.AddConst(wName, nw); err != nil {
			return folded, err
		}
		if err := g.AddConst(bName, FloatTensor(Shape{O}, nb)); err != nil {
			return folded, err
		}
		conv.Inputs = []string{conv.Inputs[0], wName, bName}
		// The conv now computes the BatchNorm's output.
		delete(g.Values, conv.Output)
		g.Values[bn.Output].Shape = g.Values[bn.Output].Shape.Clone()
		conv.Output = bn.Output
		folded++
	}
	g.Nodes = kept
	if folded > 0 {
		g.Prune()
	}
	return folded, nil
}

// lowerBatchNorm rewrites every remaining BatchNorm with constant
// parameters as x·k + (beta − mean·k). It returns how many it lowered.
func lowerBatchNorm(g *Graph) (int, error) {
	var out []*Node
	lowered := 0
	for _, bn := range g.Nodes {
		if bn.Op != OpBatchNorm {
			out = append(out, bn)
			continue
		}
		var p [4]*Tensor
		for i := range p {
			if p[i] = g.Const(bn.Inputs[i+1]); p[i] == nil {
				return lowered, bn.Errorf("parameter %q is not a constant (training-mode batch norm is not supported)", bn.Inputs[i+1])
			}
		}
		xs := g.Values[bn.Inputs[0]].Shape
		ax, err := normAxis(bn.Attrs.Axis, len(xs))
		if err != nil {
			return lowered, bn.Errorf("%v", err)
		}
		c := xs[ax]
		bshape := make(Shape, len(xs)-ax)
		for i := range bshape {
			bshape[i] = 1
		}
		bshape[0] = c
		k := make([]float32, c)
		sh := make([]float32, c)
		for i := 0; i < c; i++ {
			k[i] = float32(float64(p[0].F[i]) / math.Sqrt(float64(p[3].F[i])+float64(bn.Attrs.Epsilon)))
			sh[i] = p[1].F[i] - p[2].F[i]*k[i]
		}
		kName, sName := g.UniqueName(bn.Name+"_bn_scale"), g.UniqueName(bn.Name+"_bn_shift")
		g.AddConst(kName, FloatTensor(bshape, k))
		g.AddConst(sName, FloatTensor(bshape, sh))
		mid := g.UniqueName(bn.Output + "_scaled")
		g.Values[mid] = &Value{Name: mid, Shape: xs.Clone(), DType: Float32}
		out = append(out,
			&Node{Name: bn.Name + "/scale", Op: OpMul, Inputs: []string{bn.Inputs[0], kName}, Output: mid},
			&Node{Name: bn.Name + "/shift", Op: OpAdd, Inputs: []string{mid, sName}, Output: bn.Output})
		lowered++
	}
	g.Nodes = out
	return lowered, nil
}

// hoistActivationsOverConcat rewrites Concat(act(x₁), …, act(x_k)) as
// act(Concat(x₁, …, x_k)) when every input of the Concat is the output
// of the same elementwise activation (Relu, or Clip with the same
// bounds) that nothing else reads. Both compute the same function,
// element for element; after the rewrite the activation runs as one
// layer instead of k (fewer rounds in the secure backends), and a
// MaxPool that reads the Concat can swap with it (swapReluMaxPool), as
// after the Fire modules of SqueezeNet, whose pools then compare before
// the ReLU and the ReLU runs on the pooled quarter. It returns how many
// Concats it rewrote.
func hoistActivationsOverConcat(g *Graph) int {
	readers := g.Consumers()
	isOut := map[string]bool{}
	for _, o := range g.Outputs {
		isOut[o] = true
	}
	producer := map[string]*Node{}
	for _, n := range g.Nodes {
		producer[n.Output] = n
	}
	hoisted := 0
	for i := 0; i < len(g.Nodes); i++ {
		cat := g.Nodes[i]
		if cat.Op != OpConcat || len(cat.Inputs) < 2 {
			continue
		}
		acts := make([]*Node, len(cat.Inputs))
		for j, in := range cat.Inputs {
			a := producer[in]
			if a == nil || len(a.Inputs) != 1 || len(readers[in]) != 1 || isOut[in] || !sameActivation(a, acts[0]) {
				acts = nil
				break
			}
			acts[j] = a
		}
		if acts == nil {
			continue
		}
		// acts: xⱼ → aⱼ; cat: a₁…a_k → c   becomes   cat: x₁…x_k → c' ; act: c' → c
		pre := cat.Output + "/pre-" + strings.ToLower(string(acts[0].Op))
		for g.Values[pre] != nil {
			pre += "'"
		}
		v := *g.Values[cat.Output]
		v.Name, v.Shape = pre, v.Shape.Clone()
		g.Values[pre] = &v
		drop := map[*Node]bool{}
		for j, a := range acts {
			cat.Inputs[j] = a.Inputs[0]
			delete(g.Values, a.Output)
			drop[a] = true
		}
		act := acts[0]
		act.Inputs, act.Output = []string{pre}, cat.Output
		cat.Output = pre
		// The activations leave their places; one comes back after the
		// Concat, which stays after everything its inputs need.
		kept := g.Nodes[:0]
		for _, n := range g.Nodes {
			if drop[n] {
				continue
			}
			kept = append(kept, n)
			if n == cat {
				kept = append(kept, act)
			}
		}
		g.Nodes = kept
		i = indexOf(g.Nodes, act)
		hoisted++
		readers = g.Consumers()
		producer = map[string]*Node{}
		for _, n := range g.Nodes {
			producer[n.Output] = n
		}
	}
	return hoisted
}

// sameActivation reports whether a is an activation that
// hoistActivationsOverConcat may merge with first (nil: any of them).
func sameActivation(a, first *Node) bool {
	if a.Op != OpRelu && a.Op != OpClip {
		return false
	}
	return first == nil || a.Op == first.Op && (a.Op == OpRelu || a.Attrs.Min == first.Attrs.Min && a.Attrs.Max == first.Attrs.Max)
}

// swapReluMaxPool rewrites Relu→MaxPool (and Relu6/Clip→MaxPool) as
// MaxPool→Relu when the activation's output feeds only the pool. Both
// orders compute the same function because the activation is monotone and
// every pooling window holds at least one real element, but after the
// swap the activation runs on the pooled, smaller tensor (the paper's
// Section III-D). It returns how many pairs it swapped.
func swapReluMaxPool(g *Graph) int {
	readers := g.Consumers()
	isOut := map[string]bool{}
	for _, o := range g.Outputs {
		isOut[o] = true
	}
	swaps := 0
	for i, act := range g.Nodes {
		if act.Op != OpRelu && act.Op != OpClip {
			continue
		}
		rs := readers[act.Output]
		if len(rs) != 1 || rs[0].Op != OpMaxPool || isOut[act.Output] {
			continue
		}
		pool := rs[0]
		// act: x → a ; pool: a → p   becomes   pool: x → a' ; act: a' → p
		x, p := act.Inputs[0], pool.Output
		mid := act.Output
		g.Values[mid].Shape = g.Values[p].Shape.Clone()
		pool.Inputs[0], pool.Output = x, mid
		act.Inputs[0], act.Output = mid, p
		// Keep topological order: the pool now comes first.
		j := indexOf(g.Nodes, pool)
		g.Nodes[i], g.Nodes[j] = pool, act
		swaps++
		readers = g.Consumers()
	}
	return swaps
}

func indexOf(ns []*Node, n *Node) int {
	for i, m := range ns {
		if m == n {
			return i
		}
	}
	return -1
}

// MemoryPlan is the result of liveness analysis: which buffer each
// activation lives in and how much memory that takes.
type MemoryPlan struct {
	Buffer        map[string]int // value → buffer index
	BufferElems   []int          // size of each buffer, in elements
	PeakElems     int            // most activation elements live at once
	PlannedElems  int            // sum of BufferElems: memory with reuse
	UnplannedElem int            // every activation in its own buffer
}

// peakBytes is the peak of live activation memory at bytesPerElem.
func (p *MemoryPlan) peakBytes(bytesPerElem int) int64 {
	return int64(p.PeakElems) * int64(bytesPerElem)
}

// PlanMemory runs a liveness analysis over the activations (graph inputs
// and node outputs; constants are excluded) and assigns them to reusable
// buffers: a buffer is free again after the last reader of its value has
// run. Values are placed best-fit into the smallest free buffer that
// holds them, growing one if none does.
func PlanMemory(g *Graph) *MemoryPlan {
	last := map[string]int{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			last[in] = i
		}
	}
	end := len(g.Nodes)
	for _, o := range g.Outputs {
		last[o] = end
	}
	plan := &MemoryPlan{Buffer: map[string]int{}}
	var free []int
	live := 0
	release := func(step int, names []string) {
		for _, name := range names {
			if b, ok := plan.Buffer[name]; ok && last[name] == step {
				free = append(free, b)
				live -= g.Values[name].Shape.Size()
			}
		}
	}
	alloc := func(name string) {
		sz := g.Values[name].Shape.Size()
		plan.UnplannedElem += sz
		live += sz
		plan.PeakElems = max(plan.PeakElems, live)
		best := -1
		for i, b := range free {
			if plan.BufferElems[b] >= sz && (best < 0 || plan.BufferElems[b] < plan.BufferElems[free[best]]) {
				best = i
			}
		}
		if best < 0 && len(free) > 0 { // grow the largest free buffer
			sort.Slice(free, func(i, j int) bool { return plan.BufferElems[free[i]] < plan.BufferElems[free[j]] })
			best = len(free) - 1
			plan.BufferElems[free[best]] = sz
		}
		if best < 0 {
			plan.BufferElems = append(plan.BufferElems, sz)
			plan.Buffer[name] = len(plan.BufferElems) - 1
			return
		}
		plan.Buffer[name] = free[best]
		free = append(free[:best], free[best+1:]...)
	}
	for _, in := range g.Inputs {
		alloc(in)
	}
	for i, n := range g.Nodes {
		alloc(n.Output) // inputs are still live while the node runs
		ins := dedup(n.Inputs)
		release(i, ins)
		if _, used := last[n.Output]; !used { // dead value: free at once
			free = append(free, plan.Buffer[n.Output])
			live -= g.Values[n.Output].Shape.Size()
		}
	}
	for _, b := range plan.BufferElems {
		plan.PlannedElems += b
	}
	return plan
}

func dedup(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Summary is a one-line description of the plan.
func (p *MemoryPlan) Summary(bytesPerElem int) string {
	return fmt.Sprintf("peak live activations %s, %d buffers totalling %s with reuse (%s without)",
		FormatBytes(p.peakBytes(bytesPerElem)), len(p.BufferElems),
		FormatBytes(int64(p.PlannedElems)*int64(bytesPerElem)), FormatBytes(int64(p.UnplannedElem)*int64(bytesPerElem)))
}

// FormatBytes renders n bytes with a binary unit.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
