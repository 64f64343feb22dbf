package pinned

import (
	"crypto/ed25519"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublicOf: the public key of either half of an identity, in every
// form Save writes, and of a PEM file whose first blocks are of other
// types; files without such a block are refused.
func TestPublicOf(t *testing.T) {
	dir := t.TempDir()
	id := mustGenerate(t, "client")
	want := id.PrivateKey.(ed25519.PrivateKey).Public().(ed25519.PublicKey)
	key, crt, pub := filepath.Join(dir, "c.key"), filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.pub")
	if err := Save(id, key, crt, AsCertificate); err != nil {
		t.Fatal(err)
	}
	if err := Save(id, filepath.Join(dir, "p.key"), pub, AsPublicKey); err != nil {
		t.Fatal(err)
	}
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, blk := range blocks {
			b = append(b, pem.EncodeToMemory(blk)...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyPEM, _ := os.ReadFile(key)
	keyBlock, _ := pem.Decode(keyPEM)
	for _, c := range []struct {
		name, path, wantErr string
	}{
		{"private key", key, ""},
		{"certificate", crt, ""},
		{"public key", pub, ""},
		{"after another block", write("later.pem", &pem.Block{Type: "EC PARAMETERS", Bytes: []byte{1}}, keyBlock), ""},
		{"no PEM", write("none.pem"), "no PEM PRIVATE KEY, CERTIFICATE or PUBLIC KEY block"},
		{"only other blocks", write("other.pem", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}}), "no PEM"},
		{"corrupt private key", write("bad.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "bad.pem"},
		{"missing", filepath.Join(dir, "missing.pem"), "missing.pem"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := PublicOf(c.path)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k, ok := got.(ed25519.PublicKey); !ok || !k.Equal(want) {
				t.Fatalf("PublicOf = %v, want the identity's key", got)
			}
		})
	}
}
