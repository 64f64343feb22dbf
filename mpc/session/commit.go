package session

import (
	"crypto/sha256"
	"encoding/binary"
	"math"

	"veil/fixed"
	"veil/mpc"
)

// Under Aramis (mpc/aramis) every party commits to its input in the
// handshake, before the session's first message: the commitment rule
// below is the only one, for a party process (RunParty) and for the
// parties of a loopback run (RunLoopbackAramis) alike.

// Commitment returns party me's input commitment: the client's to its
// data (commitInputs), the server's to its program with the weights
// (commitProgram), none for a helper, which has no input.
func Commitment(me mpc.Party, prog *fixed.Program, data [][]float32) ([]byte, error) {
	switch me {
	case mpc.P0:
		return commitInputs(data), nil
	case mpc.P1:
		return commitProgram(prog)
	}
	return nil, nil
}

// commitProgram is the server's commitment: SHA-256 of the program's
// canonical serialization (fixed.Program.Write, the program file format,
// weights included).
func commitProgram(p *fixed.Program) ([]byte, error) {
	h := sha256.New()
	if err := p.Write(h); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// commitInputs is the client's commitment: SHA-256 of its data's float32
// values, little endian, one input after another (the raw input format of
// package data, concatenated).
func commitInputs(xs [][]float32) []byte {
	h := sha256.New()
	var b [4]byte
	for _, x := range xs {
		for _, v := range x {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
	}
	return h.Sum(nil)
}
