package slalom

import (
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/internal/netutil/netutiltest"
)

// TestDeviceLinkLiveness: the device gives up on a T that sends nothing
// (no frame, no heartbeat) for its idle timeout, naming T; heartbeats
// keep an idle T's connection open; a stranger's idle connection does not
// keep T from connecting.
func TestDeviceLinkLiveness(t *testing.T) {
	tid, _ := NewIdentity("trusted")
	did, _ := NewIdentity("device")
	ln, err := Listen("127.0.0.1:0", did, tid.Pub)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs []string
	d := &Device{IdleTimeout: 300 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		done <- d.ServeListener(ln, func(f string, a ...any) {
			mu.Lock()
			logs = append(logs, fmt.Sprintf(f, a...))
			mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	addr := ln.Addr().String()
	idle := netutiltest.DialIdleFrom(t, "127.0.0.1", addr) // a stranger that never speaks
	dial := func() (*Conn, net.Conn) {
		t.Helper()
		var c *Conn
		var raw net.Conn
		// Both bounded: the dial, and the handshakes by their deadline.
		raw, err = net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c, err = tlsConn(raw, tlsConfig(tid, did.Pub, "the device"), true, 5*time.Second)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return c, raw
	}
	// A silent T is dropped after the idle timeout.
	_, raw := dial()
	if !netutiltest.ClosedWithin(raw, 5*time.Second) {
		t.Fatal("the device kept a silent T's connection")
	}
	// A T that sends heartbeats stays connected.
	c, raw2 := dial()
	stop := c.KeepAlive(50 * time.Millisecond)
	defer stop()
	if netutiltest.ClosedWithin(raw2, time.Second) {
		t.Fatal("the device dropped a T that sends heartbeats")
	}
	mu.Lock()
	joined := strings.Join(logs, "\n")
	mu.Unlock()
	if !strings.Contains(joined, "T at 127.0.0.1:") || !strings.Contains(joined, "sent nothing") {
		t.Errorf("the device's log does not name the silent T:\n%s", joined)
	}
	// The stranger was left alone meanwhile, not served.
	if netutiltest.ClosedWithin(idle, 10*time.Millisecond) {
		t.Error("the stranger's connection was closed before the handshake timeout")
	}
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
		binary.BigEndian.PutUint32(h[:], MaxFrame)
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
		measure(t, func(b []byte) { tw.Conn.Write(b) }, func() { dc.Recv() })
	})
	t.Run("unsealed", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := NewConn(b)
		measure(t, func(p []byte) { a.Write(p) }, func() { c.Recv() })
	})
}

// discardStore drops every record (the test counts only T's own state).
type discardStore struct{}

func (discardStore) Put(Record)                   {}
func (discardStore) Get(uint64, uint32) []Record  { return nil }
func (discardStore) Delete(pair uint64, l uint32) {}

// TestBlinderStateBounded: T's blinding state does not grow with the
// number of records it has sealed (a long-running serve seals forever),
// and the records of a pair whose inference aborted do not stay in the
// store; replays stay refused (TestSealedFactorsRefused).
func TestBlinderStateBounded(t *testing.T) {
	l := loadBundled(t, 1) // digits MLP: small layers
	old := ChunkElems
	ChunkElems = 1 // one record per element
	defer func() { ChunkElems = old }()
	b := NewBlinder(l.p, discardStore{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const pairs = 3000
	b.Offline(pairs)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(b)
	outs := 0
	for _, ly := range l.p.Layers {
		outs += ly.OutLen()
	}
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 2<<20 {
		t.Fatalf("sealing %d records left T's state %d KiB larger", pairs*outs, grown>>10)
	}

	// Aborted inferences leave no records behind.
	ChunkElems = old
	st := NewMemStore()
	d := &Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
		if layer == 0 {
			y[0] = (y[0] + 1) % P
		}
		return y
	}}
	tr, err := NewTrusted(l.p, Mode{Verify: true, Blind: true}, pipeDevice(t, d), st)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		tr.Offline(1)
		if _, err := tr.Infer(l.test[0].x); err == nil {
			t.Fatal("cheating device not caught")
		}
		tr.Restart()
	}
	if n := st.Len(); n != 0 {
		t.Fatalf("%d (pair, layer) entries left in the store after 20 aborted inferences", n)
	}
}

// TestSetupLayerBounded: a convolution whose sizes overflow (found by
// FuzzSetupLayer: H = W = 808464432 with large paddings gave a negative
// output length, and D would panic allocating it) or whose input or
// output does not fit a frame is refused at setup.
func TestSetupLayerBounded(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(l *Layer)
	}{
		{"overflowing", func(l *Layer) {
			l.Conv.H, l.Conv.W = 808464432, 808464432
			l.Conv.PadT, l.Conv.PadL, l.Conv.PadB, l.Conv.PadR = 808464432, 808464432, 4147130416, 808464432
		}},
		{"over a frame", func(l *Layer) { l.Conv.H, l.Conv.W = 1<<15, 1<<15 }},
		{"huge stride", func(l *Layer) { l.Conv.SH = 1 << 20 }},
		// An empty input whose padding still makes windows (found by
		// FuzzSetupLayer: a separable layer with H = 0 was accepted).
		{"empty input", func(l *Layer) { l.Conv.H, l.Conv.PadT, l.Conv.PadB = 0, 3, 3 }},
		{"empty input width", func(l *Layer) { l.Conv.W, l.Conv.PadL, l.Conv.PadR = 0, 3, 3 }},
	} {
		l := smallLayers()[1]
		c.change(l)
		if got, err := parseSetupLayer(setupBytes(l)); err == nil {
			t.Errorf("%s: layer accepted with %d inputs, %d outputs", c.name, got.InLen(), got.OutLen())
		}
	}
	if _, err := parseSetupLayer(setupBytes(smallLayers()[1])); err != nil {
		t.Fatalf("a proper layer refused: %v", err)
	}
	sep := smallLayers()[3]
	sep.Conv.H, sep.Conv.PadT, sep.Conv.PadB = 0, 3, 3
	if got, err := parseSetupLayer(setupBytes(sep)); err == nil {
		t.Errorf("separable layer with an empty input accepted with %d inputs, %d outputs", got.InLen(), got.OutLen())
	}
}
