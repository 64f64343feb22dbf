// Package session runs secure inferences between the parties of a
// registered secure backend (see mpc.Register) over an established
// network: the server (P1, the weight owner) hands every other party the
// backend's settings and the public part of its compiled program (the
// architecture, never the weights), the client (P0, the input owner) says
// how many inputs it has, and then every input goes through the backend,
// with the output revealed to the client only. Other parties (P2…) are
// helpers. A backend package registers itself when imported (the 3PC
// backend: veil/mpc/porthos).
//
// Messages before the protocol, in order:
//
//	every → every other   its settings: backend name and options (JSON); all must agree
//	P1 → every other      the public program (fixed program file format, "public": true)
//	P0 → every other      the number of inferences n (uint64, little endian)
//
// then n runs of the backend's Engine.Run in one backend session.
package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"veil/fixed"
	"veil/mpc"
)

// MaxInferences bounds the count a client may announce.
const MaxInferences = 1 << 24

// Options configure the secure backend of a session. Every party must use
// the same: the parties exchange them first, and each stops with an error
// naming the parties whose options differ from its own.
type Options struct {
	// Backend is the registered name of the secure backend; "" is
	// DefaultBackend.
	Backend string `json:"backend"`
	// BackendOptions are the backend's options (such as compare=fast for
	// 3pc); see mpc.Backend.Options.
	BackendOptions mpc.Options `json:"options,omitempty"`
}

// DefaultBackend is the backend of a session whose Options name none.
const DefaultBackend = "3pc"

// backend returns the options' backend, with the options checked.
func (o *Options) backend() (*mpc.Backend, error) {
	if o.Backend == "" {
		o.Backend = DefaultBackend
	}
	b, err := mpc.Lookup(o.Backend)
	if err != nil {
		return nil, err
	}
	return b, o.BackendOptions.Check(b)
}

// peers returns every party of an n-party session but me.
func peers(n int, me mpc.Party) []mpc.Party {
	var ps []mpc.Party
	for p := range mpc.Party(n) {
		if p != me {
			ps = append(ps, p)
		}
	}
	return ps
}

// Report is one party's account of a session.
type Report struct {
	Party    mpc.Party
	Program  string
	N        int           // inferences run
	Wall     time.Duration // from the first message to the last inference
	PerInfer []time.Duration
	// Offline is the part of each inference's time spent in its offline
	// phase (ahead of the input; zero for a backend without one). An
	// inference whose offline phase made several runs' work at once
	// (mpc.Planner) carries all of it, the ones served from it none.
	Offline []time.Duration
	Backend string
	Cost    mpc.Cost  // protocol traffic, rounds and per-op costs
	Net     mpc.Stats // everything on the wire, framing and setup included
}

// Median is the time of one inference (0 if none ran): the median of
// the inferences' online times (each one's time less its offline phase)
// plus the offline time per inference (the session's over its
// inferences), so that an offline phase made for several runs counts
// once, spread over them. For a backend without an offline phase it is
// the median time.
func (r *Report) Median() time.Duration {
	if len(r.PerInfer) == 0 {
		return 0
	}
	ts := slices.Clone(r.PerInfer)
	var offline time.Duration
	for i, d := range r.Offline {
		ts[i] -= d
		offline += d
	}
	slices.Sort(ts)
	return ts[len(ts)/2] + offline/time.Duration(len(ts))
}

// Server runs the server's side: prog must carry the weights.
func Server(ctx context.Context, net mpc.Network, prog *fixed.Program, opt Options) (*Report, error) {
	if net.Me() != mpc.P1 {
		return nil, fmt.Errorf("session: the server must be %s, not %s", mpc.P1, net.Me())
	}
	if !prog.WeightsComplete() {
		return nil, fmt.Errorf("session: %s: program %q has no weights (give the server the full compiled program)", mpc.P1, prog.Name)
	}
	start := time.Now()
	b, err := agree(net, &opt)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := prog.Public().Write(&buf); err != nil {
		return nil, fmt.Errorf("session: %s: %w", mpc.P1, err)
	}
	for _, p := range peers(b.Parties, mpc.P1) {
		if err := net.Send(p, buf.Bytes()); err != nil {
			return nil, fmt.Errorf("session: %s: sending the public program: %w", mpc.P1, err)
		}
	}
	n, err := recvCount(net)
	if err != nil {
		return nil, err
	}
	return run(ctx, net, prog, b, opt, n, nil, start)
}

// Helper runs the helper's side.
func Helper(ctx context.Context, net mpc.Network, opt Options) (*Report, error) {
	return helper(ctx, net, opt, func(*fixed.Program) {})
}

