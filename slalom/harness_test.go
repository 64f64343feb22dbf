package slalom

import (
	"net"
	"testing"
)

// pipeDevice starts an in-process device on one end of a net.Pipe and
// returns T's end. (The separate-process device is tested in cmd/veil.)
func pipeDevice(t testing.TB, d *Device) *Remote {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Serve(NewConn(b))
		b.Close()
	}()
	t.Cleanup(func() { a.Close(); <-done })
	return &Remote{C: NewConn(a)}
}

func newTrusted(t testing.TB, p *Program, mode Mode, d *Device) *Trusted {
	t.Helper()
	if d == nil {
		d = &Device{}
	}
	tr, err := NewTrusted(p, mode, pipeDevice(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.Prepare()
	return tr
}

var allModes = []Mode{
	{},
	{Verify: true},
	{Verify: true, PerLayer: true},
	{Verify: true, Check: OnTheFly},
	{Verify: true, Check: Structured},
	{Verify: true, Blind: true, Check: Structured},
	{Blind: true},
	{Verify: true, Blind: true},
}
