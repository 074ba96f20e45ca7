package domainevents_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/accrue/accrue/shared/domainevents"
	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/ledger"
)

// The catalogue (shared/eventschema) lists exactly the types the mapper can
// emit (TestFromRecord emits each of them), and each type's events follow
// its newest schema version.
func TestCatalogueIsWhatTheMapperEmits(t *testing.T) {
	if got, want := domainevents.Types(), eventschema.Types(); !slices.Equal(got, want) {
		t.Fatalf("the mapper emits %v, the catalogue has %v", got, want)
	}
	for _, typ := range domainevents.Types() {
		latest, _ := eventschema.Latest(typ)
		if v := domainevents.SchemaVersion(typ); v != latest.Version {
			t.Errorf("%s events follow v%d, the catalogue's newest is v%d: a new version must be emitted (see the README's event catalogue)", typ, v, latest.Version)
		}
		if got := domainevents.DataSchema(typ); got != latest.URI {
			t.Errorf("%s: dataschema %q, want %q", typ, got, latest.URI)
		}
	}
	for _, typ := range []string{domainevents.TypePointsEarned, domainevents.TypePointsRedeemed, domainevents.TypePointsExpired,
		domainevents.TypePointsExpiring, domainevents.TypeTierChanged, domainevents.TypeMemberFlagged, domainevents.TypePointsReversed, domainevents.TypeMemberMerged} {
		if !slices.Contains(domainevents.Types(), typ) {
			t.Errorf("Types() misses %s", typ)
		}
	}
	if domainevents.DataSchema("points.spent") != "" || domainevents.SchemaVersion("points.spent") != 0 {
		t.Error("a type the mapper does not emit has a schema")
	}
}

// An event of a type outside the catalogue has no JSON: it cannot be
// published or rendered by mistake.
func TestUnknownTypeIsNotMarshalled(t *testing.T) {
	_, err := domainevents.Event{ID: "evt_x", Type: "points.spent"}.Detail()
	if err == nil || !strings.Contains(err.Error(), "not in the catalogue") {
		t.Fatalf("got %v", err)
	}
}

// points.expiring names the kind of the entry that carries the expiring
// lot: every kind that can carry a lot must be in its schema's enum, or a
// webhook receiver validating against the catalogue refuses the event.
func TestExpiringKindsAreEveryLotKind(t *testing.T) {
	s, _ := eventschema.Latest(domainevents.TypePointsExpiring)
	var doc struct {
		Properties struct {
			Kind struct {
				Enum []string `json:"enum"`
			} `json:"kind"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(s.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range ledger.LotKinds() {
		if !slices.Contains(doc.Properties.Kind.Enum, string(k)) {
			t.Errorf("%s: kind enum %v misses %q, an entry kind that carries lots", s.URI, doc.Properties.Kind.Enum, k)
		}
	}
}
