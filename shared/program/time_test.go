package program

import (
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocation(t *testing.T) {
	for tz, want := range map[string]string{"": "UTC", "Europe/Moscow": "Europe/Moscow", "Nowhere/City": "UTC", "Local": "UTC"} {
		if got := (&Program{Timezone: tz}).Location(); got == nil || got.String() != want {
			t.Errorf("Location(%q) = %v, want %s", tz, got, want)
		}
	}
	if got := (*Program)(nil).Location(); got != time.UTC {
		t.Errorf("nil program: %v", got)
	}
}

func TestLotExpiry(t *testing.T) {
	utc := time.UTC
	berlin := mustLoad(t, "Europe/Berlin")
	moscow := mustLoad(t, "Europe/Moscow")
	d := func(y int, m time.Month, day, h int, loc *time.Location) time.Time {
		return time.Date(y, m, day, h, 0, 0, 0, loc)
	}
	tests := []struct {
		name   string
		tz     string
		expiry Expiry
		earned time.Time
		want   time.Time // zero: not configured
	}{
		{"none", "", Expiry{InactivityDays: 90, WarnDays: 7}, d(2026, 5, 10, 12, utc), time.Time{}},
		{"rolling over a month end", "", Expiry{RollingDays: 30}, d(2026, 1, 31, 10, utc), d(2026, 3, 2, 10, utc)},
		{"rolling into a leap day", "", Expiry{RollingDays: 1}, d(2028, 2, 28, 10, utc), d(2028, 2, 29, 10, utc)},
		{"rolling from a leap day", "", Expiry{RollingDays: 365}, d(2028, 2, 29, 12, utc), d(2029, 2, 28, 12, utc)},
		{"rolling keeps wall clock over DST", "Europe/Berlin", Expiry{RollingDays: 30}, d(2026, 3, 15, 10, berlin), d(2026, 4, 14, 10, berlin)},
		{"fixed", "", Expiry{FixedDate: "12-31"}, d(2026, 5, 10, 12, utc), d(2026, 12, 31, 0, utc)},
		{"fixed strictly after", "", Expiry{FixedDate: "12-31"}, d(2026, 12, 31, 0, utc), d(2027, 12, 31, 0, utc)},
		{"fixed a second later", "", Expiry{FixedDate: "12-31"}, d(2026, 12, 30, 23, utc).Add(59*time.Minute + 59*time.Second), d(2026, 12, 31, 0, utc)},
		{"fixed after min days", "", Expiry{FixedDate: "12-31", FixedMinDays: 365}, d(2026, 5, 10, 12, utc), d(2027, 12, 31, 0, utc)},
		{"fixed month end", "", Expiry{FixedDate: "04-30"}, d(2026, 4, 30, 12, utc), d(2027, 4, 30, 0, utc)},
		{"fixed after a leap day", "", Expiry{FixedDate: "03-01"}, d(2028, 2, 29, 12, utc), d(2028, 3, 1, 0, utc)},
		{"fixed 02-28 from a leap day", "", Expiry{FixedDate: "02-28"}, d(2028, 2, 29, 12, utc), d(2029, 2, 28, 0, utc)},
		// 2026-12-31 22:00 UTC is already 2027-01-01 in Moscow.
		{"fixed in program timezone", "Europe/Moscow", Expiry{FixedDate: "01-01"}, d(2026, 12, 31, 22, utc), d(2028, 1, 1, 0, moscow)},
		{"fixed in UTC differs", "", Expiry{FixedDate: "01-01"}, d(2026, 12, 31, 22, utc), d(2027, 1, 1, 0, utc)},
		{"earliest: fixed", "", Expiry{RollingDays: 730, FixedDate: "12-31", FixedMinDays: 365}, d(2026, 5, 10, 12, utc), d(2027, 12, 31, 0, utc)},
		{"earliest: rolling", "", Expiry{RollingDays: 10, FixedDate: "12-31"}, d(2026, 5, 10, 12, utc), d(2026, 5, 20, 12, utc)},
		{"earliest: fixed, rolling in Moscow", "Europe/Moscow", Expiry{RollingDays: 30, FixedDate: "01-01"}, d(2026, 12, 15, 12, moscow), d(2027, 1, 1, 0, moscow)},
		{"invalid fixed date ignored", "", Expiry{RollingDays: 5, FixedDate: "02-30"}, d(2026, 5, 10, 12, utc), d(2026, 5, 15, 12, utc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Program{Timezone: tt.tz, Expiry: tt.expiry}
			got, ok := p.LotExpiry(tt.earned)
			if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Errorf("LotExpiry(%v) = %v, %v; want %v", tt.earned, got, ok, tt.want)
			}
			if ok && got.Location() != p.Location() {
				t.Errorf("result in %v, want the program's zone %v", got.Location(), p.Location())
			}
		})
	}
	// Rolling is calendar days, not 24h periods: 30 days over the spring DST change are 719 hours.
	got, _ := (&Program{Timezone: "Europe/Berlin", Expiry: Expiry{RollingDays: 30}}).LotExpiry(d(2026, 3, 15, 10, berlin))
	if h := got.Sub(d(2026, 3, 15, 10, berlin)).Hours(); h != 719 {
		t.Errorf("30 days over DST = %vh, want 719h", h)
	}
}
