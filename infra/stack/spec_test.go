package stack

// Tests of the spec -> construct code on small stacks of their own: the
// trigger kinds and table shapes the deployed stack does not have yet (a
// scheduled job, a global index), and the validation of the function table.

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/jsii-runtime-go"
)

// fakeAssets makes an asset directory with a placeholder bootstrap per name:
// these stacks are synthesized, never deployed.
func fakeAssets(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n, "bootstrap"), []byte("placeholder "+n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func synthJSON(t *testing.T, st awscdk.Stack) (assertions.Template, cfnTemplate) {
	t.Helper()
	tpl := assertions.Template_FromStack(st, nil)
	var js cfnTemplate
	b := jsonString(tpl.ToJSON())
	if err := jsonUnmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	return tpl, js
}

// A function with a ScheduleTrigger is invoked by an EventBridge rule with
// that schedule, which alone may invoke it; its role still holds exactly its
// actions.
func TestScheduledFunctionIsInvokedByARule(t *testing.T) {
	app, err := newTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	job := Function{
		Name: "release-pending", Description: "test job", MemoryMB: 256, Timeout: 5 * time.Minute,
		Trigger: ScheduleTrigger{Expression: "rate(15 minutes)"},
		Access: map[Resource][]string{
			Table:    {"dynamodb:Query", "dynamodb:UpdateItem"},
			TableKey: TableKeyActions,
			EventBus: {"events:PutEvents"},
		},
	}
	stage := Stages["dev"]
	stage.Concurrency.Reserved = map[string]int{job.Name: 1}
	st := NewAccrueStack(app, "schedule-test", &AccrueStackProps{
		Stage: stage, AssetDir: fakeAssets(t, job.Name), Functions: []Function{job},
	})
	tpl, js := synthJSON(t, st)

	fnID, _ := js.function(t, job.Name)
	ruleID, rule := js.only(t, "AWS::Events::Rule")
	if rule.Properties["ScheduleExpression"] != "rate(15 minutes)" || rule.Properties["State"] != "ENABLED" {
		t.Errorf("rule %s, want enabled, rate(15 minutes)", jsonString(rule.Properties))
	}
	targets := list(rule.Properties["Targets"])
	if len(targets) != 1 || !reflect.DeepEqual(targets[0].(map[string]any)["Arn"], getAtt(fnID, "Arn")) {
		t.Errorf("rule targets %s, want the job function", jsonString(targets))
	}
	if rp, _ := targets[0].(map[string]any)["RetryPolicy"].(map[string]any); rp["MaximumRetryAttempts"] == nil {
		t.Errorf("rule target has no retry policy: %s", jsonString(targets[0]))
	}
	if rule.Properties["EventBusName"] != nil {
		t.Errorf("schedule on bus %v; schedules run on the default bus", rule.Properties["EventBusName"])
	}
	check(t, "invoke permission", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
			"Action":       "lambda:InvokeFunction",
			"Principal":    "events.amazonaws.com",
			"FunctionName": getAtt(fnID, "Arn"),
			"SourceArn":    getAtt(ruleID, "Arn"),
		})
	})
	check(t, "no API, no queue consumer", func() {
		tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Api"), jsii.Number(0))
		tpl.ResourceCountIs(jsii.String("AWS::Lambda::EventSourceMapping"), jsii.Number(0))
	})
	check(t, "alarms", func() {
		// The three DLQs, payments and imports queue age; the job's errors
		// and throttles.
		tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(5+2))
	})

	_, fn := js.function(t, job.Name)
	sts, _ := js.roleStatements(t, referencedID(fn.Properties["Role"]))
	var got []string
	for _, s := range sts {
		got = append(got, s.Actions...)
	}
	sort.Strings(got)
	if want := job.Actions(); !slices.Equal(got, want) {
		t.Errorf("job role allows %v, want %v", got, want)
	}
	vars := fn.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	if vars["ACCRUE_TABLE"] == nil || vars["ACCRUE_EVENT_BUS"] == nil {
		t.Errorf("job environment %s, want ACCRUE_TABLE and ACCRUE_EVENT_BUS", jsonString(vars))
	}
}

