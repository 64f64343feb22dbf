package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/mpc"
	"veil/mpc/mpctest"
	"veil/mpc/prg"
)

// fixture is a three-party deployment on 127.0.0.1: identities, a config
// file naming ports already bound by the test, and those listeners.
type fixture struct {
	dir string
	cfg *Config
	ids [3]tls.Certificate
	lns [3]net.Listener // nil for the client, which only dials
}

// newFixture writes identities and a config with the given extra
// top-level JSON settings (such as `"timeout": "500ms"`).
func newFixture(t testing.TB, settings string) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	writeKeys(t, f.dir)
	var entries []string
	for _, p := range mpc.PartiesOf(3) {
		addr := "127.0.0.1:1" // unused: the client never listens
		if p != mpc.P0 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			f.lns[p] = ln
			addr = ln.Addr().String()
		}
		entries = append(entries, fmt.Sprintf(`{"role": %q, "addr": %q, "cert": "keys/%s.crt", "key": "keys/%s.key"}`,
			p.Role(), addr, p.Role(), p.Role()))
	}
	js := parties(entries...)
	if settings != "" {
		js += ", " + settings
	}
	path := filepath.Join(f.dir, "veil.json")
	writeFile(t, path, js+"}")
	var err error
	if f.cfg, err = LoadConfig(path); err != nil {
		t.Fatal(err)
	}
	for _, p := range mpc.PartiesOf(3) {
		if f.ids[p], err = f.cfg.Identity(p, ""); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, ln := range f.lns {
			if ln != nil {
				ln.Close()
			}
		}
	})
	return f
}

// otherIdentity makes a second, unpinned identity for role and returns it
// with a copy of cfg that pins it, as its misconfigured holder would see.
func (f *fixture) otherIdentity(t testing.TB, role mpc.Party) (tls.Certificate, *Config) {
	t.Helper()
	dir := filepath.Join(f.dir, "other")
	if err := GenerateIdentity(role, dir); err != nil {
		t.Fatal(err)
	}
	id, err := LoadIdentity(KeyFile(role, dir), CertFile(role, dir))
	if err != nil {
		t.Fatal(err)
	}
	cfg := *f.cfg
	cfg.Parties = slices.Clone(f.cfg.Parties)
	cfg.Parties[role].Cert, cfg.Parties[role].CertFile = id.Leaf, CertFile(role, dir)
	return id, &cfg
}

// connectAll connects the three parties, each with cfgs[p] (nil: the
// fixture's) and ids[p], and returns their networks and errors.
func (f *fixture) connectAll(ctx context.Context, cfgs [3]*Config, ids [3]tls.Certificate) ([3]*network, [3]error) {
	var nets [3]*network
	errs := mpctest.Parties(3, func(p mpc.Party) error {
		cfg := cfgs[p]
		if cfg == nil {
			cfg = f.cfg
		}
		var err error
		nets[p], err = connect(ctx, cfg, p, ids[p], f.lns[p])
		return err
	})
	f.lns = [3]net.Listener{} // connect owns and closes them
	return nets, [3]error(errs)
}

// connect connects the three parties properly and closes them at cleanup.
func (f *fixture) connect(t testing.TB) [3]*network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nets, errs := f.connectAll(ctx, [3]*Config{}, f.ids)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { closeAll(nets) })
	return nets
}

func closeAll(nets [3]*network) {
	var wg sync.WaitGroup
	for _, n := range nets {
		if n != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.Close()
			}()
		}
	}
	wg.Wait()
}

// recvWithin calls n.Recv(from), failing the test if it takes over d.
func recvWithin(t testing.TB, n mpc.Network, from mpc.Party, d time.Duration) ([]byte, error, time.Duration) {
	t.Helper()
	type got struct {
		msg []byte
		err error
	}
	ch := make(chan got, 1)
	start := time.Now()
	go func() {
		m, err := n.Recv(from)
		ch <- got{m, err}
	}()
	select {
	case g := <-ch:
		return g.msg, g.err, time.Since(start)
	case <-time.After(d):
		t.Fatalf("%s: Recv from %s still blocked after %v", n.Me(), from, d)
		return nil, nil, 0
	}
}

