package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"testing"

	"veil/internal/netutil"
	"veil/mpc"
)

// FuzzReadFrame: the frames of an established connection, as the reader
// goroutine takes them from an arbitrary byte stream. No panic; every
// frame read is well formed (a message within the limit, or an empty
// heartbeat or goodbye) and writing it again gives back the bytes it
// came from; a buffer never exceeds twice the bytes that arrived plus
// one read step, whatever length was announced.
func FuzzReadFrame(f *testing.F) {
	const max = 1 << 20
	frame := frameOf
	f.Add(frame(dataHeader(5), []byte("hello")...))
	f.Add(append(frame(controlHeader(ctlHeartbeat, 0)), frame(dataHeader(0))...))
	f.Add(append(frame(dataHeader(3), 1, 2, 3), frame(controlHeader(ctlGoodbye, 0))...))
	f.Add(frame(dataHeader(1<<30), []byte("0123456789")...))
	f.Add(frame(dataHeader(max + 1)))
	f.Add(frame(controlHeader(ctlHello, len(helloPayload(mpc.P0))), helloPayload(mpc.P0)...))
	f.Add(frame(controlHeader(ctlHeartbeat, 3), 1, 2, 3))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		for {
			at := len(stream) - r.Len()
			typ, msg, err := readFrame(r, max)
			if err != nil {
				var fe *frameError
				if !errors.As(err, &fe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			used := stream[at : len(stream)-r.Len()]
			var again bytes.Buffer
			switch typ {
			case 0:
				if len(msg) > max || msg == nil {
					t.Fatalf("message of %d bytes (nil %v) over the limit %d", len(msg), msg == nil, max)
				}
				if cap(msg) > 2*len(used)+netutil.ReadStep {
					t.Fatalf("buffer of %d bytes for %d received", cap(msg), len(used))
				}
				h := dataHeader(len(msg))
				again.Write(h[:])
				again.Write(msg)
			case ctlHeartbeat, ctlGoodbye:
				if msg != nil {
					t.Fatalf("control frame %d with a payload", typ)
				}
				writeControl(&again, typ, nil)
			default:
				t.Fatalf("readFrame returned control frame type %d", typ)
			}
			if !bytes.Equal(again.Bytes(), used) {
				t.Fatalf("frame %x read from %x", again.Bytes(), used)
			}
		}
	})
}

// FuzzHandshakeFrame: the first frame of a connection (readControl, then
// parseHello) from arbitrary bytes. No panic; a control payload never
// exceeds 1024 bytes; a hello accepted is exactly the hello of the role
// it names.
func FuzzHandshakeFrame(f *testing.F) {
	for _, p := range mpc.PartiesOf(3) {
		var b bytes.Buffer
		writeControl(&b, ctlHello, helloPayload(p))
		f.Add(b.Bytes())
	}
	var b bytes.Buffer
	writeControl(&b, ctlReject, []byte("go away"))
	f.Add(b.Bytes())
	f.Add(frameOf(controlHeader(ctlHello, 5), []byte("hello")...))
	f.Add(frameOf(dataHeader(3), []byte("abc")...))
	f.Add(frameOf(controlHeader(ctlHello, 2000)))
	f.Fuzz(func(t *testing.T, in []byte) {
		typ, payload, err := readControl(bytes.NewReader(in))
		if err != nil {
			return
		}
		if typ == 0 || len(payload) > maxControl {
			t.Fatalf("control frame type %d with %d bytes accepted", typ, len(payload))
		}
		who, err := parseHello(typ, payload)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("hello refused without errMalformed: %v", err)
			}
			return
		}
		if who > mpc.P2 || !bytes.Equal(payload, helloPayload(who)) || typ != ctlHello {
			t.Fatalf("hello %q (type %d) accepted as %s", payload, typ, who)
		}
	})
}

