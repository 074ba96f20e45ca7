// Package importtest makes bulk import files for tests and benchmarks:
// members with varied opening balances (lots with and without expiry,
// pending lots, lifetime and qualifying points, suspended members, tags,
// payment histories), deterministic in their number, and the Opening each
// line must become. Import it only from _test.go files.
package importtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/accrue/accrue/shared/jobs"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

type recurring = payment.Recurring

// Program is the program the generated members fit: tiers over a 365-day
// window, rolling expiry with warnings, a streak rule.
const Program = `{
  "name": "Import test", "auto_enroll": true, "timezone": "Europe/Moscow",
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "streaks": [{"id": "three", "periods": 3, "bonus": 300, "categories": ["telecom"]}],
  "tiers": [{"name": "base", "threshold": 0, "multiplier": "1"}, {"name": "silver", "threshold": 5000, "multiplier": "1.25"},
            {"name": "gold", "threshold": 20000, "multiplier": "1.5"}],
  "qualifying_window_days": 365,
  "expiry": {"rolling_days": 365, "warn_days": 30},
  "point_value": {"minor": "1", "currency": "RUB"}
}`

// MemberID is the id of the i-th generated member.
func MemberID(i int) string { return fmt.Sprintf("m-%07d", i) }

// Opening is the i-th member, as of the import time at (its dates are after
// at, its payments before).
func Opening(i int, at time.Time) ledger.Opening {
	day := func(d int) *time.Time {
		t := at.Add(time.Duration(d)*24*time.Hour + time.Duration(i%86400)*time.Second).UTC()
		return &t
	}
	o := ledger.Opening{MemberID: MemberID(i), Status: ledger.StatusActive}
	for k := range 1 + i%3 {
		l := ledger.OpeningLot{Points: int64(100 + (i*7+k*13)%900)}
		if (i+k)%5 != 0 {
			l.ExpiresAt = day(10 + (i+k*31)%700)
		}
		o.Available = append(o.Available, l)
	}
	if i%4 == 0 {
		o.Pending = []ledger.OpeningLot{{Points: int64(10 + i%90), AvailableAt: day(1 + i%20), ExpiresAt: day(400)}}
	}
	var lots int64
	for _, l := range append(o.Available, o.Pending...) {
		lots += l.Points
	}
	if i%6 != 0 {
		life := lots + int64(i%5000)
		o.Lifetime = &life
	}
	if i%3 != 0 {
		o.Qualifying = int64(i % 4000)
		if o.Lifetime != nil && *o.Lifetime < o.Qualifying {
			o.Qualifying = *o.Lifetime
		}
	}
	if i%10 == 7 {
		o.Status = ledger.StatusSuspended
	}
	if i%5 == 1 {
		o.Tags = []string{"vip", fmt.Sprintf("region-%d", i%7)}
	}
	if i%9 == 2 {
		o.Tier = "silver"
	}
	if i%11 == 3 {
		t := at.AddDate(0, -2, 0).Add(time.Duration(i%1000) * time.Second).UTC()
		o.LastActivity = &t
	}
	if i%50 == 5 {
		for k, months := range []int{-14, -2, -1} {
			paid := at.AddDate(0, months, -3).UTC()
			period := paid.Format("2006-01")
			h := ledger.HistoryPayment{Points: int64(20 + k)}
			h.Type, h.PaymentID, h.Time = "payment.succeeded", fmt.Sprintf("bill-%d-%d", i, k), paid
			h.AmountMinor, h.Currency, h.Category = 129900, "RUB", "telecom"
			h.Recurring = &recurring{SubscriptionID: "plan-" + MemberID(i), Period: period, DueDate: paid.AddDate(0, 0, 5).Format(time.DateOnly)}
			o.Payments = append(o.Payments, h)
		}
		if o.Lifetime != nil {
			life := *o.Lifetime + 63
			o.Lifetime = &life
		}
	}
	return o
}

