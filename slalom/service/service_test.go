package service

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"veil/attest"
	"veil/ir"
	"veil/slalom"
	"veil/slalom/device"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
)

var svcMeasurement = func() []byte { h := sha512.Sum384([]byte("veil slalom service test T")); return h[:] }()

// svcFrame is one frame as a man in the middle sees it.
type svcFrame struct {
	typ  byte
	body []byte
}

// svcHook sees every frame of one direction (toT: client → T) with its
// index in that direction and returns what to forward instead.
type svcHook func(toT bool, i int, f svcFrame) []svcFrame

// svcEnv is T serving over in-memory pipes, optionally through a man in
// the middle.
type svcEnv struct {
	srv  *Server
	sim  *attest.Simulated
	pol  attest.Policy
	prog *slalom.Program
}

func newSimulated(t testing.TB) *attest.Simulated {
	t.Helper()
	s, err := attest.NewSimulated(nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Measurement = svcMeasurement
	return s
}

// newSvc serves the Fashion-MNIST LeNet in mode with device d (nil: an
// honest one), attested by a fresh simulated platform that the returned
// policy pins.
func newSvc(t testing.TB, mode slalom.Mode, d *device.Device) *svcEnv {
	t.Helper()
	l := slalomtest.Load(t, 0)
	tr := devicetest.Trusted(t, l.P, mode, d)
	sim := newSimulated(t)
	pol := attest.Policy{Measurements: [][]byte{svcMeasurement}, InsecureAllowSimulated: true,
		SimulatedPlatformKeys: [][]byte{sim.PlatformKey()}}
	return &svcEnv{srv: &Server{T: tr, Attester: sim, Layout: l.G.Layout}, sim: sim, pol: pol, prog: l.P}
}

// conn starts one server connection and returns the client's end and a
// channel with ServeConn's result. With a hook, a relay between them
// applies it to every frame.
func (e *svcEnv) conn(t testing.TB, hook svcHook) (net.Conn, <-chan error) {
	t.Helper()
	cEnd, sEnd := net.Pipe()
	done := make(chan error, 1)
	go func() {
		err := e.srv.ServeConn(sEnd)
		sEnd.Close()
		done <- err
	}()
	if hook == nil {
		t.Cleanup(func() { cEnd.Close() })
		return cEnd, done
	}
	client, relayC := net.Pipe()
	relay := func(toT bool, from, to net.Conn) {
		for i := 0; ; i++ {
			typ, body, err := readFrame(from, maxFrame)
			if err != nil {
				from.Close()
				to.Close()
				return
			}
			for _, f := range hook(toT, i, svcFrame{typ, bytes.Clone(body)}) {
				if writeFrame(to, f.typ, f.body) != nil {
					from.Close()
					to.Close()
					return
				}
			}
		}
	}
	go relay(true, relayC, cEnd)
	go relay(false, cEnd, relayC)
	t.Cleanup(func() { client.Close() })
	return client, done
}

func (e *svcEnv) dial(t testing.TB, hook svcHook, req Requirements) (*Client, <-chan error, error) {
	t.Helper()
	c, done := e.conn(t, hook)
	cl, err := NewClient(c, e.pol, req)
	if err != nil {
		c.Close()
	}
	return cl, done, err
}

func serverResult(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not finish")
		return nil
	}
}

// splitAttest and joinAttest take T's attest frame apart and back.
func splitAttest(t testing.TB, body []byte) ([]byte, *attest.Evidence) {
	t.Helper()
	r := &reader{b: body}
	stb, evb := r.lp(maxFrame), r.lp(attest.MaxEvidenceSize)
	var ev attest.Evidence
	if r.err != nil || ev.UnmarshalBinary(evb) != nil {
		t.Fatalf("bad attest frame: %v", r.err)
	}
	return stb, &ev
}

func joinAttest(t testing.TB, stb []byte, ev *attest.Evidence) []byte {
	t.Helper()
	evb, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return appendLP(appendLP(nil, stb), evb)
}

