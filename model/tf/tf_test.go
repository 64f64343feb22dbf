package tf

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConvertTFJS converts the real nsfwjs model with and without
// unfusing, and checks that the file holds the ops asked for and imports.
func TestConvertTFJS(t *testing.T) {
	for _, unfuse := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "m.pb")
		if err := ConvertTFJS(nsfwModel, out, unfuse); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		gd, err := ParseGraphDef(data)
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
		if _, err := LoadGraphDef(out, Options{}); err != nil {
			t.Errorf("unfuse=%v: %v", unfuse, err)
		}
	}
	dir := t.TempDir()
	if err := ConvertTFJS(filepath.Join(dir, "nowhere"), filepath.Join(dir, "x.pb"), false); err == nil {
		t.Error("converting a missing model succeeded")
	}
	if err := ConvertTFJS(nsfwModel, filepath.Join(dir, "no", "such", "dir", "x.pb"), false); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