// Write writes members from..to-1 (Opening) in format "csv" or "jsonl",
// with a header for CSV (when header is set). bad, when set, says which
// members are written as a bad line instead, and returns the line.
func Write(w io.Writer, format string, from, to int, at time.Time, header bool, bad func(i int) string) error {
	if format == "csv" && header {
		if _, err := io.WriteString(w, "member_id,tags,status,tier,available,pending,lifetime,qualifying,last_activity,payments\n"); err != nil {
			return err
		}
	}
	var b strings.Builder
	for i := from; i < to; i++ {
		b.Reset()
		if bad != nil {
			if line := bad(i); line != "" {
				b.WriteString(line + "\n")
				if _, err := io.WriteString(w, b.String()); err != nil {
					return err
				}
				continue
			}
		}
		o := Opening(i, at)
		if format == "csv" {
			writeCSV(&b, o)
		} else {
			writeJSON(&b, o)
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

func ts(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func writeCSV(b *strings.Builder, o ledger.Opening) {
	lots := func(ls []ledger.OpeningLot, pending bool) string {
		var parts []string
		for _, l := range ls {
			s := fmt.Sprint(l.Points)
			if pending {
				s += "@" + ts(l.AvailableAt)
			}
			if l.ExpiresAt != nil {
				s += "@" + ts(l.ExpiresAt)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ";")
	}
	life := ""
	if o.Lifetime != nil {
		life = fmt.Sprint(*o.Lifetime)
	}
	qual := ""
	if o.Qualifying != 0 {
		qual = fmt.Sprint(o.Qualifying)
	}
	pays := ""
	if len(o.Payments) > 0 {
		js, _ := json.Marshal(wirePayments(o))
		pays = `"` + strings.ReplaceAll(string(js), `"`, `""`) + `"`
	}
	fmt.Fprintf(b, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", o.MemberID, strings.Join(o.Tags, ";"), o.Status, o.Tier,
		lots(o.Available, false), lots(o.Pending, true), life, qual, ts(o.LastActivity), pays)
}

type wireLot struct {
	Points      int64  `json:"points"`
	ExpiresAt   string `json:"expires_at,omitempty"`
	AvailableAt string `json:"available_at,omitempty"`
}

type wirePayment struct {
	PaymentID   string     `json:"payment_id"`
	PaidAt      string     `json:"paid_at"`
	AmountMinor int64      `json:"amount_minor"`
	Currency    string     `json:"currency"`
	Category    string     `json:"category"`
	Recurring   *recurring `json:"recurring,omitempty"`
	Points      int64      `json:"points,omitempty"`
}

func wirePayments(o ledger.Opening) []wirePayment {
	var out []wirePayment
	for _, p := range o.Payments {
		out = append(out, wirePayment{PaymentID: p.PaymentID, PaidAt: p.Time.UTC().Format(time.RFC3339), AmountMinor: p.AmountMinor,
			Currency: p.Currency, Category: p.Category, Recurring: p.Recurring, Points: p.Points})
	}
	return out
}

func writeJSON(b *strings.Builder, o ledger.Opening) {
	lots := func(ls []ledger.OpeningLot) []wireLot {
		var out []wireLot
		for _, l := range ls {
			out = append(out, wireLot{Points: l.Points, ExpiresAt: ts(l.ExpiresAt), AvailableAt: ts(l.AvailableAt)})
		}
		return out
	}
	line := struct {
		MemberID     string        `json:"member_id"`
		Tags         []string      `json:"tags,omitempty"`
		Status       string        `json:"status"`
		Tier         string        `json:"tier,omitempty"`
		Available    []wireLot     `json:"available,omitempty"`
		Pending      []wireLot     `json:"pending,omitempty"`
		Lifetime     *int64        `json:"lifetime,omitempty"`
		Qualifying   int64         `json:"qualifying,omitempty"`
		LastActivity string        `json:"last_activity,omitempty"`
		Payments     []wirePayment `json:"payments,omitempty"`
	}{o.MemberID, o.Tags, string(o.Status), o.Tier, lots(o.Available), lots(o.Pending), o.Lifetime, o.Qualifying, ts(o.LastActivity), wirePayments(o)}
	js, _ := json.Marshal(line)
	b.Write(js)
	b.WriteByte('\n')
}

// Item is a stored item of a member's partition with what ties it to its
// partner and its import left out (the partition key, the partner, the
// import reference, the due shard, which hashes the partition key), so that
// two partners' imports of the same file compare equal.
type Item map[string]types.AttributeValue

// Snapshot reads the member item and ledger entries of the members 0..n-1
// (MemberID) of partner in table, keyed by member id and sort key: one Query
// of each member's partition, 16 at a time. (Not a Scan: DynamoDB Local's
// scan pages of a table of a million items take longer than a client's
// timeout, and the time would grow with the other partners' items.)
func Snapshot(ctx context.Context, db *dynamodb.Client, table, partner string, n int) (map[string]Item, error) {
	var mu sync.Mutex
	out := map[string]Item{}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
				KeyConditionExpression:    aws.String("#pk = :pk"),
				ExpressionAttributeNames:  map[string]string{"#pk": store.AttrPK},
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.MemberPK(partner, MemberID(i))}}})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				for _, it := range page.Items {
					pk, _ := it[store.AttrPK].(*types.AttributeValueMemberS)
					sk, _ := it[store.AttrSK].(*types.AttributeValueMemberS)
					if pk == nil || sk == nil {
						continue
					}
					k := store.ParseKey(pk.Value, sk.Value)
					if k.Partner != partner || (k.Kind != store.ItemMember && !k.IsEntry()) {
						continue
					}
					for _, a := range []string{store.AttrPK, "partner", "imp", store.AttrDueShard} {
						delete(it, a)
					}
					mu.Lock()
					out[k.Member+"|"+sk.Value] = it
					mu.Unlock()
				}
			}
			return nil
		})
	}
	return out, g.Wait()
}

