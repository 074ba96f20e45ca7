package program

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// MaxDocumentSize is the largest program document Parse accepts.
const MaxDocumentSize = 256 << 10

// ErrTooLarge is returned (wrapped) by Parse for documents over MaxDocumentSize.
var ErrTooLarge = errors.New("program document too large")

// Parse decodes and validates a program document strictly: the top level must be
// one JSON object with nothing after it; unknown fields (matched case-sensitively),
// duplicate fields and values of the wrong type are reported as a *ValidationError
// naming each field path, as are all failures of Validate. Malformed JSON yields a
// wrapped decoding error (*json.SyntaxError, io.EOF, io.ErrUnexpectedEOF); a
// document over MaxDocumentSize a wrapped ErrTooLarge. Parse never panics.
// Version is kept as given: an API handling a PUT overwrites it.
func Parse(data []byte) (*Program, error) {
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("program: %d bytes: %w (max %d)", len(data), ErrTooLarge, MaxDocumentSize)
	}

	// Pass 1: walk the tokens against the Go types to name every unknown,
	// duplicate or mistyped field with its full path.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	c := &checker{dec: dec}
	if err := c.value(reflect.TypeFor[Program](), ""); err != nil {
		return nil, fmt.Errorf("program: invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		c.add("", "unexpected data after the program object")
	}
	if len(c.errs) > 0 {
		return nil, &ValidationError{Errors: c.errs}
	}

	// Pass 2: the actual decode; the checks above make its failure unexpected.
	var p Program
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("program: decode: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// checker walks a JSON token stream alongside a Go type.
type checker struct {
	dec  *json.Decoder
	errs []FieldError
}

func (c *checker) add(field, msg string) {
	c.errs = append(c.errs, FieldError{Field: field, Message: msg})
}

// value checks the next JSON value against t. It returns only JSON syntax errors;
// type problems are recorded in c.errs and the offending value is skipped.
func (c *checker) value(t reflect.Type, path string) error {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		var raw json.RawMessage
		if err := c.dec.Decode(&raw); err != nil {
			return err
		}
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			msg := err.Error()
			if t == timeType {
				msg = "must be an RFC 3339 time such as \"2026-11-01T00:00:00Z\""
			}
			c.add(path, msg)
		}
		return nil
	}
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null leaves the zero value, as encoding/json does
		if path == "" {
			c.add(path, "the program must be a JSON object")
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return c.mistyped(tok, path, "must be an object")
		}
		seen := map[string]bool{}
		for c.dec.More() {
			key, err := c.key()
			if err != nil {
				return err
			}
			kpath := join(path, key)
			f, ok := fieldByTag(t, key)
			switch {
			case !ok:
				c.add(kpath, "unknown field")
				err = c.skip()
			case seen[key]:
				c.add(kpath, "duplicate field")
				err = c.skip()
			default:
				seen[key] = true
				err = c.value(f.Type, kpath)
			}
			if err != nil {
				return err
			}
		}
		_, err = c.dec.Token() // '}'
		return err
	case reflect.Map:
		if tok != json.Delim('{') {
			return c.mistyped(tok, path, "must be an object")
		}
		seen := map[string]bool{}
		for c.dec.More() {
			key, err := c.key()
			if err != nil {
				return err
			}
			if seen[key] {
				c.add(join(path, key), "duplicate key")
			}
			seen[key] = true
			if err := c.value(t.Elem(), join(path, key)); err != nil {
				return err
			}
		}
		_, err = c.dec.Token()
		return err
	case reflect.Slice:
		if tok != json.Delim('[') {
			return c.mistyped(tok, path, "must be an array")
		}
		for i := 0; c.dec.More(); i++ {
			if err := c.value(t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err = c.dec.Token()
		return err
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return c.mistyped(tok, path, "must be a string")
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return c.mistyped(tok, path, "must be true or false")
		}
	case reflect.Int, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return c.mistyped(tok, path, "must be an integer")
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				c.add(path, "integer out of range")
			} else {
				c.add(path, "must be an integer")
			}
		}
	default:
		return c.mistyped(tok, path, "unsupported type "+t.String())
	}
	return nil
}

// key reads an object key (the decoder guarantees it is a string).
func (c *checker) key() (string, error) {
	tok, err := c.dec.Token()
	if err != nil {
		return "", err
	}
	s, _ := tok.(string)
	return s, nil
}

// mistyped records msg and skips the rest of a value whose first token was tok.
func (c *checker) mistyped(tok json.Token, path, msg string) error {
	c.add(path, msg)
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := c.dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// skip consumes the next value whole.
func (c *checker) skip() error {
	var raw json.RawMessage
	return c.dec.Decode(&raw)
}

// fieldByTag finds the struct field whose JSON name is exactly name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "" {
			tag = f.Name
		}
		if f.IsExported() && tag == name && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
