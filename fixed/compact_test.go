package fixed_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"veil/fixed"
	"veil/internal/testmodel"
	"veil/ir"
)

// Compact stores each weight at the width its values need, and every
// reader sees the same program: values, validation, file, public part,
// outputs.
func TestCompact(t *testing.T) {
	// One weight per storage width, with the extreme values of each.
	ws := []struct {
		bits  int
		bytes int64 // per value once compacted
		vals  []int64
	}{
		{16, 2, []int64{-1 << 15, 1<<15 - 1, 0, -1}},
		{24, 4, []int64{-1 << 23, 1<<23 - 1, 5, -7}},
		{32, 4, []int64{-1 << 31, 1<<31 - 1, 3, 1 << 20}},
		{64, 8, []int64{-1 << 63, 1<<63 - 1, 1 << 40, -2}},
	}
	p := &fixed.Program{Name: "widths", Scale: 8, PublicShift: 16}
	p.Tensors = append(p.Tensors, &fixed.Tensor{Name: "x", Shape: ir.Shape{4}, Kind: fixed.KindInput, Scale: 8})
	p.Inputs = []int{0}
	x := 0
	for _, w := range ws {
		data := make([]uint64, len(w.vals))
		for i, v := range w.vals {
			data[i] = uint64(v)
		}
		p.Tensors = append(p.Tensors,
			&fixed.Tensor{Name: "w", Shape: ir.Shape{4}, Kind: fixed.KindWeight, Scale: 8, Data: data, Bits: fixed.StorageBits(data)},
			&fixed.Tensor{Name: "y", Shape: ir.Shape{4}, Kind: fixed.KindValue, Scale: 8})
		w, y := len(p.Tensors)-2, len(p.Tensors)-1
		p.Instrs = append(p.Instrs, fixed.Instr{Op: fixed.Add, In: []int{x, w}, Out: y})
		x = y
	}
	p.Outputs = []int{x}
	p.ComputeStats()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	var before bytes.Buffer
	if err := p.Write(&before); err != nil {
		t.Fatal(err)
	}
	in := []uint64{1, 2, 3, 4}
	want, err := p.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	orig := make([][]uint64, len(p.Tensors))
	for id, tn := range p.Tensors {
		orig[id] = tn.Data
	}

	p.Compact()
	for k, w := range ws {
		tn := p.Tensors[1+2*k]
		if tn.Bits != w.bits {
			t.Fatalf("weight %d declares %d bits, want %d", k, tn.Bits, w.bits)
		}
		if compacted := w.bits <= 32; compacted != (tn.Data == nil) {
			t.Errorf("%d-bit weight: Data %v after Compact", w.bits, tn.Data)
		}
		if got := tn.ValueBytes(); got != w.bytes*int64(len(w.vals)) {
			t.Errorf("%d-bit weight occupies %d bytes, want %d", w.bits, got, w.bytes*int64(len(w.vals)))
		}
		if !tn.HasValues() || tn.NumValues() != len(w.vals) || !slices.Equal(tn.Values(), orig[1+2*k]) {
			t.Errorf("%d-bit weight reads back %v (%d values), want %v", w.bits, tn.Values(), tn.NumValues(), orig[1+2*k])
		}
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("compacted program: %v", err)
	}
	if !p.WeightsComplete() || !p.HasWeightData() {
		t.Error("the compacted program reports missing weights")
	}
	var after bytes.Buffer
	if err := p.Write(&after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Error("the compacted program writes a different file")
	}
	got, err := p.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], want[0]) {
		t.Errorf("compacted program computes %v, want %v", got[0], want[0])
	}
	pub := p.Public()
	if pub.HasWeightData() {
		t.Error("the public part of a compacted program carries weights")
	}
	for _, tn := range pub.Tensors {
		if tn.HasValues() || tn.ValueBytes() != 0 {
			t.Errorf("public tensor %q carries %d bytes of values", tn.Name, tn.ValueBytes())
		}
	}
	if err := pub.ValidatePublic(); err != nil {
		t.Error(err)
	}
}

// A real model compacts to a quarter of its weight memory and computes
// the same outputs.
func TestCompactModel(t *testing.T) {
	p := testmodel.Program(t, "fashion_lenet", 12)
	xs, _ := testmodel.Images(t, p, "data/fashion-mnist/test", 0, 4)
	var want [][]float64
	var full int64
	for _, tn := range p.Tensors {
		full += tn.ValueBytes()
	}
	for _, x := range xs {
		y, err := p.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, y)
	}
	p.Compact()
	var compact int64
	for _, tn := range p.Tensors {
		compact += tn.ValueBytes()
	}
	if compact > full/3 {
		t.Errorf("compacted weights occupy %d bytes of %d", compact, full)
	}
	for i, x := range xs {
		y, err := p.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(y, want[i]) {
			t.Errorf("image %d: %v after Compact, want %v", i, y, want[i])
		}
	}
}

