package slalom

// What the external tests (package slalom_test, which run T with a real
// device from slalom/device) need of the package's internals.

// ZooProgram builds a zoo network, optimizes and compiles it with the
// default scales (program_test.go).
var ZooProgram = zooProgram

// RankOneLayers lists the layers whose structured s̃ T keeps in rank-one
// form.
func RankOneLayers(p *Program) []int {
	var pw []int
	for _, l := range p.Layers {
		if rankOne(l) {
			pw = append(pw, l.Index)
		}
	}
	return pw
}

// Rehash recomputes M after a test changed the program.
func (p *Program) Rehash() { p.Hash = p.hash() }

// Fused reports how T's plan runs layer li: the layer that reads its
// value (−1: none), and the requantization shift k and the clamp
// [lo, hi] fused into its decode pass.
func Fused(p *Program, li int) (feeds, k int, lo, hi int64, err error) {
	pl, err := p.plans()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	q := pl.post[li]
	return pl.feeds[li], q.k, q.lo, q.hi, nil
}

// TestSet makes v draw its random vectors from {0, …, limit−1} and check
// with reps repetitions (the test hook S of the miss-rate test).
func (v *Verifier) TestSet(limit uint64, reps int) { v.limit, v.reps = limit, reps }

// PrepareLayer draws fresh secrets for layer i alone.
func (v *Verifier) PrepareLayer(i int) {
	v.secrets = make([]*layerSecret, len(v.Prog.Layers))
	v.prg.limit = v.limit
	v.prepareLayer(i)
	v.prepared = true
}

// Secrets returns the parts of T's state that must never reach D, as the
// bytes they would travel as: the blinding and sealing keys, the epoch,
// and the check vectors s and s̃ (residues).
func Secrets(t *Trusted) [][]byte {
	var out [][]byte
	if b := t.Blinder; b != nil {
		out = append(out, b.kBlind, b.kSeal, b.epoch[:])
	}
	if t.Ver != nil {
		for _, sec := range t.Ver.secrets {
			for r := 0; sec != nil && r < Reps; r++ {
				for _, v := range [][]uint32{sec.s[r], sec.st[r]} {
					if len(v) > 0 {
						out = append(out, AppendResidues(nil, v))
					}
				}
			}
		}
	}
	return out
}

// SetSealed makes b believe it sealed n pairs.
func (b *Blinder) SetSealed(n uint64) { b.nextSeal = n }

// NextUse is the next pair b will use.
func (b *Blinder) NextUse() uint64 { return b.nextUse }

// Nonces is the number of nonces b has used.
func (b *Blinder) Nonces() uint64 { return b.nonce }

// Records is the store's map from (pair, layer) to records, for a test
// that plays the untrusted host.
func (s *MemStore) Records() map[[2]uint64][]Record { return s.m }
