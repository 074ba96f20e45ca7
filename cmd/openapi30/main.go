// Command openapi30 writes the OpenAPI 3.0 view of an OpenAPI 3.1 document,
// for code generators that read 3.0 only (oapi-codegen: shared/client's go
// generate). The view says the same thing in 3.0's words wherever 3.0 can
// (see convert.go for each rule) and fails, naming the place, on a 3.1
// construct it cannot carry over, rather than generating from a document
// that means something else.
//
//	openapi30 -in shared/api/openapi.json -out .local/openapi30.json
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	in := flag.String("in", "", "the OpenAPI 3.1 document (JSON)")
	out := flag.String("out", "", "where to write the OpenAPI 3.0 view (JSON); its directory is created")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: openapi30 -in openapi.json -out openapi30.json")
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "openapi30:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	view, err := Convert(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, view, 0o644)
}