// ReadFileCompact reads what ReadFile reads, each weight at its declared
// width, and refuses a value beyond it.
func TestReadFileCompact(t *testing.T) {
	p := testmodel.Program(t, "fashion_lenet", 12)
	path := filepath.Join(t.TempDir(), "lenet.veil")
	if err := p.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	full, err := fixed.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := fixed.ReadFileCompact(path)
	if err != nil {
		t.Fatal(err)
	}
	var fullBytes, compactBytes int64
	for id, tn := range full.Tensors {
		fullBytes += tn.ValueBytes()
		compactBytes += c.Tensors[id].ValueBytes()
		if !slices.Equal(tn.Values(), c.Tensors[id].Values()) {
			t.Errorf("weight %q reads back differently", tn.Name)
		}
	}
	if compactBytes > fullBytes/3 {
		t.Errorf("compacted weights occupy %d bytes of %d", compactBytes, fullBytes)
	}

	// A weight declared 16 bits wide holding a value that needs 17. Its
	// file's hash is right: only the declaration is wrong.
	var w *fixed.Tensor
	for _, tn := range p.Tensors {
		if tn.Kind == fixed.KindWeight && tn.Bits == 16 {
			w = tn
			break
		}
	}
	if w == nil {
		t.Fatal("no 16-bit weight in the test model")
	}
	w.Data[3] = 1 << 16
	if err := p.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func(string) (*fixed.Program, error){"ReadFile": fixed.ReadFile, "ReadFileCompact": fixed.ReadFileCompact} {
		if _, err := read(path); err == nil || !strings.Contains(err.Error(), "beyond its declared 16 bits") {
			t.Errorf("%s: %v, want a refusal of the value beyond its declared width", name, err)
		}
	}
}

// Values keeps a compacted weight widened, shared by every reader,
// while its program's budget allows, and widens it afresh at every call
// beyond it; a weight that is not compacted is returned as it is.
func TestValuesWidenedOnce(t *testing.T) {
	mk := func(n int) *fixed.Tensor {
		data := make([]uint64, n)
		for i := range data {
			data[i] = uint64(int64(i - n/2))
		}
		return &fixed.Tensor{Name: "w", Shape: ir.Shape{n}, Kind: fixed.KindWeight, Data: data}
	}
	p := &fixed.Program{Tensors: []*fixed.Tensor{mk(6), mk(5), mk(3)}}
	want := make([][]uint64, len(p.Tensors))
	for i, tn := range p.Tensors {
		want[i] = slices.Clone(tn.Data)
	}
	full := mk(4) // not compacted
	p.Compact()
	fixed.SetWidenBudget(p, 9)
	same := func(a, b []uint64) bool { return len(a) > 0 && &a[0] == &b[0] }
	for _, k := range []struct {
		id   int
		kept bool
	}{{0, true}, {1, false}, {2, true}, {0, true}, {1, false}, {2, true}} {
		tn := p.Tensors[k.id]
		a, b := tn.Values(), tn.Values()
		if !slices.Equal(a, want[k.id]) || !slices.Equal(b, want[k.id]) {
			t.Fatalf("weight %d reads %v, %v, want %v", k.id, a, b, want[k.id])
		}
		if same(a, b) != k.kept {
			t.Errorf("weight %d: kept %v, want %v", k.id, same(a, b), k.kept)
		}
		if wantBytes := int64(2*len(want[k.id])) + map[bool]int64{true: int64(8 * len(want[k.id]))}[k.kept]; tn.ValueBytes() != wantBytes {
			t.Errorf("weight %d occupies %d bytes, want %d", k.id, tn.ValueBytes(), wantBytes)
		}
	}
	if v := full.Values(); !same(v, full.Data) {
		t.Error("a weight that is not compacted was copied")
	}

	// Readers at once (sessions of a service): one copy kept, the same
	// values for all.
	q := &fixed.Program{Tensors: []*fixed.Tensor{mk(1000)}}
	q.Compact()
	got := make([][]uint64, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = q.Tensors[0].Values() }()
	}
	wg.Wait()
	kept := q.Tensors[0].Values()
	for i, v := range got {
		if !slices.Equal(v, kept) {
			t.Fatalf("reader %d read other values", i)
		}
	}
	if !same(q.Tensors[0].Values(), kept) {
		t.Error("the weight was not kept widened")
	}
}
