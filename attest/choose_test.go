package attest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestChoose: the kinds a user may choose; the simulated attester's key
// file is created once, 0600, then reused, never through a symbolic
// link; an unknown kind is refused.
func TestChoose(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "platform.pem")
	self, err := SelfMeasurement()
	if err != nil {
		t.Fatal(err)
	}
	var first []byte // the platform key of the first simulated attester of key
	for _, c := range []struct {
		name, kind, keyFile string
		wantCreated         bool
		wantSameKey         bool
		wantErr             string
	}{
		{"fresh key, no file", FormatSimulated, "", false, false, ""},
		{"key file created", FormatSimulated, key, true, false, ""},
		{"key file reused", FormatSimulated, key, false, true, ""},
		{"unknown kind", "sgx", "", false, false, `attester "sgx"`},
		{"symbolic link", FormatSimulated, "link", false, false, "symbolic link"},
	} {
		t.Run(c.name, func(t *testing.T) {
			keyFile := c.keyFile
			if keyFile == "link" {
				keyFile = filepath.Join(dir, "link.pem")
				if err := os.Symlink(key, keyFile); err != nil {
					t.Skipf("no symbolic links: %v", err)
				}
			}
			a, created, err := Choose(c.kind, keyFile)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, ok := a.(*Simulated)
			if !ok {
				t.Fatalf("attester %T, want *Simulated", a)
			}
			if a.Format() != FormatSimulated || !bytes.Equal(s.Measurement, self) {
				t.Fatalf("format %q, measurement %x; want %q, %x", a.Format(), s.Measurement, FormatSimulated, self)
			}
			if created != c.wantCreated {
				t.Errorf("created %v, want %v", created, c.wantCreated)
			}
			if keyFile == key && first == nil {
				first = s.PlatformKey()
				if fi, err := os.Stat(key); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
					t.Errorf("key file: %v, %v; want mode 0600", fi, err)
				}
			}
			if c.wantSameKey && !bytes.Equal(s.PlatformKey(), first) {
				t.Error("reloading the key file gave another platform key")
			}
		})
	}
	// The platform's attester: Detect's answer, whatever this machine is.
	a, created, err := Choose(KindTEE, "")
	if _, derr := Detect(); (err == nil) != (derr == nil) || created {
		t.Errorf("Choose(tee) = %v, %v, %v; Detect: %v", a, created, err, derr)
	}
}
