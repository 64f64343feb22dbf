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

// TestSimulatedPolicy: the policy accepts the evidence of its simulated
// platforms claiming its measurement, and refuses another key, another
// measurement and evidence of another format.
func TestSimulatedPolicy(t *testing.T) {
	a, _, err := OpenSimulated("")
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := OpenSimulated("")
	other, _, _ := OpenSimulated("")
	pol := SimulatedPolicy(a.Measurement, a.PlatformKey(), b.PlatformKey())
	rd := Bind([]byte("key"), []byte("session"))
	liar, _, _ := OpenSimulated("")
	liar.Measurement = bytes.Repeat([]byte{7}, 48)
	pol.SimulatedPlatformKeys = append(pol.SimulatedPlatformKeys, liar.PlatformKey())
	for _, c := range []struct {
		name    string
		a       *Simulated
		format  string
		wantErr string
	}{
		{"first platform", a, "", ""},
		{"second platform", b, "", ""},
		{"platform not pinned", other, "", "is not pinned"},
		{"other measurement", liar, "", "not in the allowed set"},
		{"other format", a, FormatTDX, "format not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev, err := c.a.Attest(rd)
			if err != nil {
				t.Fatal(err)
			}
			if c.format != "" {
				ev.Format = c.format
			}
			_, err = pol.Check(ev, rd)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("Check: %v, want %q", err, c.wantErr)
			}
		})
	}
	if len(pol.Formats) != 1 || pol.Formats[0] != FormatSimulated || !pol.InsecureAllowSimulated {
		t.Errorf("policy %+v", pol)
	}
}
