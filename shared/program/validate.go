package program

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accrue/accrue/shared/payment"
)

// FieldError is one offending field. Field is a JSON path such as
// "earning[1].bands[0].rate.per_minor" or "fraud.large_payment_minor.XYZ";
// it is empty for problems of the document as a whole.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ValidationError lists every offending field of a program; use errors.As to get it
// from Parse or Validate.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error()
	}
	return "invalid program: " + strings.Join(msgs, "; ")
}

// Limits that keep int64 points and money arithmetic far from overflow.
const (
	maxRatePoints   = 1_000_000
	maxPerMinor     = 1_000_000_000_000
	maxBonus        = 10_000_000
	maxDays         = 3660 // ten years
	maxShortDays    = 365  // pending and warning periods
	maxStreak       = 120
	maxFreqPayments = 1000
	maxNameLen      = 100
	maxTagLen       = 64
	// maxTransfer bounds the transfer limits (the API's bound on the points
	// of one request).
	maxTransfer = 100_000_000
)

var (
	idRE          = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	maxMultiplier = RatioInt(100)
)

// Validate checks the program and returns a *ValidationError listing every problem
// (nil when valid). It never panics, whatever the value. The rules:
//
//   - name: non-blank, at most 100 characters.
//   - timezone: empty (UTC) or an IANA name loadable by time.LoadLocation ("Local" refused).
//   - rounding: "", "floor", "round_half_up" or "ceil".
//   - ids of earning rules, streaks, frequency rules and campaigns, activity names and
//     tier names: match ^[a-z0-9][a-z0-9_-]{0,62}$ and are unique within their list.
//   - categories: among Categories; currencies: upper-case ISO 4217 codes ("XXX" refused).
//   - earning: at least one rule; rate points 0..1e6, per_minor 1..1e12; bands have
//     min_minor > 0, strictly ascending, and a rate under the same limits;
//     min_amount_minor >= 0.
//   - streaks: periods 1..120, bonus 1..1e7. frequency: payments 2..1000, days
//     1..3660, bonus 1..1e7. activities: points 1..1e7.
//   - campaigns: starts_at and ends_at set (years 0001..9999), ends_at after starts_at; exactly one of
//     multiplier (0 < m <= 100) and bonus (1..1e7); listed tiers exist; tags non-empty,
//     at most 64 characters; budget, per_member_max_points, per_member_max_times >= 0.
//   - tiers: the first has threshold 0, thresholds strictly ascending, multiplier set,
//     0 < m <= 100; qualifying_window_days 0..3660, required (> 0) with several tiers.
//   - pending_days 0..365.
//   - expiry: rolling_days, fixed_min_days, inactivity_days 0..3660; fixed_date "" or
//     "MM-DD" of a real day other than 02-29; fixed_min_days only with fixed_date;
//     warn_days 0..365, only with some expiry, and below rolling_days and
//     inactivity_days where those are set.
//   - caps and fraud limits >= 0; fraud.large_payment_minor keys ISO 4217, values > 0.
//   - point_value: currency ISO 4217, minor set and > 0.
//   - transfers: min_points, max_points and member_daily 0..1e8; max_points at
//     least min_points, member_daily at least both (where set).
//   - every currency (earning rules, fraud.large_payment_minor keys, point_value)
//     is one in circulation (payment.ValidCurrency; not XAU, XTS, XXX, DEM, ...),
//     and its message starts with the slug unknown_currency.
//   - the program encoded by json.Marshal is at most MaxDocumentSize bytes (so a
//     stored copy always parses again) and encodes without error.
func (p *Program) Validate() error {
	v := &validator{}
	if p == nil {
		v.add("", "program is missing")
		return v.err()
	}
	if strings.TrimSpace(p.Name) == "" {
		v.add("name", "is required")
	} else if utf8.RuneCountInString(p.Name) > maxNameLen {
		v.add("name", "must be at most %d characters", maxNameLen)
	}
	if p.Timezone != "" {
		if _, err := loadLocation(p.Timezone); err != nil {
			v.add("timezone", "unknown time zone %q (use an IANA name such as \"Europe/Moscow\")", p.Timezone)
		}
	}
	switch p.Rounding {
	case "", "floor", "round_half_up", "ceil":
	default:
		v.add("rounding", "must be one of \"floor\", \"round_half_up\", \"ceil\"")
	}

	v.earning(p.Earning)
	v.streaks(p.Streaks)
	v.frequency(p.Frequency)
	v.activities(p.Activities)
	v.tiers(p.Tiers, p.QualifyingWindowDays)
	v.campaigns(p.Campaigns, p.Tiers)
	v.rangeInt("pending_days", int64(p.PendingDays), 0, maxShortDays)
	v.expiry(p.Expiry)

	v.rangeInt("caps.member_daily", p.Caps.MemberDaily, 0, -1)
	v.rangeInt("caps.member_monthly", p.Caps.MemberMonthly, 0, -1)
	v.rangeInt("caps.program_monthly", p.Caps.ProgramMonthly, 0, -1)
	v.rangeInt("fraud.max_events_per_hour", int64(p.Fraud.MaxEventsPerHour), 0, -1)
	v.rangeInt("fraud.max_points_per_day", p.Fraud.MaxPointsPerDay, 0, -1)
	keys := make([]string, 0, len(p.Fraud.LargePaymentMinor))
	for k := range p.Fraud.LargePaymentMinor {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := "fraud.large_payment_minor." + k
		v.currency(f, k)
		v.rangeInt(f, p.Fraud.LargePaymentMinor[k], 1, -1)
	}

	v.transfers(p.Transfers)

	v.currency("point_value.currency", p.PointValue.Currency)
	if !p.PointValue.Minor.IsSet() {
		v.add("point_value.minor", "is required")
	} else if p.PointValue.Minor.IsZero() {
		v.add("point_value.minor", "must be greater than 0")
	}
	if len(v.errs) == 0 {
		// A valid program must survive json.Marshal + Parse (e.g. a stored copy):
		// escaping can make the encoded form larger than the document given.
		if b, err := json.Marshal(p); err != nil {
			v.add("", "cannot be encoded as JSON: %v", err)
		} else if len(b) > MaxDocumentSize {
			v.add("", "encoded as JSON the program has %d bytes, more than %d", len(b), MaxDocumentSize)
		}
	}
	return v.err()
}

