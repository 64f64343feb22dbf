//go:build !amd64 || purego

package tensor

const hasSIMD = false

var simdKernel = goKernel
