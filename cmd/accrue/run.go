package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one subcommand: "key create", "table create", ...
type command struct {
	name     string // group and verb
	synopsis string // its flags, for the usage text
	summary  string
	run      func(ctx context.Context, c *cli, args []string) error
}

// commands is set in init: the commands' functions print usages built from it.
var commands []command

func init() {
	commands = []command{
		{"partner create", "--id ID --program FILE [--update] [--no-key] [--label TEXT]",
			"create a partner with its program (spec §5) and print its first admin key, once;\n" +
				"--update replaces the program of an existing partner (no key is made then)", partnerCreate},
		{"key create", "--partner ID --role admin|app [--label TEXT]",
			"create an API key and print it, once", keyCreate},
		{"key list", "--partner ID [--json]",
			"list a partner's keys (never the keys themselves)", keyList},
		{"key revoke", "--partner ID --id KEY_ID",
			"revoke a key: it stops working at once", keyRevoke},
		{"table create", "",
			"create the table if it does not exist (for DynamoDB Local)", tableCreate},
		{"dlq redrive", "[--from DLQ_URL] [--to QUEUE_URL]",
			"move the messages of the payments DLQ back to the payments queue", dlqRedrive},
		{"rejected list", "[--partner ID | --ops] [--reason R] [--since T] [--until T] [--limit N] [--cursor C] [--json]",
			"list rejected events, newest first: a partner's, or (the default) the operators'\n" +
				"partition of events whose partner is unknown or unreadable", rejectedList},
		{"rejected show", "ID [--json | --raw]",
			"show one rejected event (an ID of accrue rejected list) with its raw body", rejectedShow},
		{"webhook listen", "--secret whsec_... [--secret ...] [--addr 127.0.0.1:8081] [--status CODE]",
			"a local receiver of webhook deliveries: prints each one whose Standard Webhooks signature\n" +
				"verifies with a secret (within the 5-minute replay window) and refuses the others (401);\n" +
				"--status answers verified ones with another status (500: watch the retries)", webhookListen},
		{"import", "--partner ID [--format csv|jsonl] [--workers N] [--quiet] FILE",
			"import members with their opening balances (README, \"Bulk import\"); a progress bar on\n" +
				"standard error, the summary and every rejected line on standard output. Resumable:\n" +
				"run the same command again after an interruption and it continues", importCmd},
	}
}

