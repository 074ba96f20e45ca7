package store

// The key schema of the table: every partition and sort key Accrue writes is
// built here, and every key anyone reads back is parsed here (ParseKey). No
// other file of the repository spells a key prefix. Every key starts with its
// partner, except the partner registry and the operators' rejections (OPS#)
// and the API key lookup by hash (KEYHASH#: a request knows its key before its
// partner).
//
//	pk                              sk                      item
//	P#{partner}                     PROGRAM                 the program JSON and its version (the partner exists iff this does)
//	P#{partner}#BUDGET#{yyyy-mm}#{s} BUDGET                 one of BudgetShards shares of the program's monthly
//	                                                        budget: the points spent of it (budget.go)
//	P#{partner}#CAMPAIGN#{id}#{s}   BUDGET                  one of BudgetShards shares of a campaign's budget
//	P#{partner}                     REWARD#{id}             reward catalog item with its stock
//	P#{partner}                     KEY#{key id}            API key metadata for listing (package keys)
//	P#{partner}                     WEBHOOK#{id}            a webhook endpoint: URL, event types, its signing
//	                                                        secrets encrypted with KMS (webhooks.go)
//	P#{partner}                     WEBHOOKS                how many webhook endpoints the partner has
//	P#{partner}#WH#{id}#D#{s}       {delivery id}           one of DeliveryShards partitions of an endpoint's
//	                                                        deliveries (its log), by delivery id: newest first
//	P#{partner}#M#{member}          MEMBER                  balances, rules state, version, seq; in the due index
//	                                                        (dsh, due) while a scheduled job has work for it some day;
//	                                                        of a member merged into another, the alias (status merged,
//	                                                        mto = the survivor: Member follows it; merge.go)
//	P#{partner}#M#{member}          PAY#{payment}#S|R       earn / reverse entry of a payment (and its lot); the key
//	                                                        is the deduplication record (put only if absent)
//	P#{partner}#M#{member}          E#{seq}                 any other ledger entry (activity, adjustment, redemption,
//	                                                        review, job)
//	P#{partner}#M#{member}          RED#{id}                a redemption (hold / capture / cancel)
//	P#{partner}#M#{member}          AUDIT#{at}#{id}         a copy of an audit record that concerns the member
//	                                                        (audit.go): the member's own audit trail
//	P#{partner}#M#{member}          ERASE                   marker of a GDPR erase in progress (its anonymous id)
//	P#{partner}#ERASED#{sha256(m)}  ERASED                  an erased member id: never used again (erased.go)
//	P#{partner}#REJ                 {received}#{msg}        rejected event of a known partner
//	P#{partner}#REVIEW              {held at}#{m}#{pay}     an accrual held by a fraud limit, waiting for a decision
//	P#{partner}#IDEM#{key}          IDEM                    a remembered request and its response (TTL 24h), one
//	                                                        partition per Idempotency-Key
//	P#{partner}#AUDIT               {at}#{id}               admin actions (audit.go); records written before
//	                                                        record ids: {at}#{member}#{seq}
//	P#{partner}#IMPORT#{id}         IMPORT                  a bulk import: its file, status, progress checkpoint and
//	                                                        counts (imports.go); one partition per import
//	P#{partner}#IMPORT#{id}         REJ#{line}              a rejected line of the import's file and why
//	P#{partner}#STATS               {yyyy-mm-dd}            daily figures of the stats roll-up
//	P#{partner}#STATS               STATE                   the roll-up's progress: last closed day, outstanding then
//	P#{partner}#STATS#D#{yyyy-mm-dd} {stream shard id}      a day's figures so far from one stream shard (partials.go)
//	P#{partner}#STATS#S             {stream shard id}       how far the stats consumer applied a shard's records
//	P#{partner}#STATS#L             SEAL                    the last day the roll-up sealed (began to close)
//	P#{partner}#STATS#L             LATE#{day}#{shard}      a partial written after its day was sealed
//	OPS#PARTNERS                    {partner}               partner registry (PutProgram): the partners jobs walk
//	OPS#REJ                         {received}#{msg}        rejected event whose partner is unknown or unreadable
//	KEYHASH#{sha256}                KEY                     API key lookup by hash (package keys)
//
// Index keys: dsh = DUE#{shard} (the due GSI). A ledger cursor names an
// entry's seq as L#{seq} (ledgerSK); no item has it.
//
// Partner ids are [a-z0-9-] (no "#"), so a partition key is parsed from the
// left: "P#", the partner, then what follows its "#". Member ids may hold any
// printable character, "#" included: a member's partition key ends with the
// member id, and nothing is parsed after it.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/payment"
)

