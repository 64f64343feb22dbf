package ot

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/group"
)

// The base OTs are Chou and Orlandi's "simplest OT" (Latincrypt 2015) in
// ristretto255, as random OTs: the sender draws a and sends A = aG; for
// each OT i the receiver draws b_i and sends B_i = b_i·G + c_i·A; the
// sender's keys are k_i^0 = H(i, A, B_i, a·B_i) and k_i^1 = H(i, A, B_i,
// a·(B_i − A)), the receiver's k_i^{c_i} = H(i, A, B_i, b_i·A). B_i is
// uniform whatever c_i, and without b_i the other key needs a
// Diffie–Hellman solution.

var baseGroup = group.Ristretto255

// elementSize is the size of an encoded ristretto255 element.
const elementSize = 32

// baseKey is H(i, A, B, P): SHA-256, domain-separated, cut to a Block.
func baseKey(i int, a, b, p []byte) Block {
	h := sha256.New()
	h.Write([]byte("veil ot base v1"))
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(i))
	h.Write(n[:])
	h.Write(a)
	h.Write(b)
	h.Write(p)
	return blockFrom(h.Sum(nil))
}

func marshal(e group.Element) []byte {
	b, err := e.MarshalBinary()
	if err != nil { // ristretto255 encodes every element
		panic(fmt.Sprintf("ot: encoding a ristretto255 element: %v", err))
	}
	return b
}

// BaseSend runs n random base OTs as the sender and returns both keys of
// each.
func BaseSend(c Conn, n int) ([][2]Block, error) {
	a := baseGroup.RandomNonZeroScalar(rand.Reader)
	A := baseGroup.NewElement().MulGen(a)
	aA := baseGroup.NewElement().Mul(A, a)
	encA := marshal(A)
	if err := c.Send(encA); err != nil {
		return nil, fmt.Errorf("base OT: sending A: %w", err)
	}
	msg, err := c.Recv()
	if err != nil {
		return nil, fmt.Errorf("base OT: receiving the B_i: %w", err)
	}
	if len(msg) != n*elementSize {
		return nil, fmt.Errorf("base OT: %d bytes of B_i, want %d for %d OTs", len(msg), n*elementSize, n)
	}
	keys := make([][2]Block, n)
	B, aB, aBA := baseGroup.NewElement(), baseGroup.NewElement(), baseGroup.NewElement()
	negAA := baseGroup.NewElement().Neg(aA)
	for i := range keys {
		encB := msg[i*elementSize : (i+1)*elementSize]
		if err := B.UnmarshalBinary(encB); err != nil {
			return nil, fmt.Errorf("base OT %d: B is not a ristretto255 element: %w", i, err)
		}
		aB.Mul(B, a)
		aBA.Add(aB, negAA)
		keys[i] = [2]Block{baseKey(i, encA, encB, marshal(aB)), baseKey(i, encA, encB, marshal(aBA))}
	}
	return keys, nil
}

// BaseReceive runs len(choices) random base OTs as the receiver and
// returns the chosen key of each.
func BaseReceive(c Conn, choices []bool) ([]Block, error) {
	msg, err := c.Recv()
	if err != nil {
		return nil, fmt.Errorf("base OT: receiving A: %w", err)
	}
	A := baseGroup.NewElement()
	if len(msg) != elementSize {
		return nil, fmt.Errorf("base OT: A has %d bytes, want %d", len(msg), elementSize)
	}
	if err := A.UnmarshalBinary(msg); err != nil {
		return nil, fmt.Errorf("base OT: A is not a ristretto255 element: %w", err)
	}
	if A.IsIdentity() {
		return nil, errors.New("base OT: A is the identity")
	}
	encA := msg
	out := make([]byte, 0, len(choices)*elementSize)
	keys := make([]Block, len(choices))
	bs := make([]group.Scalar, len(choices))
	for i, ch := range choices {
		bs[i] = baseGroup.RandomNonZeroScalar(rand.Reader)
		B := baseGroup.NewElement().MulGen(bs[i])
		c := 0
		if ch {
			c = 1
		}
		B.Add(B, baseGroup.NewElement().CMov(c, A))
		out = append(out, marshal(B)...)
	}
	if err := c.Send(out); err != nil {
		return nil, fmt.Errorf("base OT: sending the B_i: %w", err)
	}
	bA := baseGroup.NewElement()
	for i := range keys {
		bA.Mul(A, bs[i])
		keys[i] = baseKey(i, encA, out[i*elementSize:(i+1)*elementSize], marshal(bA))
	}
	return keys, nil
}