func (v *validator) earning(rules []EarningRule) {
	if len(rules) == 0 {
		v.add("earning", "at least one earning rule is required")
	}
	ids := map[string]bool{}
	for i, r := range rules {
		f := fmt.Sprintf("earning[%d]", i)
		v.id(f+".id", r.ID, ids)
		v.categories(f+".categories", r.Categories)
		for j, c := range r.Currencies {
			v.currency(fmt.Sprintf("%s.currencies[%d]", f, j), c)
		}
		v.rate(f+".rate", r.Rate)
		for j, b := range r.Bands {
			bf := fmt.Sprintf("%s.bands[%d]", f, j)
			if b.MinMinor <= 0 {
				v.add(bf+".min_minor", "must be greater than 0")
			} else if j > 0 && b.MinMinor <= r.Bands[j-1].MinMinor {
				v.add(bf+".min_minor", "must be greater than the previous band's")
			}
			v.rate(bf+".rate", b.Rate)
		}
		v.rangeInt(f+".min_amount_minor", r.MinAmountMinor, 0, -1)
	}
}

func (v *validator) rate(f string, r Rate) {
	v.rangeInt(f+".points", r.Points, 0, maxRatePoints)
	v.rangeInt(f+".per_minor", r.PerMinor, 1, maxPerMinor)
}

func (v *validator) streaks(rules []StreakRule) {
	ids := map[string]bool{}
	for i, r := range rules {
		f := fmt.Sprintf("streaks[%d]", i)
		v.id(f+".id", r.ID, ids)
		v.rangeInt(f+".periods", int64(r.Periods), 1, maxStreak)
		v.rangeInt(f+".bonus", r.Bonus, 1, maxBonus)
		v.categories(f+".categories", r.Categories)
	}
}