// rewriteStatement returns a hook that changes the statement in T's
// attest frame after T signed it.
func rewriteStatement(t testing.TB, change func(*Statement)) svcHook {
	return func(toT bool, i int, f svcFrame) []svcFrame {
		if toT || f.typ != msgAttest {
			return []svcFrame{f}
		}
		stb, ev := splitAttest(t, f.body)
		var st Statement
		if err := st.UnmarshalBinary(stb); err != nil {
			t.Error(err)
		}
		change(&st)
		nb, err := st.MarshalBinary()
		if err != nil {
			t.Error(err)
		}
		return []svcFrame{{msgAttest, joinAttest(t, nb, ev)}}
	}
}

// TestServiceGenuine: a client attests T, sends real Fashion-MNIST images
// over the channel and gets, in every mode, exactly the oracle's output;
// the statement says what T runs.
func TestServiceGenuine(t *testing.T) {
	l := slalomtest.Load(t, 0)
	xs := make([][]float32, 6)
	for i := range xs {
		xs[i] = l.Test[i*37].X
	}
	for _, mode := range []slalom.Mode{{Verify: true}, {Verify: true, Blind: true, Check: slalom.Structured}, {Blind: true}, {}} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newSvc(t, mode, nil)
			cl, done, err := e.dial(t, nil, Requirements{ModelHash: l.P.Hash[:], Verify: mode.Verify, Blind: mode.Blind})
			if err != nil {
				t.Fatal(err)
			}
			st := cl.Statement
			want := Statement{Model: l.P.Hash, Name: l.P.Name, Verify: mode.Verify, Blind: mode.Blind, Check: mode.Check,
				P: slalom.P, Lx: l.P.Lx, Lw: l.P.Lw, OutScale: l.P.OutScale, OutLen: l.P.OutLen, Input: l.P.Input, Layout: "NCHW"}
			if mode.Verify {
				want.K = slalom.Reps
			}
			if st.Model != want.Model || st.Name != want.Name || st.Mode() != want.Mode() || st.P != slalom.P || st.K != want.K ||
				st.Lx != want.Lx || st.Lw != want.Lw || st.OutScale != want.OutScale || st.OutLen != want.OutLen ||
				!slices.Equal(st.Input, want.Input) || st.Layout != want.Layout {
				t.Fatalf("statement %+v, want %+v", st, want)
			}
			if cl.Claims == nil || !bytes.Equal(cl.Claims.Measurement, svcMeasurement) || cl.Claims.Format != attest.FormatSimulated {
				t.Fatalf("claims %+v", cl.Claims)
			}
			rs, err := cl.InferAll(xs)
			if err != nil {
				t.Fatal(err)
			}
			one, err := cl.Infer(xs[0])
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, Result{Logits: one, Scale: l.P.OutScale})
			for i, r := range rs {
				x := xs[i%len(xs)]
				want, err := l.P.Oracle(x)
				if err != nil {
					t.Fatal(err)
				}
				if r.Err != nil || r.Scale != l.P.OutScale || !slices.Equal(r.Logits, want) {
					t.Fatalf("input %d: got %v (scale %d, err %v), oracle %v", i, r.Logits, r.Scale, r.Err, want)
				}
			}
			cl.Close()
			if err := serverResult(t, done); err != nil {
				t.Fatalf("server: %v", err)
			}
		})
	}
}

