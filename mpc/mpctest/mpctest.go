// Package mpctest holds the test harnesses of the secure backends and the
// conformance suite every backend runs (see Conformance): each primitive
// op on random and edge inputs, every composite op, programs of every op,
// several inferences in one session, and a party that dies mid-session,
// all checked against the cleartext oracle (fixed.Cleartext).
package mpctest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"veil/fixed"
	"veil/mpc"
)

// Parties runs f for parties P0…P(n−1) at once, each in its own
// goroutine, and returns each party's error once all have returned.
func Parties(n int, f func(p mpc.Party) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(mpc.Party(i))
		}()
	}
	wg.Wait()
	return errs
}

// A Runner runs programs on one backend configuration for the suite.
type Runner struct {
	// Name names the configuration in failures.
	Name string
	// Run runs prog (the full program, with its weights) once per
	// element of inputs, all in one session (each element holds one
	// value slice per program input), and returns each run's outputs.
	Run func(t testing.TB, prog *fixed.Program, inputs [][][]uint64) ([][][]uint64, error)
	// Parties is the number of parties of the backend (for Fail's
	// victims).
	Parties int
	// Truncation is how far each ScaleDown may exceed the oracle's: 0
	// for an exact backend, 1 for local truncation of secret shares.
	Truncation int
	// Fail, where set, runs prog once with victim's network cut after it
	// has sent after messages, and returns each party's error and the
	// outputs P0 got (nil if none).
	Fail func(t testing.TB, prog *fixed.Program, inputs [][]uint64, victim mpc.Party, after int) ([]error, [][]uint64)
}

// Oracle returns the Runner of the cleartext backend that lowers every
// composite op onto primitives: against the oracle's own composites, the
// suite then checks the lowerings.
func Oracle() Runner {
	return Runner{Name: "oracle, lowered", Run: func(t testing.TB, prog *fixed.Program, inputs [][][]uint64) ([][][]uint64, error) {
		outs := make([][][]uint64, len(inputs))
		for i, in := range inputs {
			var err error
			if outs[i], err = prog.Execute(context.Background(), &fixed.Cleartext{}, in, &fixed.ExecOptions{Lower: true}); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}}
}

// Timeout is the stall timeout of the networks MPC's runners use.
const Timeout = 10 * time.Second

// MPC returns the Runner of the registered secure backend name with the
// given options: all parties in this process over mpc.NewLocal, each
// network passed through wrap where set (such as mpc/aramis.Secure, for
// malicious security). P0 holds the inputs and the public program, P1 the
// full program, the helpers the public program.
func MPC(name string, opts mpc.Options, wrap func(p mpc.Party, net mpc.Network) (mpc.Network, error)) Runner {
	run := func(t testing.TB, prog *fixed.Program, inputs [][][]uint64, cut func(p mpc.Party, net mpc.Network) mpc.Network) ([][][]uint64, []error) {
		t.Helper()
		b, err := mpc.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		local := mpc.NewLocal(b.Parties, Timeout)
		pub := prog.Public()
		var outs [][][]uint64
		errs := Parties(len(local), func(p mpc.Party) error {
			net := local[p]
			defer net.Close() // a party that stops hangs up, as a process that exits would
			if cut != nil {
				net = cut(p, net)
			}
			if wrap != nil {
				var err error
				if net, err = wrap(p, net); err != nil {
					return err
				}
				defer net.Close()
			}
			e, err := b.New(net, opts)
			if err != nil {
				return err
			}
			if pl, ok := e.(mpc.Planner); ok {
				pl.Plan(len(inputs)) // as a session does
			}
			for _, in := range inputs {
				var out [][]uint64
				switch p {
				case mpc.P0:
					out, err = e.Run(context.Background(), pub, in...)
				case mpc.P1:
					out, err = e.Run(context.Background(), prog)
				default:
					out, err = e.Run(context.Background(), pub)
				}
				if err != nil {
					return err
				}
				if p == mpc.P0 {
					outs = append(outs, out)
				} else if out != nil {
					return fmt.Errorf("%s got an output", p)
				}
			}
			return nil
		})
		return outs, errs
	}
	label := name
	if len(opts) > 0 {
		label = fmt.Sprint(name, opts)
	}
	if wrap != nil {
		label += ", wrapped"
	}
	parties := 3
	if b, err := mpc.Lookup(name); err == nil {
		parties = b.Parties
	}
	return Runner{
		Name:       label,
		Parties:    parties,
		Truncation: 1,
		Run: func(t testing.TB, prog *fixed.Program, inputs [][][]uint64) ([][][]uint64, error) {
			outs, errs := run(t, prog, inputs, nil)
			return outs, errors.Join(errs...)
		},
		Fail: func(t testing.TB, prog *fixed.Program, inputs [][]uint64, victim mpc.Party, after int) ([]error, [][]uint64) {
			outs, errs := run(t, prog, [][][]uint64{inputs}, func(p mpc.Party, net mpc.Network) mpc.Network {
				if p != victim {
					return net
				}
				return &cutNet{Network: net, left: after}
			})
			var out [][]uint64
			if len(outs) > 0 {
				out = outs[0]
			}
			return errs, out
		},
	}
}

// cutNet is a party's network that closes itself, as a crashing party
// would, once it has sent left messages.
type cutNet struct {
	mpc.Network
	mu   sync.Mutex
	left int
}

var errCut = errors.New("mpctest: this party's network was cut")

func (n *cutNet) Send(to mpc.Party, msg []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.left <= 0 {
		n.Network.Close()
		return errCut
	}
	n.left--
	return n.Network.Send(to, msg)
}