func (v *validator) frequency(rules []FrequencyRule) {
	ids := map[string]bool{}
	for i, r := range rules {
		f := fmt.Sprintf("frequency[%d]", i)
		v.id(f+".id", r.ID, ids)
		v.rangeInt(f+".payments", int64(r.Payments), 2, maxFreqPayments)
		v.rangeInt(f+".days", int64(r.Days), 1, maxDays)
		v.rangeInt(f+".bonus", r.Bonus, 1, maxBonus)
		v.categories(f+".categories", r.Categories)
	}
}

func (v *validator) transfers(t Transfers) {
	okMin := v.rangeInt("transfers.min_points", t.MinPoints, 0, maxTransfer)
	okMax := v.rangeInt("transfers.max_points", t.MaxPoints, 0, maxTransfer)
	okDaily := v.rangeInt("transfers.member_daily", t.MemberDaily, 0, maxTransfer)
	if okMin && okMax && t.MaxPoints > 0 && t.MaxPoints < t.MinPoints {
		v.add("transfers.max_points", "must be at least min_points (%d)", t.MinPoints)
	}
	if okDaily && okMin && okMax && t.MemberDaily > 0 && t.MemberDaily < max(t.MinPoints, t.MaxPoints) {
		v.add("transfers.member_daily", "must be at least min_points and max_points (%d): a member could never send a transfer", max(t.MinPoints, t.MaxPoints))
	}
}

func (v *validator) activities(acts []Activity) {
	names := map[string]bool{}
	for i, a := range acts {
		f := fmt.Sprintf("activities[%d]", i)
		v.id(f+".name", a.Name, names)
		v.rangeInt(f+".points", a.Points, 1, maxBonus)
	}
}

func (v *validator) campaigns(cs []Campaign, tiers []Tier) {
	ids := map[string]bool{}
	for i, c := range cs {
		f := fmt.Sprintf("campaigns[%d]", i)
		v.id(f+".id", c.ID, ids)
		v.time(f+".starts_at", c.StartsAt)
		if v.time(f+".ends_at", c.EndsAt) && !c.StartsAt.IsZero() && !c.EndsAt.After(c.StartsAt) {
			v.add(f+".ends_at", "must be after starts_at")
		}
		v.categories(f+".categories", c.Categories)
		for j, t := range c.Tiers {
			if !slices.ContainsFunc(tiers, func(x Tier) bool { return x.Name == t }) {
				v.add(fmt.Sprintf("%s.tiers[%d]", f, j), "unknown tier %q", t)
			}
		}
		for j, t := range c.Tags {
			if t == "" || utf8.RuneCountInString(t) > maxTagLen {
				v.add(fmt.Sprintf("%s.tags[%d]", f, j), "must be 1 to %d characters", maxTagLen)
			}
		}
		if c.Multiplier.IsSet() == (c.Bonus != 0) {
			v.add(f, "set exactly one of multiplier and bonus")
		}
		if c.Multiplier.IsSet() {
			v.multiplier(f+".multiplier", c.Multiplier)
		}
		if c.Bonus != 0 {
			v.rangeInt(f+".bonus", c.Bonus, 1, maxBonus)
		}
		v.rangeInt(f+".budget", c.Budget, 0, -1)
		v.rangeInt(f+".per_member_max_points", c.PerMemberMaxPoints, 0, -1)
		v.rangeInt(f+".per_member_max_times", c.PerMemberMaxTimes, 0, -1)
	}
}

func (v *validator) tiers(tiers []Tier, windowDays int) {
	names := map[string]bool{}
	for i, t := range tiers {
		f := fmt.Sprintf("tiers[%d]", i)
		v.id(f+".name", t.Name, names)
		switch {
		case i == 0 && t.Threshold != 0:
			v.add(f+".threshold", "the first tier must have threshold 0")
		case i > 0 && t.Threshold <= tiers[i-1].Threshold:
			v.add(f+".threshold", "must be greater than the previous tier's")
		}
		if !t.Multiplier.IsSet() {
			v.add(f+".multiplier", "is required")
		} else {
			v.multiplier(f+".multiplier", t.Multiplier)
		}
	}
	if len(tiers) > 1 && windowDays == 0 {
		v.add("qualifying_window_days", "is required when there is more than one tier")
	} else {
		v.rangeInt("qualifying_window_days", int64(windowDays), 0, maxDays)
	}
}

