package rollup

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"time"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/money"
	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/store"
)

// ErrUnbalanced: an entry (or a day) whose change of outstanding points is
// not accounted for by its flows (see the package doc). A bug in whatever
// booked the entry; the partner's roll-up stops at that day.
var ErrUnbalanced = errors.New("flows do not account for the change of outstanding points")

// Figures are the sums over a set of entries (see the package doc); the store
// keeps them in partial items (store.Partial) and they add up.
type Figures = store.Figures

// Of returns the figures of one entry, checking that its flows account for
// its change of outstanding points (ErrUnbalanced otherwise: the figures are
// returned all the same, with Unbalanced 1).
func Of(e ledger.Entry) (Figures, error) {
	d := e.Delta
	f := Figures{Net: d.Available + d.Pending + d.Held, DebtChange: d.Debt}
	switch {
	case e.Kind == ledger.KindImport:
		// An opening balance: points issued before the partner came to
		// Accrue, now outstanding here. Its lifetime points were earned
		// then, not on the day of the import: not issued.
		f.Imported = f.Net
	case d.Lifetime > 0:
		f.Issued = d.Lifetime
	case d.Lifetime < 0:
		f.Reversed = -d.Lifetime
	}
	switch e.Kind {
	case ledger.KindRedeem:
		f.Redeemed = -(d.Available + d.Held)
	case ledger.KindExpire:
		f.Expired = -(d.Available + d.Pending)
	case ledger.KindAdjust:
		if e.Points < 0 {
			f.Debited = -(d.Available + d.Pending + d.Held)
		}
	case ledger.KindTransfer:
		f.Transferred = d.Available + d.Pending + d.Held
	case ledger.KindMerge:
		// Points and lifetime points of one person moving from an absorbed
		// member to its survivor: neither issued nor taken back.
		f.Issued, f.Reversed = 0, 0
		f.Transferred = d.Available + d.Pending + d.Held
	}
	if err := Check(f); err != nil {
		f.Unbalanced = 1
		return f, fmt.Errorf("%s entry of member %s at %s (%d points, delta %+v): %w",
			e.Kind, e.MemberID, e.At.UTC().Format(time.RFC3339Nano), e.Points, d, err)
	}
	return f, nil
}

// Check verifies Net = Issued − Reversed − Redeemed − Expired − Debited +
// Transferred + Imported, and that no entry summed into f was unbalanced on
// its own. (Transferred is 0 over a partner's whole day: a transfer's two
// entries, and a merge's entries on its two members, are written together,
// at one time.)
func Check(f Figures) error {
	if flows := f.Issued - f.Reversed - f.Redeemed - f.Expired - f.Debited + f.Transferred + f.Imported; flows != f.Net {
		return fmt.Errorf("%w: issued %d − reversed %d − redeemed %d − expired %d − debited %d + transferred %d + imported %d = %d, outstanding changed by %d",
			ErrUnbalanced, f.Issued, f.Reversed, f.Redeemed, f.Expired, f.Debited, f.Transferred, f.Imported, flows, f.Net)
	}
	if f.Unbalanced != 0 {
		return fmt.Errorf("%w: %d entries whose own flows do not (the stats consumer logged each)", ErrUnbalanced, f.Unbalanced)
	}
	return nil
}

// Active reports whether an entry makes its member active that day: earn,
// bonus, and redemptions (a hold or a capture; not the return of held
// points). The member item records it (ledger.MarkActive), and the consumer
// counts the member from there.
func Active(e ledger.Entry) bool { return ledger.IsActivity(&e) }

// Liability is outstanding points × the program's point value, as an exact
// decimal string in minor units: what the roll-up stores, so that no
// precision is lost before the one rounding of ReportedLiability.
func Liability(p *program.Program, outstanding int64) string {
	return program.RatString(p.PointValue.Exact(outstanding))
}

// decimalRE is a stored liability: a plain decimal (Liability writes them).
var decimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// ReportedLiability is a day's liability as GET /v1/stats reports it: the
// exact figure the roll-up stored (Liability) rounded once to whole minor
// units of its currency, half to even (money.HalfEven, the rounding of
// reported money: the nearest amount, ties not leaning one way across days and
// partners), saturating at the int64 range. A stored figure that is not a
// decimal number fails.
func ReportedLiability(exact string) (int64, error) {
	v, ok := new(big.Rat), decimalRE.MatchString(exact)
	if ok {
		_, ok = v.SetString(exact)
	}
	if !ok {
		return 0, fmt.Errorf("stored liability %q is not a decimal number", exact)
	}
	return money.HalfEven.Saturate(v), nil
}