// helper is Helper calling known with the public program once it has
// arrived.
func helper(ctx context.Context, net mpc.Network, opt Options, known func(*fixed.Program)) (*Report, error) {
	if net.Me() < mpc.P2 {
		return nil, fmt.Errorf("session: a helper is P2 or later, not %s", net.Me())
	}
	start := time.Now()
	b, err := agree(net, &opt)
	if err != nil {
		return nil, err
	}
	prog, err := recvProgram(net)
	if err != nil {
		return nil, err
	}
	known(prog)
	n, err := recvCount(net)
	if err != nil {
		return nil, err
	}
	return run(ctx, net, prog, b, opt, n, nil, start)
}

// Client runs the client's side. Once the server's public program has
// arrived, prepare turns the client's data into inputs for it: one flat
// input per inference, the program's inputs in order, each real-valued in
// its shape and layout, concatenated (see fixed.Program.SplitInputs);
// every input's size is checked before the count is announced. Client
// returns the program and, for each inference, every output decoded, with
// the program's Post applied.
func Client(ctx context.Context, net mpc.Network, opt Options, prepare func(*fixed.Program) ([][]float32, error)) (*fixed.Program, [][][]float64, *Report, error) {
	if net.Me() != mpc.P0 {
		return nil, nil, nil, fmt.Errorf("session: the client must be %s, not %s", mpc.P0, net.Me())
	}
	start := time.Now()
	b, err := agree(net, &opt)
	if err != nil {
		notifyAbort(net, net.Parties(), err)
		return nil, nil, nil, err
	}
	prog, err := recvProgram(net)
	if err != nil {
		notifyAbort(net, b.Parties, err)
		return nil, nil, nil, err
	}
	inputs, err := prepare(prog)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("session: %s: %w", mpc.P0, err)
	}
	if len(inputs) > MaxInferences {
		return nil, nil, nil, fmt.Errorf("session: %d inputs exceed the limit of %d", len(inputs), MaxInferences)
	}
	encoded := make([][][]uint64, len(inputs))
	for i, x := range inputs {
		if encoded[i], err = prog.EncodeInputs(x); err != nil {
			return nil, nil, nil, fmt.Errorf("session: %s: input %d: %w", mpc.P0, i, err)
		}
	}
	var cnt [8]byte
	binary.LittleEndian.PutUint64(cnt[:], uint64(len(inputs)))
	for _, p := range peers(b.Parties, mpc.P0) {
		if err := net.Send(p, cnt[:]); err != nil {
			notifyAbort(net, b.Parties, err)
			return nil, nil, nil, fmt.Errorf("session: %s: %w", mpc.P0, err)
		}
	}
	var outs [][][]float64
	rep, err := run(ctx, net, prog, b, opt, len(inputs), func(i int, out [][]uint64) {
		outs = append(outs, prog.DecodeOutputs(out))
	}, start, encoded...)
	if err != nil {
		return nil, nil, nil, err
	}
	return prog, outs, rep, nil
}

func run(ctx context.Context, net mpc.Network, prog *fixed.Program, b *mpc.Backend, opt Options, n int, got func(int, [][]uint64), start time.Time, inputs ...[][]uint64) (*Report, error) {
	me := net.Me()
	rep := &Report{Party: me, Program: prog.Name, Backend: b.Name, N: n}
	e, err := b.New(net, opt.BackendOptions)
	if err != nil {
		return nil, fmt.Errorf("session: %s: backend %s: %w", me, b.Name, err)
	}
	if p, ok := e.(mpc.Planner); ok {
		p.Plan(n) // the n runs of prog the client announced (recvCount)
	}
	_, offline := e.Cost().Offline()
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			e.Abort(err)
			return nil, fmt.Errorf("session: %s: inference %d: %w", me, i, err)
		}
		t0 := time.Now()
		var in [][]uint64
		if me == mpc.P0 {
			in = inputs[i]
		}
		out, err := e.Run(ctx, prog, in...)
		if err != nil {
			return nil, fmt.Errorf("session: inference %d: %w", i, err)
		}
		rep.PerInfer = append(rep.PerInfer, time.Since(t0))
		_, off := e.Cost().Offline()
		rep.Offline, offline = append(rep.Offline, off-offline), off
		if got != nil {
			got(i, out)
		}
	}
	rep.Wall = time.Since(start)
	rep.Cost = e.Cost()
	rep.Net = net.Stats()
	return rep, nil
}