// NewTable translates every key, index and projection of a schema in the
// SDK's types: global indexes too, for when store defines some.
func TestTableTranslatesGlobalIndexesAndProjections(t *testing.T) {
	app, err := newTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := awscdk.NewStack(app, jsii.String("table-test"), nil)
	key := awskms.NewKey(st, jsii.String("Key"), nil)
	s := func(n string) *string { return aws.String(n) }
	schema := TableSchema{
		KeySchema: []types.KeySchemaElement{{AttributeName: s("pk"), KeyType: types.KeyTypeHash}, {AttributeName: s("sk"), KeyType: types.KeyTypeRange}},
		Attributes: []types.AttributeDefinition{
			{AttributeName: s("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: s("sk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: s("n"), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: s("g"), AttributeType: types.ScalarAttributeTypeS},
		},
		LocalIndexes: []types.LocalSecondaryIndex{{
			IndexName:  s("by-n"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: s("pk"), KeyType: types.KeyTypeHash}, {AttributeName: s("n"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
		GlobalIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  s("by-g"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: s("g"), KeyType: types.KeyTypeHash}, {AttributeName: s("n"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"a", "b"}},
		}},
	}
	NewTable(st, "Table", schema, TableOptions{Key: key, RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	tpl, _ := synthJSON(t, st)
	check(t, "indexes", func() {
		tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"KeySchema": keySchemaJSON(schema.KeySchema),
			"LocalSecondaryIndexes": []any{map[string]any{
				"IndexName": "by-n", "KeySchema": keySchemaJSON(schema.LocalIndexes[0].KeySchema),
				"Projection": map[string]any{"ProjectionType": "KEYS_ONLY"},
			}},
			"GlobalSecondaryIndexes": []any{map[string]any{
				"IndexName": "by-g", "KeySchema": keySchemaJSON(schema.GlobalIndexes[0].KeySchema),
				"Projection": map[string]any{"ProjectionType": "INCLUDE", "NonKeyAttributes": []any{"a", "b"}},
			}},
			"AttributeDefinitions": assertions.Match_ArrayWith(&[]any{
				map[string]any{"AttributeName": "n", "AttributeType": "N"},
			}),
		})
	})

	// A schema CreateTable would refuse is refused at synth time too.
	for name, bad := range map[string]TableSchema{
		"key without definition": {KeySchema: schema.KeySchema, Attributes: schema.Attributes[:1]},
		"unused definition":      {KeySchema: schema.KeySchema, Attributes: schema.Attributes},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewTable accepted the schema")
				}
			}()
			NewTable(st, "Bad"+strings.ReplaceAll(name, " ", ""), bad, TableOptions{Key: key})
		})
	}
}

