package stack

// The fixture shared by the tests of this package: the Lambda binaries are
// built once (exactly as `make build` does), and one CDK app with the dev and
// the prod stack, and cdk-nag's checks as infra/main.go adds them, is
// synthesized once, into a temporary cloud assembly. jsii starts a Node.js
// process and synthesis takes seconds, so every test reads these two
// templates rather than synthesizing its own.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// AssetsEnv names a directory of prebuilt binaries (<name>/bootstrap, e.g.
// bin/lambda after `make build`) to use instead of building them.
const AssetsEnv = "ACCRUE_LAMBDA_ASSETS"

var (
	repoRoot string
	assetDir string
	outDir   string
	// stacks by stage name: the synthesized template, as the assertions
	// library sees it and as plain JSON.
	synthesized = map[string]*synthStack{}
)

type synthStack struct {
	stack    awscdk.Stack
	name     string // stack name, e.g. accrue-dev
	file     string // template path in outDir
	template assertions.Template
	json     cfnTemplate
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	defer jsii.Close()

	var err error
	if repoRoot, err = findRepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "infra tests:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "accrue-infra-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra tests:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	if assetDir = os.Getenv(AssetsEnv); assetDir == "" {
		assetDir = filepath.Join(tmp, "lambda")
		if err := buildFunctions(assetDir, Functions); err != nil {
			fmt.Fprintln(os.Stderr, "infra tests: building the Lambda binaries:", err)
			return 1
		}
	}
	built := time.Since(start)

	outDir = filepath.Join(tmp, "cdk.out")
	if err := synthesize(); err != nil {
		fmt.Fprintln(os.Stderr, "infra tests: synthesizing the stacks:", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("infra tests: built the functions in %s, synthesized dev and prod in %s\n",
			built.Round(time.Millisecond), (time.Since(start) - built).Round(time.Millisecond))
	}
	return m.Run()
}

func findRepoRoot() (string, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// buildFunctions builds every function's bootstrap into dir/<name>/ with the
// flags of the Makefile's build target.
func buildFunctions(dir string, fns []Function) error {
	var wg sync.WaitGroup
	errs := make([]error, len(fns))
	for i, f := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w",
				"-o", filepath.Join(dir, f.Name, "bootstrap"), "./functions/"+f.Name)
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go build ./functions/%s: %v\n%s", f.Name, err, out)
			}
		}()
	}
	wg.Wait()
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return nil
}

// cdkJSONContext is the context of cdk.json (the feature flags), which the cdk
// CLI passes to the app: the tests synthesize with the same flags.
func cdkJSONContext() (map[string]any, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "cdk.json"))
	if err != nil {
		return nil, err
	}
	var c struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	return c.Context, nil
}

// newTestApp is an app with cdk.json's context writing to dir.
func newTestApp(dir string) (awscdk.App, error) {
	ctx, err := cdkJSONContext()
	if err != nil {
		return nil, err
	}
	return awscdk.NewApp(&awscdk.AppProps{
		Outdir:      jsii.String(dir),
		Context:     &ctx,
		StackTraces: jsii.Bool(false),
	}), nil
}

func synthesize() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	app, err := newTestApp(outDir)
	if err != nil {
		return err
	}
	stacks := map[string]awscdk.Stack{}
	for _, name := range []string{"dev", "prod"} {
		stacks[name] = NewAccrueStack(app, "accrue-"+name, &AccrueStackProps{
			Stage:    Stages[name],
			AssetDir: assetDir,
		})
	}
	// The dev stage with partners' own buses (partners_test.go): linted and
	// checked by cdk-nag like the others.
	stacks["partners"] = NewAccrueStack(app, "accrue-partners", &AccrueStackProps{
		Stage:        Stages["dev"],
		AssetDir:     assetDir,
		PartnerBuses: testPartnerBuses,
	})
	AddNagChecks(app) // as infra/main.go does
	app.Synth(nil)
	for name, st := range stacks {
		s := &synthStack{
			stack:    st,
			name:     "accrue-" + name,
			file:     filepath.Join(outDir, "accrue-"+name+".template.json"),
			template: assertions.Template_FromStack(st, nil),
		}
		b, err := os.ReadFile(s.file)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &s.json); err != nil {
			return fmt.Errorf("%s: %w", s.file, err)
		}
		synthesized[name] = s
	}
	return nil
}
