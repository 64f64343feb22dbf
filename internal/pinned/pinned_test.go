package pinned

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustGenerate(t *testing.T, name string) tls.Certificate {
	t.Helper()
	id, err := Generate(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustPin(t *testing.T, id tls.Certificate) Pin {
	t.Helper()
	p, err := PinKey(id.PrivateKey.(ed25519.PrivateKey).Public())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGenerate: an Ed25519 key with a self-signed certificate for TLS
// client and server use, valid for about ten years; its pin is the
// certificate's key.
func TestGenerate(t *testing.T) {
	id := mustGenerate(t, "server")
	leaf := id.Leaf
	if leaf == nil || leaf.Subject.CommonName != "server" {
		t.Fatalf("leaf %+v", leaf)
	}
	if _, ok := leaf.PublicKey.(ed25519.PublicKey); !ok {
		t.Fatalf("public key %T", leaf.PublicKey)
	}
	if life := time.Until(leaf.NotAfter); life < 9*365*24*time.Hour || life > 11*365*24*time.Hour {
		t.Fatalf("valid for %v", life)
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if !mustPin(t, id).Matches(leaf) || !PinOf(leaf).Matches(leaf) {
		t.Fatal("the pin of the key does not match its certificate")
	}
	if mustPin(t, mustGenerate(t, "server")).Matches(leaf) {
		t.Fatal("another key's pin matches")
	}
	if Pin(nil).Matches(leaf) {
		t.Fatal("an empty pin matches")
	}
}

// TestKeyFiles: both public forms round-trip, the key file is private,
// nothing is ever overwritten, and unsafe or foreign keys are refused.
func TestKeyFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		form PublicForm
		ext  string
	}{
		{"certificate", AsCertificate, ".crt"},
		{"public key", AsPublicKey, ".pub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			id := mustGenerate(t, "p")
			key, pub := filepath.Join(dir, "p.key"), filepath.Join(dir, "p"+tc.ext)
			if err := Save(id, key, pub, tc.form); err != nil {
				t.Fatal(err)
			}
			if runtime.GOOS != "windows" {
				for path, want := range map[string]fs.FileMode{dir: 0o700, key: 0o600, pub: 0o644} {
					if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
						t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), want, err)
					}
				}
			}
			b, _ := os.ReadFile(key)
			if blk, _ := pem.Decode(b); blk == nil || blk.Type != "PRIVATE KEY" {
				t.Fatalf("%s is not a PEM PKCS#8 key", key)
			}
			k, err := ReadPublic(pub)
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := PinKey(k); !p.Matches(id.Leaf) {
				t.Fatal("the public half read back is another key")
			}
			got, err := LoadKey(key, "again")
			if err != nil || !mustPin(t, got).Matches(id.Leaf) || got.Leaf.Subject.CommonName != "again" {
				t.Fatalf("LoadKey: %v", err)
			}
			if tc.form == AsCertificate {
				full, err := Load(key, pub)
				if err != nil || !bytes.Equal(full.Certificate[0], id.Certificate[0]) || full.Leaf == nil {
					t.Fatalf("Load: %v", err)
				}
			} else if _, err := Load(key, pub); err == nil {
				t.Fatal("Load took a bare public key for a certificate")
			}

			// Nothing is overwritten, whichever file exists.
			other := mustGenerate(t, "p")
			for _, paths := range [][2]string{
				{key, filepath.Join(dir, "new"+tc.ext)}, // the key exists
				{filepath.Join(dir, "new.key"), pub},    // the public half exists
			} {
				if err := Save(other, paths[0], paths[1], tc.form); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "already exists") {
					t.Fatalf("Save over %v: %v", paths, err)
				}
				for _, f := range paths {
					if f != key && f != pub {
						if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
							t.Fatalf("%s written although the other file exists", f)
						}
					}
				}
			}
			if got, err := LoadKey(key, "p"); err != nil || !mustPin(t, got).Matches(id.Leaf) {
				t.Fatalf("the existing key was replaced (%v)", err)
			}
		})
	}
}