const (
	pfxPartner = "P#"
	pfxOps     = "OPS#"

	partMember   = "M#"
	partBudget   = "BUDGET#"
	partCampaign = "CAMPAIGN#"
	partErased   = "ERASED#"
	partRej      = "REJ"
	partReview   = "REVIEW"
	partIdem     = "IDEM"
	partAudit    = "AUDIT"
	partStats    = "STATS"
	partWebhook  = "WH#"
	partImport   = "IMPORT#"

	skProgram     = "PROGRAM"
	skMember      = "MEMBER"
	skErase       = "ERASE"
	skErased      = "ERASED"
	skRollupState = "STATE"
	skSeal        = "SEAL"
	skAPIKeyHash  = "KEY"
	skBudgetShard = "BUDGET"
	skIdem        = "IDEM"
	skWebhooks    = "WEBHOOKS"
	skImport      = "IMPORT"

	pfxReward     = "REWARD#"
	pfxAPIKey     = "KEY#"
	pfxPayment    = "PAY#"
	pfxEntry      = "E#"
	pfxRedemption = "RED#"
	pfxLedger     = "L#"
	pfxDueShard   = "DUE#"
	pfxKeyHash    = "KEYHASH#"
	pfxLate       = "LATE#"
	pfxAudit      = "AUDIT#"
	pfxWebhook    = "WEBHOOK#"
	pfxImportRej  = "REJ#"

	// Partitions of the stats roll-up's partial figures, under statsPK.
	partStatsDay    = "#D#"
	partStatsShards = "#S"
	partStatsLate   = "#L"

	// The deliveries of a webhook endpoint, under webhookDeliveriesPK.
	partDeliveries = "#D"

	sfxEarn    = "#S"
	sfxReverse = "#R"

	registryPK = pfxOps + "PARTNERS"
	opsRejPK   = pfxOps + partRej
)

// Partition keys.

func partnerPK(partner string) string { return pfxPartner + partner }

// MemberPK is the partition key of a member's items (tests that read a
// member's whole partition).
func MemberPK(partner, member string) string { return memberPK(partner, member) }

func memberPK(partner, member string) string { return partnerPK(partner) + "#" + partMember + member }
func reviewPK(partner string) string         { return partnerPK(partner) + "#" + partReview }
func auditPK(partner string) string          { return partnerPK(partner) + "#" + partAudit }
func statsPK(partner string) string          { return partnerPK(partner) + "#" + partStats }

// importPK is the partition of one bulk import: its job item and its
// rejected lines. Each import its own partition, so the checkpoints of
// imports running at once share no key.
func importPK(partner, id string) string { return partnerPK(partner) + "#" + partImport + id }

// importRejectionSK orders an import's rejected lines by line number.
func importRejectionSK(line int64) string { return fmt.Sprintf("%s%012d", pfxImportRej, line) }

// isImportRejectionSK reports whether s is an importRejectionSK.
func isImportRejectionSK(s string) bool {
	rest, ok := strings.CutPrefix(s, pfxImportRej)
	if !ok || len(rest) != 12 {
		return false
	}
	_, err := strconv.ParseUint(rest, 10, 64)
	return err == nil
}

// budgetShardPK is shard i of partner's monthly program budget of month
// (yyyy-mm); campaignShardPK shard i of a campaign's budget. Each is its own
// partition, outside the partner's item collection.
func budgetShardPK(partner, month string, i int) string {
	return fmt.Sprintf("%s#%s%s#%02d", partnerPK(partner), partBudget, month, i)
}

func campaignShardPK(partner, campaign string, i int) string {
	return fmt.Sprintf("%s#%s%s#%02d", partnerPK(partner), partCampaign, campaign, i)
}

// idemKey is the key of a remembered request: each Idempotency-Key its own
// partition, so that a partner's idempotent requests (POST /v1/events at a
// billing-day peak) share no partition key.
func idemKey(partner, idemKey string) (pk, sk string) {
	return partnerPK(partner) + "#" + partIdem + "#" + idemKey, skIdem
}

// rejectedPK is a partner's rejections, or the operators' (partner "").
func rejectedPK(partner string) string {
	if partner == "" {
		return opsRejPK
	}
	return partnerPK(partner) + "#" + partRej
}

// erasedPK is the partition of the erasure mark of member (see erased.go).
func erasedPK(partner, member string) string {
	sum := sha256.Sum256([]byte(member))
	return partnerPK(partner) + "#" + partErased + hex.EncodeToString(sum[:])
}

// Keys of the stats roll-up's partial figures (partials.go). A partial is
// keyed by its stream shard: each shard is consumed by one Lambda invocation
// at a time, so each partial item has one writer.

// partialKey is the key of partner's partial figures of day from one shard.
func partialKey(partner, day, shard string) (pk, sk string) {
	return statsPK(partner) + partStatsDay + day, shard
}