// agree checks opt, sends it to every peer and compares theirs with it
// (one round): it returns opt's backend, or an error naming every party
// whose settings differ. A party whose own settings are invalid stops at
// once, and its peers see it stop.
func agree(net mpc.Network, opt *Options) (*mpc.Backend, error) {
	me := net.Me()
	b, err := opt.backend()
	if err != nil {
		return nil, fmt.Errorf("session: %s: %w", me, err)
	}
	if net.Parties() != b.Parties {
		return nil, fmt.Errorf("session: %s: backend %s runs between %d parties; the network connects %d", me, b.Name, b.Parties, net.Parties())
	}
	msg, err := json.Marshal(opt)
	if err != nil {
		return nil, fmt.Errorf("session: %s: %w", me, err)
	}
	// A failed send is reported only after the receives: a peer that
	// hung up because a third party stopped has sent what says so (its
	// settings came before, and the party that stopped fails the
	// receive from it), which is the better error.
	var sendErr error
	for _, p := range peers(b.Parties, me) {
		if err := net.Send(p, msg); err != nil && sendErr == nil {
			sendErr = fmt.Errorf("session: %s: sending the settings: %w", me, err)
		}
	}
	var differ []string
	for _, p := range peers(b.Parties, me) {
		m, err := net.Recv(p)
		if err != nil {
			return nil, fmt.Errorf("session: %s: waiting for the settings: %w", me, err)
		}
		if err := abortNotice(net, p, m); err != nil {
			return nil, fmt.Errorf("session: %s: waiting for the settings: %w", me, err)
		}
		var theirs Options
		if err := json.Unmarshal(m, &theirs); err != nil {
			return nil, fmt.Errorf("session: %s: %w", me, &mpc.PeerError{Peer: p, Err: fmt.Errorf("malformed settings: %v", err)})
		}
		if theirs.Backend != opt.Backend || !maps.Equal(theirs.BackendOptions, opt.BackendOptions) {
			differ = append(differ, fmt.Sprintf("%s runs backend %s with options %v", p, theirs.Backend, theirs.BackendOptions))
		}
	}
	if len(differ) > 0 {
		return nil, fmt.Errorf("session: %s: %s, this party backend %s with options %v: every party must use the same",
			me, strings.Join(differ, "; "), opt.Backend, opt.BackendOptions)
	}
	if sendErr != nil {
		return nil, sendErr
	}
	return b, nil
}

// recvProgram receives the server's public program.
func recvProgram(net mpc.Network) (*fixed.Program, error) {
	me := net.Me()
	b, err := net.Recv(mpc.P1)
	if err != nil {
		return nil, fmt.Errorf("session: %s: waiting for the program: %w", me, err)
	}
	p, err := fixed.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("session: %s: the program %s sent: %w", me, mpc.P1, err)
	}
	if p.HasWeightData() {
		return nil, fmt.Errorf("session: %s: %s sent a program with weights; only the public program may be shared", me, mpc.P1)
	}
	return p, nil
}

// notifyAbort tells the parties other than this one and the culprit of
// err (a *mpc.PeerError's peer) that the session stopped before the
// protocol because of that culprit, in a one-byte notice where the count
// would come (see recvCount), so that a party waiting for this one names
// the party that failed rather than the messenger. Best effort.
func notifyAbort(net mpc.Network, parties int, err error) {
	var pe *mpc.PeerError
	if !errors.As(err, &pe) {
		return
	}
	for _, p := range peers(parties, net.Me()) {
		if p != pe.Peer {
			net.Send(p, []byte{byte(pe.Peer)})
		}
	}
}

// abortNotice returns the failure that the one-byte notice m from
// sender reports (see notifyAbort), or nil when m is not one.
func abortNotice(net mpc.Network, sender mpc.Party, m []byte) error {
	if len(m) != 1 || mpc.Party(m[0]) == sender || mpc.Party(m[0]) == net.Me() || int(m[0]) >= net.Parties() {
		return nil
	}
	return &mpc.PeerError{Peer: mpc.Party(m[0]), Err: fmt.Errorf("stopped before the protocol (reported by %s)", sender)}
}

func recvCount(net mpc.Network) (int, error) {
	me := net.Me()
	b, err := net.Recv(mpc.P0)
	if err != nil {
		return 0, fmt.Errorf("session: %s: waiting for the number of inferences: %w", me, err)
	}
	if err := abortNotice(net, mpc.P0, b); err != nil {
		return 0, fmt.Errorf("session: %s: waiting for the number of inferences: %w", me, err)
	}
	if len(b) != 8 {
		return 0, &mpc.PeerError{Peer: mpc.P0, Err: fmt.Errorf("count message of %d bytes, want 8", len(b))}
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxInferences {
		return 0, &mpc.PeerError{Peer: mpc.P0, Err: fmt.Errorf("asks for %d inferences, more than the limit %d", n, MaxInferences)}
	}
	return int(n), nil
}
