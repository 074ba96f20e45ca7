package stack

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// The synthesized templates pass cfn-lint (spec §8): errors fail the test,
// warnings are logged.
func TestTemplatesPassCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint not found on PATH: install it with `pip install cfn-lint`")
	}
	args := []string{"--format", "parseable"}
	for _, s := range synthesized {
		args = append(args, s.file)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	// cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode()&^(4|8) == 0:
		t.Logf("cfn-lint warnings:\n%s", strings.TrimSpace(string(out)))
	default:
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}
