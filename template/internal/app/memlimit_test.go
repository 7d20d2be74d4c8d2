// Code managed by copier-gin: take template improvements with `make update`.

package app

import (
	"errors"
	"testing"
)

func TestGoMemoryLimitLeavesHeadroom(t *testing.T) {
	cgroup := func(text string) func(string) ([]byte, error) {
		return func(path string) ([]byte, error) {
			if path != cgroupMemoryMax {
				t.Fatalf("read %s", path)
			}
			return []byte(text), nil
		}
	}
	missing := func(string) ([]byte, error) { return nil, errors.New("no cgroup") }
	const mib = 1 << 20
	cases := []struct {
		name       string
		environ    []string
		configured int64
		read       func(string) ([]byte, error)
		want       int64
	}{
		{"configured (the Kubernetes limit)", nil, 256 * mib, missing, 256 * mib / 100 * MemoryLimitPercent},
		{"from the cgroup", nil, 0, cgroup("268435456\n"), 256 * mib / 100 * MemoryLimitPercent},
		{"no cgroup limit", nil, 0, cgroup("max\n"), 0},
		{"no cgroup at all", nil, 0, missing, 0},
		{"GOMEMLIMIT set by hand wins", []string{"GOMEMLIMIT=100MiB"}, 256 * mib, missing, 0},
	}
	for _, tc := range cases {
		if got := goMemoryLimit(tc.environ, tc.configured, tc.read); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
