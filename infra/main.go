// Command infra is Accrue's CDK app: `cdk synth|deploy -c stage=dev|prod`
// (cdk.json runs it with `go run ./infra`). The stack is in infra/stack.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/accrue/accrue/infra/stack"
)

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	stageName, _ := app.Node().TryGetContext(jsii.String("stage")).(string)
	stage, err := stack.StageNamed(stageName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(2)
	}
	alarmEmail, _ := app.Node().TryGetContext(jsii.String("alarmEmail")).(string)
	assetDir, _ := app.Node().TryGetContext(jsii.String("assetDir")).(string) // default bin/lambda

	if assetDir == "" {
		assetDir = stack.DefaultAssetDir
	}
	partnerBuses, err := stack.ParsePartnerBuses(app.Node().TryGetContext(jsii.String(stack.PartnerBusesContext)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(2)
	}
	if err := stack.ValidateFunctions(stack.Functions, assetDir); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	if err := stage.ValidateConcurrency(stack.Functions); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	stack.NewAccrueStack(app, "accrue-"+stage.Name, &stack.AccrueStackProps{
		StackProps:   awscdk.StackProps{Env: env()},
		Stage:        stage,
		AlarmEmail:   alarmEmail,
		AssetDir:     assetDir,
		PartnerBuses: partnerBuses,
	})
	// cdk-nag's AwsSolutions rules: a finding fails the synthesis (errors)
	// or is printed (warnings); the stack's suppressions carry their reasons.
	stack.AddNagChecks(app)
	app.Synth(nil)
}

// env pins the stack to the CLI's account and region when known (cdk deploy
// with credentials); without them (offline synth) the stack is
// environment-agnostic.
func env() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" || region == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}
