package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"veil/fixed"
	"veil/mpc"
)

// TestCommitInputs: SHA-256 of the float32 values, little endian, one
// input after another; any change of a value or of the order changes
// it.
func TestCommitInputs(t *testing.T) {
	one := sha256.Sum256([]byte{0, 0, 0x80, 0x3f})                   // 1.0
	oneTwo := sha256.Sum256([]byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}) // 1.0, 2.0
	empty := sha256.Sum256(nil)
	for _, c := range []struct {
		name string
		xs   [][]float32
		want [32]byte
	}{
		{"none", nil, empty},
		{"one value", [][]float32{{1}}, one},
		{"two values in one input", [][]float32{{1, 2}}, oneTwo},
		{"two inputs", [][]float32{{1}, {2}}, oneTwo},
	} {
		if got := commitInputs(c.xs); !bytes.Equal(got, c.want[:]) {
			t.Errorf("%s: %x, want %x", c.name, got, c.want)
		}
	}
	if bytes.Equal(commitInputs([][]float32{{1, 2}}), commitInputs([][]float32{{2, 1}})) {
		t.Error("the order of the values does not count")
	}
}

// TestCommitProgram: the server commits to the program file's bytes, as
// WriteFile writes and ReadFile reads them back, weights included.
func TestCommitProgram(t *testing.T) {
	p, _ := lenetProgram(t)
	path := filepath.Join(t.TempDir(), "p.vp")
	if err := p.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(file)
	got, err := commitProgram(p)
	if err != nil || !bytes.Equal(got, want[:]) {
		t.Fatalf("commitProgram = %x, %v; want the file's SHA-256 %x", got, err, want)
	}
	read, err := fixed.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := commitProgram(read); !bytes.Equal(again, got) {
		t.Errorf("the program read back commits to %x, the program written to %x", again, got)
	}
	for _, w := range read.Tensors {
		if w.Kind == fixed.KindWeight && len(w.Data) > 0 {
			w.Data[0]++
			break
		}
	}
	if other, _ := commitProgram(read); bytes.Equal(other, got) {
		t.Error("changing a weight leaves the commitment")
	}
}

// TestCommitment: one rule per role.
func TestCommitment(t *testing.T) {
	p, xs := lenetProgram(t)
	prog, _ := commitProgram(p)
	for _, c := range []struct {
		me   mpc.Party
		want []byte
	}{
		{mpc.P0, commitInputs(xs)},
		{mpc.P1, prog},
		{mpc.P2, nil},
	} {
		got, err := Commitment(c.me, p, xs)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: %s, %v; want %s", c.me, hex.EncodeToString(got), err, hex.EncodeToString(c.want))
		}
	}
}
