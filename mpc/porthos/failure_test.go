package porthos

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"veil/mpc"
	"veil/mpc/mpctest"
)

// cutNet closes its party's network after it has received n messages.
type cutNet struct {
	mpc.Network
	n    int64
	seen atomic.Int64
}

func (c *cutNet) Recv(from mpc.Party) ([]byte, error) {
	if c.seen.Add(1) > c.n {
		c.Network.Close()
	}
	return c.Network.Recv(from)
}

// TestPeerFailure closes P1's network at several points of a LeNet run:
// P0 and P2 must stop at once (well before the 20 s network timeout) with
// an error that names P1 and the instruction (or the setup step, for the
// earliest cuts), and P0 must get no output.
func TestPeerFailure(t *testing.T) {
	prog := loadProgram(t, "fashion_lenet", 12)
	xs, _ := loadInputs(t, prog, "testdata/data/fashion-mnist/test", 0, 1)
	pub := prog.Public()
	for _, cut := range []int64{2, 3, 5, 10, 20, 40, 57} {
		local := mpc.NewLocal(3, 20*time.Second)
		nets := local
		nets[1] = &cutNet{Network: local[1], n: cut}
		var outs [3][][]uint64
		var errs [3]error
		var took [3]time.Duration
		start := time.Now()
		mpctest.Parties(len(nets), func(party mpc.Party) error {
			p := int(party)
			switch p {
			case 0:
				outs[p], _, errs[p] = Run(context.Background(), nets[p], pub, xs[0])
			case 1:
				outs[p], _, errs[p] = Run(context.Background(), nets[p], prog)
			default:
				outs[p], _, errs[p] = Run(context.Background(), nets[p], pub)
			}
			took[p] = time.Since(start)
			return nil
		})
		if errs[1] == nil {
			t.Errorf("cut after %d: P1 finished without error", cut)
		}
		for _, p := range []int{0, 2} {
			err := errs[p]
			var pe *mpc.PeerError
			switch {
			case err == nil:
				t.Errorf("cut after %d: %s finished without error", cut, mpc.Party(p))
			case !errors.As(err, &pe) || pe.Peer != mpc.P1:
				t.Errorf("cut after %d: %s: error does not blame P1: %v", cut, mpc.Party(p), err)
			case !strings.Contains(err.Error(), "instruction") && !strings.Contains(err.Error(), "program check"):
				t.Errorf("cut after %d: %s: error names neither the instruction nor the setup step: %v", cut, mpc.Party(p), err)
			case took[p] > 2*time.Second:
				t.Errorf("cut after %d: %s took %v to notice", cut, mpc.Party(p), took[p])
			}
			if outs[p] != nil {
				t.Errorf("cut after %d: %s got an output", cut, mpc.Party(p))
			}
		}
		t.Logf("cut after %d messages: P0 after %v: %v", cut, took[0].Round(time.Microsecond), errs[0])
		t.Logf("cut after %d messages: P2 after %v: %v", cut, took[2].Round(time.Microsecond), errs[2])
	}
}

// TestContextCancel stops P0 through its context: the others stop too,
// blaming P0.
func TestContextCancel(t *testing.T) {
	prog := loadProgram(t, "fashion_lenet", 12)
	xs, _ := loadInputs(t, prog, "testdata/data/fashion-mnist/test", 0, 1)
	nets := mpc.NewLocal(3, 20*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var errs [3]error
	start := time.Now()
	mpctest.Parties(len(nets), func(party mpc.Party) error {
		p := int(party)
		switch p {
		case 0:
			_, _, errs[p] = Run(ctx, nets[p], prog.Public(), xs[0])
		case 1:
			_, _, errs[p] = Run(context.Background(), nets[p], prog)
		default:
			_, _, errs[p] = Run(context.Background(), nets[p], prog.Public())
		}
		return nil
	})
	if !errors.Is(errs[0], context.Canceled) {
		t.Errorf("P0: %v", errs[0])
	}
	for _, p := range []int{1, 2} {
		var pe *mpc.PeerError
		if !errors.As(errs[p], &pe) || pe.Peer != mpc.P0 {
			t.Errorf("%s: %v", mpc.Party(p), errs[p])
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}
