package main

import (
	"fmt"
	"strings"
	"time"
)

// On-demand throughput of a table (AWS's quotas): the default table-level
// write quota, and what a new on-demand table serves at once (it doubles
// its previous peak as traffic grows).
const (
	onDemandWRUQuota = 40000
	onDemandWarmWRU  = 4000
)

// importsSection writes the bulk import figures (issue #12): members
// imported per second against DynamoDB Local through the runner, the two
// ways of writing compared, the write units per member by AWS's billing
// rules, and how long 1 M members take on AWS at the table's write limits.
// It adds the figures to figs (BENCHMARKS.json).
func importsSection(b *strings.Builder, res results, figs map[string]float64) error {
	var rows []struct {
		key, what string
		value     float64
		format    string
	}
	add := func(key, what, format, name, unit string) error {
		v, err := res.need(name, unit)
		if err != nil {
			return err
		}
		rows = append(rows, struct {
			key, what string
			value     float64
			format    string
		}{key, what, v, format})
		figs[key] = round4(v)
		return nil
	}
	for _, r := range []struct{ key, what, format, name, unit string }{
		{"import_members_per_s", "members imported per second, a whole import through the runner (CLI, imports function), DynamoDB Local", "%.0f", "Import", "members/s"},
		{"import_wru_per_member", "billed WRU per imported member on AWS, the same import (varied members: lots, pending, qualifying, history)", "%.1f", "Import", "WRU/member"},
		{"import_tx_members_per_s", "transactions (used): members/s, typical member (2 lots, lifetime, qualifying)", "%.0f", "ImportWrites/transactions", "members/s"},
		{"import_tx_wru_per_member", "transactions: billed WRU per member (table and due index; table alone in the next row)", "%.1f", "ImportWrites/transactions", "WRU/member"},
		{"import_tx_table_wru_per_member", "transactions: table WRU per member", "%.1f", "ImportWrites/transactions", "table-WRU/member"},
		{"import_batch_members_per_s", "BatchWriteItem after a BatchGetItem (not used: not conditional): members/s, same members", "%.0f", "ImportWrites/batchwrite", "members/s"},
		{"import_batch_wru_per_member", "BatchWriteItem: billed WRU per member (and 2 RRU for the read before)", "%.1f", "ImportWrites/batchwrite", "WRU/member"},
	} {
		if err := add(r.key, r.what, r.format, r.name, r.unit); err != nil {
			return err
		}
	}
	wru := figs["import_wru_per_member"]
	atQuota := time.Duration(1e6 * wru / onDemandWRUQuota * float64(time.Second))
	atWarm := time.Duration(1e6 * wru / onDemandWarmWRU * float64(time.Second))
	figs["import_1m_seconds_at_quota"] = round4(atQuota.Seconds())
	figs["import_1m_seconds_warm_start"] = round4(atWarm.Seconds())
	b.WriteString("\n## Bulk import (issue #12)\n\n| key in BENCHMARKS.json | figure | value |\n|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| `%s` | %s | "+r.format+" |\n", r.key, r.what, r.value)
	}
	fmt.Fprintf(b, "| `import_1m_seconds_at_quota` | 1 M members on AWS at the on-demand table's default write quota (%d WRU/s), writes alone | %s |\n", onDemandWRUQuota, atQuota.Round(time.Second))
	fmt.Fprintf(b, "| `import_1m_seconds_warm_start` | the same at a new on-demand table's initial %d WRU/s | %s |\n", onDemandWarmWRU, atWarm.Round(time.Second))
	b.WriteString(`
Transactions are used: each member is one TransactWriteItems whose member put is conditional on its
absence, with the erased-id check, so "already present" is decided by DynamoDB, atomically, and a
member created meanwhile by a payment or an enrolment is never overwritten. BatchWriteItem cannot be
conditional: the read before it leaves a window in which such a member would be overwritten, losing
its points. It writes each item once instead of twice (no prepare/commit pair), so it bills fewer
units and runs faster on DynamoDB Local; on AWS the import is bounded by the table's write units
(the rows above), where transactions cost about 1.7 times as much — the price of never merging into,
or overwriting, a live member.
`)
	return nil
}
