package service

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"sync"
	"time"

	"veil/internal/pinned"
)

// Admission is the set of client keys a server admits, read from a PEM
// file of CERTIFICATE and PUBLIC KEY blocks (the client certificates
// veil keygen writes, concatenated) and read again whenever the file
// changes: an operator admits or removes a client by editing the file,
// without restarting the server. A file that no longer parses leaves
// the last good set in force, and the error is reported.
type Admission struct {
	path string

	mu      sync.Mutex
	pins    []pinned.Pin
	modTime time.Time
	size    int64
	err     error // the last reload's, nil after a good one
}

// LoadAdmission reads the admission file at path.
func LoadAdmission(path string) (*Admission, error) {
	a := &Admission{path: path}
	if err := a.reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Len is the number of keys admitted now.
func (a *Admission) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pins)
}

// Check admits cert's key or says why not; it reads the file again first
// if it changed since the last read.
func (a *Admission) Check(cert *x509.Certificate) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if fi, err := os.Stat(a.path); err == nil && (!fi.ModTime().Equal(a.modTime) || fi.Size() != a.size) {
		a.err = a.reloadLocked()
	}
	for _, p := range a.pins {
		if p.Matches(cert) {
			return nil
		}
	}
	return fmt.Errorf("the client key (certificate CN %q) is not among the %d admitted in %s", cert.Subject.CommonName, len(a.pins), a.path)
}

// ReloadError is the error of the last reading of the file, nil if it
// was read well (the keys in force are then the file's).
func (a *Admission) ReloadError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *Admission) reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reloadLocked()
}

func (a *Admission) reloadLocked() error {
	fi, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("admission file: %w", err)
	}
	data, err := os.ReadFile(a.path)
	if err != nil {
		return fmt.Errorf("admission file: %w", err)
	}
	pins, err := parsePins(data)
	if err != nil {
		return fmt.Errorf("admission file %s: %w", a.path, err)
	}
	a.pins, a.modTime, a.size = pins, fi.ModTime(), fi.Size()
	return nil
}

// parsePins reads the keys of every CERTIFICATE and PUBLIC KEY block.
func parsePins(data []byte) ([]pinned.Pin, error) {
	var pins []pinned.Pin
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var pin pinned.Pin
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w", n, err)
			}
			pin = pinned.PinOf(c)
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w", n, err)
			}
			if pin, err = pinned.PinKey(k); err != nil {
				return nil, fmt.Errorf("block %d: %w", n, err)
			}
		default:
			return nil, fmt.Errorf("block %d is a %s, not a CERTIFICATE or PUBLIC KEY (no private keys here)", n, b.Type)
		}
		pins = append(pins, pin)
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return nil, fmt.Errorf("text that is not PEM after %d keys", len(pins))
	}
	if len(pins) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE or PUBLIC KEY block")
	}
	return pins, nil
}
