//go:build !unix

package keyfile

import (
	"io/fs"
	"os"
)

// noFollow: O_EXCL already refuses a symbolic link in place of a new file.
const noFollow = 0

// openPrivate refuses a symbolic link by looking first (there is no
// O_NOFOLLOW here; the check and the open are not atomic).
func openPrivate(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, symlinkError(path)
	}
	return os.Open(path)
}

// checkMode: permission bits do not describe access here (Windows has
// ACLs), so there is nothing to check.
func checkMode(string, fs.FileMode) error { return nil }
