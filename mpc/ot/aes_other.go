//go:build !amd64 || purego

package ot

const useAESNI = false

func encrypt8(rk *[176]byte, dst, src []Block) { panic("ot: no AES-NI") }

func tmmo8(rk *[176]byte, dst, src []Block, first uint64, tweaks []uint64) {
	panic("ot: no AES-NI")
}
