// Code managed by copier-gin: take template improvements with `make update`.

package assets

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The traps of go:embed, caught here rather than as a 404 in production: a directive
// that is not one ("// go:embed", with a space, embeds nothing and compiles), a pattern
// that misses files (without "all:", or "public/*", names starting with "." or "_" below
// public/ are left out), a file whose name go:embed refuses (the build fails then).
func TestEveryFileOnDiskIsEmbedded(t *testing.T) {
	embedded := FS()
	var onDisk, missing []string
	err := filepath.WalkDir(Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(Dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		onDisk = append(onDisk, name)
		want, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got, err := fs.ReadFile(embedded, name)
		if err != nil || !bytes.Equal(got, want) {
			missing = append(missing, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Fatalf("%d of the %d files in assets/%s are not embedded in the binary (they would be 404 in production): %s\n"+
			"assets/embed.go must declare its files with exactly `//go:embed all:%s` (no space after //; all: keeps names starting with . or _)",
			len(missing), len(onDisk), Dir, strings.Join(missing, ", "), Dir)
	}
}

// A precompressed variant (x.css.gz) that no longer matches its file (x.css was edited,
// `make assets` not run again) would serve the old content to every browser that accepts
// gzip. Brotli variants cannot be checked with the standard library: `make assets`
// writes both.
func TestGzipVariantsMatchTheirFiles(t *testing.T) {
	embedded := FS()
	err := fs.WalkDir(embedded, ".", func(name string, _ fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(name, ".gz") {
			return err
		}
		if _, statErr := fs.Stat(embedded, strings.TrimSuffix(name, ".gz")); statErr != nil {
			return nil //nolint:nilerr // a .gz of its own (an archive to download), not a variant
		}
		original, err := fs.ReadFile(embedded, strings.TrimSuffix(name, ".gz"))
		if err != nil {
			return err
		}
		compressed, err := fs.ReadFile(embedded, name)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(bytes.NewReader(compressed))
		if err != nil {
			t.Errorf("assets/%s/%s is not gzip: %v", Dir, name, err)
			return nil
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(plain, original) {
			t.Errorf("assets/%s/%s does not hold the current %s: run `make assets`", Dir, name, strings.TrimSuffix(name, ".gz"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
