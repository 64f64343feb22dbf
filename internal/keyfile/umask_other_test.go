//go:build !unix

package keyfile

import "io/fs"

func umask() fs.FileMode { return 0 }
