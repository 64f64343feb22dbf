package service

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"veil/fixed"
	"veil/internal/attestkex"
	"veil/ir"
	"veil/slalom"
)

// Statement is what T runs, as bound into its evidence (through the
// session id): a client checks it against what it demands before it sends
// anything.
type Statement struct {
	// Model is M = SHA-256 of the quantized model (Program.Hash).
	Model [32]byte
	// Name is the program's name (informational).
	Name string
	// Mode: Verify (Freivalds checks on every layer), Blind (one-time
	// additive blinding), the check variant and PerLayer.
	Verify, Blind, PerLayer bool
	Check                   slalom.CheckMode
	// P is the field's prime, K the number of Freivalds repetitions per
	// layer (Reps; 0 without Verify).
	P uint64
	K int
	// Lx and Lw are the fixed-point scales of activations and weights.
	Lx, Lw int
	// OutScale and OutLen describe the output: OutLen int64 logits at
	// scale 2^-OutScale.
	OutScale, OutLen int
	// Input is the input tensor's shape, Layout its layout ("NCHW" or
	// "NHWC"), so that a client can prepare its images.
	Input  []int
	Layout string
	// Post is the monotone function ("softmax", "sigmoid" or none) the
	// model ends with, which T leaves to the client (see Values).
	Post string
}

// Values decodes logits (at scale OutScale) and applies Post.
func (s *Statement) Values(logits []int64) []float64 {
	y := make([]float64, len(logits))
	for i, v := range logits {
		y[i] = math.Ldexp(float64(v), -s.OutScale)
	}
	return fixed.ApplyPost(s.Post, len(y), y)
}

// statementOf describes T running t's program in t's mode, with inputs in
// the given layout.
func statementOf(t *slalom.Trusted, layout ir.Layout) Statement {
	p := t.Prog
	st := Statement{Model: p.Hash, Name: p.Name, Verify: t.Mode.Verify, Blind: t.Mode.Blind,
		PerLayer: t.Mode.PerLayer, P: slalom.P, Lx: p.Lx, Lw: p.Lw,
		OutScale: p.OutScale, OutLen: p.OutLen, Input: append([]int(nil), p.Input...), Layout: layout.String(), Post: p.Fixed.Post}
	if t.Mode.Verify {
		st.Check, st.K = t.Mode.Check, slalom.Reps
	}
	return st
}

// Mode returns the statement's mode.
func (s *Statement) Mode() slalom.Mode {
	return slalom.Mode{Verify: s.Verify, Blind: s.Blind, Check: s.Check, PerLayer: s.PerLayer}
}

// ModeString describes the mode, with the check variant when verifying
// (e.g. "private+verified, structured checks, k = 2").
func (s *Statement) ModeString() string {
	m := s.Mode().String()
	if s.Verify {
		m += fmt.Sprintf(", %s checks, k = %d", s.Check, s.K)
	}
	return m
}

// InputLayout returns the layout of the input.
func (s *Statement) InputLayout() ir.Layout {
	if s.Layout == "NHWC" {
		return ir.NHWC
	}
	return ir.NCHW
}

func (s *Statement) inputSize() int {
	n := 1
	for _, d := range s.Input {
		n *= d
	}
	return n
}

