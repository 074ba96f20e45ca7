package rollup

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/internal/streamtest"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/store"
)

var (
	image        = streamtest.Image
	streamRecord = streamtest.Record
)

func padded(t *testing.T, seq string) string {
	t.Helper()
	s, err := store.PadSeq(seq)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// What each kind of stream record adds to the figures, read without
// DynamoDB: entry INSERTs on their local day, new activity days of members,
// and nothing for the rest (entry MODIFYs and REMOVEs, GDPR copies and the
// anonymous member, other items). Unreadable records are errors.
func TestChangesOfRecords(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	loc := func(partner string) (*time.Location, error) {
		if partner == "nobody" {
			return nil, fmt.Errorf("nobody: %w", store.ErrUnknownPartner)
		}
		return ny, nil
	}
	const mpk = "P#p#M#m1"
	// 2026-03-08 03:30 UTC is 22:30 on the 7th in New York (EST).
	at := time.Date(2026, 3, 8, 3, 30, 0, 0, time.UTC)
	earn := ledger.Entry{PartnerID: "p", MemberID: "m1", Seq: 1, Kind: ledger.KindEarn, At: at, Points: 12,
		Delta: ledger.Balances{Available: 12, Lifetime: 12}, Breakdown: nil}
	earnImg := image(t, earn, mpk, "PAY#pay-1#S", nil)
	lotChanged := earn
	lotChanged.Remaining, lotChanged.Version = 7, 1
	moved := image(t, earn, "P#p#M#erased-1", "E#0000000000000001", map[string]types.AttributeValue{store.AttrMoved: &types.AttributeValueMemberBOOL{Value: true}})
	unbalanced := ledger.Entry{PartnerID: "p", MemberID: "m1", Seq: 2, Kind: ledger.KindBonus, At: at, Delta: ledger.Balances{Pending: 3}}
	member := func(status ledger.Status, days ...string) map[string]events.DynamoDBAttributeValue {
		return image(t, ledger.Member{PartnerID: "p", ID: "m1", Status: status, ActiveDays: days}, mpk, "MEMBER", nil)
	}
	foreign := earn
	foreign.PartnerID = "q"

	cases := []struct {
		name    string
		rec     events.DynamoDBEventRecord
		want    []Change
		wantErr error
	}{
		{"entry insert, on its New York day", streamRecord("INSERT", mpk, "PAY#pay-1#S", "101", nil, earnImg),
			[]Change{{Index: 3, Seq: padded(t, "101"), Partner: "p", Day: "2026-03-07", Figures: Figures{Issued: 12, Net: 12}}}, nil},
		{"entry modify (a lot)", streamRecord("MODIFY", mpk, "PAY#pay-1#S", "102", earnImg, image(t, lotChanged, mpk, "PAY#pay-1#S", nil)), nil, nil},
		{"entry remove (erase)", streamRecord("REMOVE", mpk, "PAY#pay-1#S", "103", earnImg, nil), nil, nil},
		{"copy of an erased member's entry", streamRecord("INSERT", "P#p#M#erased-1", "E#0000000000000001", "104", nil, moved), nil, nil},
		{"new member, active", streamRecord("INSERT", mpk, "MEMBER", "105", nil, member(ledger.StatusActive, "2026-03-07")),
			[]Change{{Index: 3, Seq: padded(t, "105"), Partner: "p", Day: "2026-03-07", Figures: Figures{ActiveMembers: 1}}}, nil},
		{"new member, no activity", streamRecord("INSERT", mpk, "MEMBER", "106", nil, member(ledger.StatusActive)), nil, nil},
		{"member active on a new day", streamRecord("MODIFY", mpk, "MEMBER", "107", member(ledger.StatusActive, "2026-03-06"), member(ledger.StatusActive, "2026-03-06", "2026-03-07")),
			[]Change{{Index: 3, Seq: padded(t, "107"), Partner: "p", Day: "2026-03-07", Figures: Figures{ActiveMembers: 1}}}, nil},
		{"member active again the same day", streamRecord("MODIFY", mpk, "MEMBER", "108", member(ledger.StatusActive, "2026-03-07"), member(ledger.StatusActive, "2026-03-07")), nil, nil},
		{"member erasing", streamRecord("MODIFY", mpk, "MEMBER", "109", member(ledger.StatusActive, "2026-03-07"), member(ledger.StatusErasing, "2026-03-07")), nil, nil},
		{"anonymous member of an erase", streamRecord("INSERT", "P#p#M#erased-1", "MEMBER", "110", nil, member(ledger.StatusErased, "2026-03-07")), nil, nil},
		{"member removed", streamRecord("REMOVE", mpk, "MEMBER", "111", member(ledger.StatusErasing, "2026-03-07"), nil), nil, nil},
		{"another item", streamRecord("INSERT", "P#p#STATS", "STATE", "112", nil, image(t, store.RollupState{Closed: "2026-03-07"}, "P#p#STATS", "STATE", nil)), nil, nil},
		{"unbalanced entry: counted, and an error", streamRecord("INSERT", mpk, "E#0000000000000002", "113", nil, image(t, unbalanced, mpk, "E#0000000000000002", nil)),
			[]Change{{Index: 3, Seq: padded(t, "113"), Partner: "p", Day: "2026-03-07", Figures: Figures{Net: 3, Unbalanced: 1}}}, ErrUnbalanced},
		{"entry of an unknown partner", streamRecord("INSERT", "P#nobody#M#m1", "PAY#pay-1#S", "114", nil, image(t, ledger.Entry{PartnerID: "nobody", Kind: ledger.KindEarn, At: at}, "P#nobody#M#m1", "PAY#pay-1#S", nil)),
			nil, store.ErrUnknownPartner},
		{"entry under another partner's key", streamRecord("INSERT", mpk, "PAY#pay-1#S", "115", nil, image(t, foreign, mpk, "PAY#pay-1#S", nil)), nil, ErrUnreadable},
		{"entry insert without its image", streamRecord("INSERT", mpk, "PAY#pay-1#S", "116", nil, nil), nil, ErrUnreadable},
		{"member modify without its old image", streamRecord("MODIFY", mpk, "MEMBER", "117", nil, member(ledger.StatusActive, "2026-03-07")), nil, ErrUnreadable},
		{"not a sequence number", streamRecord("INSERT", mpk, "PAY#pay-1#S", "12x", nil, earnImg), nil, ErrUnreadable},
		{"not a day", streamRecord("MODIFY", mpk, "MEMBER", "118", member(ledger.StatusActive), member(ledger.StatusActive, "07/03/2026")), nil, ErrUnreadable},
		{"no keys", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "119"}}, nil, ErrUnreadable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Changes(tc.rec, 3, loc)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("changes\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A partner's changes are summed by day into chunks of at most
// store.MaxChunkDays days, in stream order; after keeps those after a
// progress.
func TestChunks(t *testing.T) {
	change := func(seq int, day string, issued int64) Change {
		return Change{Index: seq, Seq: fmt.Sprintf("%040d", seq), Partner: "p", Day: day, Figures: Figures{Issued: issued, Net: issued}}
	}
	cs := []Change{change(1, "2026-11-05", 1), change(2, "2026-11-06", 2), change(3, "2026-11-05", 4), change(4, "2026-11-06", 8)}
	got := chunks("s", cs)
	want := []chunk{{StreamChunk: store.StreamChunk{Shard: "s", First: cs[0].Seq, Last: cs[3].Seq, Days: []store.DayDelta{
		{Day: "2026-11-05", Last: cs[2].Seq, Figures: Figures{Issued: 5, Net: 5}},
		{Day: "2026-11-06", Last: cs[3].Seq, Figures: Figures{Issued: 10, Net: 10}},
	}}, changes: cs}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("chunks\n got %+v\nwant %+v", got, want)
	}
	if rest := after(cs, cs[1].Seq); !reflect.DeepEqual(rest, cs[2:]) {
		t.Fatalf("after = %+v", rest)
	}

	// One day more than a chunk holds, then a day already in the second.
	var many []Change
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range store.MaxChunkDays + 1 {
		many = append(many, change(i+1, start.AddDate(0, 0, i).Format(time.DateOnly), 1))
	}
	many = append(many, change(len(many)+1, many[len(many)-1].Day, 1))
	got = chunks("s", many)
	if len(got) != 2 || len(got[0].Days) != store.MaxChunkDays || len(got[1].Days) != 1 || got[1].Days[0].Figures.Issued != 2 ||
		got[1].First != many[store.MaxChunkDays].Seq || got[0].Last != many[store.MaxChunkDays-1].Seq || len(got[1].changes) != 2 {
		t.Fatalf("%d chunks: first %d days, second %+v", len(got), len(got[0].Days), got[1].StreamChunk)
	}
}
