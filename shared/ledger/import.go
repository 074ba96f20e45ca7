package ledger

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/rules"
)

// Bulk import: a member brought over from another program arrives with its
// balances. Import turns one member of an import file (package importer
// parses it) into a new Member and its opening entries, all of kind
// KindImport, so that the invariants hold from the first write (Check) and
// the jobs treat what was imported like what was earned:
//
//   - one entry per available lot: Delta.Available = its points, the lot
//     (available, its expiry) carried by the entry, as an earn entry carries
//     its lot — so k lots are k entries;
//   - one entry per pending lot: Delta.Pending, the lot pending until its
//     AvailableAt (then it counts as available without a visit, like earned
//     pending points);
//   - the tier-qualifying points, as entries whose Delta.Lifetime the
//     qualifying window counts from the time they were earned (Entry.PaidAt):
//     one for Opening.Qualifying (earned "at the import"), and, when the
//     program has tiers and a qualifying window, one per history payment
//     with points inside the window at the import (earned at its paid_at), so
//     each leaves the window when that payment's points would have;
//   - the rest of the lifetime points (earned before the import, outside
//     the window): Delta.Lifetime of the first lot's entry (a second
//     breakdown line says so), or of an entry of its own when the member has
//     no lot; never qualifying (no PaidAt).
//
// Lots carry no lifetime points for their own points: the lifetime points
// are the member's whole history (Opening.Lifetime), of which the lots are
// what is left unspent, so they are booked once, by the qualifying entries
// and the rest. Every entry is made at the import's time (at), in that
// order.
// History payments earn nothing: besides the qualifying points they carry,
// they only advance the member's streaks (rules.ReplayStreaks).

// Opening is one member of a bulk import.
type Opening struct {
	MemberID string
	Tags     []string
	// Status: StatusActive ("" too) or StatusSuspended.
	Status Status
	// Tier: a tier of the program; "" takes the tier the qualifying points
	// reach.
	Tier      string
	Available []OpeningLot
	Pending   []OpeningLot
	// Lifetime points earned before the import; nil: the least consistent
	// value, max(Σ lots, Qualifying + Σ history points).
	Lifetime *int64
	// Qualifying: tier-qualifying points earned in the window that no history
	// payment carries; they count as earned at the import.
	Qualifying int64
	// LastActivity: the member's last activity before the import (inactivity
	// expiry counts from it); nil: the import.
	LastActivity *time.Time
	// Payments: the member's payment history, oldest first or in any order.
	Payments []HistoryPayment
}

// OpeningLot is an imported lot.
type OpeningLot struct {
	Points int64
	// ExpiresAt: nil takes the program's expiry rule as if the points were
	// earned at the import (program.LotExpiry; none: they never expire).
	ExpiresAt *time.Time
	// AvailableAt: when a pending lot becomes available (pending lots only).
	AvailableAt *time.Time
}

// HistoryPayment is a payment made before the import.
type HistoryPayment struct {
	// Payment: its id, time (paid_at), amount, currency, category and
	// subscription period; Type is payment.TypeSucceeded.
	payment.Payment
	// Points: the tier-qualifying points it earned in the previous program.
	Points int64
}

// ImportError says why a member cannot be imported: the field of the line
// (a JSON path such as "available[1].expires_at") and the reason.
type ImportError struct {
	Field  string
	Reason string
}

func (e *ImportError) Error() string { return e.Field + ": " + e.Reason }

