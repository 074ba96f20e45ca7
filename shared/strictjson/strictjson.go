// Package strictjson decodes one JSON object strictly, for the API's request
// bodies and the lines of bulk import files: an unknown field or a value of
// the wrong type is a *FieldError naming the field; anything that is not
// exactly one JSON value (a syntax error, data after it, nothing) wraps
// ErrMalformed.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrMalformed: the input is not one JSON value.
var ErrMalformed = errors.New("malformed JSON")

// FieldError is a field of the wrong type ("must be an integer") or an
// unknown one ("unknown field"). Field is the decoder's path of the field;
// "" for the value as a whole (an array where an object goes).
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Decode decodes data, one JSON value, into v, refusing unknown fields.
func Decode(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: a JSON object is required", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute):
			return &FieldError{Field: ute.Field, Message: "must be " + typeName(ute.Type.Kind().String())}
		case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return &FieldError{Field: f, Message: "unknown field"}
		}
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	return nil
}

// typeName says what a value of a Go kind is in JSON.
func typeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}