// Members unmarshals the members and entries of a snapshot, by member id.
func Members(snap map[string]Item) (map[string]ledger.Member, map[string][]ledger.Entry, error) {
	ms, es := map[string]ledger.Member{}, map[string][]ledger.Entry{}
	for k, it := range snap {
		id, _, _ := strings.Cut(k, "|")
		if _, entry := it["kind"]; !entry {
			var m ledger.Member
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				return nil, nil, err
			}
			m.ID = id
			ms[id] = m
			continue
		}
		var e ledger.Entry
		if err := attributevalue.UnmarshalMap(it, &e); err != nil {
			return nil, nil, err
		}
		e.MemberID = id
		es[id] = append(es[id], e)
	}
	return ms, es, nil
}

// Check checks a snapshot of partner's members after the import of members
// 0..n-1 (Write, as of at; bad says which lines were bad, nil: none) under p:
// every good member is stored exactly as ledger.Import makes it, with the
// due and release times every write sets (store's lowerDue: the jobs'
// LotDue, TierDue, ReleaseTime), its entries likewise, its invariants hold
// (ledger.Check), and nothing else is there. full says which members to
// compare field by field (all others by the invariants and the sums); it
// returns the sums of the members' balances and the number of entries.
func Check(snap map[string]Item, p *program.Program, partner string, at time.Time, n int, bad func(int) string, full func(int) bool) (ledger.Balances, int, error) {
	ms, es, err := Members(snap)
	if err != nil {
		return ledger.Balances{}, 0, err
	}
	var sum, wantSum ledger.Balances
	entries, wantEntries, imported := 0, 0, 0
	for i := range n {
		if bad != nil && bad(i) != "" {
			continue
		}
		imported++
		id := MemberID(i)
		m, ok := ms[id]
		if !ok {
			return sum, 0, fmt.Errorf("member %s missing", id)
		}
		got := es[id]
		if err := ledger.Check(m, got); err != nil {
			return sum, 0, fmt.Errorf("member %s: %w", id, err)
		}
		wantM, wantEs, err := ledger.Import(partner, p, Opening(i, at), "", at)
		if err != nil {
			return sum, 0, fmt.Errorf("member %s: %w", id, err)
		}
		sum.Add(m.Balances)
		wantSum.Add(wantM.Balances)
		entries += len(got)
		wantEntries += len(wantEs)
		if full != nil && !full(i) {
			continue
		}
		for k := range wantEs {
			wantM.LowerDue(jobs.LotDue(&wantM, &wantEs[k], p))
			wantM.LowerDue(jobs.TierDue(&wantM, &wantEs[k], p))
			wantM.LowerRelease(jobs.ReleaseTime(&wantEs[k]))
		}
		m.ImportRef, m.PartnerID = "", partner
		if !reflect.DeepEqual(m, wantM) {
			return sum, 0, fmt.Errorf("member %s:\n got %+v\nwant %+v", id, m, wantM)
		}
		if len(got) != len(wantEs) {
			return sum, 0, fmt.Errorf("member %s: %d entries, want %d", id, len(got), len(wantEs))
		}
		for _, g := range got {
			g.PartnerID = partner
			if w := wantEs[g.Seq-1]; !reflect.DeepEqual(g, w) {
				return sum, 0, fmt.Errorf("member %s entry %d:\n got %+v\nwant %+v", id, g.Seq, g, w)
			}
		}
	}
	switch {
	case len(ms) != imported:
		return sum, 0, fmt.Errorf("%d members stored, %d imported", len(ms), imported)
	case sum != wantSum:
		return sum, 0, fmt.Errorf("balances sum to %+v, want %+v", sum, wantSum)
	case entries != wantEntries:
		return sum, 0, fmt.Errorf("%d entries, want %d", entries, wantEntries)
	}
	return sum, entries, nil
}

// Diff says how the items of snapshot got differ from base's (nil: none).
func Diff(base, got map[string]Item) error {
	if len(got) != len(base) {
		return fmt.Errorf("%d items, want %d", len(got), len(base))
	}
	for k, it := range base {
		if !reflect.DeepEqual(got[k], it) {
			return fmt.Errorf("item %s differs:\n got %v\nwant %v", k, got[k], it)
		}
	}
	return nil
}
