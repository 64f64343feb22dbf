//go:build unix

package keyfile

import (
	"io/fs"
	"syscall"
)

// umask returns the process's umask (it sets it back at once).
func umask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}
