// Package devicetest runs Slalom's device D in the test's own process,
// for the tests of slalom and its packages.
package devicetest

import (
	"bytes"
	"net"
	"testing"

	"veil/slalom"
	"veil/slalom/device"
)

// Pipe starts the device d in this process on one end of a net.Pipe and
// returns T's end (unsealed frames); the test's cleanup stops it. (The
// device in its own process, over TLS, is tested in cmd/veil.)
func Pipe(t testing.TB, d *device.Device) *device.Remote {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Serve(device.NewConn(b))
		b.Close()
	}()
	t.Cleanup(func() { a.Close(); <-done })
	return &device.Remote{C: device.NewConn(a)}
}

// Trusted is T running p in mode with the in-process device d (nil: an
// honest one), its check secrets prepared.
func Trusted(t testing.TB, p *slalom.Program, mode slalom.Mode, d *device.Device) *slalom.Trusted {
	t.Helper()
	if d == nil {
		d = &device.Device{}
	}
	return trusted(t, p, mode, Pipe(t, d))
}

// Recording is Trusted with an honest device, and every frame T sends it
// (its type, then its body) appended to *frames as it is sent.
func Recording(t testing.TB, p *slalom.Program, mode slalom.Mode, frames *[][]byte) *slalom.Trusted {
	t.Helper()
	r := Pipe(t, &device.Device{})
	r.C.Sent = func(f []byte) { *frames = append(*frames, bytes.Clone(f)) }
	return trusted(t, p, mode, r)
}

func trusted(t testing.TB, p *slalom.Program, mode slalom.Mode, r *device.Remote) *slalom.Trusted {
	t.Helper()
	tr, err := slalom.NewTrusted(p, mode, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.Prepare()
	return tr
}
