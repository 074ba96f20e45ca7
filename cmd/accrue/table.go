package main

import (
	"context"
	"fmt"

	"github.com/accrue/accrue/shared/store"
)

// tableCreate: accrue table create. Idempotent: an existing table is left as it is.
func tableCreate(ctx context.Context, c *cli, args []string) error {
	const name = "table create"
	fs := c.flags(name)
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	db, err := c.tableDB(ctx, name)
	if err != nil {
		return err
	}
	created, err := store.EnsureTable(ctx, db, c.table)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(c.stdout, "Created table %s.\n", c.table)
	} else {
		fmt.Fprintf(c.stdout, "Table %s already exists.\n", c.table)
	}
	return nil
}
