package fixed

import "bytes"

// MaxHeader exposes maxHeader to the external tests.
const MaxHeader = maxHeader

// ParseCompact is Parse storing the weights at their declared widths, as
// ReadFileCompact does.
func ParseCompact(data []byte) (*Program, error) { return read(bytes.NewReader(data), true) }
