package audit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"modernc.org/sqlite"
)

// sqliteDriver opens every connection of the store with a persistent WAL:
// the -wal and -shm files stay after the last connection closes, so a
// one-shot command does not create and delete two files per call.
var sqliteDriver = newSQLiteDriver()

func newSQLiteDriver() *sqlite.Driver {
	d := &sqlite.Driver{}
	d.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, _ string) error {
		fc, ok := c.(sqlite.FileControl)
		if !ok {
			return fmt.Errorf("audit: sqlite connection without file control")
		}
		_, err := fc.FileControlPersistWAL("main", 1)
		return err
	})
	return d
}

// connector hands database/sql connections from sqliteDriver.
type connector struct{ dsn string }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return sqliteDriver.Open(c.dsn)
}

func (c connector) Driver() driver.Driver { return sqliteDriver }

func openDB(dsn string) *sql.DB { return sql.OpenDB(connector{dsn: dsn}) }
