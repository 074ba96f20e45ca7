package ledger

import (
	"reflect"
	"testing"
	"time"
)

// MarkActive keeps the two latest activity days in order, counts only
// activity, and a write that commits after a later one (around midnight)
// finds its day counted or adds it.
func TestMarkActive(t *testing.T) {
	msk, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05.999", s, msk)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	earn := func(s string) *Entry { return &Entry{Kind: KindEarn, Points: 5, At: at(s)} }
	cases := []struct {
		name    string
		before  []string
		entries []*Entry
		want    []string
		counted []string // the days the roll-up counts the member for (NewActiveDays)
	}{
		{"first activity", nil, []*Entry{earn("2026-11-05 10:00:00")}, []string{"2026-11-05"}, []string{"2026-11-05"}},
		{"same day again", []string{"2026-11-05"}, []*Entry{earn("2026-11-05 23:59:59.999")}, []string{"2026-11-05"}, nil},
		{"next day", []string{"2026-11-05"}, []*Entry{earn("2026-11-06 00:00:00")}, []string{"2026-11-05", "2026-11-06"}, []string{"2026-11-06"}},
		{"third day drops the oldest", []string{"2026-11-05", "2026-11-06"}, []*Entry{earn("2026-11-08 12:00:00")}, []string{"2026-11-06", "2026-11-08"}, []string{"2026-11-08"}},
		{"late write of a counted day", []string{"2026-11-05", "2026-11-06"}, []*Entry{earn("2026-11-05 23:59:59.999")}, []string{"2026-11-05", "2026-11-06"}, nil},
		{"late write of an uncounted day", []string{"2026-11-01", "2026-11-06"}, []*Entry{earn("2026-11-05 23:59:59.999")}, []string{"2026-11-05", "2026-11-06"}, []string{"2026-11-05"}},
		{"late write older than both kept", []string{"2026-11-05", "2026-11-06"}, []*Entry{earn("2026-11-04 23:00:00")}, []string{"2026-11-05", "2026-11-06"}, nil},
		{"utc midnight is not moscow midnight", []string{"2026-11-05"}, []*Entry{{Kind: KindBonus, Points: 10, At: time.Date(2026, 11, 5, 21, 0, 0, 0, time.UTC)}}, []string{"2026-11-05", "2026-11-06"}, []string{"2026-11-06"}},
		{"hold", nil, []*Entry{{Kind: KindRedeem, Points: -5, At: at("2026-11-05 10:00:00")}}, []string{"2026-11-05"}, []string{"2026-11-05"}},
		{"capture", nil, []*Entry{{Kind: KindRedeem, Points: 0, At: at("2026-11-05 10:00:00")}}, []string{"2026-11-05"}, []string{"2026-11-05"}},
		{"cancel is not activity", nil, []*Entry{{Kind: KindRedeem, Points: 5, At: at("2026-11-05 10:00:00")}}, nil, nil},
		{"adjust, release, expire, reverse are not", nil, []*Entry{
			{Kind: KindAdjust, Points: 5, At: at("2026-11-05 10:00:00")}, {Kind: KindRelease, Points: 5, At: at("2026-11-05 10:00:00")},
			{Kind: KindExpire, Points: -5, At: at("2026-11-05 10:00:00")}, {Kind: KindReverse, Points: -5, At: at("2026-11-05 10:00:00")},
		}, nil, nil},
		{"several entries of one write", nil, []*Entry{{Kind: KindAdjust, Points: 1, At: at("2026-11-05 10:00:00")}, earn("2026-11-05 10:00:00"), earn("2026-11-05 10:00:00")}, []string{"2026-11-05"}, []string{"2026-11-05"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := Member{ActiveDays: append([]string(nil), tc.before...)}
			changed := MarkActive(&m, msk, tc.entries...)
			if !reflect.DeepEqual(m.ActiveDays, tc.want) || changed != (len(tc.counted) > 0) {
				t.Fatalf("ActiveDays %v (changed %v), want %v", m.ActiveDays, changed, tc.want)
			}
			if got := NewActiveDays(tc.before, m.ActiveDays); !reflect.DeepEqual(got, tc.counted) {
				t.Fatalf("NewActiveDays = %v, want %v", got, tc.counted)
			}
		})
	}
}
