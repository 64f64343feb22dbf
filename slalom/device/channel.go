package device

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"veil/internal/netutil"
	"veil/internal/pinned"
)

// The T↔D channel is TLS 1.3 with mutual authentication by pinned Ed25519
// keys (internal/pinned, as between the MPC parties): each side holds its
// own key and the other's public key, and a peer is accepted only if its
// certificate carries exactly that key (no CA; the handshake proves
// possession of the private key). The frames that follow are sealed
// under keys exported from that handshake (seal_channel.go).

// Identity is an Ed25519 key with a self-signed certificate.
type Identity struct {
	Cert tls.Certificate
	Pub  ed25519.PublicKey
}

// certName is the common name of the certificate of the key named name.
func certName(name string) string { return "veil slalom " + name }

// NewIdentity makes a fresh identity.
func NewIdentity(name string) (*Identity, error) {
	c, err := pinned.Generate(certName(name))
	if err != nil {
		return nil, err
	}
	return identityOf(c), nil
}

func identityOf(c tls.Certificate) *Identity {
	return &Identity{Cert: c, Pub: c.PrivateKey.(ed25519.PrivateKey).Public().(ed25519.PublicKey)}
}

// Save writes NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (the public
// key, PEM, mode 0644) in dir (created with mode 0700 if missing): veil's
// one key file format (internal/pinned). It never replaces a file nor
// writes through a symbolic link: if either file exists the error wraps
// fs.ErrExist and nothing is written.
func (id *Identity) Save(dir, name string) error {
	if err := pinned.Save(id.Cert, filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub"), pinned.AsPublicKey); err != nil {
		return fmt.Errorf("slalom: %w", err)
	}
	return nil
}

// LoadIdentity reads NAME.key from dir. The key must not be a symbolic
// link nor, on Unix, readable or writable by group or others.
func LoadIdentity(dir, name string) (*Identity, error) {
	c, err := pinned.LoadKey(filepath.Join(dir, name+".key"), certName(name))
	if err != nil {
		return nil, fmt.Errorf("slalom: %w", err)
	}
	return identityOf(c), nil
}

