package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"veil/mpc"
)

// buildVersion is what veil version reports: the build's module version
// and VCS stamp (as go build records them in the binary), the toolchain
// and platform, and the secure backends compiled in.
type buildVersion struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	// Revision, Time and Modified are the VCS stamp: the commit, its
	// time (RFC 3339) and whether the tree had uncommitted changes.
	// go build records them when it builds in a git checkout with
	// -buildvcs (true or auto, the default); a test binary has none.
	Revision string           `json:"revision,omitempty"`
	Time     string           `json:"time,omitempty"`
	Modified bool             `json:"modified"`
	Go       string           `json:"go"`
	OS       string           `json:"os"`
	Arch     string           `json:"arch"`
	Backends []versionBackend `json:"backends"`
}

type versionBackend struct {
	Name    string `json:"name"`
	Parties int    `json:"parties"`
	Summary string `json:"summary"`
}

// readVersion makes the report from debug.ReadBuildInfo's results and
// the registered backends.
func readVersion(bi *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Module: "veil", Version: "unknown", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if ok {
		if bi.Main.Path != "" {
			v.Module = bi.Main.Path
		}
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			v.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified, _ = strconv.ParseBool(s.Value)
			}
		}
	}
	for _, name := range mpc.Backends() {
		if b, err := mpc.Lookup(name); err == nil {
			v.Backends = append(v.Backends, versionBackend{b.Name, b.Parties, b.Summary})
		}
	}
	return v
}

func (v buildVersion) print(w io.Writer) {
	fmt.Fprintf(w, "%s %s\n", v.Module, v.Version)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	switch {
	case v.Revision == "":
		fmt.Fprintln(tw, "revision\tunknown (not stamped: go build -buildvcs=true in a git checkout records it)")
	case v.Modified:
		fmt.Fprintf(tw, "revision\t%s, with uncommitted changes\n", v.Revision)
	default:
		fmt.Fprintf(tw, "revision\t%s\n", v.Revision)
	}
	if v.Time != "" {
		fmt.Fprintf(tw, "time\t%s\n", v.Time)
	}
	fmt.Fprintf(tw, "go\t%s %s/%s\n", v.Go, v.OS, v.Arch)
	for i, b := range v.Backends {
		label := ""
		if i == 0 {
			label = "backends"
		}
		fmt.Fprintf(tw, "%s\t%s (%d parties): %s\n", label, b.Name, b.Parties, b.Summary)
	}
	tw.Flush()
}

func versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print veil's version, VCS revision, Go version and secure backends",
		Long: `version prints the module version and the VCS stamp that go build recorded
in this binary (commit, commit time, whether the tree had uncommitted
changes), the Go toolchain and platform, and the secure backends compiled
in. A binary built outside a git checkout, or with -buildvcs=false (in
GOFLAGS too), has no stamp.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := readVersion(debug.ReadBuildInfo())
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(v)
			}
			v.print(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
