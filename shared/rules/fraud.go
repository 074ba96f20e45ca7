package rules

import (
	"slices"

	"github.com/accrue/accrue/shared/program"
	"github.com/accrue/accrue/shared/satint"
)

// Hold reasons of Result.HoldReasons.
const (
	HoldMaxEventsPerHour = "max_events_per_hour"
	HoldMaxPointsPerDay  = "max_points_per_day"
	HoldLargePayment     = "large_payment"
)

// fraud checks the limits and returns the reasons to hold the accrual for review
// (nil when none is hit). dayBefore is the member's day points before this payment.
// It also maintains State.RecentEvents: the accrual times within the hour before
// now, at most MaxEventsPerHour of them, and none when that limit is off.
func (e *eval) fraud(f program.Fraud, dayBefore, points int64) []string {
	var reasons []string
	if f.MaxEventsPerHour > 0 {
		n := e.now.Unix()
		recent := slices.DeleteFunc(e.st.RecentEvents, func(t int64) bool { return t <= n-3600 })
		if len(recent) >= f.MaxEventsPerHour {
			reasons = append(reasons, HoldMaxEventsPerHour)
		}
		recent = append(recent, n)
		slices.Sort(recent)
		if extra := len(recent) - f.MaxEventsPerHour; extra > 0 {
			recent = recent[:copy(recent, recent[extra:])]
		}
		e.st.RecentEvents = recent
	} else {
		e.st.RecentEvents = nil
	}
	if f.MaxPointsPerDay > 0 && satint.Add(dayBefore, points) > f.MaxPointsPerDay {
		reasons = append(reasons, HoldMaxPointsPerDay)
	}
	if limit := f.LargePaymentMinor[e.pay.Currency]; limit > 0 && e.pay.AmountMinor >= limit {
		reasons = append(reasons, HoldLargePayment)
	}
	return reasons
}
