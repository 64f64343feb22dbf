package main

import (
	"slices"
	"testing"

	"veil/fixed"
	"veil/internal/bench"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/session"
)

// BenchmarkLeNet measures one Fashion-MNIST LeNet inference in float and
// in the cleartext fixed-point executor.
func BenchmarkLeNet(b *testing.B) {
	var mf modelFlags
	g, _, err := mf.load(lenet)
	if err != nil {
		b.Fatal(err)
	}
	shape, _ := g.InputShape()
	xs, err := (&dataFlags{}).loadExamples(fashionT, 1, shape, g.Layout)
	if err != nil {
		b.Fatal(err)
	}
	p, err := fixed.Compile(g, 12)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("float", func(b *testing.B) {
		in := map[string]*ir.Tensor{g.Inputs[0]: ir.FloatTensor(shape, xs[0].Input)}
		for i := 0; i < b.N; i++ {
			if _, err := ir.Run(g, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fixed", func(b *testing.B) {
		in := p.EncodeInput(xs[0].Input)
		for i := 0; i < b.N; i++ {
			if _, err := p.Run(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPartyProcessPassesBackendOptions checks that every backend option
// of a bench session reaches the party processes (it once reached only
// --compare, so bench --backend-option ot-k=1 ran the default).
func TestPartyProcessPassesBackendOptions(t *testing.T) {
	p := bench.Party{Role: mpc.P1, Config: "parties.json",
		Session: session.Options{Backend: "2pc", BackendOptions: mpc.Options{"ot-k": "1", "magnitude": "20"}}}
	args := partyProcess(p).Args[1:]
	want := []string{"--backend-option", "magnitude=20", "--backend-option", "ot-k=1"}
	for i := 0; i+len(want) <= len(args); i++ {
		if slices.Equal(args[i:i+len(want)], want) {
			return
		}
	}
	t.Fatalf("party arguments %q lack %q", args, want)
}
