package store

// Webhook endpoints and their deliveries (issue #13; package webhooks has the
// delivery pipeline, package api the routes).
//
// An endpoint is one item in its partner's partition (P#{partner} |
// WEBHOOK#{id}), with a count of the partner's endpoints beside it (WEBHOOKS)
// that the creation and deletion transactions keep, so the limit holds under
// concurrent requests. Its signing secrets are stored as KMS ciphertext: the
// store never sees a secret.
//
// A delivery is one item per (endpoint, event), written once per attempt (a
// put of the whole record, conditional on the attempt being new): 1 WRU for
// a delivery that succeeds at once (the record is under 1 KB; the event's
// body is kept only when the delivery dies, for re-sending: one write of at
// most a few KB more). Nothing else is written per delivery: no counter, no
// index, no key all deliveries share. The records of an endpoint are spread
// over DeliveryShards partitions by a hash of the delivery id, so an
// endpoint receiving thousands of events a second (a partner's billing-day
// peak) writes 1/16 of them to each partition, within DynamoDB's 1,000 WRU/s
// per partition up to 16,000 deliveries/s. Delivery ids start with the
// event's time (hex nanoseconds), so each shard holds its records newest
// first, and a listing merges the shards (ListDeliveries, mergeDeliveries).
// Records expire DeliveryRetention after their last attempt (TTL).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// MaxWebhooks is the most webhook endpoints a partner may have: each domain
// event of the partner is delivered to each of them.
const MaxWebhooks = 16

// DeliveryShards is the number of partitions an endpoint's deliveries are
// spread over.
const DeliveryShards = 16

// DeliveryRetention is how long a delivery record is kept after its last
// attempt (delivered and dead ones alike).
const DeliveryRetention = 30 * 24 * time.Hour

// Errors of webhooks.
var (
	ErrWebhookNotFound  = errors.New("webhook not found")
	ErrTooManyWebhooks  = fmt.Errorf("a partner has at most %d webhook endpoints", MaxWebhooks)
	ErrDeliveryNotFound = errors.New("delivery not found")
	// ErrDeliveryNotDead: only a dead delivery (all its attempts failed) can
	// be re-sent; the others are delivered, or still being retried.
	ErrDeliveryNotDead = errors.New("only a dead delivery can be re-sent: this one is delivered or still being retried")
)

// Webhook is a partner's webhook endpoint.
type Webhook struct {
	ID        string `dynamodbav:"id"`
	PartnerID string `dynamodbav:"partner"`
	URL       string `dynamodbav:"url"`
	// EventTypes the endpoint receives; empty: every type.
	EventTypes []string `dynamodbav:"types,omitempty"`
	Active     bool     `dynamodbav:"active"`
	// Secret is the KMS ciphertext of the signing secret; PrevSecret, of the
	// one it replaced, which still signs deliveries until PrevUntil.
	Secret     []byte     `dynamodbav:"sec"`
	PrevSecret []byte     `dynamodbav:"psec,omitempty"`
	PrevUntil  *time.Time `dynamodbav:"puntil,omitempty"`
	// SecretAt: when the signing secret was made (creation or rotation).
	SecretAt  time.Time `dynamodbav:"secat"`
	CreatedAt time.Time `dynamodbav:"created"`
	UpdatedAt time.Time `dynamodbav:"updated"`
	Version   int64     `dynamodbav:"ver"`
}

// Receives reports whether the endpoint is active and subscribed to typ.
func (w *Webhook) Receives(typ string) bool {
	return w.Active && (len(w.EventTypes) == 0 || slices.Contains(w.EventTypes, typ))
}

// Secrets are the ciphertexts of the secrets that sign a delivery at at: the
// current one, and the previous one while its overlap lasts.
func (w *Webhook) Secrets(at time.Time) [][]byte {
	out := [][]byte{w.Secret}
	if len(w.PrevSecret) > 0 && w.PrevUntil != nil && at.Before(*w.PrevUntil) {
		out = append(out, w.PrevSecret)
	}
	return out
}

// webhookIDPrefix and deliveryIDPrefix start the ids Accrue gives.
const (
	webhookIDPrefix  = "wh_"
	deliveryIDPrefix = "dlv_"
)

// NewWebhookID returns a new random endpoint id: "wh_" + 24 hex digits.
func NewWebhookID() string { return webhookIDPrefix + newToken() }

// ValidWebhookID reports whether s is an endpoint id of NewWebhookID's form.
func ValidWebhookID(s string) bool { return hexAfter(s, webhookIDPrefix, 24) }

