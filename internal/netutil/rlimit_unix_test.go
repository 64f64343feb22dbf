//go:build unix

package netutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary a server with few file descriptors.
const childEnv = "NETUTIL_TEST_LOW_NOFILE"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(lowNofileServer())
	}
	os.Exit(m.Run())
}

// lowNofileServer lowers its descriptor limit to 20, serves echoAuth with
// no bound on pending connections (so that the flood reaches the limit)
// and a 500 ms handshake timeout, and prints its address.
func lowNofileServer() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 2
	}
	rl.Cur = 20
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 3
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 4
	}
	fmt.Println(ln.Addr())
	g := &Guard{MaxPending: -1, MaxPerHost: -1, HandshakeTimeout: 500 * time.Millisecond,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }}
	err = g.Serve(ln, echoAuth)
	fmt.Fprintln(os.Stderr, "serve returned:", err)
	return 5
}

// TestServeOutOfDescriptors: a server whose descriptor limit is 20 gets
// 60 idle connections. Accept fails with EMFILE; the loop pauses instead
// of ending, the idle connections time out, and a real client is served.
func TestServeOutOfDescriptors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	addr := strings.TrimSpace(line)
	var idle []net.Conn
	for range 60 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			break // the backlog is full: enough
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	// Wait until the child has hit its limit and said so.
	for start := time.Now(); !strings.Contains(stderr.String(), "too many open files"); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the child never ran out of descriptors:\n%s", stderr.String())
		}
	}
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	// The child is still there and serves a real client.
	var c net.Conn
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if c, err = net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("cannot reach the child: %v\n%s", err, stderr.String())
		}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	c.Write([]byte("auth\n"))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok\n" {
		t.Fatalf("real client after the flood: %q, %v\nchild:\n%s", buf, err, stderr.String())
	}
	select {
	case err := <-exited:
		t.Fatalf("the child exited: %v\n%s", err, stderr.String())
	default:
	}
}