// wantPeerError checks that err is a *mpc.PeerError about peer whose text
// contains want.
func wantPeerError(t testing.TB, err error, peer mpc.Party, want string) {
	t.Helper()
	var pe *mpc.PeerError
	if !errors.As(err, &pe) || pe.Peer != peer {
		t.Fatalf("error %v, want a *mpc.PeerError about %s", err, peer)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q, want it to contain %q", err, want)
	}
}

// frameOf concatenates a header and a payload.
func frameOf(h [4]byte, payload ...byte) []byte { return append(h[:], payload...) }

// pattern is n pseudo-random bytes determined by seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	prg.MustNew(bytes.Repeat([]byte{seed}, 16), "transport test").Read(b)
	return b
}

func TestExchange(t *testing.T) {
	f := newFixture(t, "")
	nets := f.connect(t)
	for _, n := range nets {
		var _ mpc.Network = n
	}

	// Pairwise keys: equal on both ends, different across pairs.
	for _, a := range mpc.PartiesOf(3) {
		if k := nets[a].PairKey(a); k != nil {
			t.Errorf("%s: PairKey(self) = %x, want nil", a, k)
		}
		for _, b := range mpc.PartiesOf(3) {
			if a == b {
				continue
			}
			ka, kb := nets[a].PairKey(b), nets[b].PairKey(a)
			if len(ka) != 32 || !bytes.Equal(ka, kb) {
				t.Errorf("PairKey %s-%s: %x vs %x", a, b, ka, kb)
			}
		}
	}
	k01, k02, k12 := nets[0].PairKey(1), nets[0].PairKey(2), nets[1].PairKey(2)
	if bytes.Equal(k01, k02) || bytes.Equal(k01, k12) || bytes.Equal(k02, k12) {
		t.Error("two pairs share a key")
	}

	// Every ordered pair, including an empty message and 64 MiB, all sent
	// before anything is received (so nobody may block in Send).
	sizes := []int{0, 1, 1000, 300 << 10, 64 << 20}
	var want [3][3]int64 // bytes from -> to
	for _, from := range mpc.PartiesOf(3) {
		for _, to := range mpc.PartiesOf(3) {
			if from == to {
				continue
			}
			for i, n := range sizes {
				if err := nets[from].Send(to, pattern(n, byte(3*from+to)+byte(i))); err != nil {
					t.Fatal(err)
				}
				want[from][to] += int64(n) + 4
			}
		}
	}
	var wg sync.WaitGroup
	for _, to := range mpc.PartiesOf(3) {
		for _, from := range mpc.PartiesOf(3) {
			if from == to {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i, n := range sizes {
					m, err, _ := recvWithin(t, nets[to], from, 30*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					if !bytes.Equal(m, pattern(n, byte(3*from+to)+byte(i))) {
						t.Errorf("%s from %s: message %d (%d bytes) garbled: got %d bytes", to, from, i, n, len(m))
					}
				}
			}()
		}
	}
	wg.Wait()

	// Stats are exact on both ends.
	for _, a := range mpc.PartiesOf(3) {
		s := nets[a].Stats()
		for _, b := range mpc.PartiesOf(3) {
			if a == b {
				if s.BytesSent[b] != 0 || s.MsgsRecv[b] != 0 {
					t.Errorf("%s counts traffic with itself: %+v", a, s)
				}
				continue
			}
			n := int64(len(sizes))
			if s.BytesSent[b] != want[a][b] || s.BytesRecv[b] != want[b][a] || s.MsgsSent[b] != n || s.MsgsRecv[b] != n {
				t.Errorf("%s stats with %s: %+v, want %d bytes out, %d in, %d messages each way", a, b, s, want[a][b], want[b][a], n)
			}
		}
	}
}

func TestSendThenReceiveBothWays(t *testing.T) {
	f := newFixture(t, "")
	nets := f.connect(t)
	// Both sides of every pair send a large message, then receive:
	// with blocking sends this deadlocks once TCP buffers fill.
	const rounds, size = 5, 4 << 20
	var wg sync.WaitGroup
	for _, me := range mpc.PartiesOf(3) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nets[me]
			for r := range rounds {
				for _, q := range mpc.PartiesOf(3) {
					if q != me {
						if err := n.Send(q, pattern(size, byte(r))); err != nil {
							t.Error(err)
							return
						}
					}
				}
				for _, q := range mpc.PartiesOf(3) {
					if q == me {
						continue
					}
					m, err, _ := recvWithin(t, n, q, 30*time.Second)
					if err != nil || len(m) != size || m[1] != pattern(size, byte(r))[1] {
						t.Errorf("%s round %d from %s: %d bytes, %v", me, r, q, len(m), err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestMisuse(t *testing.T) {
	f := newFixture(t, `"max_message": "1MiB"`)
	nets := f.connect(t)
	n := nets[mpc.P1]
	if err := n.Send(mpc.P1, []byte("x")); err == nil {
		t.Error("Send to self succeeded")
	}
	if err := n.Send(mpc.Party(9), []byte("x")); err == nil {
		t.Error("Send to an unknown party succeeded")
	}
	if _, err := n.Recv(mpc.P1); err == nil {
		t.Error("Recv from self succeeded")
	}
	if err := n.Send(mpc.P0, make([]byte, 1<<20+1)); err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("Send over max_message: %v", err)
	}
	if err := n.Send(mpc.P0, make([]byte, 1<<20)); err != nil {
		t.Errorf("Send of exactly max_message: %v", err)
	}
	if m, err, _ := recvWithin(t, nets[mpc.P0], mpc.P1, 10*time.Second); err != nil || len(m) != 1<<20 {
		t.Errorf("Recv of exactly max_message: %d bytes, %v", len(m), err)
	}
}

func TestWrongCertificate(t *testing.T) {
	// Only the two parties of the pair at fault run, so that the failure
	// seen is that pair's.
	tests := []struct {
		name   string
		wrong  mpc.Party // the party holding a key the others do not pin
		other  mpc.Party // the other party running
		failer mpc.Party // whose Connect must fail fast
		want   string    // ... with this text, naming the peer
	}{
		{"server's key not pinned by the client", mpc.P1, mpc.P0, mpc.P0, "not the one the config pins for server"},
		{"server's key refused by the helper", mpc.P1, mpc.P2, mpc.P1, "helper refused our certificate"},
		{"client's key refused by the server", mpc.P0, mpc.P1, mpc.P0, "server refused our certificate"},
		{"client's key refused by the helper", mpc.P0, mpc.P2, mpc.P0, "helper refused our certificate"},
		{"helper's key not pinned by the server", mpc.P2, mpc.P1, mpc.P1, "not the one the config pins for helper"},
		{"helper's key not pinned by the client", mpc.P2, mpc.P0, mpc.P0, "not the one the config pins for helper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "")
			id, cfg := f.otherIdentity(t, tt.wrong)
			ids, cfgs := f.ids, [3]*Config{f.cfg, f.cfg, f.cfg}
			ids[tt.wrong], cfgs[tt.wrong] = id, cfg
			peer := tt.wrong
			if tt.failer == tt.wrong {
				peer = tt.other
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var nets [3]*network
			var errs [3]error
			var done [3]chan struct{}
			for _, p := range []mpc.Party{tt.wrong, tt.other} {
				done[p] = make(chan struct{})
				ln := f.lns[p]
				f.lns[p] = nil
				go func() {
					defer close(done[p])
					nets[p], errs[p] = connect(ctx, cfgs[p], p, ids[p], ln)
				}()
			}
			start := time.Now()
			select {
			case <-done[tt.failer]:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s's Connect did not fail within 5 s", tt.failer)
			}
			t.Logf("%s failed after %v: %v", tt.failer, time.Since(start), errs[tt.failer])
			wantPeerError(t, errs[tt.failer], peer, tt.want)
			cancel()
			for _, p := range []mpc.Party{tt.wrong, tt.other} {
				<-done[p]
				if nets[p] != nil {
					nets[p].Close()
					t.Errorf("%s connected", p)
				}
			}
		})
	}
}

func TestMismatchedIdentity(t *testing.T) {
	f := newFixture(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := connect(ctx, f.cfg, mpc.P1, f.ids[mpc.P2], nil)
	if err == nil || !strings.Contains(err.Error(), "not the one the config pins for server") {
		t.Errorf("connect with the helper's key as the server: %v", err)
	}
}

func TestPeerCloses(t *testing.T) {
	f := newFixture(t, `"timeout": "5s"`)
	nets := f.connect(t)
	// P1 sends, then closes mid-protocol: the others get the message, then
	// a clean "closed by peer" at once, and keep getting it.
	for _, q := range []mpc.Party{mpc.P0, mpc.P2} {
		if err := nets[1].Send(q, []byte("last words")); err != nil {
			t.Fatal(err)
		}
	}
	nets[1].Close()
	for _, q := range []mpc.Party{mpc.P0, mpc.P2} {
		if m, err, _ := recvWithin(t, nets[q], mpc.P1, 2*time.Second); err != nil || string(m) != "last words" {
			t.Fatalf("%s: %q, %v", q, m, err)
		}
		_, err, took := recvWithin(t, nets[q], mpc.P1, 2*time.Second)
		wantPeerError(t, err, mpc.P1, "closed by peer")
		if !errors.Is(err, ErrPeerClosed) || took > time.Second {
			t.Errorf("%s: %v after %v", q, err, took)
		}
		_, again, _ := recvWithin(t, nets[q], mpc.P1, time.Second)
		if again == nil || again.Error() != err.Error() {
			t.Errorf("second Recv: %v, want %v", again, err)
		}
		wantPeerError(t, nets[q].Send(mpc.P1, []byte("x")), mpc.P1, "closed by peer")
	}
	// The closed party itself reports ErrClosed.
	_, err := nets[1].Recv(mpc.P0)
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close: %v", err)
	}
	wantPeerError(t, nets[1].Send(mpc.P2, []byte("x")), mpc.P2, "connection closed")
	// P0 and P2 still talk.
	if err := nets[0].Send(mpc.P2, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m, err, _ := recvWithin(t, nets[2], mpc.P0, 2*time.Second); err != nil || string(m) != "still here" {
		t.Fatalf("%q, %v", m, err)
	}
	if err := nets[1].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseWakesRecv(t *testing.T) {
	f := newFixture(t, "")
	nets := f.connect(t)
	go func() {
		time.Sleep(100 * time.Millisecond)
		nets[0].Close()
	}()
	_, err, _ := recvWithin(t, nets[0], mpc.P2, 5*time.Second)
	wantPeerError(t, err, mpc.P2, "connection closed")
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Recv blocked during Close: %v", err)
	}
}

func TestPeerDies(t *testing.T) {
	f := newFixture(t, `"timeout": "5s"`)
	nets := f.connect(t)
	// P2's connections drop without a goodbye, as when its process is killed.
	nets[2].abort(errors.New("killed"))
	for _, q := range []mpc.Party{mpc.P0, mpc.P1} {
		_, err, took := recvWithin(t, nets[q], mpc.P2, 2*time.Second)
		wantPeerError(t, err, mpc.P2, "connection lost")
		if errors.Is(err, mpc.ErrTimeout) || took > time.Second {
			t.Errorf("%s: %v after %v", q, err, took)
		}
	}
}

func TestStalledPeer(t *testing.T) {
	const timeout = 500 * time.Millisecond
	f := newFixture(t, `"timeout": "500ms"`)
	nets := f.connect(t)

	// A busy peer keeps sending heartbeats: no timeout, however long it
	// takes to answer.
	go func() {
		time.Sleep(4 * timeout)
		nets[1].Send(mpc.P0, []byte("done thinking"))
	}()
	if m, err, took := recvWithin(t, nets[0], mpc.P1, 10*timeout); err != nil || string(m) != "done thinking" {
		t.Fatalf("Recv from a busy peer: %q, %v after %v", m, err, took)
	}

	// A stalled one (nothing written, not even heartbeats) times out.
	nets[1].stall()
	stalled := time.Now()
	for _, q := range []mpc.Party{mpc.P0, mpc.P2} {
		_, err, _ := recvWithin(t, nets[q], mpc.P1, 10*timeout)
		took := time.Since(stalled)
		wantPeerError(t, err, mpc.P1, "timed out")
		// Silence is counted from the last heartbeat, at most one
		// heartbeat interval before the stall.
		if !errors.Is(err, mpc.ErrTimeout) || took < timeout-heartbeatInterval(timeout) || took > 2*timeout {
			t.Errorf("%s: %v after %v (timeout %v)", q, err, took, timeout)
		}
		_, again, _ := recvWithin(t, nets[q], mpc.P1, time.Second)
		if !errors.Is(again, mpc.ErrTimeout) {
			t.Errorf("Recv after the timeout: %v", again)
		}
	}
}

// rawPeers connects the real server (P1) to a raw client (P0) and a raw
// helper (P2), connections the test drives frame by frame.
func rawPeers(t *testing.T, settings string) (*network, [3]*tls.Conn) {
	t.Helper()
	f := newFixture(t, settings)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		n   *network
		err error
	}
	ch := make(chan res, 1)
	ln1, ln2 := f.lns[1], f.lns[2]
	f.lns = [3]net.Listener{}
	defer ln2.Close()
	go func() {
		n, err := connect(ctx, f.cfg, mpc.P1, f.ids[1], ln1)
		ch <- res{n, err}
	}()
	var raws [3]*tls.Conn
	client := newConnector(f.cfg, mpc.P0, f.ids[0])
	conn, _, err := client.dialOnce(ctx, mpc.P1, f.cfg.Parties[1].Addr)
	if err != nil {
		t.Fatal(err)
	}
	raws[0] = conn
	helper := newConnector(f.cfg, mpc.P2, f.ids[2])
	raw, err := ln2.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, raws[2], err = helper.handshakeIn(ctx, raw, &acceptState{}); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The raw helper stays alive: it drains what it gets and sends
	// heartbeats.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			if _, err := raws[2].Read(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				writeControl(raws[2], ctlHeartbeat, nil)
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		raws[0].Close()
		raws[2].Close()
		r.n.Close()
		wg.Wait()
	})
	return r.n, raws
}

func TestRawPeers(t *testing.T) {
	header := func(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
	tests := []struct {
		name  string
		send  []byte // what the raw client sends after the handshake
		want  string
		quiet bool // expect ErrTimeout
	}{
		{"silent", nil, "timed out", true},
		{"oversized", header(2 << 20), "message of 2097152 bytes exceeds the limit of 1048576 bytes", false},
		{"huge", header(1<<31 - 1), "message of 2147483647 bytes exceeds the limit", false},
		{"unknown control frame", header(controlFlag | 9<<24), "malformed frame", false},
		{"control frame of type 0", header(controlFlag), "malformed frame", false}, // found by FuzzReadFrame
		{"heartbeat with payload", append(header(controlFlag|uint32(ctlHeartbeat)<<24|3), 1, 2, 3), "malformed frame", false},
		{"second hello", append(header(controlFlag|uint32(ctlHello)<<24|uint32(len(helloPayload(mpc.P0)))), helloPayload(mpc.P0)...), "malformed frame", false},
		{"truncated", append(header(100), 1, 2, 3), "timed out", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, raws := rawPeers(t, `"timeout": "500ms", "max_message": "1MiB"`)
			// A message before the trouble is still delivered.
			if _, err := raws[0].Write(append(header(5), "hello"...)); err != nil {
				t.Fatal(err)
			}
			if len(tt.send) > 0 {
				if _, err := raws[0].Write(tt.send); err != nil {
					t.Fatal(err)
				}
			}
			if m, err, _ := recvWithin(t, n, mpc.P0, 5*time.Second); err != nil || string(m) != "hello" {
				t.Fatalf("first message: %q, %v", m, err)
			}
			_, err, _ := recvWithin(t, n, mpc.P0, 5*time.Second)
			wantPeerError(t, err, mpc.P0, tt.want)
			if errors.Is(err, mpc.ErrTimeout) != tt.quiet {
				t.Errorf("timeout %v, want %v", errors.Is(err, mpc.ErrTimeout), tt.quiet)
			}
			// The connection is closed: the raw client sees EOF soon.
			raws[0].SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			for {
				if _, err := raws[0].Read(buf); err != nil {
					if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
						t.Errorf("connection not closed: %v", err)
					}
					break
				}
			}
			// The helper's connection is unaffected.
			if err := n.Send(mpc.P2, []byte("ok")); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestStrayConnections sends strangers and impostors to a listening party
// before the real peer: each is refused, and the real one still gets in.
func TestStrayConnections(t *testing.T) {
	f := newFixture(t, `"timeout": "2s"`)
	stranger, _ := f.otherIdentity(t, mpc.P0)
	serverAddr := f.cfg.Parties[1].Addr
	serverPin := f.cfg.Parties[1].Cert.RawSubjectPublicKeyInfo

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		n   *network
		err error
	}
	// The server and helper start; the client comes only after the strays.
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

	// A TCP connection that never says anything stays open meanwhile.
	idle, err := net.Dial("tcp", serverAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	tlsTo := func(id tls.Certificate) (*tls.Conn, error) {
		c, err := tls.Dial("tcp", serverAddr, &tls.Config{
			Certificates: []tls.Certificate{id}, MinVersion: tls.VersionTLS13, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if !bytes.Equal(cs.PeerCertificates[0].RawSubjectPublicKeyInfo, serverPin) {
					return errors.New("wrong server")
				}
				return nil
			},
		})
		if err != nil {
			return nil, err
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, nil
	}
	strays := []struct {
		name  string
		id    tls.Certificate
		first []byte
		want  string // in the server's answer
	}{
		{"stranger's key", stranger, frameOf(controlHeader(ctlHello, len(helloPayload(mpc.P0))), helloPayload(mpc.P0)...), "bad certificate"},
		{"no hello", f.ids[0], frameOf(dataHeader(3), []byte("abc")...), "expected a control frame"},
		{"garbage hello", f.ids[0], frameOf(controlHeader(ctlHello, 5), []byte("hello")...), "malformed frame"},
		{"claims another role", f.ids[0], frameOf(controlHeader(ctlHello, len(helloPayload(mpc.P2))), helloPayload(mpc.P2)...), "claims to be helper"},
	}
	for _, s := range strays {
		c, err := tlsTo(s.id)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		c.Write(s.first)
		typ, payload, err := readControl(c)
		c.Close()
		var answer string
		if err != nil {
			answer = err.Error()
		} else if typ == ctlReject {
			answer = string(payload)
		} else {
			answer = fmt.Sprintf("control frame %d %q", typ, payload)
		}
		t.Logf("%s: %s", s.name, answer)
		if !strings.Contains(answer, s.want) {
			t.Errorf("%s: server answered %q, want %q", s.name, answer, s.want)
		}
	}

	// Now the real client.
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
	if err := nets[0].Send(mpc.P1, []byte("in")); err != nil {
		t.Fatal(err)
	}
	if m, err, _ := recvWithin(t, nets[1], mpc.P0, 5*time.Second); err != nil || string(m) != "in" {
		t.Fatalf("%q, %v", m, err)
	}
}

func TestConnectRetriesUntilPeerIsUp(t *testing.T) {
	f := newFixture(t, "")
	// The helper's port is closed until the helper starts, late.
	helperLn := f.lns[2]
	addr := helperLn.Addr().String()
	helperLn.Close()
	f.lns[2] = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nets [3]*network
	var errs [3]error
	var wg sync.WaitGroup
	for _, p := range []mpc.Party{mpc.P0, mpc.P1} {
		wg.Add(1)
		ln := f.lns[p]
		go func() {
			defer wg.Done()
			nets[p], errs[p] = connect(ctx, f.cfg, p, f.ids[p], ln)
		}()
	}
	time.Sleep(700 * time.Millisecond)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot rebind %s: %v", addr, err)
	}
	nets[2], errs[2] = connect(ctx, f.cfg, mpc.P2, f.ids[2], ln)
	wg.Wait()
	f.lns = [3]net.Listener{}
	defer closeAll(nets)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// And a peer that never comes is named when the deadline passes.
	g := newFixture(t, "")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	g.lns[2].Close()
	_, err = connect(ctx2, g.cfg, mpc.P1, g.ids[1], g.lns[1])
	g.lns = [3]net.Listener{}
	var pe *mpc.PeerError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "client") || !strings.Contains(err.Error(), "helper") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect with absent peers: %v", err)
	}
	t.Log(err)
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		f := newFixture(t, `"timeout": "1s"`)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nets, errs := f.connectAll(ctx, [3]*Config{}, f.ids)
		cancel()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, from := range mpc.PartiesOf(3) {
			for _, to := range mpc.PartiesOf(3) {
				if from != to {
					nets[from].Send(to, pattern(100<<10, 1))
				}
			}
		}
		nets[0].Recv(mpc.P1)
		closeAll(nets)
	}
	// A failed Connect leaves nothing behind either.
	f := newFixture(t, "")
	id, cfg := f.otherIdentity(t, mpc.P1)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	nets, _ := f.connectAll(ctx, [3]*Config{nil, cfg, nil}, [3]tls.Certificate{f.ids[0], id, f.ids[2]})
	cancel()
	closeAll(nets)

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// BenchmarkThroughput measures one-way throughput of 1 MiB messages from
// the client to the server over loopback TLS.
func BenchmarkThroughput(b *testing.B) {
	f := newFixture(b, "")
	nets := f.connect(b)
	msg := pattern(1<<20, 0)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() {
		for range b.N {
			if err := nets[0].Send(mpc.P1, msg); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		if _, err := nets[1].Recv(mpc.P0); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// TestTwoParties connects a two-party deployment (client and server, no
// helper) and exchanges a message each way.
func TestTwoParties(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "veil.json")
	writeFile(t, path, parties(
		`{"role": "client", "cert": "keys/client.crt", "key": "keys/client.key"}`,
		fmt.Sprintf(`{"role": "server", "addr": %q, "cert": "keys/server.crt", "key": "keys/server.key"}`, ln.Addr()))+"}")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nets [2]*network
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for _, p := range mpc.PartiesOf(2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := cfg.Identity(p, "")
			if err != nil {
				errs[p] = err
				return
			}
			var l net.Listener
			if p == mpc.P1 {
				l = ln
			}
			nets[p], errs[p] = connect(ctx, cfg, p, id, l)
		}()
	}
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", mpc.Party(p), err)
		}
	}
	defer nets[0].Close()
	defer nets[1].Close()
	if nets[0].Parties() != 2 || !bytes.Equal(nets[0].PairKey(mpc.P1), nets[1].PairKey(mpc.P0)) {
		t.Fatal("no shared pair key")
	}
	nets[0].Send(mpc.P1, []byte("ping"))
	nets[1].Send(mpc.P0, []byte("pong"))
	if m, err := nets[1].Recv(mpc.P0); err != nil || string(m) != "ping" {
		t.Fatalf("server got %q, %v", m, err)
	}
	if m, err := nets[0].Recv(mpc.P1); err != nil || string(m) != "pong" {
		t.Fatalf("client got %q, %v", m, err)
	}
	if _, err := cfg.Identity(mpc.P2, ""); err == nil {
		t.Error("a helper identity in a two-party deployment")
	}
}