// TestKeyFilesRefused: a key behind a symbolic link, one others may read,
// a key with another's certificate, a key that is not Ed25519 where one
// is needed, and files that are not keys.
func TestKeyFilesRefused(t *testing.T) {
	dir := t.TempDir()
	a, b := mustGenerate(t, "a"), mustGenerate(t, "b")
	for name, id := range map[string]tls.Certificate{"a": a, "b": b} {
		if err := Save(id, filepath.Join(dir, name+".key"), filepath.Join(dir, name+".crt"), AsCertificate); err != nil {
			t.Fatal(err)
		}
	}
	akey, acrt, bcrt := filepath.Join(dir, "a.key"), filepath.Join(dir, "a.crt"), filepath.Join(dir, "b.crt")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecKey := filepath.Join(dir, "ec.key")
	os.WriteFile(ecKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), 0o600)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not PEM"), 0o600)
	link := filepath.Join(dir, "link.key")
	haveLinks := os.Symlink(akey, link) == nil

	cases := []struct {
		name string
		skip bool
		f    func() error
		want string
	}{
		{"foreign certificate", false, func() error { _, err := Load(akey, bcrt); return err }, "private key does not match public key"},
		{"missing key", false, func() error { _, err := Load(filepath.Join(dir, "nope.key"), acrt); return err }, "nope.key"},
		{"key through a link (Load)", !haveLinks, func() error { _, err := Load(link, acrt); return err }, "symbolic link"},
		{"key through a link (LoadKey)", !haveLinks, func() error { _, err := LoadKey(link, "a"); return err }, "symbolic link"},
		{"not Ed25519", false, func() error { _, err := LoadKey(ecKey, "ec"); return err }, "not an Ed25519 key"},
		{"key not PEM", false, func() error { _, err := LoadKey(junk, "j"); return err }, "not a PEM"},
		{"public not PEM", false, func() error { _, err := ReadPublic(junk); return err }, "no PEM"},
		{"certificate not PEM", false, func() error { _, err := ReadCertificate(junk); return err }, "no PEM CERTIFICATE"},
		{"key readable by others", runtime.GOOS == "windows", func() error {
			os.Chmod(akey, 0o644)
			defer os.Chmod(akey, 0o600)
			_, err := Load(akey, acrt)
			return err
		}, "chmod 600"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.skip {
				t.Skip("not on this system")
			}
			if err := c.f(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if _, err := Load(akey, acrt); err != nil {
		t.Fatalf("the good key after the refusals: %v", err)
	}
}

// handshake runs a pinned TLS handshake over a pipe and returns both
// ends' errors and connection states.
func handshake(t *testing.T, client, server *tls.Config) (cerr, serr error, ccs, scs tls.ConnectionState) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := tls.Server(b, server)
		if serr = s.Handshake(); serr != nil {
			b.Close()
			return
		}
		scs = s.ConnectionState()
		// Read once so that a client refusal (sent after the server's
		// side of a TLS 1.3 handshake) arrives, then answer.
		var one [1]byte
		if _, serr = s.Read(one[:]); serr == nil {
			_, serr = s.Write(one[:])
		}
	}()
	c := tls.Client(a, client)
	if cerr = c.Handshake(); cerr == nil {
		ccs = c.ConnectionState()
		var one [1]byte
		if _, cerr = c.Write([]byte{1}); cerr == nil {
			_, cerr = c.Read(one[:])
		}
	}
	if cerr != nil {
		a.Close()
	}
	wg.Wait()
	return cerr, serr, ccs, scs
}

