// Code managed by copier-gin: take template improvements with `make update`.

package config

import (
	"net/url"
	"strings"
)

// RedactURL returns a URL that holds a credential (a database's, Redis's) fit for a log
// line or an error: its password,
// and any password= or secret-like query parameter, replaced by "xxxxx".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// An unparsable URL may still hold a password: show only its scheme.
		scheme, _, found := strings.Cut(raw, ":")
		if !found || strings.ContainsAny(scheme, "/@") {
			return "(unparsable URL)"
		}
		return scheme + ":(unparsable URL)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	for key := range q {
		if k := strings.ToLower(key); strings.Contains(k, "password") || strings.Contains(k, "secret") || k == "sslkey" || k == "token" {
			q.Set(key, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