// DeliveryID is the id of the delivery of an event to an endpoint: "dlv_",
// the event's time (16 hex digits of its unix nanoseconds: ids sort by it),
// and 16 hex digits of a hash of the endpoint and the event's stable id. It
// is the same however often the event reaches the endpoint's fan-out.
func DeliveryID(webhook, eventID string, eventTime time.Time) string {
	h := sha256.Sum256([]byte(webhook + "\x00" + eventID))
	return fmt.Sprintf("%s%016x%s", deliveryIDPrefix, uint64(eventTime.UnixNano()), hex.EncodeToString(h[:8]))
}

// ValidDeliveryID reports whether s is a delivery id of DeliveryID's form.
func ValidDeliveryID(s string) bool { return hexAfter(s, deliveryIDPrefix, 32) }

func hexAfter(s, prefix string, n int) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != n {
		return false
	}
	for _, c := range rest {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// webhookCount is the count item of a partner's endpoints.
type webhookCount struct {
	N int `dynamodbav:"n"`
}

// CreateWebhook stores a new endpoint (w.ID new, w.PartnerID set), unless
// the partner has MaxWebhooks already (ErrTooManyWebhooks): the endpoint and
// the partner's count in one transaction, conditional on the count read.
func (s *Store) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	w.Version = 1
	err := s.retry(ctx, "create webhook of "+w.PartnerID, func() error {
		n, err := s.webhookCount(ctx, w.PartnerID)
		if err != nil {
			return err
		}
		if n >= MaxWebhooks {
			return ErrTooManyWebhooks
		}
		t := s.newTxn()
		pk, sk := webhookKey(w.PartnerID, w.ID)
		if err := t.putNew(w, pk, sk); err != nil {
			return err
		}
		t.setWebhookCount(w.PartnerID, n, n+1)
		return t.commit(ctx, Written{Webhook: &w})
	})
	if err != nil {
		return Webhook{}, err
	}
	return w, nil
}

func (s *Store) webhookCount(ctx context.Context, partner string) (int, error) {
	var c webhookCount
	pk, sk := webhookCountKey(partner)
	if _, err := s.getItem(ctx, pk, sk, &c); err != nil {
		return 0, err
	}
	return c.N, nil
}

// setWebhookCount sets the partner's count of endpoints to n, on condition
// that it is still old (0: the count item may not exist yet).
func (t *txn) setWebhookCount(partner string, old, n int) {
	pk, sk := webhookCountKey(partner)
	cond := "n = :old"
	if old == 0 {
		cond = "attribute_not_exists(n) OR n = :old"
	}
	t.add(roleFenced, types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(t.s.table), Key: key(pk, sk),
		UpdateExpression:          aws.String("SET n = :n"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(n)), ":old": num(int64(old))},
	}})
}

// Webhook returns one of the partner's endpoints.
func (s *Store) Webhook(ctx context.Context, partner, id string) (Webhook, error) {
	var w Webhook
	pk, sk := webhookKey(partner, id)
	found, err := s.getItem(ctx, pk, sk, &w)
	if err != nil {
		return w, err
	}
	if !found {
		return w, fmt.Errorf("%s/%s: %w", partner, id, ErrWebhookNotFound)
	}
	return w, nil
}

// UpdateWebhook changes an endpoint: update sees the current one and may
// change anything but its identity; the change commits conditional on the
// version read (a concurrent change: read and update again).
func (s *Store) UpdateWebhook(ctx context.Context, partner, id string, update func(*Webhook) error) (Webhook, error) {
	var out Webhook
	err := s.retry(ctx, "update webhook "+partner+"/"+id, func() error {
		w, err := s.Webhook(ctx, partner, id)
		if err != nil {
			return err
		}
		prev := w.Version
		if err := update(&w); err != nil {
			return err
		}
		if w.ID != id || w.PartnerID != partner {
			return errors.New("UpdateWebhook may not change an endpoint's identity")
		}
		w.Version = prev + 1
		t := s.newTxn()
		pk, sk := webhookKey(partner, id)
		if err := t.replace(w, pk, sk, prev); err != nil {
			return err
		}
		if err := t.commit(ctx, Written{Webhook: &w}); err != nil {
			return err
		}
		out = w
		return nil
	})
	return out, err
}

