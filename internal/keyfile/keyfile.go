// Package keyfile writes and reads key files, once for every command
// that makes or loads keys.
//
// New files are created exclusively (O_EXCL): an existing file, or a
// symbolic link in its place, is never overwritten or followed, and
// nothing is written unless the file was created here. Private keys get
// mode 0600, public keys and certificates 0644, key directories 0700.
//
// ReadPrivate refuses a private key reached through a symbolic link (on
// Unix the file is opened with O_NOFOLLOW, elsewhere the path is checked
// with Lstat first) and, on Unix, a key that group or others may read or
// write: a key someone else can read is no longer private, and one read
// through a link may not be the one the user meant.
package keyfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Modes of what this package creates.
const (
	privateMode fs.FileMode = 0o600
	publicMode  fs.FileMode = 0o644
	dirMode     fs.FileMode = 0o700
)

// maxSize bounds the size of a key file ReadPrivate reads: 1 MiB.
const maxSize = 1 << 20

// WritePrivate creates path, which must not exist, with mode 0600 and
// the given contents. If it exists (even as a dangling symbolic link) the
// error wraps fs.ErrExist.
func WritePrivate(path string, data []byte) error { return writeNew(path, data, privateMode) }

// WritePublic creates path, which must not exist, with mode 0644 and the
// given contents.
func WritePublic(path string, data []byte) error { return writeNew(path, data, publicMode) }

func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists (keys are never overwritten; remove it to make a new one): %w", path, fs.ErrExist)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// MkdirPrivate creates dir, and any missing parents, with mode 0700. An
// existing directory is left as it is; an existing path that is not a
// directory is an error.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// ReadPrivate reads a private key file, refusing a symbolic link, a file
// that is not a regular file, one larger than maxSize and, on Unix, one
// that group or others may read or write.
func ReadPrivate(path string) ([]byte, error) {
	f, err := openPrivate(path)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, symlinkError(path)
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("private key %s is not a regular file (%v)", path, fi.Mode().Type())
	}
	if err := checkMode(path, fi.Mode()); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("private key %s is larger than %d bytes", path, maxSize)
	}
	return b, nil
}

func symlinkError(path string) error {
	return fmt.Errorf("private key %s is a symbolic link; refusing to follow it (name the key file itself)", path)
}
