package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

// dueProgram: 1 point per 1.00, 14 days pending, expiry 30 days after
// earning, warned 7 days before.
const dueProgram = `{
  "name": "Due",
  "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 100}}],
  "activities": [{"name": "app_install", "points": 10}],
  "pending_days": 14,
  "expiry": {"rolling_days": 30, "warn_days": 7},
  "point_value": {"minor": "1", "currency": "RUB"}
}`

// Writers move a member's due time earlier for what they write, never
// later, and the due index lists the member by it.
func TestWritersLowerDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"acme": dueProgram})
	ctx := context.Background()
	sec := func(t time.Time) int64 { return ledger.DueSecond(t) }
	// A pending lot's release is no job's work (the member's next write
	// books it): it sets the member's release time, not its due time.
	release := t0.AddDate(0, 0, 14).UnixNano()
	steps := []struct {
		name          string
		do            func() error
		want, release int64
	}{
		{"accrual: the pending lot's warning, 23 days on; its release, 14 days on", func() error { _, err := e.st.Apply(ctx, pay("acme", "m1", "p1", 5000)); return err }, sec(t0.AddDate(0, 0, 23)), release},
		{"a later accrual does not move them", func() error { _, err := e.st.Apply(ctx, pay("acme", "m1", "p2", 5000)); return err }, sec(t0.AddDate(0, 0, 23)), release},
		{"an activity (available at once): its warning, 23 days on, is not earlier", func() error {
			_, _, err := e.st.Activity(ctx, "acme", "m1", "app_install")
			return err
		}, sec(t0.AddDate(0, 0, 23)), release},
		{"a hold: its expiry, 30 minutes on", func() error {
			_, _, err := e.st.Redeem(ctx, "acme", "m1", ledger.RedeemRequest{Points: 5})
			return err
		}, sec(t0.Add(ledger.DefaultHold)), release},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		m := e.member(t, "acme", "m1")
		if m.Due != s.want {
			t.Fatalf("%s: due %s, want %s", s.name, time.Unix(m.Due, 0).UTC(), time.Unix(s.want, 0).UTC())
		}
		if m.ReleaseAt != s.release {
			t.Fatalf("%s: release at %s, want %s", s.name, time.Unix(0, m.ReleaseAt).UTC(), time.Unix(0, s.release).UTC())
		}
	}
	var listed []store.DueMember
	for shard := range store.DueShards {
		if err := e.st.ForEachDue(ctx, shard, t0.Add(ledger.DefaultHold), func(d store.DueMember) error {
			listed = append(listed, d)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(listed) != 1 || listed[0].PartnerID != "acme" || listed[0].MemberID != "m1" || !listed[0].Due.Equal(t0.Add(ledger.DefaultHold)) {
		t.Fatalf("due index at the hold's expiry: %+v", listed)
	}
	for shard := range store.DueShards {
		_ = e.st.ForEachDue(ctx, shard, t0.Add(ledger.DefaultHold-time.Second), func(d store.DueMember) error {
			t.Errorf("listed a second early: %+v", d)
			return nil
		})
	}
}

// A table made by an older version (a kept local database) is brought to
// the schema by EnsureTable: a missing global index added, a retired one (the
// day index of the old stats roll-up) deleted.
func TestEnsureTableUpgradesIndexes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		older func(in *dynamodb.CreateTableInput)
	}{
		{"before the global indexes", func(in *dynamodb.CreateTableInput) {
			in.GlobalSecondaryIndexes = nil
			in.AttributeDefinitions = in.AttributeDefinitions[:2] // pk, sk
		}},
		{"with the day index and the ledger LSI", func(in *dynamodb.CreateTableInput) {
			in.AttributeDefinitions = append(in.AttributeDefinitions,
				types.AttributeDefinition{AttributeName: aws.String("dpk"), AttributeType: types.ScalarAttributeTypeS},
				types.AttributeDefinition{AttributeName: aws.String("lsk"), AttributeType: types.ScalarAttributeTypeS})
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
				IndexName: aws.String("day"),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String("dpk"), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String("lsk"), KeyType: types.KeyTypeRange},
				},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			})
			// An LSI exists only from a table's creation: a kept table keeps it
			// (no item enters it any more).
			in.LocalSecondaryIndexes = []types.LocalSecondaryIndex{{
				IndexName: aws.String("ledger"),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(store.AttrPK), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String("lsk"), KeyType: types.KeyTypeRange},
				},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := awstest.Client(t)
			table := awstest.NewTable(t, c, func(name string) *dynamodb.CreateTableInput {
				in := store.CreateTableInput(name)
				tc.older(in)
				return in
			})
			if created, err := store.EnsureTable(t.Context(), c, table); err != nil || created {
				t.Fatalf("ensure: created %v, %v", created, err)
			}
			d, err := c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range d.Table.GlobalSecondaryIndexes {
				got = append(got, aws.ToString(g.IndexName))
			}
			if !reflect.DeepEqual(got, []string{store.IndexDue}) {
				t.Fatalf("global indexes after EnsureTable: %v", got)
			}
		})
	}
}
