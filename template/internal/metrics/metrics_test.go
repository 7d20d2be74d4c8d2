// Code managed by copier-gin: take template improvements with `make update`.

package metrics

import "testing"

func TestLabelsAreBounded(t *testing.T) {
	for in, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "BREW": "other", "get": "other", "": "other"} {
		if got := Method(in); got != want {
			t.Errorf("Method(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int]string{0: "error", 101: "1xx", 200: "2xx", 299: "2xx", 404: "4xx", 503: "5xx", 600: "other", 999: "other", 42: "other"} {
		if got := StatusClass(in); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", in, got, want)
		}
	}
	if Route("") != Unmatched || Route("/a/:id") != "/a/:id" {
		t.Error("Route must map an unmatched request to Unmatched and keep templates")
	}
}
