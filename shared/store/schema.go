// Package store keeps Accrue's data in one DynamoDB table (spec §7). Every key
// starts with the partner id, so no read or write of partner A can reach partner
// B's items. It owns I/O only: each operation loads what it needs, calls the
// domain (ledger, rules, jobs) to decide, and commits the decision as one
// conditional transaction (tx.go), retrying on a conflict. It decides nothing
// about points itself.
//
// Where things are: the table and its indexes (this file, the one place the
// CDK stack, the local stack and the tests build it from), every key (keys.go,
// the one place a key is built or parsed), the write primitive (tx.go), a
// member's ledger transaction and its queries (ledgertx.go), and one file per
// kind of item: program.go, registry.go (partner registry), members.go,
// accrual.go, refund.go, redemptions.go, review.go, audit.go, rejected.go,
// idempotency.go, gdpr.go and erased.go, due.go (due index), rollup.go and
// stats.go (stats roll-up state and figures), partials.go (the partial
// figures the stats consumer sums from the table's stream), webhooks.go
// (webhook endpoints and their delivery records).
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithytime "github.com/aws/smithy-go/time"
)

// Attribute and index names of the table.
const (
	AttrPK = "pk" // partition key (string)
	AttrSK = "sk" // sort key (string)
	// AttrTTL: epoch seconds after which DynamoDB deletes the item (idempotency
	// records, stale temporary items).
	AttrTTL = "ttl"

	// AttrDueShard and AttrDue put a member item in the due index: the shard
	// ("DUE#00".."DUE#15", from a hash of the member's key) and the unix second
	// at which a scheduled job next has work for the member. Both are absent
	// when nothing is scheduled, so the index holds only members that are due
	// some day (sparse).
	AttrDueShard = "dsh"
	AttrDue      = "due"
	// IndexDue is a global secondary index (dsh, due), keys only: the member
	// jobs query each shard for due <= now, so a run reads the members due,
	// not all members.
	IndexDue = "due"

	// AttrMoved marks the copy of a ledger entry that a GDPR erase made
	// under the anonymous member (gdpr.go): the same entry again, not a new
	// one, which the stats roll-up must not count twice.
	AttrMoved = "mv"
)

// DueShards is the number of partitions of the due index: it spreads the
// index writes of a busy table over several partition keys.
const DueShards = 16

// retiredIndexes are global indexes older versions created and this one no
// longer has: EnsureTable deletes them from a kept local table. ("day" listed
// ledger entries by UTC day for the stats roll-up, which now aggregates the
// table's stream instead.)
var retiredIndexes = []string{"day"}

// KeySchema returns the table's primary key.
func KeySchema() []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
	}
}

// AttributeDefinitions returns the key attributes of the table and its indexes.
func AttributeDefinitions() []types.AttributeDefinition {
	return []types.AttributeDefinition{
		{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String(AttrDueShard), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String(AttrDue), AttributeType: types.ScalarAttributeTypeN},
	}
}

// GlobalSecondaryIndexes returns the table's GSIs (sparse: only items with
// their key attributes are in them).
func GlobalSecondaryIndexes() []types.GlobalSecondaryIndex {
	return []types.GlobalSecondaryIndex{
		{
			IndexName: aws.String(IndexDue),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrDueShard), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrDue), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		},
	}
}

// LocalSecondaryIndexes returns the table's LSIs: none. The ledger index
// that older versions had (pk, lsk = L#{seq}) cost a write unit for every
// ledger entry (a fifth of an accrual's), and a table with any LSI caps each
// item collection — a member, and also a partner's rejections, audit trail
// or review queue — at 10 GB and never splits one that is hot. The ledger is
// read from the table instead (entries.go). An LSI exists only from a
// table's creation: a table made by an older version keeps its index, which
// no item enters any more (no item has lsk).
func LocalSecondaryIndexes() []types.LocalSecondaryIndex { return nil }

// StreamViewType is the view of the table's DynamoDB stream: the domain-event
// publisher (package domainevents) compares the old and new images of an item
// (a tier change, a lot warned, a redemption captured), and the stats
// roll-up's consumer those of a member (a new activity day), so both need
// both.
const StreamViewType = types.StreamViewTypeNewAndOldImages

