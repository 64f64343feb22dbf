package keyfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "a.key"), filepath.Join(dir, "a.pub")
	if err := WritePrivate(priv, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if err := WritePublic(pub, []byte("public")); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if m := mode(t, priv).Perm(); m != 0o600 {
			t.Errorf("private key mode %v, want 0600", m)
		}
		if m := mode(t, pub).Perm(); m != 0o644&^umask() {
			t.Errorf("public key mode %v, want 0644", m)
		}
	}
	if b, err := ReadPrivate(priv); err != nil || string(b) != "secret" {
		t.Fatalf("ReadPrivate: %q, %v", b, err)
	}
}

// TestWriteRefusesExisting: an existing file is not replaced, its mode
// and contents stay; a symbolic link in the file's place (to an existing
// file, or dangling) is not followed.
func TestWriteRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.key")
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, w := range []func(string, []byte) error{WritePrivate, WritePublic} {
		err := w(old, []byte("new"))
		if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("overwrite: %v", err)
		}
	}
	if b, _ := os.ReadFile(old); string(b) != "old" {
		t.Fatalf("existing file changed to %q", b)
	}
	if runtime.GOOS != "windows" && mode(t, old).Perm() != 0o644&^umask() {
		t.Fatalf("existing file's mode changed to %v", mode(t, old))
	}

	target := filepath.Join(dir, "target")
	link, dangling := filepath.Join(dir, "link.key"), filepath.Join(dir, "dangling.key")
	if err := os.WriteFile(target, []byte("target"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := WritePrivate(link, []byte("new")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("write through a link: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "target" {
		t.Fatalf("link target changed to %q", b)
	}
	if err := WritePrivate(dangling, []byte("new")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("write through a dangling link: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a dangling link's target was created")
	}
}

// TestReadPrivateRefuses: a symbolic link, a directory and (on Unix) a
// key that group or others may read or write.
func TestReadPrivateRefuses(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.key")
	if err := WritePrivate(key, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(key, link); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	if _, err := ReadPrivate(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("read through a link: %v", err)
	}
	if _, err := ReadPrivate(dir); err == nil {
		t.Error("read a directory as a key")
	}
	if _, err := ReadPrivate(filepath.Join(dir, "missing.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing key: %v", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	for _, m := range []fs.FileMode{0o644, 0o640, 0o604, 0o620, 0o602} {
		if err := os.Chmod(key, m); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPrivate(key); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v", m, err)
		}
	}
	for _, m := range []fs.FileMode{0o600, 0o400} {
		os.Chmod(key, m)
		if b, err := ReadPrivate(key); err != nil || string(b) != "secret" {
			t.Errorf("mode %04o: %q, %v", m, b, err)
		}
	}
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, make([]byte, maxSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivate(big); err == nil {
		t.Error("read a key file over the size limit")
	}
}

func TestMkdirPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "keys")
	if err := MkdirPrivate(dir); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if m := mode(t, d).Perm(); m != 0o700 {
				t.Errorf("%s has mode %v, want 0700", d, m)
			}
		}
	}
	if err := MkdirPrivate(dir); err != nil {
		t.Fatalf("existing directory: %v", err)
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o600)
	if err := MkdirPrivate(file); err == nil {
		t.Error("a file accepted as a key directory")
	}
}
