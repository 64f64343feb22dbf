// Package netutiltest holds the network fixtures that the tests of
// listeners share: a listener that fails with chosen errors, the errors of
// a process out of descriptors, and idle connections from chosen loopback
// addresses.
package netutiltest

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FlakyListener fails its first Accepts with Errs, then behaves as the
// listener it wraps.
type FlakyListener struct {
	net.Listener

	mu   sync.Mutex
	Errs []error
}

// Accept returns the next of Errs, or a connection once they are used up.
func (l *FlakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.Errs) > 0 {
		err := l.Errs[0]
		l.Errs = l.Errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// OutOfFiles returns the errors Accept returns when a process or the
// system runs out of file descriptors, and when a connection is aborted
// before it is accepted: all temporary.
func OutOfFiles() []error {
	return []error{
		&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)},
		&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENFILE)},
		&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)},
	}
}

// DialIdleFrom opens a TCP connection to addr from the local address ip
// (on Linux every 127.0.0.x is local) and never says anything on it. The
// test is skipped where ip cannot be bound; the connection is closed when
// the test ends.
func DialIdleFrom(t testing.TB, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ClosedWithin reports whether the far end closed c within d (reading and
// discarding whatever it sends before).
func ClosedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
}