func importErr(field, format string, args ...any) error {
	return &ImportError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// MaxImportEntries bounds the opening entries of one member: they are
// written in one transaction with the member item and the check that its id
// was never erased (DynamoDB's limit: 100 items).
const MaxImportEntries = 98

// Import lines' breakdown rules (rules.KindImport lines).
const (
	ImportAvailable  = "available"
	ImportPending    = "pending"
	ImportQualifying = "qualifying"
	ImportLifetime   = "lifetime"
)

// Import builds the member of partner that o describes and its opening
// entries (booked: Seq 1.., balances applied), as of the import's time at.
// ref names the import and the line (Member.ImportRef). It fails with an
// *ImportError naming the field when o does not fit the program or the time
// of the import: an unknown tier, a lot already expired, a payment after the
// import, lifetime points below what the lots or the qualifying points hold,
// too many entries. Due times (the lots' expiries and warnings, the
// qualifying entries' window exits) and the release time are the store's to
// set, as for every write (store.lowerDue).
func Import(partner string, p *program.Program, o Opening, ref string, at time.Time) (Member, []Entry, error) {
	at = at.UTC()
	if err := checkOpening(p, o, at); err != nil {
		return Member{}, nil, err
	}
	m := NewMember(partner, o.MemberID, slices.Clone(o.Tags), at)
	m.Status = StatusActive
	if o.Status == StatusSuspended {
		m.Status = StatusSuspended
	}
	if o.LastActivity != nil {
		m.LastActivity = o.LastActivity.UTC()
	}
	m.ImportRef = ref
	m.Version = 1

	history := slices.Clone(o.Payments)
	slices.SortStableFunc(history, func(a, b HistoryPayment) int { return a.Time.Compare(b.Time) })
	pays := make([]payment.Payment, len(history))
	for i, h := range history {
		pays[i] = h.Payment
	}
	m.Rules = rules.ReplayStreaks(p, m.Rules, pays)

	var es []Entry
	for _, l := range o.Available {
		es = append(es, openingEntry(p, l, LotAvailable, at))
	}
	for _, l := range o.Pending {
		es = append(es, openingEntry(p, l, LotPending, at))
	}

	// Qualifying points: dated entries the tier window counts.
	windowed := len(p.Tiers) > 0 && p.QualifyingWindowDays > 0
	start := at.In(p.Location()).AddDate(0, 0, -p.QualifyingWindowDays).UTC()
	opening, historyTotal := o.Qualifying, int64(0)
	var dated []Entry
	for _, h := range history {
		historyTotal += h.Points
		switch {
		case h.Points <= 0:
		case !windowed:
			opening += h.Points // no window: they never leave it
		case !h.Time.Before(start):
			dated = append(dated, qualifyingEntry(h.Points, h.Time, refOf(h.Payment), "earned by payment "+h.PaymentID, at))
		}
	}
	var qualifying int64
	if opening > 0 {
		es = append(es, qualifyingEntry(opening, at, PaymentRef{}, "earned before the import", at))
		qualifying += opening
	}
	for _, e := range dated {
		es = append(es, e)
		qualifying += e.Delta.Lifetime
	}

	lots := sumLots(o.Available) + sumLots(o.Pending)
	lifetime := max(lots, o.Qualifying+historyTotal)
	if o.Lifetime != nil {
		lifetime = *o.Lifetime
	}
	if rest := lifetime - qualifying; rest > 0 {
		line := rules.Line{Kind: rules.KindImport, Rule: ImportLifetime,
			Detail: strconv.FormatInt(rest, 10) + " lifetime points earned before the import"}
		if lots > 0 {
			// On the first lot's entry: one entry (3 write units) fewer.
			es[0].Delta.Lifetime = rest
			es[0].Breakdown = append(es[0].Breakdown, line)
		} else {
			es = append(es, Entry{Kind: KindImport, At: at, Delta: Balances{Lifetime: rest}, Breakdown: []rules.Line{line}})
		}
	}
	if len(es) > MaxImportEntries {
		return Member{}, nil, importErr("available", "%d opening entries (lots, qualifying payments in the window, lifetime): at most %d", len(es), MaxImportEntries)
	}

	m.Rules.Qualifying = qualifying
	switch {
	case o.Tier != "":
		m.Rules.Tier = o.Tier
	case len(p.Tiers) > 0:
		if t, ok := p.TierFor(qualifying); ok {
			m.Rules.Tier = t.Name
		}
	}
	for i := range es {
		m.Apply(&es[i])
	}
	return m, es, nil
}

// checkOpening checks what the parser could not: o against the program and
// the import's time. The fields are those of the import format.
func checkOpening(p *program.Program, o Opening, at time.Time) error {
	if o.Status != "" && o.Status != StatusActive && o.Status != StatusSuspended {
		return importErr("status", "%q: active or suspended", o.Status)
	}
	if o.Tier != "" && p.TierIndex(o.Tier) < 0 {
		names := make([]string, len(p.Tiers))
		for i, t := range p.Tiers {
			names[i] = t.Name
		}
		if len(names) == 0 {
			return importErr("tier", "%q: the program has no tiers", o.Tier)
		}
		return importErr("tier", "%q is not a tier of the program (%v)", o.Tier, names)
	}
	for _, g := range []struct {
		name string
		lots []OpeningLot
	}{{"available", o.Available}, {"pending", o.Pending}} {
		for i, l := range g.lots {
			f := fmt.Sprintf("%s[%d]", g.name, i)
			if l.Points <= 0 {
				return importErr(f+".points", "%d: at least 1", l.Points)
			}
			if l.ExpiresAt != nil && !l.ExpiresAt.After(at) {
				return importErr(f+".expires_at", "%s is not after the import (%s): the points have expired", l.ExpiresAt.UTC().Format(time.RFC3339), at.Format(time.RFC3339))
			}
			if g.name == "pending" && l.AvailableAt == nil {
				return importErr(f+".available_at", "required for pending points")
			}
		}
	}
	if o.LastActivity != nil && o.LastActivity.After(at) {
		return importErr("last_activity", "%s is after the import (%s)", o.LastActivity.UTC().Format(time.RFC3339), at.Format(time.RFC3339))
	}
	var history int64
	for i, h := range o.Payments {
		if h.Time.After(at) {
			return importErr(fmt.Sprintf("payments[%d].paid_at", i), "%s is after the import (%s)", h.Time.UTC().Format(time.RFC3339), at.Format(time.RFC3339))
		}
		history += h.Points
	}
	if o.Qualifying < 0 {
		return importErr("qualifying", "%d: not negative", o.Qualifying)
	}
	if o.Lifetime != nil {
		lots := sumLots(o.Available) + sumLots(o.Pending)
		switch {
		case *o.Lifetime < lots:
			return importErr("lifetime", "%d is below the %d points of the lots: lifetime points include every point still held", *o.Lifetime, lots)
		case *o.Lifetime < o.Qualifying+history:
			return importErr("lifetime", "%d is below the %d qualifying and history points: lifetime points include them", *o.Lifetime, o.Qualifying+history)
		}
	}
	return nil
}

func sumLots(ls []OpeningLot) int64 {
	var n int64
	for _, l := range ls {
		n += l.Points
	}
	return n
}

// openingEntry is the opening entry carrying one imported lot.
func openingEntry(p *program.Program, l OpeningLot, state LotState, at time.Time) Entry {
	lot := Lot{State: state, Remaining: l.Points}
	if l.ExpiresAt != nil {
		exp := l.ExpiresAt.UTC()
		lot.ExpiresAt = &exp
	} else if exp, ok := p.LotExpiry(at); ok {
		exp = exp.UTC()
		lot.ExpiresAt = &exp
	}
	d, rule, detail := Balances{Available: l.Points}, ImportAvailable, "opening balance: available"
	if state == LotPending {
		avl := l.AvailableAt.UTC()
		lot.AvailableAt = &avl
		d, rule, detail = Balances{Pending: l.Points}, ImportPending, "opening balance: pending until "+avl.Format(time.RFC3339)
	}
	if lot.ExpiresAt != nil {
		detail += ", expires " + lot.ExpiresAt.Format(time.RFC3339)
	}
	return Entry{Kind: KindImport, At: at, Points: l.Points, Delta: d, Lot: lot,
		Breakdown: []rules.Line{{Kind: rules.KindImport, Rule: rule, Points: l.Points, Detail: detail}}}
}

// qualifyingEntry books points tier-qualifying from earned on (its PaidAt):
// lifetime points, no spendable points.
func qualifyingEntry(points int64, earned time.Time, ref PaymentRef, why string, at time.Time) Entry {
	ref.PaidAt = earned.UTC()
	return Entry{Kind: KindImport, At: at, Delta: Balances{Lifetime: points}, PaymentRef: ref,
		Breakdown: []rules.Line{{Kind: rules.KindImport, Rule: ImportQualifying,
			Detail: strconv.FormatInt(points, 10) + " tier-qualifying points " + why + ", counted from " + ref.PaidAt.Format(time.RFC3339)}}}
}

// EarnedAt is when an entry's lifetime points were earned, for the tier
// window: its time, or for an imported qualifying entry the time its points
// were earned before the import (PaidAt).
func (e *Entry) EarnedAt() time.Time {
	if e.Kind == KindImport && !e.PaidAt.IsZero() {
		return e.PaidAt
	}
	return e.At
}

// QualifiesForTier reports whether an entry's lifetime points count as
// tier-qualifying points in the window (from EarnedAt): earn entries and
// review approvals (release entries), and imported qualifying entries.
func (e *Entry) QualifiesForTier() bool {
	switch e.Kind {
	case KindEarn, KindRelease:
		return true
	case KindImport:
		return !e.PaidAt.IsZero()
	}
	return false
}
