package slalom

import (
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"veil/internal/netutil/netutiltest"
)

// within runs f and fails the test if it takes longer than d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %v", what, d)
	}
}

// serveTCP serves e on a loopback listener (wrapped by wrap, if set) and
// returns its address.
func (e *svcEnv) serveTCP(t *testing.T, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return addr
}

// inferOnce dials T at addr, attests it and runs one input, within 20 s.
func (e *svcEnv) inferOnce(t *testing.T, addr string, x []float32) []int64 {
	t.Helper()
	var out []int64
	var err error
	within(t, 20*time.Second, "client", func() {
		var cl *Client
		cl, err = DialService(addr, e.pol, Requirements{})
		if err != nil {
			return
		}
		defer cl.Close()
		out, err = cl.Infer(x)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServiceSurvivesAcceptErrors: running out of file descriptors does
// not end T's service; the next client is served.
func TestServiceSurvivesAcceptErrors(t *testing.T) {
	l := loadBundled(t, 0)
	e := newSvc(t, Mode{Verify: true}, nil)
	addr := e.serveTCP(t, func(ln net.Listener) net.Listener {
		return &netutiltest.FlakyListener{Listener: ln, Errs: netutiltest.OutOfFiles()}
	})
	want, _ := l.p.Oracle(l.test[0].x)
	if got := e.inferOnce(t, addr, l.test[0].x); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestServiceFloodBounded: idle connections beyond the per-host bound
// are closed at once, a client from another address is still served at
// once, and the idle connections held are closed at the handshake
// timeout.
func TestServiceFloodBounded(t *testing.T) {
	l := loadBundled(t, 0)
	e := newSvc(t, Mode{Verify: true}, nil)
	e.srv.HandshakeTimeout = time.Second
	addr := e.serveTCP(t, nil)
	var idle []net.Conn
	for range 100 {
		idle = append(idle, netutiltest.DialIdleFrom(t, "127.0.0.2", addr))
	}
	closed := 0
	for _, c := range idle {
		if netutiltest.ClosedWithin(c, 20*time.Millisecond) {
			closed++
		}
	}
	if closed < 100-DefaultMaxPendingPerHost {
		t.Fatalf("%d of 100 idle connections closed at once, want at least %d", closed, 100-DefaultMaxPendingPerHost)
	}
	start := time.Now()
	want, _ := l.p.Oracle(l.test[3].x)
	if got := e.inferOnce(t, addr, l.test[3].x); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("the real client waited %v", d)
	}
	for _, c := range idle {
		if !netutiltest.ClosedWithin(c, 5*time.Second) {
			t.Fatal("an idle connection outlived the handshake timeout")
		}
	}
}

// TestServiceUnauthenticatedMemory: connections that announce a 16 MiB
// first frame and send a few bytes of it do not make T allocate 16 MiB
// each: before the handshake T reads only a hello's worth.
func TestServiceUnauthenticatedMemory(t *testing.T) {
	e := newSvc(t, Mode{Verify: true}, nil)
	const conns = 40
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	var clients []net.Conn
	for range conns {
		c, s := net.Pipe()
		clients = append(clients, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.srv.ServeConn(s)
			s.Close()
		}()
		go func() {
			var h [16]byte
			binary.BigEndian.PutUint32(h[:], MaxServiceFrame)
			c.Write(h[:])
		}()
	}
	time.Sleep(300 * time.Millisecond)
	runtime.ReadMemStats(&after)
	for _, c := range clients {
		c.Close()
	}
	wg.Wait()
	if d := after.TotalAlloc - before.TotalAlloc; d > 32<<20 {
		t.Fatalf("%d unauthenticated connections made T allocate %d MiB", conns, d>>20)
	}
}

// TestClientTimesOutOnSilentT: a T that completes the handshake and then
// never answers (nor sends heartbeats) makes the client fail within its
// timeout, with an error naming T; a T that is busy but alive keeps the
// client waiting (its heartbeats).
func TestClientTimesOutOnSilentT(t *testing.T) {
	l := loadBundled(t, 0)
	t.Run("silent", func(t *testing.T) {
		e := newSvc(t, Mode{Verify: true}, nil)
		cl, _, err := e.dial(t, func(toT bool, i int, f svcFrame) []svcFrame {
			if !toT && i > 0 {
				return nil // T's answers and heartbeats never arrive
			}
			return []svcFrame{f}
		}, Requirements{})
		if err != nil {
			t.Fatal(err)
		}
		cl.Timeout = 300 * time.Millisecond
		start := time.Now()
		within(t, 10*time.Second, "InferAll", func() { _, err = cl.InferAll([][]float32{l.test[0].x}) })
		if err == nil || !strings.Contains(err.Error(), "T ") || !strings.Contains(err.Error(), "sent nothing") {
			t.Fatalf("silent T: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("gave up after %v, timeout 300 ms", d)
		}
	})
	t.Run("busy", func(t *testing.T) {
		release := make(chan struct{})
		var once sync.Once
		d := &Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
			once.Do(func() { <-release })
			return y
		}}
		e := newSvc(t, Mode{Verify: true}, d)
		e.srv.HeartbeatInterval = 50 * time.Millisecond
		cl, _, err := e.dial(t, nil, Requirements{})
		if err != nil {
			t.Fatal(err)
		}
		cl.Timeout = 300 * time.Millisecond
		time.AfterFunc(time.Second, func() { close(release) })
		var rs []Result
		within(t, 20*time.Second, "InferAll", func() { rs, err = cl.InferAll([][]float32{l.test[0].x}) })
		if err != nil || rs[0].Err != nil {
			t.Fatalf("busy T given up on: %v %v", err, rs)
		}
	})
}

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
		within(t, 5*time.Second, "dial", func() {
			raw, err = net.Dial("tcp", addr)
			if err == nil {
				c, err = tlsConn(raw, tlsConfig(tid, did.Pub, "the device"), true, time.Minute)
			}
		})
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

// TestStatementFitsFrames: a statement whose input or output message
// cannot fit a frame is refused (found by FuzzStatement: 2^22 input
// values passed the check, but their message is 31 bytes over
// MaxServiceFrame once sealed).
func TestStatementFitsFrames(t *testing.T) {
	ok := Statement{P: P, OutLen: 10, Input: []int{maxInLen}, Layout: "NCHW"}
	for _, c := range []struct {
		st   Statement
		want bool
	}{
		{ok, true},
		{Statement{P: P, OutLen: 10, Input: []int{1 << 22}, Layout: "NCHW"}, false},
		{Statement{P: P, OutLen: maxOutLen, Input: []int{1}, Layout: "NCHW"}, true},
		{Statement{P: P, OutLen: maxOutLen + 1, Input: []int{1}, Layout: "NCHW"}, false},
	} {
		b, err := c.st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Statement
		if err := got.UnmarshalBinary(b); (err == nil) != c.want {
			t.Errorf("input %v, output %d: accepted %v, want %v (%v)", c.st.Input, c.st.OutLen, err == nil, c.want, err)
		}
		if c.want {
			in := encodeInput(make([]float32, got.inputSize()))
			out := encodeOutput(make([]int64, got.OutLen), 0)
			if sealedOverhead+len(in) > MaxServiceFrame || sealedOverhead+len(out) > MaxServiceFrame {
				t.Errorf("accepted statement's messages of %d and %d bytes do not fit a frame", len(in), len(out))
			}
		}
	}
}

// TestServiceMaxClients: beyond MaxClients open connections, a new one
// is closed at once; when a client leaves, the next one gets in.
func TestServiceMaxClients(t *testing.T) {
	l := loadBundled(t, 0)
	e := newSvc(t, Mode{Verify: true}, nil)
	e.srv.MaxClients = 2
	addr := e.serveTCP(t, nil)
	var cls []*Client
	for range 2 {
		cl, err := DialService(addr, e.pol, Requirements{})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		cls = append(cls, cl)
	}
	if !netutiltest.ClosedWithin(netutiltest.DialIdleFrom(t, "127.0.0.1", addr), 2*time.Second) {
		t.Fatal("a third connection was held")
	}
	cls[0].Close()
	want, _ := l.p.Oracle(l.test[5].x)
	var got []int64
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		cl, err := DialService(addr, e.pol, Requirements{})
		if err == nil {
			got, err = cl.Infer(l.test[5].x)
			cl.Close()
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no room after a client left: %v", err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
