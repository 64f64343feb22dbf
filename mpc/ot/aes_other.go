//go:build !amd64 || purego

package ot

const useAESNI = false

func encrypt8(rk *[176]byte, dst, src []Block) { panic("ot: no AES-NI") }

func tmmo8(rk *[176]byte, dst, src []Block, first uint64, tweaks []uint64) {
	panic("ot: no AES-NI")
}

const useVAES = false

func ctrVAES(rk *[176]byte, dst *Block, n int, first uint64) { panic("ot: no VAES") }
