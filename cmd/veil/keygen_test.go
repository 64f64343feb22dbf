package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestKeygenFiles: veil keygen makes its directory 0700 and the keys
// 0600, and never replaces an existing key.
func TestKeygenFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if out, err := veil(t, "keygen", "--dir", dir, "--role", "server"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("key directory mode %v, want 0700 (%v)", fi.Mode().Perm(), err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "server.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key mode %v, want 0600 (%v)", fi.Mode().Perm(), err)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "server.key"))
	if out, err := veil(t, "keygen", "--dir", dir, "--role", "server"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("keygen over an existing key: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "server.key")); string(after) != string(before) {
		t.Fatal("the existing key was replaced")
	}
}