// partialsPK is the partition of partner's partial figures of day.
func partialsPK(partner, day string) string { pk, _ := partialKey(partner, day, ""); return pk }

// shardProgressKey is the key of how far the consumer applied partner's
// records of one shard.
func shardProgressKey(partner, shard string) (pk, sk string) {
	return statsPK(partner) + partStatsShards, shard
}

// sealKey is the key of partner's seal: the last day the roll-up began to
// close.
func sealKey(partner string) (pk, sk string) { return statsPK(partner) + partStatsLate, skSeal }

// lateKey is the key of the mark that partner's partial of day from shard
// was written after the day was sealed; lateSKPrefix starts every such key
// (in sealKey's partition).
func lateKey(partner, day, shard string) (pk, sk string) {
	pk, _ = sealKey(partner)
	return pk, lateSKPrefix + day + "#" + shard
}

const lateSKPrefix = pfxLate

// DueShard is the due-index shard of the member item with key pk.
func DueShard(pk string) string { return dueShardKey(int(bucket(pk, DueShards))) }

// MemberDueShard is the due-index shard of a member.
func MemberDueShard(partner, member string) string { return DueShard(memberPK(partner, member)) }

func dueShardKey(shard int) string { return fmt.Sprintf("%s%02d", pfxDueShard, shard) }

func bucket(s string, n int) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32() % uint32(n)
}

// Keys of webhook endpoints and their deliveries (webhooks.go).

// webhookKey is the key of partner's webhook endpoint id.
func webhookKey(partner, id string) (pk, sk string) { return partnerPK(partner), pfxWebhook + id }

// webhookCountKey is the key of the count of partner's webhook endpoints.
func webhookCountKey(partner string) (pk, sk string) { return partnerPK(partner), skWebhooks }

// webhookDeliveriesPK names the deliveries of an endpoint as one list: the
// partition key a delivery listing's cursor carries. No item has it: the
// deliveries are spread over DeliveryShards partitions below it.
func webhookDeliveriesPK(partner, webhook string) string {
	return partnerPK(partner) + "#" + partWebhook + webhook + partDeliveries
}

// deliveryShardPK is shard i of an endpoint's deliveries.
func deliveryShardPK(partner, webhook string, i int) string {
	return fmt.Sprintf("%s#%02d", webhookDeliveriesPK(partner, webhook), i)
}

// deliveryKey is the key of a delivery: its id, in the shard its id hashes to.
func deliveryKey(partner, webhook, id string) (pk, sk string) {
	return deliveryShardPK(partner, webhook, int(bucket(id, DeliveryShards))), id
}

// Sort keys.

func rewardSK(id string) string     { return pfxReward + id }
func redemptionSK(id string) string { return pfxRedemption + id }
func entrySK(seq int64) string      { return fmt.Sprintf("%s%016d", pfxEntry, seq) }
func ledgerSK(seq int64) string     { return fmt.Sprintf("%s%016d", pfxLedger, seq) }

// paymentSK is the key of a payment's entry: the deduplication record of
// (partner, member, payment, type).
func paymentSK(paymentID, typ string) string {
	if typ == payment.TypeRefunded {
		return pfxPayment + paymentID + sfxReverse
	}
	return pfxPayment + paymentID + sfxEarn
}

// reviewSK orders the review queue by time held.
func reviewSK(at time.Time, member, paymentID string) string {
	return fmt.Sprintf("%s#%s#%s", at.UTC().Format("2006-01-02T15:04:05.000000000Z"), member, paymentID)
}

// auditSK orders a partner's audit records by time: the time (fixed width,
// so that the keys sort as the times do) and the record's id.
func auditSK(at time.Time, id string) string { return auditTimeKey(at) + "#" + id }

// auditMemberSK is the key of the copy of an audit record in a member's
// partition (time-ordered like auditSK, after a prefix of its own).
func auditMemberSK(at time.Time, id string) string { return pfxAudit + auditSK(at, id) }

// auditTimeKey is t as the time part of an audit key.
func auditTimeKey(t time.Time) string { return t.UTC().Format(auditTimeLayout) }

const auditTimeLayout = "2006-01-02T15:04:05.000000000Z"

// auditRange is the range of sort keys of the audit records from from to to
// (inclusive), in the partner's trail (member "") or in a member's partition.
func auditRange(from, to time.Time, member bool) (lo, hi string) {
	pfx := ""
	if member {
		pfx = pfxAudit
	}
	// "$" follows "#": every key of a record at time to sorts before it.
	return pfx + auditTimeKey(from), pfx + auditTimeKey(to) + "$"
}

