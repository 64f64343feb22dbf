package service

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// maxRequest bounds a request or an answer on the wire.
const maxRequest = 4 << 10

// request is a client's request for a session.
type request struct {
	Model   string `json:"model"`
	Program string `json:"program,omitempty"` // hex PublicDigest the client expects
}

// answer is the server's reply to a request (and the helper's to a
// hello: only Error and Busy).
type answer struct {
	Program string `json:"program,omitempty"` // hex PublicDigest of the program served
	Error   string `json:"error,omitempty"`
	Busy    bool   `json:"busy,omitempty"`
	// A 3pc session's helper: its address and the session's one-time
	// token, which the client presents there.
	Helper  string `json:"helper,omitempty"`
	Session string `json:"session,omitempty"`
}

// RefusedError is a request the server refused: Busy when it runs as
// many sessions as it may, else an unknown model or another program
// than the client pinned.
type RefusedError struct {
	Model  string
	Reason string
	Busy   bool
}

func (e *RefusedError) Error() string {
	if e.Model == "" {
		return "service: refused: " + e.Reason
	}
	return fmt.Sprintf("service: the server refused model %q: %s", e.Model, e.Reason)
}

// ErrBusy is what a *RefusedError for a busy server matches (errors.Is).
var ErrBusy = errors.New("service: server busy")

// Is makes a busy refusal match ErrBusy.
func (e *RefusedError) Is(target error) bool { return target == ErrBusy && e.Busy }

// parseRequest decodes and checks a request.
func parseRequest(b []byte) (request, error) {
	var r request
	if len(b) > maxRequest {
		return r, fmt.Errorf("a request of %d bytes (at most %d)", len(b), maxRequest)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("a malformed request: %w", err)
	}
	if r.Model == "" {
		return r, errors.New("a request without a model")
	}
	if r.Program != "" {
		if d, err := hex.DecodeString(r.Program); err != nil || len(d) != 32 {
			return r, fmt.Errorf("a request whose program %q is not a hex SHA-256", r.Program)
		}
	}
	return r, nil
}

// parseAnswer decodes an answer.
func parseAnswer(b []byte) (answer, error) {
	var a answer
	if len(b) > maxRequest {
		return a, fmt.Errorf("an answer of %d bytes (at most %d)", len(b), maxRequest)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("a malformed answer: %w", err)
	}
	return a, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and bools
	}
	return b
}

// parseHello decodes and checks a hello to the helper: a known role and
// a well-formed session token.
func parseHello(b []byte, h *hello) error {
	if len(b) > maxRequest {
		return fmt.Errorf("a hello of %d bytes (at most %d)", len(b), maxRequest)
	}
	if err := json.Unmarshal(b, h); err != nil {
		return fmt.Errorf("a malformed hello: %w", err)
	}
	if h.Role != "server" && h.Role != "client" {
		return fmt.Errorf("no role %q (server or client)", h.Role)
	}
	if !validToken(h.Session) {
		return errors.New("a hello without a session token")
	}
	return nil
}
