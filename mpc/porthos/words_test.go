package porthos

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

// u64s decodes little-endian words at every alignment, in place where
// the build reinterprets aligned bytes, by copy elsewhere.
func TestU64s(t *testing.T) {
	back := make([]uint64, 16) // 8-byte aligned
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&back[0])), 8*len(back))
	for i := range raw {
		raw[i] = byte(i*37 + 11)
	}
	for off := range 8 {
		for _, n := range []int{0, 1, 5, 15} {
			b := raw[off : off+8*n]
			want := make([]uint64, n)
			for i := range want {
				want[i] = binary.LittleEndian.Uint64(b[8*i:])
			}
			got := u64s(b, n)
			if len(got) != n {
				t.Fatalf("offset %d, %d words: got %d", off, n, len(got))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("offset %d, word %d: %#x, want %#x", off, i, got[i], want[i])
				}
			}
			aliased := n > 0 && unsafe.Pointer(&got[0]) == unsafe.Pointer(&b[0])
			if want := wordsAliased && off == 0 && n > 0; aliased != want {
				t.Errorf("offset %d, %d words: in place %v, want %v", off, n, aliased, want)
			}
		}
	}
}