// rejectionSK is time-ordered and derived from the message alone, so recording
// the same message twice (a redelivery after a failed delete) writes one item.
func rejectionSK(r *Rejection) string {
	return fmt.Sprintf("%020d#%s", r.ReceivedAt.UnixNano(), r.MessageID)
}

// isLedgerSK reports whether s is a ledger cursor's seq (ledgerSK).
func isLedgerSK(s string) bool {
	if len(s) != len(pfxLedger)+16 || !strings.HasPrefix(s, pfxLedger) {
		return false
	}
	for _, r := range s[len(pfxLedger):] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// API key items (package keys reads and writes them with these keys).

// APIKeyHashKey is the key of the lookup item of an API key by its hash.
func APIKeyHashKey(hash string) (pk, sk string) { return pfxKeyHash + hash, skAPIKeyHash }

// APIKeyKey is the key of a partner's listing item of API key id.
func APIKeyKey(partner, id string) (pk, sk string) { return partnerPK(partner), pfxAPIKey + id }

// APIKeyListPrefix is the sort key prefix of a partner's API key items
// (in partition APIKeyKey's pk).
const APIKeyListPrefix = pfxAPIKey

// Key is the primary key of an item as a DynamoDB key map.
func Key(pk, sk string) map[string]types.AttributeValue { return key(pk, sk) }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// ItemKind is what an item of the table is, from its key.
type ItemKind int

// The kinds of item ParseKey tells apart (ItemOther: anything else).
const (
	ItemOther ItemKind = iota
	ItemMember
	ItemPaymentEntry // a payment's earn or reverse entry (PAY#…)
	ItemEntry        // any other ledger entry (E#…)
	ItemRedemption
	ItemEraseMarker
	ItemReview
	ItemAuditCopy // a copy of an audit record in a member's partition
)

// ItemKey is a parsed key.
type ItemKey struct {
	Kind    ItemKind
	Partner string
	// Member: the member of an item in a member's partition.
	Member string
	// PaymentID and Refund: of a payment's entry.
	PaymentID string
	Refund    bool
	// Seq: of an entry keyed by its sequence number.
	Seq int64
	// RedemptionID: of a redemption.
	RedemptionID string
}

// IsEntry reports whether the item is a ledger entry.
func (k ItemKey) IsEntry() bool { return k.Kind == ItemPaymentEntry || k.Kind == ItemEntry }

// IsEarn reports whether the item is a payment's earn entry (its lot).
func (k ItemKey) IsEarn() bool { return k.Kind == ItemPaymentEntry && !k.Refund }

// ParseKey tells what item a key is, and its ids. Keys it does not know (or
// malformed ones) are ItemOther, with Partner set when the partition is a
// partner's.
func ParseKey(pk, sk string) ItemKey {
	rest, ok := strings.CutPrefix(pk, pfxPartner)
	if !ok {
		return ItemKey{}
	}
	partner, part, _ := strings.Cut(rest, "#")
	k := ItemKey{Partner: partner}
	if member, ok := strings.CutPrefix(part, partMember); ok && member != "" {
		k.Member = member
		parseMemberSK(&k, sk)
		return k
	}
	if part == partReview {
		k.Kind = ItemReview
	}
	return k
}

func parseMemberSK(k *ItemKey, sk string) {
	switch {
	case sk == skMember:
		k.Kind = ItemMember
	case sk == skErase:
		k.Kind = ItemEraseMarker
	case strings.HasPrefix(sk, pfxPayment):
		id := strings.TrimPrefix(sk, pfxPayment)
		switch {
		case strings.HasSuffix(id, sfxEarn) && len(id) > len(sfxEarn):
			k.Kind, k.PaymentID = ItemPaymentEntry, strings.TrimSuffix(id, sfxEarn)
		case strings.HasSuffix(id, sfxReverse) && len(id) > len(sfxReverse):
			k.Kind, k.PaymentID, k.Refund = ItemPaymentEntry, strings.TrimSuffix(id, sfxReverse), true
		}
	case strings.HasPrefix(sk, pfxEntry):
		if n, err := strconv.ParseInt(strings.TrimPrefix(sk, pfxEntry), 10, 64); err == nil && n > 0 {
			k.Kind, k.Seq = ItemEntry, n
		}
	case strings.HasPrefix(sk, pfxRedemption):
		if id := strings.TrimPrefix(sk, pfxRedemption); id != "" {
			k.Kind, k.RedemptionID = ItemRedemption, id
		}
	case strings.HasPrefix(sk, pfxAudit):
		k.Kind = ItemAuditCopy
	}
}

// parseMemberPK returns the partner and member of a member's partition key.
func parseMemberPK(pk string) (partner, member string, ok bool) {
	k := ParseKey(pk, skMember)
	return k.Partner, k.Member, k.Kind == ItemMember
}