// MarshalBinary encodes s canonically: M (32 bytes) ‖ flags (bit 0
// verify, bit 1 blind, bit 2 per layer) ‖ check ‖ BE64 p ‖ BE32 k ‖ BE32
// l_x ‖ BE32 l_w ‖ BE32 output scale ‖ BE32 output length ‖ BE32 number
// of input dimensions ‖ BE32 each ‖ BE32 length ‖ layout ‖ BE32 length ‖
// name ‖ BE32 length ‖ post.
func (s *Statement) MarshalBinary() ([]byte, error) {
	if len(s.Input) > maxDims || len(s.Name) > maxNameLen || len(s.Layout) > 16 || len(s.Post) > 16 {
		return nil, errors.New("slalom: statement too large")
	}
	for _, v := range []int{s.K, s.Lx, s.Lw, s.OutScale, s.OutLen} {
		if v < 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("slalom: statement field %d out of range", v)
		}
	}
	b := append([]byte(nil), s.Model[:]...)
	var flags byte
	if s.Verify {
		flags |= 1
	}
	if s.Blind {
		flags |= 2
	}
	if s.PerLayer {
		flags |= 4
	}
	b = append(b, flags, byte(s.Check))
	b = binary.BigEndian.AppendUint64(b, s.P)
	for _, v := range []int{s.K, s.Lx, s.Lw, s.OutScale, s.OutLen, len(s.Input)} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	for _, d := range s.Input {
		if d < 1 || d > math.MaxInt32 {
			return nil, fmt.Errorf("slalom: input dimension %d out of range", d)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	b = appendLP(b, []byte(s.Layout))
	b = appendLP(b, []byte(s.Name))
	b = appendLP(b, []byte(s.Post))
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, refusing unknown
// flags or check variants, implausible sizes and trailing bytes.
func (s *Statement) UnmarshalBinary(b []byte) error {
	r := &reader{b: b}
	var st Statement
	copy(st.Model[:], r.take(32))
	fc := r.take(2)
	pb := r.take(8)
	var ints [6]uint32
	for i := range ints {
		ints[i] = r.u32()
	}
	if r.err != nil {
		return fmt.Errorf("slalom: statement: %w", r.err)
	}
	if fc[0]&^7 != 0 {
		return fmt.Errorf("slalom: statement: unknown mode flags %#x", fc[0])
	}
	if fc[1] > byte(slalom.Structured) {
		return fmt.Errorf("slalom: statement: unknown check variant %d", fc[1])
	}
	st.Verify, st.Blind, st.PerLayer, st.Check = fc[0]&1 != 0, fc[0]&2 != 0, fc[0]&4 != 0, slalom.CheckMode(fc[1])
	st.P = binary.BigEndian.Uint64(pb)
	for i, v := range ints[:5] {
		if v > math.MaxInt32 {
			return fmt.Errorf("slalom: statement: field %d out of range", i)
		}
	}
	st.K, st.Lx, st.Lw, st.OutScale, st.OutLen = int(ints[0]), int(ints[1]), int(ints[2]), int(ints[3]), int(ints[4])
	if st.OutLen < 1 || st.OutLen > maxOutLen {
		return fmt.Errorf("slalom: statement: output length %d outside [1, %d]", st.OutLen, maxOutLen)
	}
	if ints[5] < 1 || ints[5] > maxDims {
		return fmt.Errorf("slalom: statement: %d input dimensions (want 1..%d)", ints[5], maxDims)
	}
	size := int64(1)
	for range ints[5] {
		d := r.u32()
		if r.err != nil {
			return fmt.Errorf("slalom: statement: %w", r.err)
		}
		if d < 1 || d > maxFrame {
			return fmt.Errorf("slalom: statement: input dimension %d", d)
		}
		if size *= int64(d); size > maxInLen {
			return errors.New("slalom: statement: input too large for a frame")
		}
		st.Input = append(st.Input, int(d))
	}
	st.Layout = string(r.lp(16))
	st.Name = string(r.lp(maxNameLen))
	st.Post = string(r.lp(16))
	if r.err != nil {
		return fmt.Errorf("slalom: statement: %w", r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("slalom: statement: %d trailing bytes", len(r.b))
	}
	if st.Layout != "NCHW" && st.Layout != "NHWC" {
		return fmt.Errorf("slalom: statement: layout %q", st.Layout)
	}
	if st.Post != "" && st.Post != "softmax" && st.Post != "sigmoid" {
		return fmt.Errorf("slalom: statement: post-processing %q", st.Post)
	}
	*s = st
	return nil
}

// sessionID is SHA-256("veil/slalom/session/v1" ‖ BE32 length ‖
// statement): the session id T's evidence binds, so that the evidence
// vouches for the statement.
func sessionID(statement []byte) [32]byte {
	return attestkex.Transcript(sessionDomain, statement)
}
