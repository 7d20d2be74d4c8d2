// Code managed by copier-gin: take template improvements with `make update`.

// Package migrations embeds the service's schema migrations, the SQL files in sql/
// (yours: add one per change, never edit one that has been applied anywhere).
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sql
var files embed.FS

// SQL holds the migration files, at its root.
var SQL = mustSub(files, "sql")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
