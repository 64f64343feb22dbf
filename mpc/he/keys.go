package he

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// newSecretKey samples a uniform ternary secret s and returns it in the
// NTT domain, in Montgomery form, over all moduli.
func (p *Params) newSecretKey() (ring.Poly, error) {
	prng, err := newPRNG()
	if err != nil {
		return ring.Poly{}, err
	}
	v := make([]int64, p.n)
	ternary(prng, v)
	sk := p.ringQ.NewPoly()
	top := p.top.level
	p.setSigned(v, top, sk)
	clear(v)
	p.nttPoly(sk, top)
	p.ringQ.MForm(sk, sk)
	return sk, nil
}

// publicKey is the server's copy of the client's public key
// (p₀, a₀) = (−a₀·s + e₀, a₀), in the NTT domain and Montgomery form; the
// server re-randomises every response with u·(p₀, a₀) + (e₁, e₂).
type publicKey struct {
	p0, a0 ring.Poly
}

// parsePublicKey reads a public key message.
func (p *Params) parsePublicKey(data []byte) (*publicKey, error) {
	if len(data) != p.PublicKeyBytes() {
		return nil, fmt.Errorf("he: public key of %d bytes, want %d", len(data), p.PublicKeyBytes())
	}
	if data[0] != kindPublicKey {
		return nil, fmt.Errorf("he: public key: kind byte %#x, want %#x", data[0], kindPublicKey)
	}
	var seed [seedLen]byte
	copy(seed[:], data[1:])
	pk := &publicKey{p0: p.ringQ.NewPoly(), a0: p.ringQ.NewPoly()}
	if _, err := p.getPoly(data[1+seedLen:], pk.p0, p.top.level); err != nil {
		return nil, fmt.Errorf("he: public key: %w", err)
	}
	p.expandUniform(seed, p.top.level, pk.a0)
	p.nttPoly(pk.p0, p.top.level)
	return pk, nil
}
