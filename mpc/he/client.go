package he

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/tuneinsight/lattigo/v6/ring"

	"veil/internal/parallel"
)

// Client is the party that holds the secret key: it encrypts its share
// of each linear layer's input and decrypts its share of the output. Its
// methods are safe for concurrent use.
type Client struct {
	params *Params
	sk     ring.Poly // NTT domain, Montgomery form
}

// NewClient returns a client with a fresh ternary secret key.
func NewClient(params *Params) (*Client, error) {
	sk, err := params.newSecretKey()
	if err != nil {
		return nil, err
	}
	return &Client{params: params, sk: sk}, nil
}

// PublicKey returns a fresh public key for [NewServer]: an encryption of
// zero under the client's key, sent once per session
// ([Params.PublicKeyBytes] bytes). The server re-randomises its responses
// with it so that their second component reveals nothing of the weights.
func (c *Client) PublicKey() ([]byte, error) {
	p := c.params
	seed, b, err := p.encrypt(p.top, c.sk, make([]uint64, p.n), false)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, p.PublicKeyBytes())
	out = append(out, kindPublicKey)
	out = append(out, seed[:]...)
	return p.putPoly(out, b, p.top.level), nil
}

// EncryptInput returns the query for layer l: the encryption of the
// client's share x of its input (l.InputLen() values mod 2^ℓ, in the
// layer's order).
func (c *Client) EncryptInput(l Layer, x []uint64) ([]byte, error) {
	lb, err := checkLayer(c.params, l)
	if err != nil {
		return nil, err
	}
	if len(x) != l.InputLen() {
		return nil, fmt.Errorf("he: input of %d values, the layer takes %d", len(x), l.InputLen())
	}
	p, lay := c.params, lb.lay
	lv := &p.levels[lay.level]
	cx := l.convInput(x)
	out := make([]byte, l.QueryBytes())
	header(out[:0], kindQuery, lb.tag, lay.numInputs())
	size := p.freshBytes(lv.level)
	newBuf := func() ([]uint64, error) { return make([]uint64, p.n), nil }
	err = parallel.EachWith(lay.numInputs(), newBuf, func(m []uint64, k int) error {
		clear(m)
		lay.packInput(cx, k, m)
		seed, b, err := p.encrypt(lv, c.sk, m, lay.numInputs() < runtime.GOMAXPROCS(0))
		if err != nil {
			return err
		}
		// Appending at ciphertext k's offset writes in place.
		dst := out[headerLen+k*size : headerLen+k*size]
		dst = append(dst, seed[:]...)
		p.putPoly(dst, b, lv.level)
		p.release(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DecryptOutput returns the client's share of layer l's output from the
// server's response: l.OutputLen() values mod 2^ℓ that add to the
// server's share to W·x.
func (c *Client) DecryptOutput(l Layer, resp []byte) ([]uint64, error) {
	y := make([]uint64, l.OutputLen())
	err := c.phases(l, resp, func(idx int, phase []uint64) {
		y[idx] = c.params.decodeCoeff(&c.params.resp, phase)
	})
	if err != nil {
		return nil, err
	}
	return y, nil
}

// phases checks a response and calls f with each output's index (in the
// layer's order) and phase c₀ + c₁·s (residues at the response level).
// f is called concurrently, for distinct outputs.
func (c *Client) phases(l Layer, resp []byte, f func(idx int, phase []uint64)) error {
	lb, err := checkLayer(c.params, l)
	if err != nil {
		return err
	}
	p, lay := c.params, lb.lay
	if err := checkHeader(resp, kindResponse, lb.tag, lay.numOutputs(), l.ResponseBytes()); err != nil {
		return err
	}
	level := p.resp.level
	r := p.ringQ.AtLevel(level)
	type state struct {
		c1, ph ring.Poly
		c0     [maxModuli][]uint64
		res    [maxModuli]uint64
	}
	var mu sync.Mutex
	var states []*state
	newState := func() (*state, error) {
		s := &state{c1: p.scratch(level), ph: p.scratch(level)}
		mu.Lock()
		states = append(states, s)
		mu.Unlock()
		return s, nil
	}
	defer func() {
		for _, s := range states {
			p.release(s.c1)
			p.release(s.ph)
		}
	}()
	split := lay.numOutputs() < runtime.GOMAXPROCS(0)
	return parallel.EachWith(lay.numOutputs(), newState, func(s *state, k int) error {
		src := resp[lb.respOff[k]:lb.respOff[k+1]]
		var err error
		if src, err = p.getPoly(src, s.c1, level); err != nil {
			return fmt.Errorf("he: response ciphertext %d: %w", k, err)
		}
		nt := lay.numTargets(k)
		for i := 0; i <= level; i++ {
			s.c0[i] = slices.Grow(s.c0[i][:0], nt)[:nt]
			n := rowBytes(nt, p.bits[i])
			if err := getRow(src[:n], s.c0[i], p.bits[i], p.lit.Q[i]); err != nil {
				return fmt.Errorf("he: response ciphertext %d: %w", k, err)
			}
			src = src[n:]
		}
		p.limbs(split, level, func(i int) {
			sr := r.SubRings[i]
			p.ntt[i].forward(s.c1.Coeffs[i])
			sr.MulCoeffsMontgomery(s.c1.Coeffs[i], c.sk.Coeffs[i], s.ph.Coeffs[i])
			p.ntt[i].inverse(s.ph.Coeffs[i])
		})
		t := 0
		lay.targets(k, func(coef, idx int) {
			for i := 0; i <= level; i++ {
				s.res[i] = addMod(s.c0[i][t], s.ph.Coeffs[i][coef], p.lit.Q[i])
			}
			f(l.outIndex(idx), s.res[:level+1])
			t++
		})
		return nil
	})
}
