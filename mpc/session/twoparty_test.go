package session

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"veil/fixed"
	"veil/mpc"
)

// insecureTestPair is a TEST-ONLY two-party "backend" with no security
// at all: the client sends its encoded input to the server in the clear,
// the server runs the cleartext oracle and sends the outputs back. It
// exists only in this package's tests, to exercise the session's
// two-party plumbing (settings, program, count, reports over a two-party
// loopback deployment) independently of any real protocol.
const insecureTestPair = "insecure-test-2pc"

func init() {
	mpc.Register(mpc.Backend{Name: insecureTestPair, Parties: 2, Summary: "TEST ONLY, no security",
		New: func(net mpc.Network, _ mpc.Options) (mpc.Engine, error) { return &pairEngine{net: net}, nil }})
}

type pairEngine struct{ net mpc.Network }

func (e *pairEngine) Run(_ context.Context, prog *fixed.Program, inputs ...[]uint64) ([][]uint64, error) {
	if e.net.Me() == mpc.P0 {
		if err := e.net.Send(mpc.P1, words(inputs[0])); err != nil {
			return nil, err
		}
		b, err := e.net.Recv(mpc.P1)
		if err != nil {
			return nil, err
		}
		return [][]uint64{unwords(b)}, nil
	}
	b, err := e.net.Recv(mpc.P0)
	if err != nil {
		return nil, err
	}
	outs, err := prog.Run(unwords(b))
	if err != nil {
		return nil, err
	}
	return nil, e.net.Send(mpc.P0, words(outs[0]))
}

func (e *pairEngine) Abort(err error) error { return err }
func (e *pairEngine) Cost() mpc.Cost        { return mpc.Cost{Party: e.net.Me(), Rounds: 1} }

func words(v []uint64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}

func unwords(b []byte) []uint64 {
	v := make([]uint64, len(b)/8)
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return v
}

// TestTwoPartySession runs a session of a two-party backend between a
// client and a server over loopback TLS: no helper is created or needed,
// settings and program go to the one peer, and the outputs are the
// oracle's.
func TestTwoPartySession(t *testing.T) {
	p, xs := lenetProgram(t)
	res, err := RunLoopbackWith(context.Background(), p, xs[:3], LoopbackOptions{Timeout: 5 * time.Second, Session: Options{Backend: insecureTestPair}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reports) != 2 {
		t.Fatalf("%d reports", len(res.Reports))
	}
	for i, x := range xs[:3] {
		want, err := p.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Outputs[i], p.ApplyPost(want)) {
			t.Errorf("input %d: %v, want %v", i, res.Outputs[i], want)
		}
	}
	for _, r := range res.Reports {
		if r.Backend != insecureTestPair || r.N != 3 || len(r.Net.BytesSent) != 2 {
			t.Errorf("report %+v", r)
		}
	}
	// A three-party network refuses the two-party backend at once.
	nets := mpc.NewLocal(3, time.Second)
	_, err = Helper(context.Background(), nets[2], Options{Backend: insecureTestPair})
	if err == nil || err.Error() != fmt.Sprintf("session: %s: backend %s runs between 2 parties; the network connects 3", mpc.P2, insecureTestPair) {
		t.Errorf("three-party network: %v", err)
	}
}
