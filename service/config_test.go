package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadConfigRefuses checks that every malformed configuration is
// refused with an error naming the problem.
func TestLoadConfigRefuses(t *testing.T) {
	good := `"listen": "127.0.0.1:7300", "key": "k", "models": {"m": "m.vp"}, "clients": "any"`
	for _, c := range []struct{ body, want string }{
		{`{` + good + `, "extra": 1}`, `unknown field "extra"`},
		{`{"key": "k", "models": {"m": "m.vp"}, "clients": "any"}`, `no "listen"`},
		{`{"listen": "nowhere", "key": "k", "models": {"m": "m.vp"}, "clients": "any"}`, `"listen" "nowhere"`},
		{`{"listen": "127.0.0.1:7300", "models": {"m": "m.vp"}, "clients": "any"}`, `no "key"`},
		{`{"listen": "127.0.0.1:7300", "key": "k", "clients": "any"}`, `no "models"`},
		{`{"listen": "127.0.0.1:7300", "key": "k", "models": {"m": "m.vp"}}`, `no "clients"`},
		{`{` + good + `, "timeout": "soon"}`, `"timeout" "soon"`},
		{`{` + good + `, "max_sessions": -1}`, `"max_sessions" -1`},
		{`{"listen": "127.0.0.1:7300", "key": "k", "models": {"m": ""}, "clients": "any"}`, `model "m"`},
		{`{` + good, `unexpected EOF`},
		{`{` + good + `, "backend": "4pc"}`, `"backend" "4pc"`},
		{`{` + good + `, "backend": "3pc"}`, `needs "helper"`},
		{`{` + good + `, "helper": {"addr": "h:1", "cert": "h.crt"}}`, `only backend 3pc`},
		{`{` + good + `, "metrics": "nowhere"}`, `"metrics" "nowhere"`},
		{`{` + good + `, "session_timeout": "-1s"}`, `"session_timeout" "-1s"`},
	} {
		path := filepath.Join(t.TempDir(), "serve.json")
		if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.body, err, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "serve.json")
	os.WriteFile(path, []byte(`{`+good+`, "timeout": "30s", "max_sessions": 8}`), 0o600)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Server(); err == nil || !strings.Contains(err.Error(), "server key") {
		t.Errorf("a missing key file: %v", err)
	}
}

// TestLoadHelperConfig checks veil helper's file: the servers' keys are
// required, the rest as for veil serve.
func TestLoadHelperConfig(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ body, want string }{
		{`{"listen": "127.0.0.1:7400", "key": "k"}`, `no "servers"`},
		{`{"listen": "127.0.0.1:7400", "servers": "s.pem"}`, `no "key"`},
		{`{"listen": "127.0.0.1:7400", "key": "k", "servers": "s.pem", "models": {}}`, `unknown field "models"`},
	} {
		path := filepath.Join(dir, "helper.json")
		os.WriteFile(path, []byte(c.body), 0o600)
		if _, err := LoadHelperConfig(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.body, err, c.want)
		}
	}
}
