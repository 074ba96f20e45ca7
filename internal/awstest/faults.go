package awstest

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Faults injects errors into a DynamoDB client's TransactWriteItems calls,
// after the SDK's retry layer for throttling (so the retryer sees them):
// DynamoDB Local itself never raises TransactionConflict or throttles. Set
// Remaining to how many calls fail and Make to the error they fail with; pass
// Option to dynamodb.New.
type Faults struct {
	Remaining atomic.Int64
	Make      func() error
	// Calls counts the TransactWriteItems calls seen.
	Calls atomic.Int64
}

// Option adds the injection to a client's middleware stack.
func (f *Faults) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("inject-faults", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if middleware.GetOperationName(ctx) == "TransactWriteItems" {
				f.Calls.Add(1)
				if f.Remaining.Add(-1) >= 0 {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, f.Make()
				}
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
	})
}

// TransactionConflict is the error DynamoDB returns when another transaction
// holds one of the items (its second item, here).
func TransactionConflict() error {
	return &types.TransactionCanceledException{
		Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]"),
		CancellationReasons: []types.CancellationReason{
			{Code: aws.String("None")}, {Code: aws.String("TransactionConflict"), Message: aws.String("Transaction is ongoing for the item")},
		},
	}
}

// Throttled is DynamoDB's throttling error.
func Throttled() error {
	return &types.ProvisionedThroughputExceededException{Message: aws.String("throughput exceeded")}
}
