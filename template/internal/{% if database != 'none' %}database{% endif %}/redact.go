// Code managed by copier-gin: take template improvements with `make update`.

package database

import (
	"net/url"
	"strings"
)

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