// DeleteWebhook deletes an endpoint (and counts it off). Its delivery
// records stay until they expire (DeliveryRetention), unreachable: the API
// reads them only through their endpoint.
func (s *Store) DeleteWebhook(ctx context.Context, partner, id string) error {
	return s.retry(ctx, "delete webhook "+partner+"/"+id, func() error {
		if _, err := s.Webhook(ctx, partner, id); err != nil {
			return err
		}
		n, err := s.webhookCount(ctx, partner)
		if err != nil {
			return err
		}
		t := s.newTxn()
		t.deleteExisting(webhookKey(partner, id))
		t.setWebhookCount(partner, n, max(n-1, 0))
		return t.commit(ctx, Written{})
	})
}

// ListWebhooks lists a partner's endpoints by id.
func (s *Store) ListWebhooks(ctx context.Context, partner string, limit int32, cursor string) (Page[Webhook], error) {
	page := Page[Webhook]{Items: []Webhook{}}
	pk := partnerPK(partner)
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: pfxWebhook},
		},
		Limit: aws.Int32(max(limit, 1)),
	}
	if cursor != "" {
		k, err := decodeCursor(cursor, pk, curPK, curWebhookSK)
		if err != nil {
			return page, err
		}
		in.ExclusiveStartKey = k
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return page, fmt.Errorf("query webhooks of %s: %w", partner, err)
	}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &page.Items); err != nil {
		return page, fmt.Errorf("unmarshal webhooks of %s: %w", partner, err)
	}
	page.Next = encodeCursor(out.LastEvaluatedKey, curPK, curWebhookSK)
	return page, nil
}

// PartnerWebhooks returns every endpoint of a partner (at most MaxWebhooks),
// read eventually consistently: the fan-out of deliveries reads them, and
// caches them for a few seconds anyway.
func (s *Store) PartnerWebhooks(ctx context.Context, partner string) ([]Webhook, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: partnerPK(partner)}, ":p": &types.AttributeValueMemberS{Value: pfxWebhook},
		},
	}
	var all []Webhook
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query webhooks of %s: %w", partner, err)
		}
		var ws []Webhook
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &ws); err != nil {
			return nil, fmt.Errorf("unmarshal webhooks of %s: %w", partner, err)
		}
		all = append(all, ws...)
		if len(out.LastEvaluatedKey) == 0 {
			return all, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Delivery statuses.
const (
	// DeliveryPending: an attempt is due (the last one failed and another is
	// scheduled, or the delivery was re-sent).
	DeliveryPending = "pending"
	// DeliveryDelivered: an attempt was answered 2xx.
	DeliveryDelivered = "delivered"
	// DeliveryDead: every attempt of the schedule failed; the delivery is in
	// the dead-letter list and can be re-sent.
	DeliveryDead = "dead"
)

// DeliveryStatuses are the statuses a delivery can have.
var DeliveryStatuses = []string{DeliveryPending, DeliveryDelivered, DeliveryDead}

// Delivery is the record of the delivery of an event to an endpoint: where
// it stands after its last attempt.
type Delivery struct {
	ID        string    `dynamodbav:"id"`
	PartnerID string    `dynamodbav:"partner"`
	WebhookID string    `dynamodbav:"wh"`
	EventID   string    `dynamodbav:"eid"`
	EventType string    `dynamodbav:"etype"`
	EventTime time.Time `dynamodbav:"etime"`
	Status    string    `dynamodbav:"st"`
	// Attempts made, re-sends included.
	Attempts      int        `dynamodbav:"att"`
	LastAttemptAt *time.Time `dynamodbav:"last,omitempty"`
	// LastStatusCode: the HTTP status of the last answer (0: none, see
	// LastError).
	LastStatusCode int    `dynamodbav:"code,omitempty"`
	LastError      string `dynamodbav:"err,omitempty"`
	// NextAttemptAt: when a pending delivery's next attempt is due.
	NextAttemptAt *time.Time `dynamodbav:"next,omitempty"`
	DeliveredAt   *time.Time `dynamodbav:"done,omitempty"`
	// Body is the CloudEvent delivered, kept only once the delivery is dead
	// (and while a re-send of it is pending).
	Body string `dynamodbav:"body,omitempty"`
	// MessageID is the id of the queue message whose attempt this record is.
	MessageID string `dynamodbav:"msg,omitempty"`
	TTL       int64  `dynamodbav:"ttl"`
}

// RecordDeliveryAttempt writes the record of attempt d.Attempts of a
// delivery, made by the queue message d.MessageID, on condition that no
// attempt that far was recorded yet — or that this same message recorded it
// (it is being handled again, after a failure that followed the write). It
// reports whether it wrote: false when another message recorded that
// attempt (a duplicate of the delivery: the caller stops, the other one
// carries on).
func (s *Store) RecordDeliveryAttempt(ctx context.Context, d Delivery) (bool, error) {
	d.TTL = s.now().Add(DeliveryRetention).Unix()
	pk, sk := deliveryKey(d.PartnerID, d.WebhookID, d.ID)
	it, err := item(d, pk, sk)
	if err != nil {
		return false, err
	}
	t := s.newTxn()
	t.add(roleFenced, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: it,
		ConditionExpression: aws.String("attribute_not_exists(pk) OR att < :n OR (att = :n AND msg = :msg)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": num(int64(d.Attempts)), ":msg": &types.AttributeValueMemberS{Value: d.MessageID},
		},
	}})
	switch err := t.commit(ctx, Written{Delivery: &d}); {
	case errors.Is(err, errConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("record attempt %d of delivery %s: %w", d.Attempts, d.ID, err)
	}
	return true, nil
}

