package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/store"
)

// tableCreate: accrue table create. Idempotent: an existing table is left as it is.
func tableCreate(ctx context.Context, c *cli, args []string) error {
	const name = "table create"
	fs := c.flags(name)
	if err := c.parse(name, fs, args); err != nil {
		return err
	}
	if err := c.requireTable(name); err != nil {
		return err
	}
	db, err := newDynamoDB(ctx, c.env, c.stderr)
	if err != nil {
		return err
	}
	_, err = db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(c.table)})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		fmt.Fprintf(c.stdout, "Table %s already exists.\n", c.table)
		return nil
	case !errors.As(err, &nf):
		return fmt.Errorf("describe table %s: %w", c.table, err)
	}
	_, err = db.CreateTable(ctx, store.CreateTableInput(c.table))
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		// Created concurrently.
		fmt.Fprintf(c.stdout, "Table %s already exists.\n", c.table)
		return nil
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", c.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 5*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(c.table)}, 5*time.Minute); err != nil {
		return fmt.Errorf("table %s was created but did not become active: %w", c.table, err)
	}
	fmt.Fprintf(c.stdout, "Created table %s.\n", c.table)
	return nil
}
