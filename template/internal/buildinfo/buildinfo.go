// Code managed by copier-gin: take template improvements with `make update`.

// Package buildinfo holds version information injected at build time with
// -ldflags "-X <module>/internal/buildinfo.Version=... -X ...Commit=... -X ...Date=...".
package buildinfo

import "runtime"

// Set by the linker; the defaults describe a development build.
var (
	Version = "dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// Info is the build information the service reports on /version.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
	Go      string `json:"go"`
}

// Get returns the build information of the running binary.
func Get() Info {
	return Info{Version: Version, Commit: Commit, Date: Date, Go: runtime.Version()}
}
