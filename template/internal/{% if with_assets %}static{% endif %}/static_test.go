// Code managed by copier-gin: take template improvements with `make update`.

package static

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

func gz(t *testing.T, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newHandler(t *testing.T) *Handler {
	t.Helper()
	css := "body { color: #123456; }\n"
	h, err := New(fstest.MapFS{
		"css/app.css":              {Data: []byte(css)},
		"css/app.css.gz":           {Data: gz(t, css)},
		"css/app.css.br":           {Data: []byte("pretend brotli")},
		"js/app.0123abcd.js":       {Data: []byte("console.log(1)\n")},
		"img/logo.svg":             {Data: []byte("<svg/>")},
		"nested/a b/file name.txt": {Data: []byte("spaces\n")},
		".well-known/security.txt": {Data: []byte("Contact: x\n")},
		"blob.unknownext":          {Data: []byte{0, 1, 2}},
		"only.gz":                  {Data: gz(t, "x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h *Handler, method, name string, headers ...string) (*httptest.ResponseRecorder, error) {
	req := httptest.NewRequest(method, "/static/x", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	err := h.Serve(rec, req, name)
	return rec, err
}

func TestServesWithTypeCacheControlAndETagButNoLastModified(t *testing.T) {
	h := newHandler(t)
	for name, want := range map[string][2]string{
		"css/app.css":              {"text/css; charset=utf-8", CacheOther},
		"js/app.0123abcd.js":       {"text/javascript; charset=utf-8", CacheFingerprinted},
		"img/logo.svg":             {"image/svg+xml", CacheOther},
		"nested/a b/file name.txt": {"text/plain; charset=utf-8", CacheOther},
		".well-known/security.txt": {"text/plain; charset=utf-8", CacheOther},
		"blob.unknownext":          {"application/octet-stream", CacheOther},
	} {
		rec, err := serve(h, http.MethodGet, name)
		if err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%s: %v %d", name, err, rec.Code)
		}
		if got := rec.Header().Get("Content-Type"); got != want[0] {
			t.Errorf("%s: Content-Type %q, want %q", name, got, want[0])
		}
		if got := rec.Header().Get("Cache-Control"); got != want[1] {
			t.Errorf("%s: Cache-Control %q, want %q", name, got, want[1])
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", name, got)
		}
		if etag := rec.Header().Get("ETag"); len(etag) != 34 || etag[0] != '"' {
			t.Errorf("%s: ETag %q is not a strong hash", name, etag)
		}
		if rec.Header().Get("Last-Modified") != "" || rec.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s: unexpected headers %v", name, rec.Header())
		}
	}
}

func TestFingerprintPattern(t *testing.T) {
	for name, want := range map[string]bool{
		"app.0123abcd.css": true, "a/b/app.0123456789abcdef.js": true, "app.css": false,
		"app.0123abc.css": false, "app.0123ABCD.css": false, "0123abcd.css": false, "app.0123abcd": false,
	} {
		if got := CacheControl(name) == CacheFingerprinted; got != want {
			t.Errorf("CacheControl(%q) fingerprinted = %v, want %v", name, got, want)
		}
	}
}

func TestIfNoneMatchGives304(t *testing.T) {
	h := newHandler(t)
	first, _ := serve(h, http.MethodGet, "img/logo.svg")
	etag := first.Header().Get("ETag")
	rec, err := serve(h, http.MethodGet, "img/logo.svg", "If-None-Match", etag)
	if err != nil || rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("If-None-Match %s: %v %d %q", etag, err, rec.Code, rec.Body.String())
	}
	rec, _ = serve(h, http.MethodGet, "img/logo.svg", "If-None-Match", `"other"`)
	if rec.Code != http.StatusOK {
		t.Fatalf("a stale ETag: %d", rec.Code)
	}
}

func TestPrecompressedVariantsByAcceptEncoding(t *testing.T) {
	h := newHandler(t)
	plain, _ := serve(h, http.MethodGet, "css/app.css")
	for accept, want := range map[string]string{
		"":                         "",
		"gzip":                     "gzip",
		"gzip, deflate, br":        "br",
		"br;q=0.5, gzip":           "gzip",
		"br;q=0, gzip;q=0":         "",
		"*":                        "br",
		"*;q=0.1, br;q=0":          "gzip",
		"identity, gzip;q=0.5":     "",
		"deflate":                  "",
		"x-gzip":                   "gzip",
		"GZIP;Q=0.8":               "gzip",
		"gzip;q=bogus, br;q=0.001": "br",
	} {
		rec, err := serve(h, http.MethodGet, "css/app.css", "Accept-Encoding", accept)
		if err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%q: %v %d", accept, err, rec.Code)
		}
		if got := rec.Header().Get("Content-Encoding"); got != want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", accept, got, want)
		}
		if got := rec.Header().Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", accept, got)
		}
		if got := rec.Header().Get("Content-Type"); got != "text/css; charset=utf-8" {
			t.Errorf("Accept-Encoding %q: Content-Type %q (the original's)", accept, got)
		}
		if want != "" && rec.Header().Get("ETag") == plain.Header().Get("ETag") {
			t.Errorf("Accept-Encoding %q: the variant has the original's ETag", accept)
		}
	}
	rec, _ := serve(h, http.MethodGet, "css/app.css", "Accept-Encoding", "gzip")
	r, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil || out.String() != plain.Body.String() {
		t.Fatalf("the gzip variant decodes to %q, %v", out.String(), err)
	}
	// A variant is sent whole, with its length, for GET and HEAD alike.
	head, _ := serve(h, http.MethodHead, "css/app.css", "Accept-Encoding", "gzip")
	if cl := head.Header().Get("Content-Length"); cl == "" || cl != rec.Header().Get("Content-Length") {
		t.Errorf("HEAD of the gzip variant: Content-Length %q, GET %q", cl, rec.Header().Get("Content-Length"))
	}
	ranged, _ := serve(h, http.MethodGet, "css/app.css", "Accept-Encoding", "gzip", "Range", "bytes=0-3")
	if ranged.Code != http.StatusOK || ranged.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("a range of the gzip variant: %d %v", ranged.Code, ranged.Header())
	}
	if plainRange, _ := serve(h, http.MethodGet, "css/app.css", "Range", "bytes=0-3"); plainRange.Code != http.StatusPartialContent || plainRange.Body.String() != "body" {
		t.Errorf("a range of the file: %d %q", plainRange.Code, plainRange.Body.String())
	}
	// A file without variants says nothing of encodings.
	rec, _ = serve(h, http.MethodGet, "img/logo.svg", "Accept-Encoding", "gzip, br")
	if rec.Header().Get("Vary") != "" || rec.Header().Get("Content-Encoding") != "" {
		t.Fatalf("no variants: %v", rec.Header())
	}
}

