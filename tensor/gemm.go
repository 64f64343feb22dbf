package tensor

import (
	"math/bits"
	"os"
	"runtime"
	"sync"
)

// The uint64 matrix product is blocked in the usual way (Goto & van de
// Geijn): B is packed kcBlock rows at a time into panels nr columns wide,
// A into panels mr rows tall, and a register-tiled micro-kernel computes
// one mr×nr tile of C over a whole kcBlock deep panel pair. Two
// micro-kernels exist: an AVX2 one (gemm_amd64.s, 6×4, chosen at run time)
// and a portable Go one (1×8); both give the same bits, since arithmetic
// modulo 2^64 is associative and commutative. Products with fewer than
// rowwiseRows rows skip the packing and stream B's rows through a
// multiply-add (SIMD where available) into C's rows. Products of at least
// parallelMACs multiply-adds are split, by rows or by columns, over
// runtime.GOMAXPROCS goroutines.

const (
	kcBlock = 256  // depth of a packed panel pair
	mcBlock = 120  // rows of A packed at once (a multiple of every mr)
	ncBlock = 2048 // columns of B packed at once

	// parallelMACs is the product size from which MatMul splits the work
	// over runtime.GOMAXPROCS goroutines.
	parallelMACs = 1 << 19
)

// rowwiseRows is the number of rows of A below which MatMul does not
// pack B but streams it (packing costs as much as several rows).
var rowwiseRows = 16

// useSIMD reports whether the uint64 kernels use the SIMD micro-kernel.
// It is set at start-up from the CPU's features (AVX2 on amd64) and the
// environment (VEIL_NOSIMD=1 forces the portable Go path); tests flip it to
// compare the two paths.
var useSIMD = hasSIMD && os.Getenv("VEIL_NOSIMD") == ""

// microKernel computes C[0:mr, 0:nr] += Apanel · Bpanel over k steps, where
// Apanel holds mr values per step and Bpanel bw values per step; c has
// row stride ldc.
type microKernel struct {
	mr, nr, bw int
	// swap packs each B row a second time with the 32-bit halves of
	// every value exchanged (for the AVX2 kernel's 32-bit multiplies).
	swap bool
	run  func(k int, a, b, c []uint64, ldc int)
}

var goKernel = microKernel{mr: 1, nr: 8, bw: 8, run: kernelGo1x8}

func kernelFor() *microKernel {
	if useSIMD && hasSIMD {
		return &simdKernel
	}
	return &goKernel
}

