// Code managed by copier-gin: take template improvements with `make update`.

package database

import (
	"net/url"
	"strings"
)

// Redact returns the database URL fit for a log line or an error: its password,
// and any password= or secret-like query parameter, replaced by "xxxxx".
func Redact(raw string) string {
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

// scrub removes the URL's password from err's text: drivers sometimes quote the URL.
func scrub(raw string, err error) error {
	if err == nil {
		return nil
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	password, has := u.User.Password()
	if !has || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return scrubbed{text: strings.ReplaceAll(err.Error(), password, "xxxxx"), err: err}
}

type scrubbed struct {
	text string
	err  error
}

func (s scrubbed) Error() string { return s.text }
func (s scrubbed) Unwrap() error { return s.err }
