package importtest

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/accrue/accrue/shared/importer"
	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// The generated files read back as the members Opening describes, in both
// formats, and every member fits Program.
func TestGeneratedFiles(t *testing.T) {
	at := time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)
	p, err := program.Parse([]byte(Program))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"csv", "jsonl"} {
		var b bytes.Buffer
		if err := Write(&b, format, 0, 2000, at, true, nil); err != nil {
			t.Fatal(err)
		}
		f, _ := importer.ParseFormat(format)
		r, err := importer.NewReader(&b, f)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				if i != 2000 {
					t.Fatalf("%s: %d members", format, i)
				}
				break
			}
			if err != nil {
				t.Fatalf("%s member %d: %v", format, i, err)
			}
			want := Opening(i, at)
			if !reflect.DeepEqual(rec.Opening, want) {
				t.Fatalf("%s member %d:\n got %+v\nwant %+v", format, i, rec.Opening, want)
			}
			if _, _, err := ledger.Import("p", p, rec.Opening, "imp/1", at); err != nil {
				t.Fatalf("member %d does not fit the program: %v", i, err)
			}
		}
	}
}
