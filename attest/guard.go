package attest

import "fmt"

// guard runs f, a call into go-tdx-guest or go-sev-guest on bytes a peer
// chose, and turns a panic inside it into an error. The libraries index
// into their input without checking every length (a TDX quote whose QE
// auth data length points past the buffer, an SEV-SNP certificate table
// whose offset and length wrap around, made every verifier panic), and the
// evidence reaches them before anything authenticated it. The length
// validators (tdxquote.go, sevreport.go) reject every such input known
// here; guard is the second line for the ones not known. A recovered
// panic means refusal, never acceptance: callers return the error.
func guard(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("attest: %s: the parser failed on malformed input (%v)", what, r)
		}
	}()
	return f()
}
