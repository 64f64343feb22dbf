package transport

import (
	"context"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"veil/internal/netutil/netutiltest"

	"veil/mpc"
)

// TestAcceptSurvivesTemporaryErrors: a listener that runs out of file
// descriptors (EMFILE, ENFILE) or sees an aborted connection does not end
// the wait for the parties; they still connect.
func TestAcceptSurvivesTemporaryErrors(t *testing.T) {
	f := newFixture(t, `"timeout": "5s"`)
	for _, p := range []mpc.Party{mpc.P1, mpc.P2} {
		f.lns[p] = &netutiltest.FlakyListener{Listener: f.lns[p], Errs: []error{
			&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)},
			&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENFILE)},
			&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)},
		}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nets, errs := f.connectAll(ctx, [3]*Config{}, f.ids)
	defer closeAll(nets)
	for p, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", mpc.Party(p), err)
		}
	}
	if err := nets[0].Send(mpc.P2, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m, err, _ := recvWithin(t, nets[2], mpc.P0, 5*time.Second); err != nil || string(m) != "x" {
		t.Fatalf("%q, %v", m, err)
	}
}

// TestAcceptFloodBounded: a host that opens many idle connections to a
// listening party gets MaxPerHost of them held and the rest closed at
// once; the real client, from another address, still connects at once;
// the idle ones are closed at the handshake timeout.
func TestAcceptFloodBounded(t *testing.T) {
	const timeout = time.Second
	f := newFixture(t, `"timeout": "1s"`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		n   *network
		err error
	}
	var chans [3]chan res
	for _, p := range []mpc.Party{mpc.P1, mpc.P2} {
		chans[p] = make(chan res, 1)
		ln := f.lns[p]
		go func() {
			n, err := connect(ctx, f.cfg, p, f.ids[p], ln)
			chans[p] <- res{n, err}
		}()
	}
	f.lns = [3]net.Listener{}
	serverAddr := f.cfg.Parties[mpc.P1].Addr
	var idle []net.Conn
	for range 60 {
		idle = append(idle, netutiltest.DialIdleFrom(t, "127.0.0.2", serverAddr))
	}
	closed := 0
	for _, c := range idle {
		if netutiltest.ClosedWithin(c, 20*time.Millisecond) {
			closed++
		}
	}
	if want := 60 - 8; closed < want {
		t.Fatalf("%d of 60 idle connections closed at once, want at least %d", closed, want)
	}
	// The real client dials from 127.0.0.1 and gets in well before the
	// idle connections time out.
	start := time.Now()
	chans[0] = make(chan res, 1)
	go func() {
		n, err := connect(ctx, f.cfg, mpc.P0, f.ids[0], nil)
		chans[0] <- res{n, err}
	}()
	var nets [3]*network
	for _, p := range mpc.PartiesOf(3) {
		r := <-chans[p]
		if r.err != nil {
			t.Fatal(r.err)
		}
		nets[p] = r.n
	}
	defer closeAll(nets)
	if d := time.Since(start); d > timeout/2 {
		t.Errorf("the real client took %v to connect", d)
	}
	// And the held idle connections are gone after the handshake timeout.
	for _, c := range idle {
		if !netutiltest.ClosedWithin(c, 3*timeout) {
			t.Fatal("an idle connection outlived the handshake timeout")
		}
	}
}

// TestAnnouncedLengthNotAllocated: a peer that announces a message of
// 1 GiB and sends 10 bytes of it costs the receiver about one read step
// (1 MiB) of buffer, not the gigabyte.
func TestAnnouncedLengthNotAllocated(t *testing.T) {
	n, raws := rawPeers(t, `"timeout": "5s", "max_message": "1GiB"`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hdr := dataHeader(1 << 30)
	if _, err := raws[0].Write(append(hdr[:], "0123456789"...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the reader takes the 10 bytes and waits for more
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Fatalf("receiving 10 bytes of an announced 1 GiB message allocated %d MiB", d>>20)
	}
	// The connection is still waiting for the rest, not refused.
	raws[0].Close()
	_, err, _ := recvWithin(t, n, mpc.P0, 10*time.Second)
	wantPeerError(t, err, mpc.P0, "connection lost")
}