// Delivery returns a delivery of an endpoint.
func (s *Store) Delivery(ctx context.Context, partner, webhook, id string) (Delivery, error) {
	var d Delivery
	pk, sk := deliveryKey(partner, webhook, id)
	found, err := s.getItem(ctx, pk, sk, &d)
	if err != nil {
		return d, err
	}
	if !found {
		return d, fmt.Errorf("%s/%s/%s: %w", partner, webhook, id, ErrDeliveryNotFound)
	}
	return d, nil
}

// MarkResent records that a dead delivery, read with prevAttempts attempts,
// was sent again (its message is on the queue) and is due at at: pending
// again, conditional on it still being that dead delivery. When the re-send
// has already moved it on (its attempt was recorded meanwhile, or another
// re-send marked it), nothing is written and the delivery is returned as it
// is; ErrDeliveryNotDead when it was not dead.
func (s *Store) MarkResent(ctx context.Context, partner, webhook, id string, prevAttempts int, at time.Time) (Delivery, error) {
	var out Delivery
	err := s.retry(ctx, "re-send delivery "+id, func() error {
		d, err := s.Delivery(ctx, partner, webhook, id)
		if err != nil {
			return err
		}
		out = d
		switch {
		case d.Attempts > prevAttempts || (d.Attempts == prevAttempts && d.Status == DeliveryPending):
			return nil // the re-send is under way
		case d.Status != DeliveryDead:
			return ErrDeliveryNotDead
		}
		d.Status, d.NextAttemptAt = DeliveryPending, &at
		d.TTL = s.now().Add(DeliveryRetention).Unix()
		pk, sk := deliveryKey(partner, webhook, id)
		it, err := item(d, pk, sk)
		if err != nil {
			return err
		}
		t := s.newTxn()
		t.add(roleFenced, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table), Item: it,
			ConditionExpression: aws.String("st = :dead AND att = :n"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":dead": &types.AttributeValueMemberS{Value: DeliveryDead}, ":n": num(int64(prevAttempts)),
			},
		}})
		if err := t.commit(ctx, Written{Delivery: &d}); err != nil {
			return err
		}
		out = d
		return nil
	})
	return out, err
}

// DeliveryQuery selects an endpoint's deliveries for ListDeliveries.
type DeliveryQuery struct {
	Partner, Webhook string
	// Status keeps only the deliveries with this status ("" keeps all).
	Status string
	// Limit: the most deliveries returned (1 to 100).
	Limit int32
	// Cursor continues a listing of the same endpoint.
	Cursor string
}

// maxDeliveryRounds bounds the rounds of shard queries one ListDeliveries
// makes when a status filter skips most records: it then returns what it
// found, with a cursor.
const maxDeliveryRounds = 4

// ListDeliveries lists an endpoint's deliveries newest first (by event time),
// as q selects them, with the cursor of the next page ("" on the last). With
// a Status filter a page may hold fewer than Limit deliveries although more
// follow: the cursor says whether they do.
func (s *Store) ListDeliveries(ctx context.Context, q DeliveryQuery) (Page[Delivery], error) {
	page := Page[Delivery]{Items: []Delivery{}}
	if q.Limit < 1 || q.Limit > 100 {
		return page, fmt.Errorf("limit %d: must be 1 to 100", q.Limit)
	}
	listPK := webhookDeliveriesPK(q.Partner, q.Webhook)
	before := ""
	if q.Cursor != "" {
		k, err := decodeCursor(q.Cursor, listPK, curPK, curDeliverySK)
		if err != nil {
			return page, err
		}
		before = k[AttrSK].(*types.AttributeValueMemberS).Value
	}
	items, before, err := pageDeliveries(int(q.Limit), before, func(before string) ([]shardPage, error) {
		return s.deliveryShards(ctx, q, before)
	})
	if err != nil {
		return page, err
	}
	page.Items = append(page.Items, items...)
	if before != "" {
		page.Next = encodeCursor(map[string]types.AttributeValue{
			AttrPK: &types.AttributeValueMemberS{Value: listPK}, AttrSK: &types.AttributeValueMemberS{Value: before},
		}, curPK, curDeliverySK)
	}
	return page, nil
}

