// Package profiles holds the programs of issue #11's two benchmark profiles,
// shared by the scale benchmarks of shared/store and shared/memberjobs so
// that every figure of BENCHMARKS.md is measured on the same programs.
package profiles

// Lean: 1 point per 100.00 RUB, auto-enrolment, nothing else.
const Lean = `{
  "name": "Lean", "auto_enroll": true,
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "point_value": {"minor": "1", "currency": "RUB"}
}`

// Telco: a 14-day pending period, rolling expiry after 365 days warned 30
// days before, a monthly program budget and one budgeted campaign (double
// points) that the telecom half of the payments hit; budgets large enough
// never to run out.
const Telco = `{
  "name": "Telco", "auto_enroll": true, "timezone": "Europe/Moscow",
  "earning": [{"id": "base", "rate": {"points": 1, "per_minor": 10000}}],
  "pending_days": 14,
  "expiry": {"rolling_days": 365, "warn_days": 30},
  "caps": {"program_monthly": 1000000000000},
  "campaigns": [{"id": "autumn", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z",
                 "multiplier": 2, "categories": ["telecom"], "budget": 1000000000000}],
  "point_value": {"minor": "0.5", "currency": "RUB"}
}`