func TestHeadHasTheHeadersAndNoBody(t *testing.T) {
	h := newHandler(t)
	get, _ := serve(h, http.MethodGet, "js/app.0123abcd.js")
	head, err := serve(h, http.MethodHead, "js/app.0123abcd.js")
	if err != nil || head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Fatalf("HEAD: %v %d %q", err, head.Code, head.Body.String())
	}
	for _, k := range []string{"Content-Type", "Content-Length", "ETag", "Cache-Control"} {
		if head.Header().Get(k) != get.Header().Get(k) || get.Header().Get(k) == "" {
			t.Errorf("HEAD %s %q, GET %q", k, head.Header().Get(k), get.Header().Get(k))
		}
	}
}

func TestDirectoriesMissingFilesAndTraversal(t *testing.T) {
	h := newHandler(t)
	for name, want := range map[string]error{
		"":                      ErrNotFound,
		"css":                   ErrNotFound,
		"css/":                  ErrNotFound,
		"nested/a b":            ErrNotFound,
		"missing.css":           ErrNotFound,
		"CSS/APP.CSS":           ErrNotFound,
		"../etc/passwd":         ErrInvalidPath,
		"css/../css/app.css":    ErrInvalidPath,
		"./css/app.css":         ErrInvalidPath,
		"/etc/passwd":           ErrInvalidPath,
		"css//app.css":          ErrInvalidPath,
		`..\..\windows\win.ini`: ErrInvalidPath,
		"..":                    ErrInvalidPath,
	} {
		rec, err := serve(h, http.MethodGet, name)
		if !errors.Is(err, want) {
			t.Errorf("%q: error %v, want %v", name, err, want)
		}
		if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Errorf("%q: wrote %d %v before its error", name, rec.Code, rec.Header())
		}
	}
}