// TestServiceEvidenceRefused: the client refuses T's evidence when the
// platform claims another measurement, debug or an old TCB, when the
// evidence is simulated and the policy does not allow it or does not pin
// its key, when it binds another nonce (an earlier handshake's evidence
// replayed), another key, or a statement altered after signing.
func TestServiceEvidenceRefused(t *testing.T) {
	// Evidence recorded from an earlier, genuine handshake.
	base := newSvc(t, slalom.Mode{Verify: true}, nil)
	var recorded svcFrame
	var once sync.Once
	cl, _, err := base.dial(t, func(toT bool, i int, f svcFrame) []svcFrame {
		if !toT && f.typ == msgAttest {
			once.Do(func() { recorded = f })
		}
		return []svcFrame{f}
	}, Requirements{})
	if err != nil {
		t.Fatalf("genuine handshake: %v", err)
	}
	cl.Close()
	otherKey, _, _ := ed25519.GenerateKey(rand.Reader) // a public key
	attacker, _ := ecdh.X25519().GenerateKey(rand.Reader)

	cases := []struct {
		name   string
		setup  func(e *svcEnv)
		hook   svcHook
		reject string
	}{
		{name: "genuine"},
		{name: "wrong measurement", setup: func(e *svcEnv) { e.sim.Measurement = bytes.Repeat([]byte{7}, 48) }, reject: "measurement"},
		{name: "debug on", setup: func(e *svcEnv) { e.sim.Debug = true }, reject: "debug"},
		{name: "TCB below the minimum", setup: func(e *svcEnv) { e.pol.MinTCB = 0x0100000000000000 }, reject: "TCB"},
		{name: "simulated not allowed", setup: func(e *svcEnv) { e.pol.InsecureAllowSimulated = false }, reject: "simulated evidence refused"},
		{name: "platform key not pinned", setup: func(e *svcEnv) { e.pol.SimulatedPlatformKeys = [][]byte{otherKey} }, reject: "not pinned"},
		{name: "no measurement allowed", setup: func(e *svcEnv) { e.pol.Measurements = nil }, reject: "allows no measurement"},
		{name: "replayed evidence (other nonce)", setup: func(e *svcEnv) { e.sim = base.sim; e.srv.Attester = base.sim; e.pol = base.pol },
			hook: func(toT bool, i int, f svcFrame) []svcFrame {
				if !toT && f.typ == msgAttest {
					return []svcFrame{recorded}
				}
				return []svcFrame{f}
			}, reject: "report data"},
		{name: "another key", hook: func(toT bool, i int, f svcFrame) []svcFrame {
			if !toT && f.typ == msgAttest {
				stb, ev := splitAttest(t, f.body)
				ev.PubKey = attacker.PublicKey().Bytes()
				return []svcFrame{{msgAttest, joinAttest(t, stb, ev)}}
			}
			return []svcFrame{f}
		}, reject: "report data"},
		{name: "statement: other model hash", hook: rewriteStatement(t, func(s *Statement) { s.Model[0] ^= 1 }), reject: "report data"},
		{name: "statement: verification claimed", setup: func(e *svcEnv) {
			*e = *newSvc(t, slalom.Mode{}, nil)
		}, hook: rewriteStatement(t, func(s *Statement) { s.Verify, s.K = true, slalom.Reps }), reject: "report data"},
		{name: "statement: blinding claimed", hook: rewriteStatement(t, func(s *Statement) { s.Blind = true }), reject: "report data"},
		{name: "statement: other k", hook: rewriteStatement(t, func(s *Statement) { s.K = 3 }), reject: "report data"},
		{name: "statement: other scales", hook: rewriteStatement(t, func(s *Statement) { s.Lw-- }), reject: "report data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSvc(t, slalom.Mode{Verify: true}, nil)
			if c.setup != nil {
				c.setup(e)
			}
			hook := c.hook
			var sealed atomic.Int32
			if hook == nil {
				hook = func(toT bool, i int, f svcFrame) []svcFrame { return []svcFrame{f} }
			}
			counting := func(toT bool, i int, f svcFrame) []svcFrame {
				if toT && f.typ == msgSealed {
					sealed.Add(1)
				}
				return hook(toT, i, f)
			}
			cl, _, err := e.dial(t, counting, Requirements{})
			if c.reject == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := cl.Infer(slalomtest.Load(t, 0).Test[0].X); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.reject) || !strings.Contains(err.Error(), "evidence refused") {
				t.Fatalf("got %v, want a refusal naming %q", err, c.reject)
			}
			if sealed.Load() != 0 {
				t.Fatal("the client sent data to a refused T")
			}
		})
	}
}

