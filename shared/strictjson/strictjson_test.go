package strictjson

import (
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	type inner struct {
		N int64 `json:"n"`
	}
	type obj struct {
		S    string   `json:"s"`
		N    *int64   `json:"n"`
		Tags []string `json:"tags"`
		In   inner    `json:"in"`
	}
	for _, tc := range []struct {
		in, field, message string
		malformed          bool
	}{
		{in: `{"s":"x","n":5,"tags":["a"],"in":{"n":1}}`},
		{in: ` {"s":"x"} `},
		{in: `{"s":5}`, field: "s", message: "must be a string"},
		{in: `{"n":"5"}`, field: "n", message: "must be an integer"},
		{in: `{"n":1.5}`, field: "n", message: "must be an integer"},
		{in: `{"tags":[1]}`, field: "tags", message: "must be a string"},
		{in: `{"in":{"n":true}}`, field: "in.n", message: "must be an integer"},
		{in: `{"x":1}`, field: "x", message: "unknown field"},
		{in: `[1]`, field: "", message: "must be an object"},
		{in: ``, malformed: true},
		{in: `{"s":`, malformed: true},
		{in: `{"s":"x"} {}`, malformed: true},
		{in: `{"s":"x"}]`, malformed: true},
		{in: `nul`, malformed: true},
	} {
		var v obj
		err := Decode([]byte(tc.in), &v)
		var fe *FieldError
		switch {
		case tc.malformed:
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%q: %v, want ErrMalformed", tc.in, err)
			}
		case tc.message == "":
			if err != nil {
				t.Errorf("%q: %v", tc.in, err)
			}
		case !errors.As(err, &fe) || fe.Field != tc.field || fe.Message != tc.message:
			t.Errorf("%q: %v, want %s: %s", tc.in, err, tc.field, tc.message)
		}
	}
}
