package main

import (
	"encoding/json"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestReadVersion: the report reads the module version and the VCS
// stamp from the build information, whatever of it there is.
func TestReadVersion(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "veil", Version: "v0.0.0-20260101120000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-01-01T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, c := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want buildVersion
		text []string
	}{
		{"stamped", stamped, true,
			buildVersion{Module: "veil", Version: stamped.Main.Version, Revision: "0123456789abcdef0123456789abcdef01234567", Time: "2026-01-01T12:00:00Z", Modified: true, Go: "go1.26.8"},
			[]string{"veil v0.0.0-20260101120000-0123456789ab+dirty\n", "revision  0123456789abcdef0123456789abcdef01234567, with uncommitted changes\n", "time      2026-01-01T12:00:00Z\n"}},
		{"unstamped", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "veil", Version: "(devel)"}}, true,
			buildVersion{Module: "veil", Version: "(devel)", Go: "go1.26.8"},
			[]string{"veil (devel)\n", "revision  unknown (not stamped"}},
		{"no build information", nil, false,
			buildVersion{Module: "veil", Version: "unknown", Go: runtime.Version()},
			[]string{"veil unknown\n", "revision  unknown"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := readVersion(c.bi, c.ok)
			c.want.OS, c.want.Arch = runtime.GOOS, runtime.GOARCH
			backends := got.Backends
			if len(backends) != 2 || backends[0].Name != "2pc" || backends[0].Parties != 2 || backends[1].Name != "3pc" || backends[1].Parties != 3 {
				t.Errorf("backends %+v, want 2pc (2 parties) and 3pc (3)", backends)
			}
			c.want.Backends = backends
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			var b strings.Builder
			got.print(&b)
			for _, want := range append(c.text, "go        "+got.Go+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n", "backends  2pc (2 parties): ", "          3pc (3 parties): ") {
				if !strings.Contains(b.String(), want) {
					t.Errorf("text lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}

// TestVersionCommand: veil version prints this binary's Go version and
// backends, as text and as JSON.
func TestVersionCommand(t *testing.T) {
	out, err := veil(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"veil ", "go        " + runtime.Version(), "2pc (2 parties)", "3pc (3 parties)"} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
	out, err = veil(t, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v buildVersion
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("version --json printed %q: %v", out, err)
	}
	if v.Module != "veil" || v.Go != runtime.Version() || len(v.Backends) != 2 {
		t.Errorf("version --json: %+v", v)
	}
	if _, err := veil(t, "version", "extra"); exitStatus(err) != 2 {
		t.Errorf("version with an argument: %v (exit %d), want a usage error", err, exitStatus(err))
	}
}
