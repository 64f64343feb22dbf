package main

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress draws the progress of a command's long work (a scale sweep,
// evaluation over many images, a secure session, a start-up) on the
// command's standard error, so that standard output stays parseable. It
// draws only on a terminal and never for a command asked for --json; the
// zero progress draws nothing. Every command decides with newProgress
// and draws with count and spin.
type progress struct {
	w io.Writer // nil: draw nothing
}

// newProgress returns the progress of a command whose standard error is
// w, asked for JSON output if asJSON.
func newProgress(w io.Writer, asJSON bool) progress {
	if !progressOn(w, asJSON) {
		return progress{}
	}
	return progress{w: w}
}

// progressOn reports whether progress is drawn on w: only when w is a
// terminal, and never with --json.
func progressOn(w io.Writer, asJSON bool) bool {
	if asJSON {
		return false
	}
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// count starts a bar counting n steps of the work desc describes.
func (p progress) count(n int, desc string) *bar {
	if p.w == nil || n <= 0 {
		return nil
	}
	return newBar(p.w, n, desc)
}

// spin starts a spinner with the elapsed time, for work whose steps
// are not known (or not reported) as it runs.
func (p progress) spin(desc string) *bar {
	if p.w == nil {
		return nil
	}
	return newBar(p.w, -1, desc)
}

// A bar is one drawn bar or spinner. Its methods do nothing on a nil
// *bar, which is what a progress that draws nothing returns, so callers
// need no checks. Every bar must be ended with done: a spinner redraws
// itself until then.
type bar struct {
	pb *progressbar.ProgressBar
}

// newBar draws a bar of n steps on w, or a spinner for n < 0.
func newBar(w io.Writer, n int, desc string) *bar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true), // starts a spinner's clock
	}
	if n < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14), progressbar.OptionSetElapsedTime(true))
	} else {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond))
	}
	return &bar{pb: progressbar.NewOptions(n, opts...)}
}

// add advances the bar by n steps.
func (b *bar) add(n int) {
	if b != nil {
		b.pb.Add(n)
	}
}

// describe changes the description of the work in progress.
func (b *bar) describe(desc string) {
	if b != nil {
		b.pb.Describe(desc)
	}
}

// done ends the bar and clears its line; later calls do nothing.
func (b *bar) done() {
	if b != nil {
		b.pb.Finish()
	}
}
