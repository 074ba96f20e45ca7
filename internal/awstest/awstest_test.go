package awstest_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/accrue/accrue/internal/awstest"
)

func simpleTable(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
		},
	}
}

func TestTablePutGet(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := awstest.Client(t)
	name := awstest.NewTable(t, c, simpleTable)

	if !strings.HasPrefix(name, "TestTablePutGet-") {
		t.Errorf("table name %q does not start with the test name", name)
	}
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(name),
		Item: map[string]types.AttributeValue{
			"pk":      &types.AttributeValueMemberS{Value: "member#1"},
			"balance": &types.AttributeValueMemberN{Value: "42"},
		},
	})
	if err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(name),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "member#1"}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	bal, ok := out.Item["balance"].(*types.AttributeValueMemberN)
	if !ok || bal.Value != "42" {
		t.Fatalf("GetItem returned %#v, want balance 42", out.Item)
	}
}

func TestTableDeletedOnCleanup(t *testing.T) {
	t.Parallel()
	c := awstest.Client(t)
	var name string
	t.Run("sub/test with spaces & symbols", func(t *testing.T) {
		name = awstest.NewTable(t, c, simpleTable)
		if !regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`).MatchString(name) {
			t.Errorf("invalid table name %q", name)
		}
	})
	_, err := c.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if !errorsAs(err, &nf) {
		t.Fatalf("table %s still exists after its test ended (DescribeTable err = %v)", name, err)
	}
}

func TestTableNameLimits(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	t.Run(strings.Repeat("x/é", 100), func(t *testing.T) {
		a, b := awstest.TableName(t), awstest.TableName(t)
		if !re.MatchString(a) {
			t.Errorf("invalid table name %q (len %d)", a, len(a))
		}
		if a == b {
			t.Errorf("TableName returned %q twice", a)
		}
	})
}

func TestQueueSendReceive(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := awstest.SQSClient(t)
	url := awstest.NewQueue(t, c, "accrual-events", nil)

	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"points":10}`)}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != `{"points":10}` {
		t.Fatalf("ReceiveMessage returned %d messages (%+v), want the one sent", len(out.Messages), out.Messages)
	}
}

func TestFIFOQueue(t *testing.T) {
	t.Parallel()
	c := awstest.SQSClient(t)
	url := awstest.NewQueue(t, c, "ledger.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	if !strings.HasSuffix(url, ".fifo") {
		t.Fatalf("FIFO queue URL %q does not end in .fifo", url)
	}
	if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), MessageGroupId: aws.String("m1")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
}