// TestServiceRequirements: a genuine T whose statement does not meet the
// client's demands (pinned model hash, verification, blinding) is refused.
func TestServiceRequirements(t *testing.T) {
	l := slalomtest.Load(t, 0)
	other := l.P.Hash
	other[31] ^= 0x80
	cases := []struct {
		name   string
		mode   slalom.Mode
		req    Requirements
		reject string
	}{
		{"pinned hash", slalom.Mode{Verify: true}, Requirements{ModelHash: l.P.Hash[:]}, ""},
		{"other model hash", slalom.Mode{Verify: true}, Requirements{ModelHash: other[:]}, "not the pinned"},
		{"short model hash", slalom.Mode{Verify: true}, Requirements{ModelHash: l.P.Hash[:16]}, "not the pinned"},
		{"verify required, outsourced", slalom.Mode{}, Requirements{Verify: true}, "verification required"},
		{"verify required, private only", slalom.Mode{Blind: true}, Requirements{Verify: true}, "verification required"},
		{"blind required, verified only", slalom.Mode{Verify: true}, Requirements{Blind: true}, "blinding required"},
		{"both required, both run", slalom.Mode{Verify: true, Blind: true}, Requirements{Verify: true, Blind: true, ModelHash: l.P.Hash[:]}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSvc(t, c.mode, nil)
			_, _, err := e.dial(t, nil, c.req)
			if c.reject == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.reject) {
				t.Fatalf("got %v, want a refusal naming %q", err, c.reject)
			}
		})
	}
}

// TestServiceFramesRefused: after the handshake, a changed, replayed
// (within or across sessions), reordered or reflected frame, or an
// unauthenticated one, is refused by its receiver, T or the client, with
// an error naming the problem; nothing is answered to it.
func TestServiceFramesRefused(t *testing.T) {
	l := slalomtest.Load(t, 0)
	xs := [][]float32{l.Test[1].X, l.Test[2].X}
	// A client frame from an earlier session.
	var earlier svcFrame
	{
		e := newSvc(t, slalom.Mode{Verify: true}, nil)
		cl, _, err := e.dial(t, func(toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 1 {
				earlier = f
			}
			return []svcFrame{f}
		}, Requirements{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Infer(xs[0]); err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	flip := func(f svcFrame, at int) svcFrame {
		f.body[at%len(f.body)] ^= 0x10
		return f
	}
	// Frame indices: to T, 0 is the hello and 1, 2 the inputs; to the
	// client, 0 is the attest frame and 1, 2 the answers.
	type state struct {
		held, firstIn svcFrame
	}
	cases := []struct {
		name string
		// refusedBy: "T" or "client".
		refusedBy, reason string
		hook              func(s *state, toT bool, i int, f svcFrame) []svcFrame
	}{
		{"input ciphertext bit", "T", "failed authentication", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 2 {
				return []svcFrame{flip(f, 20)}
			}
			return []svcFrame{f}
		}},
		{"input tag bit", "T", "failed authentication", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 1 {
				return []svcFrame{flip(f, len(f.body)-1)}
			}
			return []svcFrame{f}
		}},
		{"input sequence number", "T", "sequence number", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 1 {
				return []svcFrame{flip(f, 7)}
			}
			return []svcFrame{f}
		}},
		{"input replayed", "T", "sequence number 0 refused", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 1 {
				s.firstIn = f
			}
			if toT && i == 2 {
				return []svcFrame{s.firstIn}
			}
			return []svcFrame{f}
		}},
		{"inputs reordered", "T", "sequence number 1 refused", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 1 {
				s.held = f
				return nil
			}
			if toT && i == 2 {
				return []svcFrame{f, s.held}
			}
			return []svcFrame{f}
		}},
		{"input from an earlier session", "T", "failed authentication", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 1 {
				return []svcFrame{earlier}
			}
			return []svcFrame{f}
		}},
		{"input as another frame type", "T", "unauthenticated frame", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 1 {
				f.typ = msgHello
			}
			return []svcFrame{f}
		}},
		{"answer ciphertext bit", "client", "failed authentication", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if !toT && i == 1 {
				return []svcFrame{flip(f, 12)}
			}
			return []svcFrame{f}
		}},
		{"answer replayed", "client", "sequence number 0 refused", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if !toT && i == 1 {
				s.held = f
			}
			if !toT && i == 2 {
				return []svcFrame{s.held}
			}
			return []svcFrame{f}
		}},
		{"answers reordered", "client", "sequence number 1 refused", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if !toT && i == 1 {
				s.held = f
				return nil
			}
			if !toT && i == 2 {
				return []svcFrame{f, s.held}
			}
			return []svcFrame{f}
		}},
		{"client's input reflected", "client", "failed authentication", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if toT && i == 1 {
				s.firstIn = svcFrame{f.typ, bytes.Clone(f.body)}
			}
			if !toT && i == 1 {
				return []svcFrame{s.firstIn}
			}
			return []svcFrame{f}
		}},
		{"unauthenticated abort", "client", "unauthenticated frame", func(s *state, toT bool, i int, f svcFrame) []svcFrame {
			if !toT && i == 1 {
				return []svcFrame{{msgAbort, []byte("give me your data in the clear")}}
			}
			return []svcFrame{f}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSvc(t, slalom.Mode{Verify: true}, nil)
			var mu sync.Mutex
			s := &state{}
			cl, done, err := e.dial(t, func(toT bool, i int, f svcFrame) []svcFrame {
				mu.Lock()
				defer mu.Unlock()
				return c.hook(s, toT, i, f)
			}, Requirements{})
			if err != nil {
				t.Fatal(err)
			}
			rs, cerr := cl.InferAll(xs)
			if cerr == nil {
				t.Fatalf("the client accepted the session: %+v", rs)
			}
			cl.Close()
			serr := serverResult(t, done)
			got := cerr
			if c.refusedBy == "T" {
				got = serr
			}
			if got == nil || !strings.Contains(got.Error(), c.reason) {
				t.Fatalf("%s: got %v, want an error naming %q (client: %v, T: %v)", c.refusedBy, got, c.reason, cerr, serr)
			}
		})
	}
}

