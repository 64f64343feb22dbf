//go:build !((amd64 || arm64) && !purego)

package porthos

// wordsAliased says that wordsOf reinterprets aligned bytes in place.
const wordsAliased = false

// wordsOf is the portable build's: always nil, so that u64s copies.
func wordsOf([]byte, int) []uint64 { return nil }
