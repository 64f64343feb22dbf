//go:build unix

package keyfile

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// noFollow makes open fail on a symbolic link in the last element.
const noFollow = syscall.O_NOFOLLOW

func openPrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

// checkMode refuses a key that group or others may read or write.
func checkMode(path string, m fs.FileMode) error {
	if m.Perm()&0o077 != 0 {
		return fmt.Errorf("private key %s has mode %04o: group or others may read or write it; make it private with chmod 600 %s", path, m.Perm(), path)
	}
	return nil
}
