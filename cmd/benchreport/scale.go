package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// need is the value of unit of benchmark name: an error when the benchmark
// did not run or did not report it.
func (res results) need(name, unit string) (float64, error) {
	r, ok := res[name]
	if !ok {
		return 0, fmt.Errorf("benchmark %s did not run", name)
	}
	v, ok := r[unit]
	if !ok {
		return 0, fmt.Errorf("benchmark %s reported no %q", name, unit)
	}
	return v, nil
}

// figure is one of issue #11's figures: its key in BENCHMARKS.json, what it
// is, its value and its target.
type figure struct {
	key, what, target string
	value             float64
	ok                bool // the value meets the target
}

// scale writes the scale-of-one-partner section (issue #11, spec §10) and
// returns the figures by their BENCHMARKS.json key. A figure whose benchmark
// did not run is an error: the report must not silently lack one.
func scale(b *strings.Builder, res results, ingestRatio, inflightRatio float64) (map[string]float64, error) {
	var err error
	get := func(name, unit string) float64 {
		v, e := res.need(name, unit)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	lean := usage{
		WRU: get("WRUPerAccrual/lean", "WRU/accrual"), RRU: get("WRUPerAccrual/lean", "RRU/accrual"),
		IngestMs: get("Ingest", "handler-ms/event"), LogBytes: get("Ingest", "log-bytes/event"),
		EventsMs: get("Publisher", "ms/record"), StatsMs: get("Rollup/day_entries=1000", "consumer_us/new_entry") / 1000,
		Events: 1,
	}
	telco := lean
	telco.WRU = get("PointLifecycle", "WRU/accrual")
	telco.RRU = get("PointLifecycle", "RRU/accrual")
	telco.Visits = get("PointLifecycle", "visits/accrual")
	telco.JobMs = get("MemberJobs", "ms/member")
	telco.Events = 1 + get("PointLifecycle", "job-events/accrual")
	small, big := get("Rollup/day_entries=1000", "us/new_entry"), get("Rollup/day_entries=100000", "us/new_entry")
	figs := []figure{
		{key: "wru_per_accrual", what: "billed WRU of a steady accrual on AWS (lean), table + every index it writes", target: "≤ 5",
			value: get("WRUPerAccrual/lean", "WRU/accrual")},
		{key: "wru_per_accrual_telco", what: "the same in the telco profile (budget reservations included)", target: "—",
			value: get("WRUPerAccrual/telco", "WRU/accrual")},
		{key: "wru_point_lifecycle", what: "WRU of one accrual's whole life, telco profile, amortised (accrual, budgets, release, warning, expiry, due index)", target: "≤ 8",
			value: telco.WRU},
		{key: "rru_point_lifecycle", what: "RRU of the same", target: "—", value: telco.RRU},
		{key: "partner_ceiling_accruals_per_s", what: "1,000 ÷ the WRU per accrual on the hottest partition key of a 20,000-payment run over 5,000 members (budget + budgeted campaign)", target: "≥ 10,000",
			value: get("PartnerCeiling", "ceiling-accruals/s")},
		{key: "conflict_rate_64", what: "share of accrual transactions cancelled by a conflict, 64 concurrent accruals of one partner (budget + budgeted campaign), DynamoDB's conflict rules", target: "< 0.01",
			value: get("ConflictRate64", "conflict-rate")},
		{key: "rollup_us_per_new_entry_small_day", what: "stats roll-up cost per new entry, day of 1 k entries", target: "—", value: small},
		{key: "rollup_us_per_new_entry_big_day", what: "the same, day of 100 k entries", target: "≤ 1.5 × small", value: big},
		{key: "member_jobs_parallelism", what: "members one member-jobs run works on at once, backlog over every shard", target: "≥ 16",
			value: get("MemberJobsParallelism", "parallelism")},
		{key: "ingest_bare_ratio", what: "ingest ÷ bare transaction loop (one transaction in flight per worker), median of the paired runs (above)", target: "≥ 0.8", value: ingestRatio},
		{key: "ingest_bare_ratio_same_inflight", what: "ingest ÷ bare loop with as many transactions in flight as the handler's lanes: its overhead alone", target: "—", value: inflightRatio},
	}
	if err != nil {
		return nil, err
	}
	leanCost, telcoCost := costPerMillion(lean), costPerMillion(telco)
	figs = append(figs,
		figure{key: "cost_usd_per_million_accruals", what: "cost of 1 M accruals at list prices, lean", target: "≤ 3.0", value: total(leanCost)},
		figure{key: "cost_usd_per_million_accruals_telco", what: "cost of 1 M accruals at list prices, telco (whole life)", target: "≤ 5.0", value: total(telcoCost)},
		figure{key: "cost_usd_per_million_accruals_floor", what: "the least any implementation of the spec pays, lean: one 2-item transaction, one event, the SQS message (cost.go floorLean)", target: "—", value: total(costPerMillion(floorLean))},
		figure{key: "cost_usd_per_million_accruals_telco_floor", what: "the same, telco: the accrual's transaction, a release and an expiry entry, three events (floorTelco)", target: "—", value: total(costPerMillion(floorTelco))},
		figure{key: "wru_point_lifecycle_floor", what: "WRU of a point's life no implementation of the spec goes below (floorTelco)", target: "—", value: floorTelco.WRU},
	)
	meets := map[string]func(v float64) bool{
		"wru_per_accrual":                     func(v float64) bool { return v <= 5 },
		"wru_point_lifecycle":                 func(v float64) bool { return v <= 8 },
		"partner_ceiling_accruals_per_s":      func(v float64) bool { return v >= 10000 },
		"conflict_rate_64":                    func(v float64) bool { return v < 0.01 },
		"rollup_us_per_new_entry_big_day":     func(v float64) bool { return v <= 1.5*small },
		"member_jobs_parallelism":             func(v float64) bool { return v >= 16 },
		"ingest_bare_ratio":                   func(v float64) bool { return v >= 0.8 },
		"cost_usd_per_million_accruals":       func(v float64) bool { return v <= 3.0 },
		"cost_usd_per_million_accruals_telco": func(v float64) bool { return v <= 5.0 },
	}
	b.WriteString("\n## The scale of one partner (issue #11)\n\n")
	b.WriteString("| key in BENCHMARKS.json | figure | value | target | met |\n|---|---|---|---|---|\n")
	out := map[string]float64{}
	for i := range figs {
		f := &figs[i]
		out[f.key] = round4(f.value)
		met := "—"
		if m, ok := meets[f.key]; ok {
			met = "no"
			if f.ok = m(f.value); f.ok {
				met = "yes"
			}
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", f.key, f.what, fmtValue(f.value), f.target, met)
	}
	costTable(b, "lean", leanCost, lean)
	costTable(b, "telco", telcoCost, telco)
	return out, nil
}

// costTable writes one profile's cost of a million accruals, item by item.
func costTable(b *strings.Builder, name string, items []costItem, u usage) {
	fmt.Fprintf(b, "\nCost of 1 M accruals, %s (per accrual: %.2f WRU, %.2f RRU, %.2f ms in ingest, %.3f ms in the events function, %.3f ms in the stats consumer, %.2f job visits of %.1f ms, %.2f events, %.0f log bytes):\n\n",
		name, u.WRU, u.RRU, u.IngestMs, u.EventsMs, u.StatsMs, u.Visits, u.JobMs, u.Events, u.LogBytes)
	b.WriteString("| item | USD |\n|---|---|\n")
	for _, i := range items {
		fmt.Fprintf(b, "| %s | %.3f |\n", i.What, i.USD)
	}
	fmt.Fprintf(b, "| **total** | **%.2f** |\n", total(items))
}

func fmtValue(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// pairedRatios divides the i-th run of a by the i-th run of b (unit u): the
// make bench target runs the two benchmarks one after the other, several
// times, so each pair ran under the same conditions.
func pairedRatios(a, b []map[string]float64, u string) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i][u] > 0 {
			out = append(out, a[i][u]/b[i][u])
		}
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}