// The function table is checked before anything is built.
func TestFunctionTableValidation(t *testing.T) {
	dir := fakeAssets(t, "a", "b")
	ok := Function{Name: "a", MemoryMB: 128, Timeout: time.Second, Trigger: HTTPAPITrigger{},
		Access: map[Resource][]string{Table: {"dynamodb:GetItem"}}}
	if err := ValidateFunctions([]Function{ok}, dir); err != nil {
		t.Fatalf("valid table refused: %v", err)
	}
	with := func(change func(f *Function)) []Function {
		f := ok
		f.Access = map[Resource][]string{Table: {"dynamodb:GetItem"}}
		change(&f)
		return []Function{f}
	}
	for name, c := range map[string]struct {
		fns  []Function
		want string
	}{
		"TransactWriteItems": {with(func(f *Function) { f.Access[Table] = []string{"dynamodb:TransactWriteItems"} }), "not an IAM action"},
		"wildcard":           {with(func(f *Function) { f.Access[Table] = []string{"dynamodb:*"} }), "exact"},
		"no trigger":         {with(func(f *Function) { f.Trigger = nil }), "needs a Trigger"},
		"bad schedule":       {with(func(f *Function) { f.Trigger = ScheduleTrigger{"every 5 minutes"} }), "rate(...) or cron(...)"},
		"stream batch size":  {with(func(f *Function) { f.Trigger = StreamTrigger{BatchSize: 0, ParallelizationFactor: 1} }), "Lambda's limits"},
		"stream parallelism": {with(func(f *Function) { f.Trigger = StreamTrigger{BatchSize: 100, ParallelizationFactor: 11} }), "Lambda's limits"},
		"no binary":          {with(func(f *Function) { f.Name = "c" }), "make build"},
		"no memory":          {with(func(f *Function) { f.MemoryMB = 0 }), "MemoryMB"},
		"duplicate":          {[]Function{ok, ok}, "unique"},
		"two API handlers":   {[]Function{ok, func() Function { f := ok; f.Name = "b"; return f }()}, "one handler"},
	} {
		t.Run(name, func(t *testing.T) {
			err := ValidateFunctions(c.fns, dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// Every folder of functions/ is deployed, and every deployed function has its
// folder: a new function is not forgotten in Functions.
func TestEveryFunctionFolderIsInTheFunctionTable(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var folders, table []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(repoRoot, "functions", e.Name(), "main.go")); e.IsDir() && err == nil {
			folders = append(folders, e.Name())
		}
	}
	for _, f := range Functions {
		table = append(table, f.Name)
	}
	sort.Strings(table)
	if !slices.Equal(folders, table) {
		t.Errorf("functions/ has %v, but Functions (infra/stack/functions.go) deploys %v", folders, table)
	}
}

func TestStagesComeFromContext(t *testing.T) {
	if s, err := StageNamed(""); err != nil || s.Name != "dev" {
		t.Errorf(`StageNamed("") = %v, %v; want dev`, s.Name, err)
	}
	if _, err := StageNamed("staging"); err == nil || !strings.Contains(err.Error(), "-c stage=") {
		t.Errorf(`StageNamed("staging") error %v, want a hint at -c stage=`, err)
	}
	dev, prod := Stages["dev"], Stages["prod"]
	if prod.RemovalPolicy != awscdk.RemovalPolicy_RETAIN || !prod.DeletionProtection || dev.DeletionProtection {
		t.Error("prod must retain and protect its data, dev must not protect it")
	}
	if prod.Alarms.PaymentsQueueAge > dev.Alarms.PaymentsQueueAge || prod.APIThrottle.RateLimit < dev.APIThrottle.RateLimit {
		t.Error("prod alarms should be at least as strict, and its throttle at least as high, as dev's")
	}
	for _, s := range []Stage{dev, prod} {
		if u, r := s.APIUnmatchedThrottle, s.APIThrottle; u.RateLimit <= 0 || u.RateLimit > r.RateLimit || u.BurstLimit > r.BurstLimit {
			t.Errorf("%s: $default route throttle %+v, want above 0 and at most the routes' %+v", s.Name, u, r)
		}
	}
	for name, n := range dev.Concurrency.Reserved {
		if prod.Concurrency.Reserved[name] < n {
			t.Errorf("%s: prod reserves %d, less than dev's %d", name, prod.Concurrency.Reserved[name], n)
		}
	}
}

// A stage's concurrency is checked against the functions before anything is
// built: every function reserved, the account's unreserved 100 kept, the
// queue mapping within Lambda's 2..1000 and within ingest's reservation.
func TestStageConcurrencyValidation(t *testing.T) {
	for _, name := range []string{"dev", "prod"} {
		if err := Stages[name].ValidateConcurrency(Functions); err != nil {
			t.Errorf("stage %s: %v", name, err)
		}
	}
	fns := []Function{
		{Name: "q", Trigger: QueueTrigger{BatchSize: 10}},
		{Name: "h", Trigger: HTTPAPITrigger{}},
	}
	ok := Concurrency{Reserved: map[string]int{"q": 10, "h": 20}, QueueMax: 10, Account: 1000}
	with := func(change func(c *Concurrency)) Stage {
		c := ok
		c.Reserved = maps.Clone(ok.Reserved)
		change(&c)
		return Stage{Name: "test", Concurrency: c}
	}
	if err := with(func(*Concurrency) {}).ValidateConcurrency(fns); err != nil {
		t.Fatalf("valid concurrency refused: %v", err)
	}
	for name, c := range map[string]struct {
		stage Stage
		want  string
	}{
		"function not reserved": {with(func(c *Concurrency) { delete(c.Reserved, "h") }), "h has no reserved concurrency"},
		"reserved 0":            {with(func(c *Concurrency) { c.Reserved["h"] = 0 }), "h has no reserved concurrency"},
		"mapping above ingest":  {with(func(c *Concurrency) { c.QueueMax = 11 }), "above q's reserved concurrency 10"},
		"mapping below 2":       {with(func(c *Concurrency) { c.QueueMax = 1 }), "2..1000"},
		"mapping above 1000":    {with(func(c *Concurrency) { c.Reserved["q"] = 1001; c.Account = 5000; c.QueueMax = 1001 }), "2..1000"},
		"account unreserved":    {with(func(c *Concurrency) { c.Reserved["h"] = 891 }), "less than the 100"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.stage.ValidateConcurrency(fns)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	// 10 + 890 of 1000 leaves exactly the 100: accepted.
	if err := with(func(c *Concurrency) { c.Reserved["h"] = 890 }).ValidateConcurrency(fns); err != nil {
		t.Errorf("900 of 1000 reserved refused: %v", err)
	}
}

// Every DynamoDB operation in the code the functions are built from is granted
// to at least one function, so a new kind of request (a ConditionCheck in a
// transaction, a Scan) fails here rather than with AccessDenied in AWS. The
// code is read, not run: a request shows as its input type
// (dynamodb.GetItemInput, ...) or, inside a transaction, as its item type
// (types.Put, types.Update, types.Delete, types.ConditionCheck). Which function
// needs the action is for Functions to say: this test cannot tell.
func TestEveryDynamoDBOperationOfTheCodeIsGranted(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \" \"}}", "./functions/...")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	granted := map[string]bool{}
	for _, f := range Functions {
		for _, a := range f.Access[Table] {
			granted[a] = true
		}
	}
	inputRE := regexp.MustCompile(`\bdynamodb\.(\w+)Input\b`)
	itemRE := regexp.MustCompile(`\btypes\.(Put|Update|Delete|ConditionCheck)\b`)
	txItem := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
	used := map[string]string{} // action -> where first seen
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Split(line, "\t")
		if len(fields) != 3 || !strings.HasPrefix(fields[0], "github.com/accrue/accrue/") {
			continue
		}
		for _, name := range strings.Fields(fields[2]) {
			path := filepath.Join(fields[1], name)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(repoRoot, path)
			for i, l := range strings.Split(string(src), "\n") {
				where := fmt.Sprintf("%s:%d", rel, i+1)
				note := func(op string) {
					if _, ok := used["dynamodb:"+op]; !ok {
						used["dynamodb:"+op] = where
					}
				}
				for _, m := range inputRE.FindAllStringSubmatch(l, -1) {
					switch m[1] {
					case "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem":
						note(m[1])
					case "TransactGetItems":
						note("GetItem")
					case "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction":
						note("PartiQL (" + m[1] + ")")
					}
					// TransactWriteItems is authorized per item (below); the
					// control plane (CreateTable for the local stack, ...) is
					// not the functions' business.
				}
				if strings.Contains(string(src), `"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"`) {
					for _, m := range itemRE.FindAllStringSubmatch(l, -1) {
						note(txItem[m[1]])
					}
				}
			}
		}
	}
	if len(used) == 0 {
		t.Fatal("found no DynamoDB request in the functions' code: the scan is broken")
	}
	for action, where := range used {
		if !granted[action] {
			t.Errorf("%s uses %s, but no function in Functions may (infra/stack/functions.go)", where, action)
		}
	}
}
