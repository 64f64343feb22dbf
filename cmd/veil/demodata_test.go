package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"veil/internal/bench"
	"veil/internal/demodata"
)

// demoReport is the part of veil demo --json that these tests read.
type demoReport struct {
	Model    string  `json:"model"`
	N        int     `json:"n"`
	Agreeing float64 `json:"agreement_with_cleartext"`
	Images   []struct {
		Label     int  `json:"label"`
		Secure    int  `json:"secure"`
		Cleartext int  `json:"cleartext"`
		Agree     bool `json:"agree"`
	} `json:"images"`
}

// TestDemoDefaultsFromAnyDirectory: in a directory without testdata/,
// veil demo and veil bench run the model and images embedded in veil,
// agreeing with the cleartext executor and with a run on the testdata/
// originals; explicit paths are still read from disk, relative to the
// working directory; the temporary copy is removed.
func TestDemoDefaultsFromAnyDirectory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the embedded files are copied to
	t.Chdir(t.TempDir())

	demo := func(t *testing.T, args ...string) demoReport {
		t.Helper()
		args = append([]string{"demo", "-n", "3", "--json"}, args...)
		out, err := veil(t, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var r demoReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s printed %q: %v", strings.Join(args, " "), out, err)
		}
		if r.N != 3 || len(r.Images) != 3 || r.Agreeing != 1 {
			t.Errorf("%s: %d images, agreement with cleartext %g; want 3, 1", strings.Join(args, " "), r.N, r.Agreeing)
		}
		for i, im := range r.Images {
			if !im.Agree || im.Secure != im.Cleartext {
				t.Errorf("%s: image %d: secure %d, cleartext %d", strings.Join(args, " "), i, im.Secure, im.Cleartext)
			}
		}
		return r
	}
	embeddedRun := demo(t)
	if embeddedRun.Model != embeddedLeNetName {
		t.Errorf("demo reports model %q, want %q", embeddedRun.Model, embeddedLeNetName)
	}
	original := demo(t, "--model", lenet, "--data", fashionT)
	if original.Model != lenet {
		t.Errorf("demo --model %s reports model %q", lenet, original.Model)
	}
	if !slices.Equal(embeddedRun.Images, original.Images) {
		t.Errorf("embedded files give %+v, the testdata/ originals %+v", embeddedRun.Images, original.Images)
	}

	out, err := veil(t, "bench", "--json")
	var r bench.Result
	if err != nil || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	if r.Network != "fashion_lenet" || !r.Verified || r.ReluCount != 1780 {
		t.Errorf("bench: network %q, verified %v, %d ReLUs; want fashion_lenet, true, 1780", r.Network, r.Verified, r.ReluCount)
	}

	for _, c := range []struct {
		args   []string
		want   string
		status int
	}{
		// A user's path is the user's, never the embedded copy.
		{[]string{"demo", "-n", "1", "--model", "testdata/models/fashion_lenet.onnx"}, "testdata/models/fashion_lenet.onnx", 1},
		{[]string{"demo", "-n", "1", "--data", "testdata/data/fashion-mnist/test"}, "testdata/data/fashion-mnist/test", 1},
		{[]string{"bench", "testdata/models/fashion_lenet.onnx"}, "testdata/models/fashion_lenet.onnx", 1},
		{[]string{"demo", "-n", "101"}, "the embedded test set holds 100 images", 2},
	} {
		out, err := veil(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitStatus(err) != c.status {
			t.Errorf("veil %s: %v (exit %d), want exit %d and an error naming %q\n%s", strings.Join(c.args, " "), err, exitStatus(err), c.status, c.want, out)
		}
	}
	if demodata.FashionTestImages != 100 {
		t.Errorf("the -n 101 case above assumes 100 embedded images, not %d", demodata.FashionTestImages)
	}

	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in the temporary directory: %v", left)
	}
}
