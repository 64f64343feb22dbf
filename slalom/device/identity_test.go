package device

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestIdentityFiles: Save never replaces a key (nor keeps an existing
// file's mode, nor writes through a symbolic link), makes the key 0600
// and the directory 0700; LoadIdentity refuses a key behind a symbolic
// link or readable by others.
func TestIdentityFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	id, err := NewIdentity("device")
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Save(dir, "device"); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "device.key")
	if runtime.GOOS != "windows" {
		for path, want := range map[string]fs.FileMode{dir: 0o700, key: 0o600} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), want, err)
			}
		}
	}
	if got, err := LoadIdentity(dir, "device"); err != nil || !got.Pub.Equal(id.Pub) {
		t.Fatalf("reload: %v", err)
	}

	// A second key under the same name is refused; the first stays.
	other, _ := NewIdentity("device")
	if err := other.Save(dir, "device"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Save over an existing key: %v", err)
	}
	if got, err := LoadIdentity(dir, "device"); err != nil || !got.Pub.Equal(id.Pub) {
		t.Fatalf("the existing key was replaced (%v)", err)
	}

	// An existing world-readable file is not reused with its mode.
	loose := t.TempDir()
	if err := os.WriteFile(filepath.Join(loose, "trusted.key"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := other.Save(loose, "trusted"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Save over a 0644 file: %v", err)
	}

	// A symbolic link where the key goes is not written through.
	linked := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Symlink(target, filepath.Join(linked, "trusted.key")); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	if err := other.Save(linked, "trusted"); err == nil {
		t.Fatal("Save wrote through a symbolic link")
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Save created the link's target")
	}

	// Loading refuses a key behind a link, or readable by others.
	viaLink := t.TempDir()
	if err := os.Symlink(key, filepath.Join(viaLink, "device.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentity(viaLink, "device"); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("key through a symbolic link: %v", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	os.Chmod(key, 0o644)
	if _, err := LoadIdentity(dir, "device"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("key readable by others: %v", err)
	}
}
