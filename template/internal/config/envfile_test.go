// Code managed by copier-gin: take template improvements with `make update`.

package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.env")
	text := "# comment\n\nA=1\nexport B = two words \nC=\"quoted # not a comment\"\nD='x'\nE=\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEnvFile(path)
	want := []string{"A=1", "B=two words", "C=quoted # not a comment", "D=x", "E="}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ReadEnvFile = %q, %v; want %q", got, err, want)
	}
}

func TestReadEnvFileErrorsNameTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.env")
	if err := os.WriteFile(path, []byte("A=1\nnot a setting\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEnvFile(path); err == nil || !strings.Contains(err.Error(), "bad.env:2:") {
		t.Fatalf("error = %v, want one naming bad.env:2", err)
	}
	if _, err := ReadEnvFile(filepath.Join(t.TempDir(), "missing.env")); err == nil || !strings.Contains(err.Error(), "missing.env") {
		t.Fatalf("a missing file must be an error naming it, got %v", err)
	}
}
