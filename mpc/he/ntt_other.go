//go:build !amd64 || purego

package he

const useAVX512 = false

func forwardAsm(*nttTable, []uint64) bool { return false }
func inverseAsm(*nttTable, []uint64) bool { return false }
