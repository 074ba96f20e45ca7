package client_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/accrue/accrue/shared/client"
)

// A partner's backend: read a member, redeem points, read the whole ledger.
func Example() {
	ctx := context.Background()
	c, err := client.New(client.Config{BaseURL: os.Getenv("ACCRUE_API_URL"), APIKey: os.Getenv("ACCRUE_API_KEY")})
	if err != nil {
		log.Fatal(err)
	}

	// A 2xx is decoded into JSON200 (JSON201, ...); Check turns anything
	// else into an *client.Error carrying the API's problem.
	m, err := c.GetMemberWithResponse(ctx, "cust-42")
	if err == nil {
		err = client.Check(m.HTTPResponse, m.Body)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("available:", m.JSON200.Balances.Available)

	// The POST gets an Idempotency-Key; a 429 or 503 is retried after its
	// Retry-After with the same key, so the points are redeemed once.
	r, err := c.RedeemWithResponse(ctx, "cust-42", nil, client.RedemptionRequest{Points: client.Ptr[int64](100), Capture: client.Ptr(true)})
	if err == nil {
		err = client.Check(r.HTTPResponse, r.Body)
	}
	switch {
	case client.IsProblem(err, "insufficient-points"):
		fmt.Println("not enough points")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("redemption", r.JSON201.Redemption.Id)
	}

	// Every ledger entry, newest first, page after page.
	for e, err := range c.LedgerEntries(ctx, "cust-42", client.GetLedgerParams{Limit: client.Ptr(100)}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Seq, e.Kind, e.Points)
	}
}
