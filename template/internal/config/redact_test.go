// Code managed by copier-gin: take template improvements with `make update`.

package config

import "testing"

const secret = "s3cr3t-pa55"

func TestRedact(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://app:" + secret + "@db:5432/app?sslmode=verify-full": "postgres://app:xxxxx@db:5432/app?sslmode=verify-full",
		"mysql://app:" + secret + "@db/app?password=" + secret:          "mysql://app:xxxxx@db/app?password=xxxxx",
		"postgres://db/app":                   "postgres://db/app",
		"file:/var/lib/x/x.db":                "file:/var/lib/x/x.db",
		"postgres://app:" + secret + "@db:x%": "postgres:(unparsable URL)",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestRedactURLKeepsARedisURLsShape(t *testing.T) {
	if got := RedactURL("rediss://:" + secret + "@cache:6380/2"); got != "rediss://:xxxxx@cache:6380/2" {
		t.Fatalf("RedactURL = %q", got)
	}
}