// CreateTableInput is the table as the local stack and tests create it
// (on-demand billing and a stream of new and old images, like the deployed
// table).
func CreateTableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:              aws.String(name),
		BillingMode:            types.BillingModePayPerRequest,
		KeySchema:              KeySchema(),
		AttributeDefinitions:   AttributeDefinitions(),
		LocalSecondaryIndexes:  LocalSecondaryIndexes(),
		GlobalSecondaryIndexes: GlobalSecondaryIndexes(),
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: StreamViewType,
		},
	}
}

// TableAPI is what EnsureTable needs of a DynamoDB client.
type TableAPI interface {
	dynamodb.DescribeTableAPIClient
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
}

// EnsureTable creates the table from CreateTableInput unless it exists, and
// waits until it is active. It reports whether it created it. A table made by
// an older version (a kept local database) is brought to the schema: a global
// index it lacks is added (items written before are not in it), and a retired
// one is deleted. (The local stack and the operator CLI use it; in AWS the
// CDK stack owns the table.)
func EnsureTable(ctx context.Context, db TableAPI, name string) (bool, error) {
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		if err := dropRetiredIndexes(ctx, db, name, desc.Table); err != nil {
			return false, err
		}
		return false, addMissingIndexes(ctx, db, name, desc.Table)
	case !errors.As(err, &nf):
		return false, fmt.Errorf("describe table %s: %w", name, err)
	}
	_, err = db.CreateTable(ctx, CreateTableInput(name))
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return false, nil // created concurrently
	}
	if err != nil {
		return false, fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 5*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
		return true, fmt.Errorf("table %s was created but did not become active: %w", name, err)
	}
	return true, nil
}

// addMissingIndexes creates the schema's global indexes the table lacks, one
// UpdateTable each (DynamoDB creates one index per call), and waits until
// they are active.
func addMissingIndexes(ctx context.Context, db TableAPI, name string, t *types.TableDescription) error {
	have := map[string]bool{}
	if t != nil {
		for _, g := range t.GlobalSecondaryIndexes {
			have[aws.ToString(g.IndexName)] = true
		}
	}
	for _, g := range GlobalSecondaryIndexes() {
		if have[aws.ToString(g.IndexName)] {
			continue
		}
		_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:            aws.String(name),
			AttributeDefinitions: AttributeDefinitions(),
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection,
			}}},
		})
		if err != nil {
			return fmt.Errorf("add index %s to table %s: %w", aws.ToString(g.IndexName), name, err)
		}
		if err := waitIndexActive(ctx, db, name, aws.ToString(g.IndexName)); err != nil {
			return err
		}
	}
	return nil
}

// dropRetiredIndexes deletes the retired global indexes the table still has,
// one UpdateTable each, and waits until they are gone.
func dropRetiredIndexes(ctx context.Context, db TableAPI, name string, t *types.TableDescription) error {
	if t == nil {
		return nil
	}
	for _, g := range t.GlobalSecondaryIndexes {
		index := aws.ToString(g.IndexName)
		if !slices.Contains(retiredIndexes, index) {
			continue
		}
		_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:                   aws.String(name),
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Delete: &types.DeleteGlobalSecondaryIndexAction{IndexName: g.IndexName}}},
		})
		if err != nil {
			return fmt.Errorf("delete retired index %s of table %s: %w", index, name, err)
		}
		if err := waitIndex(ctx, db, name, index, false); err != nil {
			return err
		}
	}
	return nil
}

func waitIndexActive(ctx context.Context, db TableAPI, table, index string) error {
	return waitIndex(ctx, db, table, index, true)
}

// waitIndex waits until the table's global index is active (active true) or
// gone (false).
func waitIndex(ctx context.Context, db TableAPI, table, index string, active bool) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("describe table %s: %w", table, err)
		}
		present := false
		for _, g := range d.Table.GlobalSecondaryIndexes {
			if aws.ToString(g.IndexName) != index {
				continue
			}
			present = true
			if active && g.IndexStatus == types.IndexStatusActive {
				return nil
			}
		}
		if !active && !present {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("index %s of table %s did not become %s", index, table, map[bool]string{true: "active", false: "deleted"}[active])
		}
		if err := smithytime.SleepWithContext(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}