// matMulU64 is MatMul for the ring Z_2^64.
func matMulU64(dst, a, b []uint64, m, k, n int) {
	dst = dst[:m*n]
	clear(dst)
	if m == 0 || n == 0 || k == 0 {
		return
	}
	a, b = a[:m*k], b[:k*n]
	workers := runtime.GOMAXPROCS(0)
	if m*k*n < parallelMACs {
		workers = 1
	}
	if m < rowwiseRows {
		// Too few rows to pay for packing B: stream B's rows through
		// multiply-adds into each row of C, the columns split over the
		// workers.
		workers = min(workers, (n+3)/4)
		parallelPlanes(workers, parallelMACs, func(lo, hi int) {
			for w := lo; w < hi; w++ {
				matMulRows(dst, a, b, m, k, n, (n+3)/4*w/workers*4, min(n, (n+3)/4*(w+1)/workers*4))
			}
		})
		return
	}
	kern := kernelFor()
	// Split the larger dimension (in tiles) over the workers.
	mt, nt := (m+kern.mr-1)/kern.mr, (n+kern.nr-1)/kern.nr
	if workers > max(mt, nt) {
		workers = max(mt, nt)
	}
	if workers <= 1 {
		gemmRange(kern, dst, a, b, m, k, n, 0, m, 0, n)
		return
	}
	var wg sync.WaitGroup
	tiles, step := mt, kern.mr
	if nt > mt {
		tiles, step = nt, kern.nr
	}
	for w := 0; w < workers; w++ {
		lo, hi := tiles*w/workers*step, tiles*(w+1)/workers*step
		i0, i1, j0, j1 := lo, min(hi, m), 0, n
		if step == kern.nr && nt > mt {
			i0, i1, j0, j1 = 0, m, lo, min(hi, n)
		}
		if w == workers-1 {
			gemmRange(kern, dst, a, b, m, k, n, i0, i1, j0, j1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemmRange(kern, dst, a, b, m, k, n, i0, i1, j0, j1)
		}()
	}
	wg.Wait()
}

// matMulRows adds A · B[:, j0:j1] into dst[:, j0:j1] a row of B at a time.
func matMulRows(dst, a, b []uint64, m, k, n, j0, j1 int) {
	if j0 >= j1 {
		return
	}
	// B's row p is read once, for every row of C (few, so they stay in
	// cache).
	for p := 0; p < k; p++ {
		br := b[p*n+j0 : p*n+j1]
		for i := 0; i < m; i++ {
			if av := a[i*k+p]; av != 0 {
				axpyU64(dst[i*n+j0:i*n+j1], br, av)
			}
		}
	}
}

type packBufs struct{ a, b, tile []uint64 }

var bufPool = sync.Pool{New: func() any { return new(packBufs) }}

func grow(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

// gemmRange adds A[i0:i1, :] · B[:, j0:j1] into dst[i0:i1, j0:j1].
func gemmRange(kern *microKernel, dst, a, b []uint64, m, k, n, i0, i1, j0, j1 int) {
	mr, nr, bw := kern.mr, kern.nr, kern.bw
	bufs := bufPool.Get().(*packBufs)
	defer bufPool.Put(bufs)
	ncMax := min(ncBlock, j1-j0)
	bufs.b = grow(bufs.b, kcBlock*((ncMax+nr-1)/nr)*bw)
	bufs.a = grow(bufs.a, kcBlock*mcBlock)
	bufs.tile = grow(bufs.tile, mr*nr)
	pb, pa, tile := bufs.b, bufs.a, bufs.tile
	for jc := j0; jc < j1; jc += ncBlock {
		nb := min(ncBlock, j1-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kb := min(kcBlock, k-pc)
			packB(pb, b, n, pc, kb, jc, nb, nr, kern.swap)
			for ic := i0; ic < i1; ic += mcBlock {
				mb := min(mcBlock, i1-ic)
				packA(pa, a, k, ic, mb, pc, kb, mr)
				for jr := 0; jr < nb; jr += nr {
					bp := pb[jr/nr*kb*bw : (jr/nr+1)*kb*bw]
					nn := min(nr, nb-jr)
					for ir := 0; ir < mb; ir += mr {
						ap := pa[ir/mr*kb*mr : (ir/mr+1)*kb*mr]
						mm := min(mr, mb-ir)
						off := (ic+ir)*n + jc + jr
						if mm == mr && nn == nr {
							kern.run(kb, ap, bp, dst[off:], n)
							continue
						}
						clear(tile)
						kern.run(kb, ap, bp, tile, nr)
						for r := 0; r < mm; r++ {
							row := dst[off+r*n : off+r*n+nn]
							for c := range row {
								row[c] += tile[r*nr+c]
							}
						}
					}
				}
			}
		}
	}
}

// packB copies B[pc:pc+kb, jc:jc+nb] into panels nr columns wide, each
// step's nr values contiguous (followed, when swap, by the same values with
// their 32-bit halves exchanged); columns past nb are zero.
func packB(dst, b []uint64, n, pc, kb, jc, nb, nr int, swap bool) {
	bw := nr
	if swap {
		bw = 2 * nr
	}
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr/nr*kb*bw : (jr/nr+1)*kb*bw]
		nn := min(nr, nb-jr)
		switch {
		case nn == 4 && nr == 4 && swap:
			for p := 0; p < kb; p++ {
				src := (*[4]uint64)(b[(pc+p)*n+jc+jr:])
				out := (*[8]uint64)(panel[p*8:])
				out[0], out[1], out[2], out[3] = src[0], src[1], src[2], src[3]
				out[4], out[5] = bits.RotateLeft64(src[0], 32), bits.RotateLeft64(src[1], 32)
				out[6], out[7] = bits.RotateLeft64(src[2], 32), bits.RotateLeft64(src[3], 32)
			}
			continue
		case nn == 8 && nr == 8 && !swap:
			for p := 0; p < kb; p++ {
				*(*[8]uint64)(panel[p*8:]) = *(*[8]uint64)(b[(pc+p)*n+jc+jr:])
			}
			continue
		}
		for p := 0; p < kb; p++ {
			src := b[(pc+p)*n+jc+jr : (pc+p)*n+jc+jr+nn]
			out := panel[p*bw : (p+1)*bw]
			copy(out, src)
			clear(out[nn:nr])
			if swap {
				sw := out[nr:]
				for c, v := range src {
					sw[c] = bits.RotateLeft64(v, 32)
				}
				clear(sw[nn:])
			}
		}
	}
}

// packA copies A[ic:ic+mb, pc:pc+kb] into panels mr rows tall, each step's
// mr values contiguous; rows past mb are zero.
func packA(dst, a []uint64, k, ic, mb, pc, kb, mr int) {
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir/mr*kb*mr : (ir/mr+1)*kb*mr]
		mm := min(mr, mb-ir)
		for r := 0; r < mm; r++ {
			src := a[(ic+ir+r)*k+pc : (ic+ir+r)*k+pc+kb]
			for p, v := range src {
				panel[p*mr+r] = v
			}
		}
		for r := mm; r < mr; r++ {
			for p := 0; p < kb; p++ {
				panel[p*mr+r] = 0
			}
		}
	}
}

// kernelGo1x8 is the portable micro-kernel: one row of eight columns of
// C in registers. Scalar 64-bit multiplies bound it; taller tiles only
// make the Go compiler spill accumulators.
func kernelGo1x8(k int, a, b, c []uint64, ldc int) {
	var c0, c1, c2, c3, c4, c5, c6, c7 uint64
	a, b = a[:k], b[:8*k]
	for p, av := range a {
		bp := (*[8]uint64)(b[8*p:])
		c0 += av * bp[0]
		c1 += av * bp[1]
		c2 += av * bp[2]
		c3 += av * bp[3]
		c4 += av * bp[4]
		c5 += av * bp[5]
		c6 += av * bp[6]
		c7 += av * bp[7]
	}
	r := (*[8]uint64)(c[:8])
	r[0], r[1], r[2], r[3] = r[0]+c0, r[1]+c1, r[2]+c2, r[3]+c3
	r[4], r[5], r[6], r[7] = r[4]+c4, r[5]+c5, r[6]+c6, r[7]+c7
}
