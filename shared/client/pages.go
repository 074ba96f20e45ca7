package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
)

// The paginated lists of the API ({data, next_cursor}, ?limit=&cursor=), item
// by item: each iterator fetches the next page when the items of the one
// before are used up, and ends after the page without next_cursor. An error
// (a transport error after the retries, or an *Error) is yielded once and
// ends the iteration. The params' Cursor, when set, is where the iteration
// starts; Limit is the page size (1 to 100; unset: the API's 50).

// LedgerEntries iterates over the member's ledger entries, newest first.
func (a *Accrue) LedgerEntries(ctx context.Context, memberID string, params GetLedgerParams) iter.Seq2[Entry, error] {
	return pages[Entry](params.Cursor, func(cursor *string) (*http.Response, error) {
		params.Cursor = cursor
		return a.ClientInterface.GetLedger(ctx, memberID, &params)
	})
}

// ReviewItems iterates over the accruals held for review (admin key).
func (a *Accrue) ReviewItems(ctx context.Context, params ListReviewParams) iter.Seq2[ReviewItem, error] {
	return pages[ReviewItem](params.Cursor, func(cursor *string) (*http.Response, error) {
		params.Cursor = cursor
		return a.ClientInterface.ListReview(ctx, &params)
	})
}

// RejectedEvents iterates over the partner's rejected events, newest first
// (admin key).
func (a *Accrue) RejectedEvents(ctx context.Context, params ListRejectedEventsParams) iter.Seq2[Rejection, error] {
	return pages[Rejection](params.Cursor, func(cursor *string) (*http.Response, error) {
		params.Cursor = cursor
		return a.ClientInterface.ListRejectedEvents(ctx, &params)
	})
}

// AuditRecords iterates over the partner's audit trail, newest first (admin
// key).
func (a *Accrue) AuditRecords(ctx context.Context, params ListAuditParams) iter.Seq2[AuditRecord, error] {
	return pages[AuditRecord](params.Cursor, func(cursor *string) (*http.Response, error) {
		params.Cursor = cursor
		return a.ClientInterface.ListAudit(ctx, &params)
	})
}

// Keys iterates over the partner's API keys, revoked ones too (admin key).
func (a *Accrue) Keys(ctx context.Context, params ListKeysParams) iter.Seq2[Key, error] {
	return pages[Key](params.Cursor, func(cursor *string) (*http.Response, error) {
		params.Cursor = cursor
		return a.ClientInterface.ListKeys(ctx, &params)
	})
}

// Webhooks iterates over the partner's webhook endpoints (admin key).
func (a *Accrue) Webhooks(ctx context.Context, params ListWebhooksParams) iter.Seq2[Webhook, error] {
	return pages[Webhook](params.Cursor, func(cursor *string) (*http.Response, error) {
		params.Cursor = cursor
		return a.ClientInterface.ListWebhooks(ctx, &params)
	})
}

// WebhookDeliveries iterates over a webhook endpoint's deliveries, newest
// event first; params.Status selects one status (dead: the dead-letter
// list) (admin key).
func (a *Accrue) WebhookDeliveries(ctx context.Context, webhookID string, params ListWebhookDeliveriesParams) iter.Seq2[Delivery, error] {
	return pages[Delivery](params.Cursor, func(cursor *string) (*http.Response, error) {
		params.Cursor = cursor
		return a.ClientInterface.ListWebhookDeliveries(ctx, webhookID, &params)
	})
}

// ImportRejectedLines iterates over the rejected lines of a bulk import, in
// line order (admin key); GetImportWithResponse reads the import itself.
func (a *Accrue) ImportRejectedLines(ctx context.Context, importID string, params GetImportParams) iter.Seq2[ImportRejection, error] {
	return pages[ImportRejection](params.Cursor, func(cursor *string) (*http.Response, error) {
		params.Cursor = cursor
		return a.ClientInterface.GetImport(ctx, importID, &params)
	})
}

// pages iterates over the items of the pages that fetch returns, from the
// page at cursor on.
func pages[T any](cursor *string, fetch func(cursor *string) (*http.Response, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for {
			page, err := readPage[T](fetch(cursor))
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range page.Data {
				if !yield(item, nil) {
					return
				}
			}
			next := page.NextCursor
			if next == nil || *next == "" {
				return
			}
			if cursor != nil && *next == *cursor {
				yield(zero, fmt.Errorf("accrue client: the next page's cursor is the page's own (%q)", *next))
				return
			}
			cursor = next
		}
	}
}

// list is the shape of every page.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func readPage[T any](resp *http.Response, err error) (list[T], error) {
	var page list[T]
	if err != nil {
		return page, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return page, fmt.Errorf("accrue client: reading a page: %w", err)
	}
	if err := Check(resp, body); err != nil {
		return page, err
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return page, fmt.Errorf("accrue client: decoding a page: %w", err)
	}
	return page, nil
}
