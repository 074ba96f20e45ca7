package main

// The cost of a million accruals on AWS, from the figures a make bench run
// measured and the list prices below. Prices are in US dollars per unit,
// us-east-1, on-demand, as AWS lists them on 2026-12-07 (the DynamoDB prices
// are those after the November 2024 on-demand price cut). Free tiers are left
// out: they do not scale with a partner's volume.

// Prices, in USD.
const (
	priceWRU          = 0.625 / 1e6  // DynamoDB on-demand write request unit (standard table class)
	priceRRU          = 0.125 / 1e6  // DynamoDB on-demand read request unit
	priceLambdaGBs    = 0.0000133334 // Lambda arm64, per GB-second
	priceLambdaReq    = 0.20 / 1e6   // Lambda, per request
	priceSQSReq       = 0.40 / 1e6   // SQS standard queue, per request (64 KB chunk)
	priceEvent        = 1.00 / 1e6   // EventBridge custom event published (64 KB chunk)
	priceLogGB        = 0.50         // CloudWatch Logs ingestion, per GB
	streamReadsByLamb = 0.0          // DynamoDB Streams GetRecords from Lambda triggers: free
	lambdaReportBytes = 350.0        // START/END/REPORT lines Lambda writes per invocation
	gb                = 1024 * 1024 * 1024.0
)

// Lambda memory sizes, from infra/stack/functions.go.
const (
	memIngestMB = 256
	memEventsMB = 128
	memJobsMB   = 512
	memStatsMB  = 256
)

// Batch sizes that divide per-invocation costs, from infra/stack/functions.go
// and shared/queue: SQS batches of 10 for ingest, stream batches of 100 for
// the events function and of 1,000 for the stats consumer.
const (
	ingestBatch = 10.0
	eventsBatch = 100.0
	statsBatch  = 1000.0
)

// usage is what one accrual uses, on average over its whole life in a
// profile: measured (WRU, RRU, handler times, log bytes, job visits and the
// events the jobs publish) or fixed by the design (one SQS message per
// payment, one points.earned per accrual).
type usage struct {
	WRU, RRU float64
	// IngestMs: the ingest handler's time per message; LogBytes what it logs.
	IngestMs, LogBytes float64
	// EventsMs: the events function's time per stream record; StatsMs the
	// stats consumer's per entry.
	EventsMs, StatsMs float64
	// Visits: member jobs visits per accrual, JobMs the time of one.
	Visits, JobMs float64
	// Events published per accrual (points.earned plus what the jobs
	// announce: points.expiring, points.expired).
	Events float64
}

// costItem is one line of the cost of a million accruals.
type costItem struct {
	What string
	USD  float64
}

// costPerMillion prices a million accruals of u, item by item.
func costPerMillion(u usage) []costItem {
	const n = 1e6
	lambda := func(ms, memMB, batch float64) float64 {
		return n*ms/1000*memMB/1024*priceLambdaGBs + n/batch*priceLambdaReq
	}
	// SQS: the billing system's SendMessage, and the event source
	// mapping's ReceiveMessage and DeleteMessageBatch per batch of 10.
	sqsRequests := n * (1 + 2/ingestBatch)
	logs := n * (u.LogBytes + lambdaReportBytes/ingestBatch + lambdaReportBytes/eventsBatch) / gb * priceLogGB
	return []costItem{
		{"DynamoDB writes", n * u.WRU * priceWRU},
		{"DynamoDB reads", n * u.RRU * priceRRU},
		{"Lambda: ingest", lambda(u.IngestMs, memIngestMB, ingestBatch)},
		{"Lambda: events (stream → bus)", lambda(u.EventsMs, memEventsMB, eventsBatch)},
		{"Lambda: stats consumer", lambda(u.StatsMs, memStatsMB, statsBatch)},
		{"Lambda: member jobs", n * u.Visits * u.JobMs / 1000 * memJobsMB / 1024 * priceLambdaGBs},
		{"SQS", sqsRequests * priceSQSReq},
		{"EventBridge events", n * u.Events * priceEvent},
		{"CloudWatch Logs", logs},
		{"DynamoDB Streams reads (Lambda triggers)", streamReadsByLamb},
	}
}

func total(items []costItem) float64 {
	var t float64
	for _, i := range items {
		t += i.USD
	}
	return t
}

// The least any implementation of the spec can use per accrual, whatever its
// code (docs/scale.md, "The floor the spec sets"):
//   - an accrual is one TransactWriteItems of at least two items — the member
//     and its new ledger entry (spec §2 invariant 4, §7) — under 1 KB each: 4 WRU;
//   - a release and an expiry are balance changes, so each is a ledger entry
//     written atomically with its member (invariant 4): at least one more
//     item in some transaction, 2 WRU each, even riding on another write;
//   - every domain event is one EventBridge event (spec §6): points.earned for
//     each accrual; points.expiring and points.expired too in the telco profile;
//   - each payment is one SQS message, received and deleted in batches (§3).
//
// No reads, no Lambda time, no logs, no indexes, no budgets, no warning
// writes: a bound below anything that can be built, not an estimate.
var (
	floorLean  = usage{WRU: 4, Events: 1}
	floorTelco = usage{WRU: 4 + 2 + 2, Events: 3}
)