// FuzzParseConfig: the parties file. No panic; a file accepted passes
// check, has a positive timeout and a max_message within the frame
// format, and written back as JSON parses to the same configuration.
// Certificate and key paths are limited to the fixture's files (a fuzzer
// must not make the parser read /dev/zero).
func FuzzParseConfig(f *testing.F) {
	dir := f.TempDir()
	writeKeys(f, dir)
	f.Add([]byte(parties(pClient, pServer, pHelper) + `}`))
	f.Add([]byte(parties(pClient, pServer, pHelper) + `, "timeout": "1s", "max_message": "64MiB"}`))
	f.Add([]byte(parties(pClient, pServer, pHelper) + `, "max_message": 4096, "attestation": {"attester": "tee"}}`))
	f.Add([]byte(parties(pServer, pHelper, `{"role": "P0", "cert": "keys/client.crt", "key": "keys/client.key"}`) + `}`))
	f.Add([]byte(parties(pClient, pServer, `{"role": "helper", "addr": "h:7002", "listen": "0.0.0.0:7002", "cert": "keys/helper.crt"}`) + `}`))
	f.Add([]byte(parties(pClient, pServer) + `}`))
	f.Add([]byte(parties(pClient, pServer, pHelper) + `, "timeout": "-1s"}`))
	f.Add([]byte(parties(pClient, pServer, pHelper) + `, "max_message": "3GiB"}`))
	f.Add([]byte(`{"parties": [], "nope": 1}`))
	allowed := map[string]bool{"": true}
	for _, p := range mpc.PartiesOf(3) {
		allowed["keys/"+p.Role()+".crt"] = true
		allowed["keys/"+p.Role()+".key"] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fc struct {
			Parties []struct{ Cert, Key string }
		}
		if json.Unmarshal(data, &fc) == nil {
			for _, p := range fc.Parties {
				if !allowed[p.Cert] || !allowed[p.Key] {
					t.Skip("a path outside the fixture")
				}
			}
		}
		cfg, err := parseConfig(data, dir)
		if err != nil {
			return
		}
		if err := cfg.check(); err != nil {
			t.Fatalf("accepted a configuration check refuses: %v", err)
		}
		if cfg.Timeout <= 0 || cfg.MaxMessage < 1 || cfg.MaxMessage > MaxMessageLimit {
			t.Fatalf("timeout %v, max_message %d", cfg.Timeout, cfg.MaxMessage)
		}
		again, err := parseConfig(marshalConfig(t, cfg), dir)
		if err != nil {
			t.Fatalf("written back, the configuration is refused: %v", err)
		}
		if again.Timeout != cfg.Timeout || again.MaxMessage != cfg.MaxMessage || !bytes.Equal(compact(again.Attestation), compact(cfg.Attestation)) {
			t.Fatalf("round trip changed the settings: %+v vs %+v", again, cfg)
		}
		if len(again.Parties) != len(cfg.Parties) {
			t.Fatalf("round trip changed the number of parties: %d, was %d", len(again.Parties), len(cfg.Parties))
		}
		for _, p := range mpc.PartiesOf(len(cfg.Parties)) {
			a, b := again.Parties[p], cfg.Parties[p]
			if a.Role != b.Role || a.Addr != b.Addr || a.Listen != b.Listen || a.CertFile != b.CertFile || a.KeyFile != b.KeyFile ||
				!bytes.Equal(a.Cert.Raw, b.Cert.Raw) {
				t.Fatalf("round trip changed %s: %+v vs %+v", p.Role(), a, b)
			}
		}
	})
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	json.Compact(&b, raw)
	return b.Bytes()
}

// marshalConfig writes cfg back in the file format.
func marshalConfig(t *testing.T, cfg *Config) []byte {
	t.Helper()
	type party struct {
		Role   string `json:"role"`
		Addr   string `json:"addr,omitempty"`
		Listen string `json:"listen,omitempty"`
		Cert   string `json:"cert"`
		Key    string `json:"key,omitempty"`
	}
	var out struct {
		Parties     []party         `json:"parties"`
		Timeout     string          `json:"timeout"`
		MaxMessage  int64           `json:"max_message"`
		Attestation json.RawMessage `json:"attestation,omitempty"`
	}
	for _, p := range cfg.Parties {
		// Paths are resolved against cfg.Dir; parsing again against the
		// same directory keeps absolute ones as they are.
		cert, key := p.CertFile, p.KeyFile
		if !filepath.IsAbs(cert) || (key != "" && !filepath.IsAbs(key)) {
			t.Fatalf("resolved paths %q, %q are not absolute", cert, key)
		}
		out.Parties = append(out.Parties, party{p.Role.Role(), p.Addr, p.Listen, cert, key})
	}
	out.Timeout, out.MaxMessage, out.Attestation = cfg.Timeout.String(), cfg.MaxMessage, cfg.Attestation
	// Without HTML escaping, so that the attestation section comes back
	// byte for byte (json.Marshal would write & as \u0026).
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzParseSize: sizes as the max_message setting writes them. No panic;
// a size accepted is positive, within the frame format, and its plain
// number parses to the same size.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "1048576", "64MiB", "1 GB", "1GiB", "2147483647", "2147483648", "3GiB", "0", "-1", "1e3", " 7 KiB ", "B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 1 || n > MaxMessageLimit {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		if m, err := parseSize(strconv.FormatInt(n, 10)); err != nil || m != n {
			t.Fatalf("parseSize(%q) = %d, but %d parses to %d, %v", s, n, n, m, err)
		}
	})
}
