package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openTerminal opens a pseudo-terminal and returns its terminal end
// and a function that closes it and returns all that was written on it.
func openTerminal(t *testing.T) (*os.File, func() string) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("naming the pseudo-terminal: %v", err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	// No output processing: a newline stays a newline, so that a
	// carriage return on the terminal was written by a bar.
	tio, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
	if err != nil {
		t.Skipf("reading the pseudo-terminal's settings: %v", err)
	}
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(int(pts.Fd()), unix.TCSETS, tio); err != nil {
		t.Skipf("setting the pseudo-terminal's output: %v", err)
	}
	// Drain the terminal as it is written, so that a writer never blocks
	// on a full buffer; reading ends (EIO) once the terminal end closes.
	read := make(chan string)
	go func() {
		var out bytes.Buffer
		io.Copy(&out, ptm)
		read <- out.String()
	}()
	return pts, func() string {
		pts.Close()
		return <-read
	}
}

func TestProgressOnTerminal(t *testing.T) {
	pts, written := openTerminal(t)
	defer written()
	for _, tc := range []struct {
		asJSON bool
		want   bool
	}{
		{false, true},
		{true, false},
	} {
		if got := progressOn(pts, tc.asJSON); got != tc.want {
			t.Errorf("progressOn(terminal, json %v) = %v, want %v", tc.asJSON, got, tc.want)
		}
	}
}

// TestCommandsProgressOnTerminal runs commands with a terminal as
// standard error: they draw their progress there, except with --json,
// and standard output stays free of it.
func TestCommandsProgressOnTerminal(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "digits.vp")
	for _, tc := range []struct {
		args []string
		want []string // progress drawn; none: no progress at all
	}{
		{[]string{"compile", digitsMLP, "--data", digitsV, "--scales", "8:10", "-o", prog}, []string{"importing", "scale sweep: 3 scales on 300 images"}},
		{[]string{"eval", digitsMLP, "--data", digitsT, "--backend", "fixed", "--val", digitsV, "--scales", "8:10"}, []string{"float: images", "scale sweep", "fixed point (scale "}},
		{[]string{"eval", digitsMLP, "--data", digitsT, "--backend", "fixed", "--val", digitsV, "--scales", "8:10", "--json"}, nil},
		{[]string{"eval", prog, "--data", digitsT, "--json"}, nil},
	} {
		name := "veil " + strings.Join(tc.args, " ")
		pts, written := openTerminal(t)
		root := newRoot()
		var stdout bytes.Buffer
		root.SetOut(&stdout)
		root.SetErr(pts)
		root.SetArgs(tc.args)
		err := root.Execute()
		drawn := written()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tc.want == nil && drewProgress(drawn) {
			t.Errorf("%s drew %q on the terminal, want no progress", name, drawn)
		}
		for _, w := range tc.want {
			if !strings.Contains(drawn, w) {
				t.Errorf("%s drew %q on the terminal, want %q in it", name, drawn, w)
			}
		}
		if drewProgress(stdout.String()) {
			t.Errorf("%s printed progress on standard output: %q", name, stdout.String())
		}
	}
}
