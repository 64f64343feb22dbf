package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"veil/internal/testmodel"
)

var digitsV = testmodel.Path("data/digits/val.csv")

func TestProgressOffWhenNotTerminal(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
	}{
		{"buffer", new(bytes.Buffer)},
		{"pipe", pw},
		{"null device", null}, // a character device, but no terminal
		{"regular file", file},
	} {
		for _, asJSON := range []bool{false, true} {
			if progressOn(tc.w, asJSON) {
				t.Errorf("%s, json %v: progress on", tc.name, asJSON)
			}
			p := newProgress(tc.w, asJSON)
			if p != (progress{}) {
				t.Errorf("%s, json %v: newProgress = %+v, want the zero progress", tc.name, asJSON, p)
			}
			if b := p.count(10, "counting"); b != nil {
				t.Errorf("%s, json %v: count drew a bar", tc.name, asJSON)
			}
			if b := p.spin("spinning"); b != nil {
				t.Errorf("%s, json %v: spin drew a spinner", tc.name, asJSON)
			}
		}
	}
	if st, err := file.Stat(); err != nil || st.Size() != 0 {
		t.Errorf("the regular file holds %d bytes (%v)", st.Size(), err)
	}
}

func TestNilBarDoesNothing(t *testing.T) {
	var b *bar
	b.add(1)
	b.describe("x")
	b.done()
	b.done()
}

func TestBarDrawsAndClears(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"count", 3},
		{"spin", -1},
	} {
		var w bytes.Buffer
		b := newBar(&w, tc.n, "working")
		b.add(1)
		b.describe("still working")
		b.done()
		b.done()
		out := w.String()
		if !strings.Contains(out, "working") || !strings.Contains(out, "\r") {
			t.Errorf("%s: drew %q, want the description redrawn with carriage returns", tc.name, out)
		}
		if last := out[strings.LastIndex(out, "\r")+1:]; last != "" {
			t.Errorf("%s: the line is left holding %q, want it cleared", tc.name, last)
		}
	}
}

// drewProgress reports whether out holds a drawn bar or spinner: its
// carriage returns, and the characters of its bar and spinner.
func drewProgress(out string) bool {
	return strings.ContainsAny(out, "\r█⠋")
}

// TestCommandsPrintNoProgressOffTerminal runs commands that draw
// progress on a terminal with buffers as standard output and error:
// they print no progress on either.
func TestCommandsPrintNoProgressOffTerminal(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "digits.vp")
	for _, args := range [][]string{
		{"compile", digitsMLP, "--data", digitsV, "--scales", "8:10", "-o", prog},
		{"eval", digitsMLP, "--data", digitsT, "--backend", "fixed", "--val", digitsV, "--scales", "8:10"},
		{"eval", digitsMLP, "--data", digitsT, "--backend", "fixed", "--val", digitsV, "--scales", "8:10", "--json"},
		{"eval", prog, "--data", digitsT},
	} {
		root := newRoot()
		var stdout, stderr bytes.Buffer
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("veil %s: %v", strings.Join(args, " "), err)
		}
		for _, out := range []*bytes.Buffer{&stdout, &stderr} {
			if drewProgress(out.String()) {
				t.Errorf("veil %s printed progress: %q", strings.Join(args, " "), out.String())
			}
		}
	}
}
