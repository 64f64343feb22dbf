package transport

import (
	"crypto/ed25519"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"veil/mpc"
)

func TestGenerateIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	for _, p := range mpc.PartiesOf(3) {
		if err := GenerateIdentity(p, dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range mpc.PartiesOf(3) {
		keyPath, certPath := KeyFile(p, dir), CertFile(p, dir)
		if want := filepath.Join(dir, p.Role()+".key"); keyPath != want {
			t.Errorf("KeyFile(%s) = %s, want %s", p, keyPath, want)
		}
		fi, err := os.Stat(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %v, want 0600", keyPath, m)
		}
		keyPEM, _ := os.ReadFile(keyPath)
		if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
			t.Errorf("%s is not a PKCS#8 PEM key", keyPath)
		}
		id, err := LoadIdentity(keyPath, certPath)
		if err != nil {
			t.Fatal(err)
		}
		leaf := id.Leaf
		if leaf.Subject.CommonName != p.Role() {
			t.Errorf("CN %q, want %q", leaf.Subject.CommonName, p.Role())
		}
		if _, ok := leaf.PublicKey.(ed25519.PublicKey); !ok {
			t.Errorf("%s: public key is %T, want Ed25519", p, leaf.PublicKey)
		}
		if life := leaf.NotAfter.Sub(time.Now()); life < 9*365*24*time.Hour || life > 11*365*24*time.Hour {
			t.Errorf("%s: certificate valid for %v, want about ten years", p, life)
		}
		if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
			t.Errorf("%s: not self-signed: %v", p, err)
		}
	}

	// Refuse to overwrite.
	if err := GenerateIdentity(mpc.P1, dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second GenerateIdentity: %v, want an already-exists error", err)
	}
	// A key with someone else's certificate.
	if _, err := LoadIdentity(KeyFile(mpc.P0, dir), CertFile(mpc.P1, dir)); err == nil {
		t.Error("LoadIdentity accepted a key with a foreign certificate")
	}
	// Missing files are named.
	missing := filepath.Join(dir, "nope.key")
	if _, err := LoadIdentity(missing, CertFile(mpc.P0, dir)); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadIdentity of a missing key: %v", err)
	}
	if err := GenerateIdentity(mpc.Party(7), dir); err == nil {
		t.Error("GenerateIdentity accepted an unknown party")
	}
}

// TestLoadIdentityRefusesUnsafeKeys: a private key reached through a
// symbolic link, or one that group or others may read, is refused.
func TestLoadIdentityRefusesUnsafeKeys(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateIdentity(mpc.P0, dir); err != nil {
		t.Fatal(err)
	}
	key, cert := KeyFile(mpc.P0, dir), CertFile(mpc.P0, dir)
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(key, link); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	if _, err := LoadIdentity(link, cert); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("key through a symbolic link: %v", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentity(key, cert); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("key readable by others: %v", err)
	}
	os.Chmod(key, 0o600)
	if _, err := LoadIdentity(key, cert); err != nil {
		t.Error(err)
	}
}
