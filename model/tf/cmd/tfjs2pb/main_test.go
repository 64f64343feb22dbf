package main

import (
	"os"
	"path/filepath"
	"testing"

	"veil/model/tf"
)

func TestConvert(t *testing.T) {
	const model = "../../../../testdata/models/tfjs-nsfw-mobilenet_v2_mid"
	for _, unfuse := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "m.pb")
		if err := convert(model, out, unfuse); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		gd, err := tf.ParseGraphDef(data)
		if err != nil {
			t.Fatal(err)
		}
		fused := 0
		for _, n := range gd.Nodes {
			switch n.Op {
			case "_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul":
				fused++
			}
		}
		if want := map[bool]int{false: 53, true: 0}[unfuse]; fused != want {
			t.Errorf("unfuse=%v: %d fused nodes, want %d", unfuse, fused, want)
		}
		if _, err := tf.LoadGraphDef(out, tf.Options{}); err != nil {
			t.Errorf("unfuse=%v: %v", unfuse, err)
		}
	}
	if err := convert("nowhere", filepath.Join(t.TempDir(), "x.pb"), false); err == nil {
		t.Error("converting a missing model succeeded")
	}
}
