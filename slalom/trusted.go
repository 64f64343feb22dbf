package slalom

import (
	"errors"
	"fmt"
)

// Mode is what T asks of the outsourcing.
type Mode struct {
	Verify bool // Freivalds checks on every layer
	Blind  bool // one-time additive blinding of every layer's input
	Check  CheckMode
}

func (m Mode) String() string {
	switch {
	case m.Verify && m.Blind:
		return "private+verified"
	case m.Verify:
		return "verified"
	case m.Blind:
		return "private"
	}
	return "outsourced"
}

// Trusted is the trusted executor T: it quantizes, runs every non-linear
// step and requantization, blinds and unblinds, checks the device, and
// draws all randomness itself.
type Trusted struct {
	Prog    *Program
	Mode    Mode
	Dev     *Remote
	Ver     *Verifier
	Blinder *Blinder
	// Broken is set after any rejection: T then refuses to run until
	// Restart (new secrets), and never releases the failed output.
	Broken error
}

// NewTrusted sets D up with the program and prepares T's secrets.
// Offline work (s̃, U) is done separately by Prepare and Offline.
func NewTrusted(p *Program, mode Mode, dev *Remote, store Store) (*Trusted, error) {
	t := &Trusted{Prog: p, Mode: mode, Dev: dev}
	if mode.Verify {
		t.Ver = NewVerifier(p, mode.Check)
	}
	if mode.Blind {
		if store == nil {
			store = NewMemStore()
		}
		t.Blinder = NewBlinder(p, store)
	}
	if err := dev.Setup(p); err != nil {
		return nil, err
	}
	return t, nil
}

// Prepare runs the per-epoch offline work of the checks (s, s̃, β).
func (t *Trusted) Prepare() {
	if t.Ver != nil {
		t.Ver.Prepare()
	}
}

// Offline seals n more pairs of blinding factors (R, U = f(R)).
func (t *Trusted) Offline(n int) {
	if t.Blinder != nil {
		t.Blinder.Offline(n)
	}
}

// Restart draws new check secrets after a rejection; sealed pairs stay
// burnt.
func (t *Trusted) Restart() {
	t.Broken = nil
	if t.Ver != nil {
		t.Ver.Invalidate()
		t.Ver.Prepare()
	}
}

// Infer runs one inference. Any failed check aborts it with an error
// naming the layer, and no output is released.
func (t *Trusted) Infer(input []float32) ([]int64, error) {
	if t.Broken != nil {
		return nil, fmt.Errorf("slalom: refusing to run after a rejection (%v); restart first", t.Broken)
	}
	if t.Ver != nil && !t.Ver.Prepared() {
		t.Ver.Prepare()
	}
	var j uint64
	if t.Blinder != nil {
		if t.Blinder.Available() == 0 {
			t.Blinder.Offline(1)
		}
		var err error
		if j, err = t.Blinder.Next(); err != nil { // burnt before anything is used
			return nil, err
		}
	}
	out, err := t.Prog.Run(input, func(l *Layer, x []int64) ([]int64, error) {
		var send []uint32
		if t.Blinder != nil {
			send = t.Blinder.Blind(j, l, x)
		} else {
			send = make([]uint32, len(x))
			for i, v := range x {
				send[i] = uint32(toField(v))
			}
		}
		y, err := t.Dev.Compute(l, send)
		if err != nil {
			return nil, err
		}
		if t.Ver != nil {
			if err := t.Ver.Check(l, send, y); err != nil {
				return nil, err
			}
		}
		z := make([]int64, len(y))
		if t.Blinder != nil {
			u, err := t.Blinder.Open(j, l)
			if err != nil {
				return nil, err
			}
			for i := range y {
				z[i] = lift((uint64(y[i]) + P - uint64(u[i])) % P)
			}
			clear(u)
		} else {
			for i, v := range y {
				z[i] = lift(uint64(v))
			}
		}
		return z, nil
	})
	if err != nil {
		var ce *CheckError
		if errors.As(err, &ce) {
			t.Broken = err
		}
		return nil, err
	}
	return out, nil
}
