package device

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/internal/netutil/netutiltest"
)

// TestDeviceLinkLiveness: the device gives up on a T that sends nothing
// (no frame, no heartbeat) for its idle timeout, naming T; heartbeats
// keep an idle T's connection open; a stranger's idle connection does not
// keep T from connecting.
func TestDeviceLinkLiveness(t *testing.T) {
	tid, _ := NewIdentity("trusted")
	did, _ := NewIdentity("device")
	ln, err := Listen("127.0.0.1:0", did, tid.Pub)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs []string
	d := &Device{IdleTimeout: 300 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		done <- d.ServeListener(ln, func(f string, a ...any) {
			mu.Lock()
			logs = append(logs, fmt.Sprintf(f, a...))
			mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	addr := ln.Addr().String()
	idle := netutiltest.DialIdleFrom(t, "127.0.0.1", addr) // a stranger that never speaks
	dial := func() (*Conn, net.Conn) {
		t.Helper()
		var c *Conn
		var raw net.Conn
		// Both bounded: the dial, and the handshakes by their deadline.
		raw, err = net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c, err = tlsConn(raw, tlsConfig(tid, did.Pub, "the device"), true, 5*time.Second)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return c, raw
	}
	// A silent T is dropped after the idle timeout.
	_, raw := dial()
	if !netutiltest.ClosedWithin(raw, 5*time.Second) {
		t.Fatal("the device kept a silent T's connection")
	}
	// A T that sends heartbeats stays connected.
	c, raw2 := dial()
	stop := c.keepAlive(50 * time.Millisecond)
	defer stop()
	if netutiltest.ClosedWithin(raw2, time.Second) {
		t.Fatal("the device dropped a T that sends heartbeats")
	}
	mu.Lock()
	joined := strings.Join(logs, "\n")
	mu.Unlock()
	if !strings.Contains(joined, "T at 127.0.0.1:") || !strings.Contains(joined, "sent nothing") {
		t.Errorf("the device's log does not name the silent T:\n%s", joined)
	}
	// The stranger was left alone meanwhile, not served.
	if netutiltest.ClosedWithin(idle, 10*time.Millisecond) {
		t.Error("the stranger's connection was closed before the handshake timeout")
	}
}
