package attest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// The TDX quote, version 4 (Intel TDX DCAP quote format), as
// go-tdx-guest reads it; all integers little-endian:
//
//	header                48  version u16 = 4, attestation key type u16 = 2
//	                          (ECDSA P-256), TEE type u32 = 0x81 (TDX), QE/PCE SVN, ...
//	TD quote body        584  TEE_TCB_SVN, MR_SEAM, ..., MRTD, ..., RTMR0..3, REPORT_DATA
//	signed data size       4  u32 S
//	signed data            S  quote signature (64), attestation key (64), then
//	                          certification data: type u16 = 6, size u32 = S-134,
//	                            QE report (384), QE report signature (64),
//	                            QE auth data: length u16 n, n bytes,
//	                            PCK certificate chain: type u16 = 5, size u32 = m,
//	                              m bytes (PEM), ending the certification data
//	trailing bytes            covered by no signature; counted, never read
//
// checkTDXQuoteLayout walks this layout before the library sees a byte:
// every length must fit in what is left of its enclosing structure and the
// nested sizes must add up exactly, so the library's unchecked slicing
// cannot run past the buffer.
const (
	tdxHeaderSize     = 48
	tdxBodySize       = 584
	tdxSignedStart    = tdxHeaderSize + tdxBodySize + 4
	tdxQuoteVersion   = 4
	tdxKeyTypeECDSA   = 2
	tdxTEEType        = 0x81
	tdxCertTypeQE     = 6 // certification data: QE report certification data
	tdxCertTypePCK    = 5 // nested: PCK certificate chain (PEM)
	tdxQEReportSize   = 384
	tdxSignatureSize  = 64
	tdxAttestKeySize  = 64
	tdxCertHeaderSize = 6 // type u16, size u32

	// tdxMaxQuote bounds a whole quote. A real one is about 5 KB, nearly
	// all of it the PCK chain (three certificates of under 1 KB each in
	// PEM); 64 KiB leaves room for longer chains and QE auth data.
	tdxMaxQuote = 64 << 10
)

// quoteCursor reads consecutive fields of a quote, remembering the first
// field that did not fit.
type quoteCursor struct {
	b   []byte
	off int // of b[0] in the quote, for messages
	err error
}

// take returns the next n bytes, or nil (and records an error naming what
// and where) if fewer are left.
func (c *quoteCursor) take(n uint64, what string) []byte {
	if c.err != nil {
		return nil
	}
	if n > uint64(len(c.b)) {
		c.err = fmt.Errorf("attest: tdx quote: %s of %d bytes at offset %d points past the end of its structure (%d bytes left)",
			what, n, c.off, len(c.b))
		return nil
	}
	out := c.b[:n]
	c.b, c.off = c.b[n:], c.off+int(n)
	return out
}

func (c *quoteCursor) u16(what string) uint64 {
	if b := c.take(2, what); b != nil {
		return uint64(binary.LittleEndian.Uint16(b))
	}
	return 0
}

func (c *quoteCursor) u32(what string) uint64 {
	if b := c.take(4, what); b != nil {
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return 0
}

// checkTDXQuoteLayout validates every length field of a version 4 quote
// against the bytes actually present and the limit tdxMaxQuote.
func checkTDXQuoteLayout(raw []byte) error {
	if len(raw) > tdxMaxQuote {
		return fmt.Errorf("attest: tdx quote of %d bytes exceeds the %d-byte limit", len(raw), tdxMaxQuote)
	}
	q := &quoteCursor{b: raw}
	version := q.u16("version")
	keyType := q.u16("attestation key type")
	teeType := q.u32("TEE type")
	q.take(tdxHeaderSize-8, "header")
	q.take(tdxBodySize, "TD quote body")
	signedSize := q.u32("signed data size")
	if q.err != nil {
		return q.err
	}
	switch {
	case version != tdxQuoteVersion:
		return fmt.Errorf("attest: tdx quote version %d, want %d", version, tdxQuoteVersion)
	case keyType != tdxKeyTypeECDSA:
		return fmt.Errorf("attest: tdx quote attestation key type %d, want %d (ECDSA P-256)", keyType, tdxKeyTypeECDSA)
	case teeType != tdxTEEType:
		return fmt.Errorf("attest: tdx quote TEE type %d, want %#x (TDX)", teeType, tdxTEEType)
	}
	s := &quoteCursor{off: q.off}
	s.b = q.take(signedSize, "signed data")
	if q.err != nil {
		return q.err
	}
	s.take(tdxSignatureSize+tdxAttestKeySize, "quote signature and attestation key")
	if t := s.u16("certification data type"); s.err == nil && t != tdxCertTypeQE {
		return fmt.Errorf("attest: tdx quote certification data type %d, want %d (QE report certification data)", t, tdxCertTypeQE)
	}
	certSize := s.u32("certification data size")
	if s.err == nil && certSize != uint64(len(s.b)) {
		return fmt.Errorf("attest: tdx quote certification data size %d, but the signed data holds %d more bytes", certSize, len(s.b))
	}
	s.take(tdxQEReportSize, "QE report")
	s.take(tdxSignatureSize, "QE report signature")
	s.take(s.u16("QE auth data length"), "QE auth data")
	if t := s.u16("PCK certificate chain type"); s.err == nil && t != tdxCertTypePCK {
		return fmt.Errorf("attest: tdx quote PCK certificate chain type %d, want %d", t, tdxCertTypePCK)
	}
	chainSize := s.u32("PCK certificate chain size")
	if s.err == nil && chainSize != uint64(len(s.b)) {
		return fmt.Errorf("attest: tdx quote PCK certificate chain size %d, but the certification data holds %d more bytes", chainSize, len(s.b))
	}
	if s.err == nil && chainSize == 0 {
		return errors.New("attest: tdx quote carries an empty PCK certificate chain")
	}
	return s.err
}

// parseTDXQuote validates raw's layout, then parses it with go-tdx-guest
// (guarded) and insists that re-encoding the parsed quote gives back
// exactly raw: the library verifies the signature over the re-encoded
// quote, so this keeps every byte we report under that signature.
func parseTDXQuote(raw []byte) (*pb.QuoteV4, error) {
	if err := checkTDXQuoteLayout(raw); err != nil {
		return nil, err
	}
	var quote *pb.QuoteV4
	err := guard("tdx quote", func() error {
		q, err := abi.QuoteToProto(raw)
		if err != nil {
			return fmt.Errorf("attest: tdx quote: %v", err)
		}
		v4, ok := q.(*pb.QuoteV4)
		if !ok {
			return fmt.Errorf("attest: tdx quote of unsupported type %T", q)
		}
		if re, err := abi.QuoteToAbiBytes(v4); err != nil || !bytes.Equal(re, raw) {
			return errors.New("attest: tdx quote is not in canonical form")
		}
		quote = v4
		return nil
	})
	return quote, err
}