// TestConfig: the handshake succeeds only when each end carries the key
// the other pins; a refusal names whom the pin was for.
func TestConfig(t *testing.T) {
	ida, idb, idx := mustGenerate(t, "a"), mustGenerate(t, "b"), mustGenerate(t, "intruder")
	pa, pb := mustPin(t, ida), mustPin(t, idb)
	noCert := Config(tls.Certificate{}, "", Only(pb, "b", ""))
	noCert.Certificates = nil
	tls12 := Config(ida, "b", Only(pb, "b", ""))
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	cases := []struct {
		name           string
		client, server *tls.Config
		clientWant     string // "" = success
		serverWant     string
	}{
		{"both pinned", Config(ida, "b", Only(pb, "b", "the config")), Config(idb, "", Only(pa, "a", "")), "", ""},
		{"server not the pinned one", Config(ida, "b", Only(pb, "b", "the config")), Config(idx, "", Only(pa, "a", "")),
			`the certificate presented (CN "intruder") is not the one the config pins for b`, "*"},
		{"client not the pinned one", Config(idx, "b", Only(pb, "b", "")), Config(idb, "", Only(pa, "a", "")),
			"bad certificate", `the certificate presented (CN "intruder") does not carry the key pinned for a`},
		{"client without a certificate", noCert, Config(idb, "", Only(pa, "a", "")),
			"certificate required", "client didn't provide a certificate"},
		{"TLS 1.2 client", tls12, Config(idb, "", Only(pa, "a", "")), "protocol version", "unsupported versions"},
	}
	match := func(err error, want string) bool {
		if want == "" {
			return err == nil
		}
		if err == nil {
			return false
		}
		if want == "*" {
			return true // any failure
		}
		for _, w := range strings.Split(want, "|") {
			if strings.Contains(err.Error(), w) {
				return true
			}
		}
		return false
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cerr, serr, ccs, scs := handshake(t, c.client, c.server)
			if !match(cerr, c.clientWant) || !match(serr, c.serverWant) {
				t.Fatalf("client: %v (want %q); server: %v (want %q)", cerr, c.clientWant, serr, c.serverWant)
			}
			var me *MismatchError
			if c.clientWant != "" && strings.Contains(c.clientWant, "pins for") && !errors.As(cerr, &me) {
				t.Fatalf("client error %v is not a *MismatchError", cerr)
			}
			if c.clientWant != "" || c.serverWant != "" {
				return
			}
			if ccs.Version != tls.VersionTLS13 || ccs.DidResume || scs.DidResume {
				t.Fatalf("version %#x, resumed %v/%v", ccs.Version, ccs.DidResume, scs.DidResume)
			}
			if got, _ := PeerCertificate(scs); !pa.Matches(got) {
				t.Fatal("the server's view of the client is not a's key")
			}
		})
	}
}

// TestExportKey: both ends export the same key, another label another
// one, another session another one; an unfinished session exports
// nothing.
func TestExportKey(t *testing.T) {
	ida, idb := mustGenerate(t, "a"), mustGenerate(t, "b")
	pa, pb := mustPin(t, ida), mustPin(t, idb)
	session := func() (ccs, scs tls.ConnectionState) {
		cerr, serr, ccs, scs := handshake(t, Config(ida, "b", Only(pb, "b", "")), Config(idb, "", Only(pa, "a", "")))
		if cerr != nil || serr != nil {
			t.Fatal(cerr, serr)
		}
		return ccs, scs
	}
	ccs, scs := session()
	export := func(cs tls.ConnectionState, label string) []byte {
		k, err := ExportKey(cs, label, 32)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k := export(ccs, "label one")
	if len(k) != 32 || !bytes.Equal(k, export(scs, "label one")) {
		t.Fatal("the two ends export different keys")
	}
	if bytes.Equal(k, export(ccs, "label two")) {
		t.Fatal("two labels export the same key")
	}
	ccs2, _ := session()
	if bytes.Equal(k, export(ccs2, "label one")) {
		t.Fatal("two sessions export the same key")
	}
	if _, err := ExportKey(tls.ConnectionState{}, "label one", 32); err == nil {
		t.Fatal("exported from an unfinished session")
	}
	old := ccs
	old.Version = tls.VersionTLS12
	if _, err := ExportKey(old, "label one", 32); err == nil || !strings.Contains(err.Error(), "TLS 1.3") {
		t.Fatalf("exported from a TLS 1.2 session: %v", err)
	}
}
