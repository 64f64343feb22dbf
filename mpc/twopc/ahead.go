package twopc

// Offline work for several runs at once. When the session announces n
// runs of one program (Plan), the offline phase of the first of them
// makes the linear-layer masks of up to maxAheadRuns, its RLWE products
// the program's with every linear layer batched over the runs (a
// MatMul's rows, a Conv's images). Those pack into fewer ciphertexts
// per run than one run's layers do, the more so the smaller the layer
// (the SecureML network's three products: 13 ciphertexts for one run,
// 45 for sixteen; SqueezeNet's convolutions 1,695 for one image, 1,433
// a run for four), and the server transforms each kernel once for all
// of them. For a program of one offline window the OTs and triples of
// all the runs come along, in the same few rounds; a larger program's
// runs make theirs window by window as before, the first run in windows
// that fit every run's masks (schedule). The runs that follow take
// their masks from the stock.
//
// Security: nothing changes but when the work is done. Every mask r is
// drawn uniformly for one product of one run and used once, the query
// on the batch is an RLWE query on independent uniform values, and the
// pooled OTs and triples are drawn by the runs in order, each once.
// Which runs come from a stock, and how many runs a batch covers, are
// public: they follow from the announced count and the program's
// public sizes, and the parties compare them before every run.

// maxAheadRuns bounds the runs one offline phase prepares for.
const maxAheadRuns = 16

// aheadBytes bounds the memory a party keeps for later runs of a
// program of one window (masks, OTs and triples: needBytes), and
// aheadMaskBytes for the masks of a larger one (8 bytes an element).
const (
	aheadBytes     = 64 << 20
	aheadMaskBytes = 256 << 20
)

// stock is the offline work made for later runs of one program.
type stock struct {
	digest [32]byte       // the program's public digest
	whole  bool           // OTs and triples too, not only the masks
	masks  [][]linearMask // per later run, in the order the run takes them; layers set when taken
}

// Plan implements mpc.Planner: the session will run one program n
// times.
func (e *Engine) Plan(n int) { e.planned = max(n, 0) }

// runsAhead returns how many runs the offline phase of a run of the
// program with digest d and offline windows ws makes: 0 when the
// stock already holds this run's, else between 1 and the runs planned.
func (e *Engine) runsAhead(d [32]byte, ws []window) int {
	if e.stock != nil {
		if e.stock.digest == d && len(e.stock.masks) > 0 {
			return 0
		}
		e.stock = nil // another program: the plan has ended
		e.planned = 0
	}
	n := min(e.planned, maxAheadRuns)
	if len(ws) == 1 {
		for ; n > 1; n-- {
			if w := ws[0].need.times(n); w.fits() && needBytes(w) <= aheadBytes {
				break
			}
		}
		return max(n, 1)
	}
	var masks int
	for _, w := range ws {
		masks += w.masks
	}
	if masks == 0 {
		return 1
	}
	return max(min(n, aheadMaskBytes/(8*masks)+1), 1)
}

// needBytes is the memory a party keeps for what w takes until its runs
// take it: a correlated OT's block and choice bit, a pair triple's five
// bits in bytes, a mask's element.
func needBytes(w need) int { return 17*(w.a+w.b) + 5*w.triples + 8*w.masks }

// startStock begins a stock for the runs−1 runs after this one.
func (b *backend) startStock(whole bool) {
	b.whole = whole
	b.e.stock = &stock{digest: b.digest, whole: whole, masks: make([][]linearMask, b.runs-1)}
}

// takeStock takes this run's masks from the stock.
func (b *backend) takeStock() {
	st := b.e.stock
	b.stocked, b.whole = st.masks[0], st.whole
	st.masks[0] = nil
	st.masks = st.masks[1:]
	if len(st.masks) == 0 {
		b.e.stock = nil
	}
}

// fromStock queues the masks of the products of instructions from…to−1
// from the run's stocked ones, set to this run's layers.
func (b *backend) fromStock(from, to int) error {
	for k := from; k < to; k++ {
		ps, err := b.products(&b.prog.Instrs[k], 1)
		if err != nil {
			return err
		}
		if ps == nil {
			continue
		}
		b.prods[k] = ps
		for _, pr := range ps {
			if len(b.stocked) == 0 {
				return errMasks
			}
			m := b.stocked[0]
			b.stocked = b.stocked[1:]
			m.layer = pr.layer
			b.e.masks = append(b.e.masks, m)
		}
	}
	return nil
}

// splitMasks cuts the masks of products batched over runs into each
// run's: run j's part of a mask is the j-th of the runs' equal blocks
// of its input and output. The first run's go to the engine's queue,
// the others' to the stock.
func (e *Engine) splitMasks(batched []linearMask, single []product, runs int) error {
	if len(batched) != len(single) {
		return errMasks
	}
	per := make([][]linearMask, runs)
	for j := range per {
		per[j] = make([]linearMask, len(batched))
	}
	for i, m := range batched {
		in, out := single[i].layer.InputLen(), single[i].layer.OutputLen()
		if len(m.share) != runs*out || (m.r != nil && len(m.r) != runs*in) {
			return errMasks
		}
		for j := range per {
			p := linearMask{share: m.share[j*out : (j+1)*out : (j+1)*out]}
			if m.r != nil {
				p.r = m.r[j*in : (j+1)*in : (j+1)*in]
			}
			per[j][i] = p
		}
	}
	for i := range per[0] {
		per[0][i].layer = single[i].layer
	}
	e.masks = append(e.masks, per[0]...)
	for j := 1; j < runs; j++ {
		e.stock.masks[j-1] = append(e.stock.masks[j-1], per[j]...)
	}
	return nil
}
