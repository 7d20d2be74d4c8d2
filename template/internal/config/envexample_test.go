// Code managed by copier-gin: take template improvements with `make update`.

package config

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestEnvExampleMatchesConfig keeps .env.example in sync with Config: the same
// variables, in the same order, with the same defaults.
func TestEnvExampleMatchesConfig(t *testing.T) {
	f, err := os.Open("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var documented [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf(".env.example line %q is not KEY=value", line)
		}
		documented = append(documented, [2]string{k, v})
	}

	var declared [][2]string
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		name, _, _ := strings.Cut(field.Tag.Get("env"), ",")
		declared = append(declared, [2]string{Prefix + name, field.Tag.Get("envDefault")})
	}
	if !reflect.DeepEqual(documented, declared) {
		t.Fatalf(".env.example and Config disagree:\n.env.example: %v\nConfig:       %v", documented, declared)
	}
}