// LoadPublic reads NAME.pub from dir (a PEM public key, or a
// certificate carrying one).
func LoadPublic(dir, name string) (ed25519.PublicKey, error) {
	k, err := pinned.ReadPublic(filepath.Join(dir, name+".pub"))
	if err != nil {
		return nil, fmt.Errorf("slalom: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("slalom: %s.pub: not an Ed25519 key (%T)", name, k)
	}
	return pub, nil
}

// tlsConfig is the configuration of either end of the T↔D channel: id
// presented, only the key peer accepted (peerName names it in a
// refusal: "the device" or "T").
func tlsConfig(id *Identity, peer ed25519.PublicKey, peerName string) *tls.Config {
	pin, err := pinned.PinKey(peer)
	if err != nil {
		pin = nil // matches nothing: every peer is refused
	}
	return pinned.Config(id.Cert, "", func(c *x509.Certificate) error {
		if err := pinned.Only(pin, peerName, "")(c); err != nil {
			return fmt.Errorf("slalom: %w", err)
		}
		return nil
	})
}

// Liveness of the T↔D link. T waits at most DeviceTimeout for D to move
// a byte of an answer; D waits at most Device.IdleTimeout (default
// DefaultDeviceIdleTimeout) for T's next frame, and T, idle between
// inferences, sends a heartbeat every HeartbeatInterval so that it is not
// mistaken for a dead peer. Both handshakes (TLS and the sealed hello)
// must end within HandshakeTimeout.
const (
	HeartbeatInterval        = 5 * time.Second
	DefaultDeviceIdleTimeout = 60 * time.Second
	HandshakeTimeout         = 30 * time.Second
)

// DeviceTimeout bounds how long T waits for the device to move a byte of
// each answer before giving up on it (VGG-16's slowest layer takes well
// under a second on one CPU core).
var DeviceTimeout = 60 * time.Second

// helloText is the body of msgFramesHello.
const helloText = "veil slalom frames v1"

// tlsConn completes the TLS 1.3 handshake on raw (with the pin check),
// then switches to frames sealed under keys exported from it: the server
// sends msgFramesHello first, the client waits for it (seal_channel.go).
// Both must be done within timeout.
func tlsConn(raw net.Conn, cfg *tls.Config, client bool, timeout time.Duration) (*Conn, error) {
	var tc *tls.Conn
	if client {
		tc = tls.Client(raw, cfg)
	} else {
		tc = tls.Server(raw, cfg)
	}
	raw.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	c := &Conn{rw: raw}
	c.tm = timed{c}
	sc, err := newSealedConn(c.tm, tc.ConnectionState(), client)
	if err != nil {
		return nil, err
	}
	c.sealed = sc
	if client {
		typ, body, err := c.recv()
		if err != nil {
			return nil, fmt.Errorf("slalom: no sealed hello from the peer (did it refuse this end's key?): %w", err)
		}
		if typ != msgFramesHello || string(body) != helloText {
			return nil, fmt.Errorf("slalom: unexpected first frame (type %d)", typ)
		}
	} else if err := c.send(msgFramesHello, []byte(helloText)); err != nil {
		return nil, err
	}
	raw.SetDeadline(time.Time{})
	return c, nil
}

// Dial connects T to the device at addr, both sides authenticated. The
// connection gives up on a device that moves no byte of an answer for
// DeviceTimeout, and sends heartbeats while T is idle (HeartbeatInterval)
// until raw is closed.
func Dial(addr string, id *Identity, device ed25519.PublicKey) (*Conn, net.Conn, error) {
	raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("slalom: connecting to the device at %s: %w", addr, err)
	}
	c, err := tlsConn(raw, tlsConfig(id, device, "the device"), true, HandshakeTimeout)
	if err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("slalom: connecting to the device at %s: %w", addr, err)
	}
	c.Peer = "the device at " + addr
	c.Timeout = DeviceTimeout
	c.keepAlive(HeartbeatInterval)
	return c, raw, nil
}

// Listener is the device's listener: TLS that accepts only T.
type Listener struct {
	net.Listener
	cfg *tls.Config
}

// Listen returns a TLS listener for the device that accepts only T.
func Listen(addr string, id *Identity, trusted ed25519.PublicKey) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{ln, tlsConfig(id, trusted, "T")}, nil
}

func (d *Device) idleTimeout() time.Duration {
	if d.IdleTimeout > 0 {
		return d.IdleTimeout
	}
	return DefaultDeviceIdleTimeout
}

// ServeListener serves T's connections until ln is closed. Accept errors
// that are temporary (out of file descriptors) are retried; handshakes
// run concurrently, at most netutil.DefaultMaxPending at once and
// netutil.DefaultMaxPerHost from one address (more are closed at once),
// each within HandshakeTimeout, so strangers cannot keep T out. A
// connection that fails the handshake is dropped; each authenticated one
// is served until T closes it or sends nothing, not even a heartbeat,
// for the idle timeout.
func (d *Device) ServeListener(ln *Listener, logf func(string, ...any)) error {
	g := &netutil.Guard{HandshakeTimeout: HandshakeTimeout, Logf: logf}
	err := g.Serve(ln.Listener, func(p *netutil.Pending) {
		raw := p.Conn
		c, err := tlsConn(raw, ln.cfg, false, HandshakeTimeout)
		if err == nil && !p.Authenticated() {
			err = fmt.Errorf("handshake not finished within %v", HandshakeTimeout)
		}
		if err != nil {
			logf("refused connection from %s: %v", raw.RemoteAddr(), err)
			raw.Close()
			return
		}
		c.Peer = "T at " + raw.RemoteAddr().String()
		c.Timeout = d.idleTimeout()
		err = d.Serve(c)
		raw.Close()
		if err != nil {
			logf("session ended: %v", err)
		}
	})
	g.Wait()
	return err
}
