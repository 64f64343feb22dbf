//go:build !amd64 || purego

package ot

const useAESNI = false

func encrypt8(rk *[176]byte, dst, src []Block) { panic("ot: no AES-NI") }