func usageText() string {
	var b strings.Builder
	b.WriteString(`usage: accrue [--table NAME] COMMAND [flags]

The operator CLI of Accrue. It talks to AWS with the default credential chain
(AWS_PROFILE, AWS_REGION, ...) or to local emulators: AWS_ENDPOINT_URL_DYNAMODB
for DynamoDB Local, AWS_ENDPOINT_URL_SQS for SQS, AWS_ENDPOINT_URL for both. A profile that assumes a role with MFA (mfa_serial)
asks for the code on the terminal.

commands:
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "  %s\n", c.line())
		for l := range strings.SplitSeq(c.summary, "\n") {
			fmt.Fprintf(&b, "        %s\n", l)
		}
	}
	b.WriteString(`
global flags (also accepted after the command):
  --table NAME   the DynamoDB table (default $ACCRUE_TABLE)

A new API key is printed once, alone on standard output; messages go to
standard error. Accrue stores only the key's hash: it cannot show it again.

exit status: 0 ok, 1 error, 2 usage error.
Run 'accrue COMMAND -h' for the flags of a command.
`)
	return b.String()
}

// line is the command's synopsis line.
func (c command) line() string {
	return strings.TrimSpace("accrue " + c.name + " " + c.synopsis)
}

// cli is one invocation.
type cli struct {
	stdout, stderr io.Writer
	env            func(string) string
	table          string
	// mfaToken returns the MFA code for a profile that assumes a role with
	// mfa_serial (the prompt on the terminal; tests answer it themselves).
	mfaToken func() (string, error)
}

// usageError is a bad command line: exit status 2.
type usageError struct {
	msg   string
	usage func(io.Writer) // the usage of the command, or nil for the general one
}

func (e *usageError) Error() string { return e.msg }

// helpRequested: -h or help; usage goes to stdout, exit status 0.
type helpRequested struct{ usage func(io.Writer) }

func (helpRequested) Error() string { return "help requested" }

// run runs the CLI with args (without the program name) and returns the exit
// status. It never panics: an unexpected failure is reported as an error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "accrue: internal error: %v\n", r)
			code = exitError
		}
	}()
	c := &cli{stdout: stdout, stderr: stderr, env: env, mfaToken: terminalMFA(env("AWS_PROFILE"))}
	return c.main(ctx, args)
}

// main runs the command line args and returns the exit status.
func (c *cli) main(ctx context.Context, args []string) int {
	return c.report(c.dispatch(ctx, args))
}

func (c *cli) report(err error) int {
	var ue *usageError
	var help helpRequested
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &help):
		if help.usage != nil {
			help.usage(c.stdout)
		} else {
			io.WriteString(c.stdout, usageText())
		}
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "accrue: %s\n", ue.msg)
		if ue.usage != nil {
			ue.usage(c.stderr)
		} else {
			fmt.Fprint(c.stderr, "Run 'accrue help' for usage.\n")
		}
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "accrue: %v\n", err)
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) && c.table != "" {
			fmt.Fprintf(c.stderr, "Does table %s exist? Check --table / %s (accrue table create makes it for DynamoDB Local).\n", c.table, envTable)
		}
		return exitError
	}
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	global := flag.NewFlagSet("accrue", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.Usage = func() {}
	global.StringVar(&c.table, "table", c.env(envTable), "")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequested{}
		}
		return &usageError{msg: err.Error()}
	}
	rest := global.Args()
	if len(rest) == 0 {
		return &usageError{msg: "no command given", usage: func(w io.Writer) { io.WriteString(w, usageText()) }}
	}
	if rest[0] == "help" {
		return helpRequested{}
	}
	for _, cmd := range commands {
		if cmd.name == rest[0] { // a command of one word: accrue import ...
			return cmd.run(ctx, c, rest[1:])
		}
	}
	vs := verbs(rest[0])
	if len(vs) == 0 {
		return &usageError{msg: fmt.Sprintf("unknown command %q", rest[0])}
	}
	if len(rest) < 2 {
		return &usageError{msg: fmt.Sprintf("%q needs a subcommand: %s", rest[0], strings.Join(vs, ", "))}
	}
	name := rest[0] + " " + rest[1]
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd.run(ctx, c, rest[2:])
		}
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q: %q has %s", name, rest[0], strings.Join(vs, ", "))}
}

// verbs returns the subcommands of group.
func verbs(group string) []string {
	var vs []string
	for _, cmd := range commands {
		if g, v, ok := strings.Cut(cmd.name, " "); ok && g == group {
			vs = append(vs, v)
		}
	}
	return vs
}

// flags returns the flag set of a command; it accepts --table too.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("accrue "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.table, "table", c.table, "the DynamoDB table (default $"+envTable+")")
	return fs
}

// commandUsage prints the usage of the command name with the flags of fs.
func commandUsage(name string, fs *flag.FlagSet) func(io.Writer) {
	return func(w io.Writer) {
		for _, cmd := range commands {
			if cmd.name == name {
				fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", cmd.line(), cmd.summary)
			}
		}
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// shortUsage prints the synopsis of the command name and where to read more.
func shortUsage(name string) func(io.Writer) {
	return func(w io.Writer) {
		for _, cmd := range commands {
			if cmd.name == name {
				fmt.Fprintf(w, "usage: %s\nRun 'accrue %s -h' for its flags.\n", cmd.line(), cmd.name)
			}
		}
	}
}

// parse parses the flags of command name; positional arguments are a usage error.
func (c *cli) parse(name string, fs *flag.FlagSet, args []string) error {
	_, err := c.parseArgs(name, fs, args, 0)
	return err
}

// parseArgs parses the flags of command name, before, between or after at
// most maxPos positional arguments, which it returns in order.
func (c *cli) parseArgs(name string, fs *flag.FlagSet, args []string, maxPos int) ([]string, error) {
	usage := commandUsage(name, fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpRequested{usage: usage}
			}
			return nil, &usageError{msg: err.Error(), usage: shortUsage(name)}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		if len(pos) == maxPos {
			return nil, &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0)), usage: shortUsage(name)}
		}
		// The flag package stops at a positional argument: take it, go on.
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

// usagef is a usage error of command name.
func usagef(name string, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), usage: shortUsage(name)}
}

// tableDB is the DynamoDB client of a command that works on the table (a usage
// error when no table was named).
func (c *cli) tableDB(ctx context.Context, name string) (*dynamodb.Client, error) {
	if err := c.requireTable(name); err != nil {
		return nil, err
	}
	return c.newDynamoDB(ctx)
}

// requireTable checks that a table was named.
func (c *cli) requireTable(name string) error {
	if c.table == "" {
		return usagef(name, "no table: set --table or %s", envTable)
	}
	return nil
}
