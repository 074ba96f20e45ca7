package rollup

import (
	"reflect"
	"testing"
	"time"
)

func TestUTCDays(t *testing.T) {
	msk, _ := time.LoadLocation("Europe/Moscow")
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		name       string
		start, end time.Time
		want       []string
	}{
		{"moscow day", day{time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)}.start(msk), day{time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC)}.start(msk), []string{"2026-11-04", "2026-11-05"}},
		{"utc day", time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC), []string{"2026-11-05"}},
		{"new york 25-hour day", day{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}.start(ny), day{time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}.start(ny), []string{"2026-11-01", "2026-11-02"}},
		{"three utc days", time.Date(2026, 11, 4, 23, 30, 0, 0, time.UTC), time.Date(2026, 11, 6, 0, 30, 0, 0, time.UTC), []string{"2026-11-04", "2026-11-05", "2026-11-06"}},
		{"empty", time.Date(2026, 11, 5, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 5, 1, 0, 0, 0, time.UTC), nil},
		{"leap day", time.Date(2028, 2, 28, 21, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 21, 0, 0, 0, time.UTC), []string{"2028-02-28", "2028-02-29"}},
	} {
		if got := utcDays(tc.start, tc.end); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
