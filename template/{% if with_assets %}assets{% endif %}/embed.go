// Code managed by copier-gin: take template improvements with `make update`.

// Package assets embeds the service's static files, the folder public/ beside this file
// (yours: put CSS, JS, images there), in the binary. internal/static serves them under the
// static prefix (docs/assets.md). Embedding means a deploy can never forget them, and a
// file added on disk after the build is not served.
package assets

import (
	"embed"
	"io/fs"
)

// Dir is the folder of this package whose files are embedded.
const Dir = "public"

// files holds public/ and everything below it. The directive is exact on purpose
// (embed_test.go checks every file on disk is embedded): no space after "//" (a
// "// go:embed" line is an ordinary comment and embeds nothing), and "all:" so that
// names starting with "." or "_" (.well-known/, _partial.css) are embedded too.
//
//go:embed all:public
var files embed.FS

// FS returns the embedded files, rooted at public/ ("css/app.css" is public/css/app.css).
func FS() fs.FS {
	sub, err := fs.Sub(files, Dir)
	if err != nil {
		panic(err) // fs.Sub fails only for an invalid name, and Dir is valid
	}
	return sub
}
