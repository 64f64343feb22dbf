//go:build (amd64 || arm64) && !purego

package porthos

import "unsafe"

// wordsAliased says that wordsOf reinterprets aligned bytes in place.
const wordsAliased = true

// wordsOf returns b's first n little-endian words as b's own memory,
// without a copy, or nil where b is not 8-byte aligned. On these
// little-endian machines a word's bytes are its wire encoding.
func wordsOf(b []byte, n int) []uint64 {
	if n == 0 || len(b) < 8*n || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
}
