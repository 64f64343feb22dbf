package device

import (
	"bytes"
	"encoding/binary"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// tamperConn lets a test rewrite what one end writes to the wire once the
// handshake is over: every Write of the sealed layer is one whole frame.
type tamperConn struct {
	net.Conn
	mu     sync.Mutex
	on     bool
	f      func(frame []byte) []byte
	frames [][]byte // what was written while on, before f
}

func (c *tamperConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	on, f := c.on, c.f
	if on {
		c.frames = append(c.frames, append([]byte(nil), b...))
	}
	c.mu.Unlock()
	if on && f != nil {
		if out := f(append([]byte(nil), b...)); len(out) > 0 {
			if _, err := c.Conn.Write(out); err != nil {
				return 0, err
			}
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// sealedPair connects T (TLS client) and D (server) over a pipe through
// the real handshake and returns both ends and T's raw connection.
func sealedPair(t *testing.T, dKnowsT bool) (tc, dc *Conn, tw *tamperConn, terr, derr error) {
	t.Helper()
	tid, err := NewIdentity("trusted")
	if err != nil {
		t.Fatal(err)
	}
	did, err := NewIdentity("device")
	if err != nil {
		t.Fatal(err)
	}
	pinT := tid.Pub
	if !dKnowsT {
		other, _ := NewIdentity("other")
		pinT = other.Pub
	}
	a, b := net.Pipe()
	tw = &tamperConn{Conn: a}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		dc, derr = tlsConn(b, tlsConfig(did, pinT, "T"), false, HandshakeTimeout)
		if derr != nil {
			b.Close()
		}
	}()
	tc, terr = tlsConn(tw, tlsConfig(tid, did.Pub, "the device"), true, HandshakeTimeout)
	wg.Wait()
	return tc, dc, tw, terr, derr
}

// TestSealedFrames: frames of every size class arrive intact and are not
// readable on the wire; a modified byte (body or length), a replayed, a
// dropped or a reordered frame is refused by the receiver.
func TestSealedFrames(t *testing.T) {
	secret := bytes.Repeat([]byte("PLAINTEXT-ACTIVATION-"), 4)
	sizes := []int{0, 1, 100, recordMax - 1, recordMax, recordMax + 17, 2*recordMax + 3}
	t.Run("intact", func(t *testing.T) {
		tc, dc, tw, terr, derr := sealedPair(t, true)
		if terr != nil || derr != nil {
			t.Fatal(terr, derr)
		}
		tw.mu.Lock()
		tw.on = true
		tw.mu.Unlock()
		go func() {
			for _, n := range sizes {
				body := bytes.Repeat(secret, n/len(secret)+1)[:n]
				if err := tc.send(msgCompute, body); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for _, n := range sizes {
			typ, body, err := dc.recv()
			if err != nil || typ != msgCompute || len(body) != n || !bytes.Equal(body, bytes.Repeat(secret, n/len(secret)+1)[:n]) {
				t.Fatalf("frame of %d bytes: type %d, %d bytes, %v", n, typ, len(body), err)
			}
		}
		tw.mu.Lock()
		defer tw.mu.Unlock()
		for _, f := range tw.frames {
			if bytes.Contains(f, secret[:16]) {
				t.Fatal("plaintext visible on the wire")
			}
		}
	})
	attacks := []struct {
		name string
		f    func(k int) func([]byte) []byte // k counts frames written
	}{
		{"flipped body byte", func(k int) func([]byte) []byte {
			return func(b []byte) []byte { b[len(b)/2] ^= 1; return b }
		}},
		{"flipped length", func(k int) func([]byte) []byte {
			return func(b []byte) []byte { b[3] ^= 1; return b }
		}},
		{"flipped tag", func(k int) func([]byte) []byte {
			return func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }
		}},
		{"replayed", func(k int) func([]byte) []byte {
			return func(b []byte) []byte { return append(b, b...) }
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			tc, dc, tw, terr, derr := sealedPair(t, true)
			if terr != nil || derr != nil {
				t.Fatal(terr, derr)
			}
			tw.mu.Lock()
			tw.on, tw.f = true, a.f(0)
			tw.mu.Unlock()
			go func() {
				tc.send(msgCompute, secret)
				tc.send(msgCompute, secret)
			}()
			var err error
			for i := 0; i < 2 && err == nil; i++ {
				_, _, err = dc.recv()
			}
			if err == nil {
				t.Fatal("tampered stream accepted")
			}
		})
	}
	// Drop and reorder: hold back the first frame, then send the second
	// alone (drop) or the second then the first (reorder).
	for _, reorder := range []bool{false, true} {
		name := map[bool]string{false: "dropped", true: "reordered"}[reorder]
		t.Run(name, func(t *testing.T) {
			tc, dc, tw, terr, derr := sealedPair(t, true)
			if terr != nil || derr != nil {
				t.Fatal(terr, derr)
			}
			var held []byte
			tw.mu.Lock()
			tw.on, tw.f = true, func(b []byte) []byte {
				if held == nil {
					held = b
					return nil
				}
				if reorder {
					return append(b, held...)
				}
				return b
			}
			tw.mu.Unlock()
			go func() {
				tc.send(msgCompute, []byte("first"))
				tc.send(msgCompute, []byte("second"))
			}()
			_, body, err := dc.recv()
			if err == nil {
				t.Fatalf("%s frame accepted: %q", name, body)
			}
			if !strings.Contains(err.Error(), "authentication") {
				t.Fatalf("unexpected error %v", err)
			}
		})
	}
	t.Run("device refuses T's key", func(t *testing.T) {
		_, _, _, terr, derr := sealedPair(t, false)
		if derr == nil || terr == nil {
			t.Fatalf("connection with an unpinned T: T %v, D %v", terr, derr)
		}
		if !strings.Contains(terr.Error(), "refuse") {
			t.Fatalf("T's error does not say why: %v", terr)
		}
		if !strings.Contains(derr.Error(), "key pinned for T") {
			t.Fatalf("D's error does not name T's pin: %v", derr)
		}
	})
}

// TestAnnouncedFrameNotAllocated: on the T↔D link, a peer announcing a
// 1 GiB frame and sending 10 bytes costs the receiver about a record
// (4 MiB), not the gigabyte; likewise on an unsealed connection.
func TestAnnouncedFrameNotAllocated(t *testing.T) {
	measure := func(t *testing.T, write func([]byte), recv func()) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		go recv()
		var h [14]byte
		binary.BigEndian.PutUint32(h[:], maxFrame)
		write(h[:])
		time.Sleep(300 * time.Millisecond)
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
			t.Fatalf("10 bytes of an announced 1 GiB frame cost %d MiB", d>>20)
		}
	}
	t.Run("sealed", func(t *testing.T) {
		_, dc, tw, terr, derr := sealedPair(t, true)
		if terr != nil || derr != nil {
			t.Fatal(terr, derr)
		}
		defer tw.Close()
		measure(t, func(b []byte) { tw.Conn.Write(b) }, func() { dc.recv() })
	})
	t.Run("unsealed", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := NewConn(b)
		measure(t, func(p []byte) { a.Write(p) }, func() { c.recv() })
	})
}
