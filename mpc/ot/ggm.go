package ot

import (
	"crypto/sha256"
	"fmt"
)

// A GGM tree (Goldreich, Goldwasser, Micali) of depth k expands a root
// seed into 2^k leaf seeds; node i of level l has children 2i and 2i+1
// at level l+1, so leaf x's path reads x's bits from the most
// significant down. SoftSpoken's setup punctures it: the COTReceiver
// knows every leaf, the COTSender every leaf but the one at its secret
// index d, learnt through k base OTs, one per level, without revealing d
// (Boyle, Gilboa, Ishai's puncturable PRF).
//
// For each level l = 1…k the receiver sends K_l^b ⊕ m_b for both b,
// where K_l^b is the XOR of the level's nodes i with i mod 2 = b and
// (m_0, m_1) the level's base-OT keys. The sender, the base OTs'
// receiver with choice c_l = 1 − (bit l of d, counted from the top),
// opens K_l^{c_l}; every node of that parity but the sibling of d's path
// node is a child of a node it already knows, so it solves for the
// sibling and knows the whole level except the path node.

// ggmLabel separates the tree's hash from veil's other uses of SHA-256.
const ggmLabel = "veil ot softspoken ggm v1"

// ggmChild returns child b (0 or 1) of the node with seed s.
func ggmChild(s Block, b byte) Block {
	var in [len(ggmLabel) + 1 + 16]byte
	copy(in[:], ggmLabel)
	in[len(ggmLabel)] = b
	s.bytes(in[len(ggmLabel)+1:])
	sum := sha256.Sum256(in[:])
	return blockFrom(sum[:16])
}

// ggmExpand returns the 2^k leaves of the tree with root root, and the
// level sums K_l^b of levels 1…k (sums[l-1][b]).
func ggmExpand(root Block, k int) (leaves []Block, sums [][2]Block) {
	level := []Block{root}
	for range k {
		next := make([]Block, 2*len(level))
		var s [2]Block
		for i, n := range level {
			for b := range 2 {
				c := ggmChild(n, byte(b))
				next[2*i+b] = c
				s[b] = s[b].Xor(c)
			}
		}
		sums = append(sums, s)
		level = next
	}
	return level, sums
}

// ggmPuncture rebuilds every leaf of a depth-k tree but leaf d from the
// opened level sums (open[l-1] is K_l^{1−d_l}); leaf d is left zero.
func ggmPuncture(open []Block, d, k int) []Block {
	level := []Block{{}} // the root is on d's path: unknown
	path := 0
	for l := 1; l <= k; l++ {
		bit := d >> (k - l) & 1
		next := make([]Block, 2*len(level))
		for i, n := range level {
			if i == path {
				continue
			}
			next[2*i], next[2*i+1] = ggmChild(n, 0), ggmChild(n, 1)
		}
		sib := 2*path + (1 - bit)
		s := open[l-1]
		for i := 1 - bit; i < len(next); i += 2 {
			if i != sib {
				s = s.Xor(next[i])
			}
		}
		next[sib] = s
		path = 2*path + bit
		level = next
	}
	return level
}

// checkK validates SoftSpoken's parameter: k divides κ and the 2^k
// leaves per group stay few.
func checkK(k int) error {
	switch k {
	case 1, 2, 4, 8:
		return nil
	}
	return fmt.Errorf("ot extension: SoftSpoken k = %d, want 1, 2, 4 or 8", k)
}
