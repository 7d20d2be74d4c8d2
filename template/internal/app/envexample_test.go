// Code managed by copier-gin: take template improvements with `make update`.

package app

import (
	"os"
	"strings"
	"testing"
)

// TestEnvExampleIsUpToDate keeps .env.example in sync with the settings structs.
func TestEnvExampleIsUpToDate(t *testing.T) {
	got, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	want := EnvExample()
	if string(got) == want {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(want, "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf(".env.example is out of date: run `make env-example`.\nline %d is %q, want %q", i+1, g, w)
		}
	}
}
