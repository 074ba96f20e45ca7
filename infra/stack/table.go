package stack

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/accrue/accrue/shared/store"
)

// TableSchema is a DynamoDB table's keys and indexes in the AWS SDK's own
// types: the form shared/store defines them in, for CreateTable.
type TableSchema struct {
	KeySchema     []types.KeySchemaElement
	Attributes    []types.AttributeDefinition
	LocalIndexes  []types.LocalSecondaryIndex
	GlobalIndexes []types.GlobalSecondaryIndex
	TTLAttribute  string
	// StreamViewType of the table's DynamoDB stream ("" for no stream).
	StreamViewType types.StreamViewType
}

// StoreSchema is the table exactly as shared/store defines it (spec §7: the
// one Go place both the CDK stack and the local stack build it from).
func StoreSchema() TableSchema {
	return TableSchema{
		KeySchema:      store.KeySchema(),
		Attributes:     store.AttributeDefinitions(),
		LocalIndexes:   store.LocalSecondaryIndexes(),
		GlobalIndexes:  store.GlobalSecondaryIndexes(),
		TTLAttribute:   store.AttrTTL,
		StreamViewType: store.StreamViewType,
	}
}

// indexNames are the names of the schema's local and global secondary
// indexes, sorted.
func (s TableSchema) indexNames() []string {
	var names []string
	for _, i := range s.LocalIndexes {
		names = append(names, aws.ToString(i.IndexName))
	}
	for _, i := range s.GlobalIndexes {
		names = append(names, aws.ToString(i.IndexName))
	}
	slices.Sort(names)
	return names
}

// TableOptions are the deployment settings of the table.
type TableOptions struct {
	Key                awskms.IKey
	RemovalPolicy      awscdk.RemovalPolicy
	DeletionProtection bool
}

// NewTable creates the on-demand, point-in-time-recoverable, KMS-encrypted
// table of schema, with its stream when the schema has one. It panics when the schema is inconsistent (a key attribute
// without a definition, a definition no key uses), as CreateTable would fail.
func NewTable(scope constructs.Construct, id string, schema TableSchema, opts TableOptions) awsdynamodb.Table {
	attrTypes := map[string]awsdynamodb.AttributeType{}
	used := map[string]bool{}
	for _, d := range schema.Attributes {
		attrTypes[aws.ToString(d.AttributeName)] = attributeType(d.AttributeType)
	}
	attr := func(name string) *awsdynamodb.Attribute {
		t, ok := attrTypes[name]
		if !ok {
			panic(fmt.Sprintf("table %s: key attribute %q has no attribute definition", id, name))
		}
		used[name] = true
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: t}
	}
	keys := func(ks []types.KeySchemaElement) (hash, rng *awsdynamodb.Attribute) {
		for _, k := range ks {
			switch k.KeyType {
			case types.KeyTypeHash:
				hash = attr(aws.ToString(k.AttributeName))
			case types.KeyTypeRange:
				rng = attr(aws.ToString(k.AttributeName))
			}
		}
		return hash, rng
	}

	pk, sk := keys(schema.KeySchema)
	if pk == nil {
		panic(fmt.Sprintf("table %s: key schema has no HASH key", id))
	}
	props := &awsdynamodb.TableProps{
		PartitionKey:       pk,
		SortKey:            sk,
		BillingMode:        awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:         awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:      opts.Key,
		DeletionProtection: jsii.Bool(opts.DeletionProtection),
		RemovalPolicy:      opts.RemovalPolicy,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
	}
	if schema.TTLAttribute != "" {
		props.TimeToLiveAttribute = jsii.String(schema.TTLAttribute)
	}
	if schema.StreamViewType != "" {
		props.Stream = streamViewType(schema.StreamViewType)
	}
	table := awsdynamodb.NewTable(scope, jsii.String(id), props)

	for _, lsi := range schema.LocalIndexes {
		_, rng := keys(lsi.KeySchema)
		proj, nonKey := projection(lsi.Projection)
		table.AddLocalSecondaryIndex(&awsdynamodb.LocalSecondaryIndexProps{
			IndexName:        lsi.IndexName,
			SortKey:          rng,
			ProjectionType:   proj,
			NonKeyAttributes: nonKey,
		})
	}
	for _, gsi := range schema.GlobalIndexes {
		hash, rng := keys(gsi.KeySchema)
		proj, nonKey := projection(gsi.Projection)
		table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:        gsi.IndexName,
			PartitionKey:     hash,
			SortKey:          rng,
			ProjectionType:   proj,
			NonKeyAttributes: nonKey,
		})
	}

	for name := range attrTypes {
		if !used[name] {
			panic(fmt.Sprintf("table %s: attribute %q is defined but no key or index uses it", id, name))
		}
	}
	return table
}

func attributeType(t types.ScalarAttributeType) awsdynamodb.AttributeType {
	switch t {
	case types.ScalarAttributeTypeS:
		return awsdynamodb.AttributeType_STRING
	case types.ScalarAttributeTypeN:
		return awsdynamodb.AttributeType_NUMBER
	case types.ScalarAttributeTypeB:
		return awsdynamodb.AttributeType_BINARY
	}
	panic(fmt.Sprintf("unknown DynamoDB attribute type %q", t))
}

func streamViewType(t types.StreamViewType) awsdynamodb.StreamViewType {
	switch t {
	case types.StreamViewTypeNewAndOldImages:
		return awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES
	case types.StreamViewTypeNewImage:
		return awsdynamodb.StreamViewType_NEW_IMAGE
	case types.StreamViewTypeOldImage:
		return awsdynamodb.StreamViewType_OLD_IMAGE
	case types.StreamViewTypeKeysOnly:
		return awsdynamodb.StreamViewType_KEYS_ONLY
	}
	panic(fmt.Sprintf("unknown DynamoDB stream view type %q", t))
}

func projection(p *types.Projection) (awsdynamodb.ProjectionType, *[]*string) {
	if p == nil {
		return awsdynamodb.ProjectionType_ALL, nil
	}
	var nonKey *[]*string
	if len(p.NonKeyAttributes) > 0 {
		nonKey = jsii.Strings(p.NonKeyAttributes...)
	}
	switch p.ProjectionType {
	case types.ProjectionTypeAll, "":
		return awsdynamodb.ProjectionType_ALL, nil
	case types.ProjectionTypeKeysOnly:
		return awsdynamodb.ProjectionType_KEYS_ONLY, nil
	case types.ProjectionTypeInclude:
		return awsdynamodb.ProjectionType_INCLUDE, nonKey
	}
	panic(fmt.Sprintf("unknown DynamoDB projection type %q", p.ProjectionType))
}
