package domainevents_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/accrue/accrue/internal/awstest"
	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/ledger"
)

// BenchmarkPublisher: the events function's work per stream record, on a
// batch of 100 accruals' earn entries (as the function's stream mapping
// delivers them), published to an EventBridge bus on moto: the Lambda time
// an accrual's points.earned costs (BENCHMARKS.md's cost model).
func BenchmarkPublisher(b *testing.B) {
	ctx := context.Background()
	eb := awstest.EventBridgeClient(b)
	bus := strings.ReplaceAll(awstest.TableName(b), "/", "_")
	if len(bus) > 64 {
		bus = bus[len(bus)-64:]
	}
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = eb.DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
	})
	pub := domainevents.NewPublisher(eb, bus, domainevents.WithLogger(quiet()))
	const batch = 100
	var ev events.DynamoDBEvent
	for i := range batch {
		pk := fmt.Sprintf("P#acme#M#cust-%03d", i)
		e := withPayment(entry(ledger.KindEarn, 1, 120, ledger.Balances{Available: 120, Lifetime: 120}, ledger.Lot{State: ledger.LotAvailable, Remaining: 120}))
		e.MemberID = fmt.Sprintf("cust-%03d", i)
		ev.Records = append(ev.Records, record("INSERT", pk, "PAY#pay-1#S", nil, image(b, e, pk, "PAY#pay-1#S", nil)))
	}
	b.ResetTimer()
	for range b.N {
		resp, err := pub.HandleStream(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			b.Fatalf("publish: %v %+v", err, resp.BatchItemFailures)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*batch), "ms/record")
}
