package program

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, and an accepted program survives json.Marshal +
// Parse unchanged (compared by its re-marshalled bytes).
func FuzzParse(f *testing.F) {
	full := string(readFull(f))
	f.Add([]byte(full))
	f.Add([]byte(minimal))
	for _, s := range []string{
		full[:len(full)/2],
		full + "{}",
		strings.Replace(full, `"rate"`, `"ratee"`, 1),
		strings.Replace(full, `"bonus": 250,`, ``, 1),
		strings.Replace(full, `"12-31"`, `"02-29"`, 1),
		strings.Replace(full, `"1.5"`, `1.5e3`, 1),
		strings.Replace(full, `"2026-12-20T00:00:00+03:00"`, `"2026-12-20T00:00:00.123456789-23:59"`, 1),
		strings.Replace(full, `"Europe/Moscow"`, `"America/Santiago"`, 1),
		strings.Replace(full, `"vip"`, `"<vip&\u00e9\ud800>"`, 1),
		`{"name":"x","earning":[{"id":"a","rate":{"points":1,"per_minor":1}}],"point_value":{"minor":"000000000001.000000000","currency":"USD"},"tiers":null,"fraud":{"large_payment_minor":{"USD":null}}}`,
		`[]`, `null`, `{"earning":[[[[[[[[[[]]]]]]]]]]}`, `{"x":[[[[{"y":[]}]]]]}`, `{"name":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		b1, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal of an accepted program: %v", err)
		}
		q, err := Parse(b1)
		if err != nil {
			t.Fatalf("re-Parse: %v\ninput: %q\nmarshalled: %s", err, data, b1)
		}
		b2, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changed the program:\n%s\n%s", b1, b2)
		}
	})
}