func (v *validator) expiry(e Expiry) {
	v.rangeInt("expiry.rolling_days", int64(e.RollingDays), 0, maxDays)
	if e.FixedDate != "" {
		if _, _, err := parseFixedDate(e.FixedDate); err != nil {
			v.add("expiry.fixed_date", "%v", err)
		}
	} else if e.FixedMinDays != 0 {
		v.add("expiry.fixed_min_days", "requires fixed_date")
	}
	v.rangeInt("expiry.fixed_min_days", int64(e.FixedMinDays), 0, maxDays)
	v.rangeInt("expiry.inactivity_days", int64(e.InactivityDays), 0, maxDays)
	if !v.rangeInt("expiry.warn_days", int64(e.WarnDays), 0, maxShortDays) || e.WarnDays == 0 {
		return
	}
	switch {
	case e.RollingDays == 0 && e.FixedDate == "" && e.InactivityDays == 0:
		v.add("expiry.warn_days", "requires an expiry (rolling_days, fixed_date or inactivity_days)")
	case e.RollingDays > 0 && e.WarnDays >= e.RollingDays:
		v.add("expiry.warn_days", "must be less than rolling_days")
	case e.InactivityDays > 0 && e.WarnDays >= e.InactivityDays:
		v.add("expiry.warn_days", "must be less than inactivity_days")
	}
}

var (
	errFixedDate = errors.New(`must be a calendar day as "MM-DD", e.g. "12-31"`)
	errLeapDay   = errors.New("02-29 is refused: it does not occur every year (use 02-28 or 03-01)")
)

// parseFixedDate parses "MM-DD" into a month and day that occur every year.
func parseFixedDate(s string) (time.Month, int, error) {
	t, err := time.Parse("01-02", s) // year 0 is a leap year: 02-29 parses
	if err != nil || len(s) != 5 {
		return 0, 0, errFixedDate
	}
	if t.Month() == time.February && t.Day() == 29 {
		return 0, 0, errLeapDay
	}
	return t.Month(), t.Day(), nil
}

// validator collects FieldErrors.
type validator struct{ errs []FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: v.errs}
}

// rangeInt checks lo <= n <= hi (hi < 0: no upper bound) and reports whether it held.
func (v *validator) rangeInt(field string, n, lo, hi int64) bool {
	if n >= lo && (hi < 0 || n <= hi) {
		return true
	}
	switch {
	case hi >= 0:
		v.add(field, "must be between %d and %d", lo, hi)
	case lo == 0:
		v.add(field, "must not be negative")
	default:
		v.add(field, "must be at least %d", lo)
	}
	return false
}

// time checks that t is set and representable in JSON, and reports whether it is.
func (v *validator) time(field string, t time.Time) bool {
	if t.IsZero() {
		v.add(field, "is required")
		return false
	}
	if _, err := t.MarshalJSON(); err != nil {
		v.add(field, "year must be between 0001 and 9999")
		return false
	}
	return true
}

func (v *validator) id(field, id string, seen map[string]bool) {
	switch {
	case id == "":
		v.add(field, "is required")
	case !idRE.MatchString(id):
		v.add(field, "must be 1-63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit")
	case seen[id]:
		v.add(field, "duplicate %q", id)
	}
	seen[id] = true
}

func (v *validator) categories(field string, cats []string) {
	for i, c := range cats {
		if !slices.Contains(Categories, c) {
			v.add(fmt.Sprintf("%s[%d]", field, i), "unknown category %q (one of %s)", c, strings.Join(Categories, ", "))
		}
	}
}

// currency checks a currency code where one enters a program: the same rule
// as a payment's (payment.ValidCurrency), named by the same stable slug.
func (v *validator) currency(field, code string) {
	if err := payment.ValidCurrency(code); err != nil {
		v.add(field, "%s: %v; use an ISO 4217 code of a currency in circulation such as \"RUB\"", payment.ReasonCurrency, err)
	}
}

func (v *validator) multiplier(field string, m Ratio) {
	if m.IsZero() || m.Cmp(maxMultiplier) > 0 {
		v.add(field, "must be greater than 0 and at most 100")
	}
}