// pageDeliveries makes one page of at most limit deliveries older than
// before ("": from the newest) from rounds of shard queries (query), at most
// maxDeliveryRounds; it returns them and where the next page starts ("": no
// more).
func pageDeliveries(limit int, before string, query func(before string) ([]shardPage, error)) ([]Delivery, string, error) {
	var out []Delivery
	for range maxDeliveryRounds {
		pages, err := query(before)
		if err != nil {
			return nil, "", err
		}
		items, next := mergeDeliveries(pages, limit-len(out))
		out = append(out, items...)
		before = next
		if next == "" || len(out) >= limit {
			break
		}
	}
	return out, before, nil
}

// shardPage is what one shard's query returned: its deliveries newest first,
// and the id it stopped at ("" when it read the shard to its end).
type shardPage struct {
	items []Delivery
	last  string
}

// deliveryShards queries every shard of the endpoint's deliveries, at once,
// for up to q.Limit records older than before ("": from the newest).
func (s *Store) deliveryShards(ctx context.Context, q DeliveryQuery, before string) ([]shardPage, error) {
	pages := make([]shardPage, DeliveryShards)
	errs := make([]error, DeliveryShards)
	var wg sync.WaitGroup
	for i := range DeliveryShards {
		wg.Go(func() {
			in := &dynamodb.QueryInput{
				TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
				KeyConditionExpression:    aws.String("pk = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: deliveryShardPK(q.Partner, q.Webhook, i)}},
				ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(q.Limit),
			}
			if before != "" {
				in.KeyConditionExpression = aws.String("pk = :pk AND sk < :before")
				in.ExpressionAttributeValues[":before"] = &types.AttributeValueMemberS{Value: before}
			}
			if q.Status != "" {
				in.FilterExpression = aws.String("st = :st")
				in.ExpressionAttributeValues[":st"] = &types.AttributeValueMemberS{Value: q.Status}
			}
			out, err := s.db.Query(ctx, in)
			if err != nil {
				errs[i] = fmt.Errorf("query deliveries of %s/%s: %w", q.Partner, q.Webhook, err)
				return
			}
			p := shardPage{}
			if err := attributevalue.UnmarshalListOfMaps(out.Items, &p.items); err != nil {
				errs[i] = fmt.Errorf("unmarshal deliveries: %w", err)
				return
			}
			if sk, ok := out.LastEvaluatedKey[AttrSK].(*types.AttributeValueMemberS); ok {
				p.last = sk.Value
			}
			pages[i] = p
		})
	}
	wg.Wait()
	return pages, errors.Join(errs...)
}

// mergeDeliveries merges the shards' pages (each newest first, ids
// descending) into one page of at most limit deliveries, newest first, and
// the id the next page starts below ("" when every shard was read to its
// end and all fit). A shard that stopped at id L has shown everything down
// to L; the others, down to where they stopped or to their end. So every
// delivery with an id at or above the highest such L is known, and only
// those are returned: the rest comes again on the next page.
func mergeDeliveries(pages []shardPage, limit int) ([]Delivery, string) {
	bound := ""
	for _, p := range pages {
		if p.last > bound {
			bound = p.last
		}
	}
	var all []Delivery
	for _, p := range pages {
		for _, d := range p.items {
			if d.ID >= bound {
				all = append(all, d)
			}
		}
	}
	slices.SortFunc(all, func(a, b Delivery) int { return strings.Compare(b.ID, a.ID) })
	if limit < 1 {
		return nil, bound
	}
	if len(all) > limit {
		return all[:limit], all[limit-1].ID
	}
	return all, bound
}

// The cursor shapes of the webhook lists.
var (
	curWebhookSK = cursorKey{attr: AttrSK, valid: func(s string) bool {
		return ValidWebhookID(strings.TrimPrefix(s, pfxWebhook)) && strings.HasPrefix(s, pfxWebhook)
	}}
	curDeliverySK = cursorKey{attr: AttrSK, valid: ValidDeliveryID}
)