// TestServiceCheatingDevice: when D cheats, T's Freivalds check fails and
// the client receives an authenticated error naming the layer and no
// output; T restarts with new check secrets and answers the next input
// correctly.
func TestServiceCheatingDevice(t *testing.T) {
	l := slalomtest.Load(t, 0)
	for _, mode := range []slalom.Mode{{Verify: true}, {Verify: true, Blind: true}, {Verify: true, Check: slalom.Structured, PerLayer: true}} {
		for _, target := range []int{0, len(l.P.Layers) - 1} {
			t.Run(mode.String()+"/"+l.P.Layers[target].Name, func(t *testing.T) {
				var armed atomic.Bool
				armed.Store(true)
				d := &device.Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
					if layer == target && armed.CompareAndSwap(true, false) {
						y[len(y)/2] = uint32((uint64(y[len(y)/2]) + 12345) % slalom.P)
					}
					return y
				}}
				e := newSvc(t, mode, d)
				cl, done, err := e.dial(t, nil, Requirements{Verify: true})
				if err != nil {
					t.Fatal(err)
				}
				xs := [][]float32{l.Test[3].X, l.Test[4].X}
				rs, err := cl.InferAll(xs)
				if err != nil {
					t.Fatal(err)
				}
				var se *RefusedError
				name := l.P.Layers[target].Name
				if rs[0].Logits != nil || !errors.As(rs[0].Err, &se) || !strings.Contains(se.Msg, name) {
					t.Fatalf("cheating D: got %v, %v; want an error naming layer %s and no output", rs[0].Logits, rs[0].Err, name)
				}
				want, _ := l.P.Oracle(xs[1])
				if rs[1].Err != nil || !slices.Equal(rs[1].Logits, want) {
					t.Fatalf("after the restart: got %v, %v; want %v", rs[1].Logits, rs[1].Err, want)
				}
				cl.Close()
				if err := serverResult(t, done); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestServiceBadInput: T answers malformed inputs inside the channel with
// an error and keeps serving; malformed handshakes end with an error, on
// both sides, never a panic.
func TestServiceBadInput(t *testing.T) {
	l := slalomtest.Load(t, 0)
	e := newSvc(t, slalom.Mode{Verify: true}, nil)
	cl, done, err := e.dial(t, nil, Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	nan := slices.Clone(l.Test[0].X)
	nan[5] = float32(math.NaN())
	for _, c := range []struct {
		msg  []byte
		want string
	}{
		{encodeInput(l.Test[0].X[:3]), "input of 3 values"},
		{encodeInput(nan), "not finite"},
		{[]byte{1}, "too short"},
		{append(encodeInput(l.Test[0].X), 0), "bytes"},
	} {
		if err := cl.s.send(recInput, c.msg); err != nil {
			t.Fatal(err)
		}
		kind, msg, err := cl.s.recv()
		if err != nil || kind != recError || !strings.Contains(string(msg), c.want) {
			t.Fatalf("got %d %q %v, want an error naming %q", kind, msg, err, c.want)
		}
	}
	if _, err := cl.InferAll([][]float32{l.Test[0].X[:5]}); err == nil {
		t.Fatal("the client sent an input of the wrong size")
	}
	if out, err := cl.Infer(l.Test[0].X); err != nil || out == nil {
		t.Fatalf("T stopped serving after bad inputs: %v", err)
	}
	cl.Close()
	if err := serverResult(t, done); err != nil {
		t.Fatal(err)
	}

	// Malformed hellos.
	for _, raw := range [][]byte{
		{0xff, 0xff, 0xff, 0xff},
		{0, 0, 0, 1, 1},
		{0, 0, 0, 3, 9, 1, 0},
		{0, 0, 0, 4, 1, 1, 0, 0},
		append([]byte{0, 0, 0, 66, 1, 2}, make([]byte, 64)...),
		append([]byte{0, 0, 0, 66, 1, 1}, make([]byte, 64)...), // all-zero key: low order
	} {
		c, done := e.conn(t, nil)
		go func() { c.Write(raw); io.Copy(io.Discard, c) }()
		if err := serverResult(t, done); err == nil {
			t.Fatalf("T accepted hello %x", raw)
		}
		c.Close()
	}

	// Malformed attest frames, every truncation of a genuine one.
	var genuine []byte
	if _, _, err := e.dial(t, func(toT bool, i int, f svcFrame) []svcFrame {
		if !toT && i == 0 {
			genuine = f.body
		}
		return []svcFrame{f}
	}, Requirements{}); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(genuine); n += 1 + n/8 {
		a, b := net.Pipe()
		go func() {
			readFrame(b, maxFrame)
			writeFrame(b, msgAttest, genuine[:n])
			io.Copy(io.Discard, b)
		}()
		if _, err := NewClient(a, e.pol, Requirements{}); err == nil {
			t.Fatalf("client accepted an attest frame cut to %d bytes", n)
		}
		a.Close()
		b.Close()
	}
}

// TestStatementEncoding: round trip, and every truncation, trailing byte
// or unknown flag refused.
func TestStatementEncoding(t *testing.T) {
	st := Statement{Name: "lenet", Verify: true, Blind: true, Check: slalom.Structured, P: slalom.P, K: slalom.Reps, Lx: 8, Lw: 7,
		OutScale: 15, OutLen: 10, Input: []int{1, 1, 28, 28}, Layout: ir.NCHW.String(), Post: "sigmoid"}
	st.Model[3] = 9
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Statement
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) || got.ModeString() != "private+verified, structured checks, k = 2" || got.Post != "sigmoid" {
		t.Fatalf("round trip: %+v", got)
	}
	if v := got.Values([]int64{0, 1 << 15}); v[0] != 0.5 || math.Abs(v[1]-1/(1+math.Exp(-1))) > 1e-12 {
		t.Fatalf("Values applies the sigmoid: %v", v)
	}
	other := st
	other.Post = "tanh"
	if ob, err := other.MarshalBinary(); err != nil {
		t.Fatal(err)
	} else if err := got.UnmarshalBinary(ob); err == nil {
		t.Fatal("accepted an unknown post-processing")
	}
	for n := range len(b) {
		if err := got.UnmarshalBinary(b[:n]); err == nil {
			t.Fatalf("accepted a statement cut to %d bytes", n)
		}
	}
	if err := got.UnmarshalBinary(append(b, 0)); err == nil {
		t.Fatal("accepted trailing bytes")
	}
	bad := slices.Clone(b)
	bad[32] |= 8
	if err := got.UnmarshalBinary(bad); err == nil {
		t.Fatal("accepted an unknown flag")
	}
	bad = slices.Clone(b)
	binary.BigEndian.PutUint32(bad[32+2+8+4*5:], 99)
	if err := got.UnmarshalBinary(bad); err == nil {
		t.Fatal("accepted 99 input dimensions")
	}
	if sessionID(b) == sessionID(b[:len(b)-1]) {
		t.Fatal("session ids collide")
	}
}
