package service

import (
	"bytes"
	"encoding/pem"
	"testing"

	"veil/internal/pinned"
)

// FuzzParseMessages feeds arbitrary bytes to the parsers of the service's
// messages (a client's request, an answer, a helper's hello as the
// helper reads it): each returns a value or an error, never panics, and
// a request it accepts names a model and, if any, a well-formed pin.
func FuzzParseMessages(f *testing.F) {
	f.Add([]byte(`{"model": "lenet"}`))
	f.Add([]byte(`{"model": "lenet", "program": "` + string(bytes.Repeat([]byte("ab"), 32)) + `"}`))
	f.Add([]byte(`{"program": "x", "helper": "h:1", "session": "00", "busy": true, "error": "e"}`))
	f.Add([]byte(`{"role": "client", "session": "` + string(bytes.Repeat([]byte("0"), 64)) + `"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parseRequest(b); err == nil {
			if r.Model == "" {
				t.Fatalf("accepted a request without a model: %q", b)
			}
			if r.Program != "" && len(r.Program) != 64 {
				t.Fatalf("accepted a pin %q", r.Program)
			}
		}
		parseAnswer(b)
		var h hello
		if parseHello(b, &h) == nil && !validToken(h.Session) {
			t.Fatalf("accepted a hello with the token %q", h.Session)
		}
	})
}

// FuzzParsePins feeds arbitrary PEM-ish bytes to the admission file's
// parser: keys or an error, never a panic, and never an empty list
// without an error.
func FuzzParsePins(f *testing.F) {
	id, err := identityForFuzz()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id}))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pins, err := parsePins(b)
		if err == nil && len(pins) == 0 {
			t.Fatal("no keys and no error")
		}
	})
}

// identityForFuzz returns the DER certificate of a fresh identity.
func identityForFuzz() ([]byte, error) {
	id, err := pinned.Generate("fuzz")
	if err != nil {
		return nil, err
	}
	return id.Certificate[0], nil
}
