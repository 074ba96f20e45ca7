package client

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// client.gen.go is what the go:generate lines of doc.go make of the API's
// OpenAPI document now: the test runs those lines, with their outputs moved
// to a temporary directory, and compares. A change of openapi.json (or of
// the converter, the configuration or the pinned oapi-codegen) without
// `go generate ./shared/client` fails here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := regexp.MustCompile(`(?m)^//go:generate (.+)$`).FindAllStringSubmatch(string(src), -1)
	if len(lines) != 2 {
		t.Fatalf("%d go:generate lines in doc.go, want 2 (the 3.0 view, then oapi-codegen)", len(lines))
	}
	dir := t.TempDir()
	moved := map[string]string{
		"../../.local/openapi30.json": filepath.Join(dir, "openapi30.json"),
		"client.gen.go":               filepath.Join(dir, "client.gen.go"),
	}
	for _, l := range lines {
		args := strings.Fields(l[1])
		for i, a := range args {
			if to, ok := moved[a]; ok {
				args[i] = to
			}
		}
		cmd := exec.Command(args[0], args[1:]...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	want, err := os.ReadFile(filepath.Join(dir, "client.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("shared/client/client.gen.go is not what shared/api/openapi.json generates now: run go generate ./shared/client (make generate)")
	}
}
