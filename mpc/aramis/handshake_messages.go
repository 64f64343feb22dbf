package aramis

import (
	"bytes"
	"fmt"
	"slices"

	"veil/attest"
)

// checkNonce checks a peer's nonce message.
func checkNonce(b []byte) error {
	if len(b) != nonceLen {
		return fmt.Errorf("nonce of %d bytes, want %d", len(b), nonceLen)
	}
	return nil
}

// marshalEvidence is the evidence message: the sender's view, then its
// evidence.
func marshalEvidence(view [][]byte, ev []byte) []byte {
	return bytes.Join(append(slices.Clone(view), ev), nil)
}

// parseEvidence decodes an evidence message of an n-party session.
func parseEvidence(b []byte, n int) ([][]byte, *attest.Evidence, error) {
	view := make([][]byte, n)
	viewLen := n * nonceLen
	if len(b) < viewLen {
		return view, nil, fmt.Errorf("message of %d bytes, shorter than the %d-byte view", len(b), viewLen)
	}
	for p := range view {
		view[p] = bytes.Clone(b[p*nonceLen : (p+1)*nonceLen])
	}
	var ev attest.Evidence
	if err := ev.UnmarshalBinary(b[viewLen:]); err != nil {
		return view, nil, err
	}
	return view, &ev, nil
}

// marshalVerdict is a verdict frame's payload: 1 (accepted), or 0 and
// the account of why not.
func marshalVerdict(refusal *account) []byte {
	if refusal == nil {
		return []byte{1}
	}
	return append([]byte{0}, refusal.marshal()...)
}

// parseVerdict decodes a verdict: nil for acceptance, else the account
// of the refusal.
func parseVerdict(b []byte) (*account, error) {
	switch {
	case len(b) == 1 && b[0] == 1:
		return nil, nil
	case len(b) > 1 && b[0] == 0:
		acc, err := parseAccount(b[1:])
		if err != nil {
			return nil, err
		}
		return &acc, nil
	}
	return nil, fmt.Errorf("verdict of %d bytes", len(b))
}
