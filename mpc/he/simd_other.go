//go:build !amd64 || purego

package he

const (
	useAVX512 = false
	useIFMA   = false
)

func forwardAsm(*nttTable, []uint64) bool { return false }
func inverseAsm(*nttTable, []uint64) bool { return false }

func mulAddPairAsm(k, x0, x1, acc0, acc1 []uint64, q, qInv uint64) bool { return false }
func reduceAsm(acc []uint64, q uint64) bool                             { return false }

func mulAddPair52Asm(k, x0, x1, acc0, acc1 []uint64, q, qInv uint64) bool { return false }
