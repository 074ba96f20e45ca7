package stack

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// testPartnerBuses: two partners in two accounts, and a third in the first's
// account (the fixture's "partners" stack).
var testPartnerBuses = []PartnerBus{
	{Partner: "telco", BusArn: "arn:aws:events:eu-west-1:111122223333:event-bus/accrue-events"},
	{Partner: "bank-2", BusArn: "arn:aws:events:eu-west-1:444455556666:event-bus/loyalty"},
	{Partner: "telco-b2b", BusArn: "arn:aws:events:eu-west-1:111122223333:event-bus/b2b"},
}

// Each partner's events go to its own bus, and only its events: per partner
// a rule on Accrue's bus whose pattern names the partner, whose one target is
// the partner's bus, put with a role of its own that may events:PutEvents on
// that bus and nothing else, with the partner events DLQ (alarmed) for what
// cannot be delivered. The partners' accounts may read the schema registry.
func TestPartnerBusesGetOnlyTheirPartnersEvents(t *testing.T) {
	s := synthesized["partners"]
	busID, _ := s.json.only(t, "AWS::Events::EventBus")
	var dlqID string
	for _, id := range s.json.ofType("AWS::SQS::Queue") {
		if strings.HasPrefix(id, "PartnerEventsDLQ") {
			dlqID = id
		}
	}
	if dlqID == "" {
		t.Fatal("no PartnerEventsDLQ")
	}
	rules := map[string]bool{}
	for _, id := range s.json.ofType("AWS::Events::Rule") {
		p := s.json.Resources[id].Properties
		if p["ScheduleExpression"] != nil || strings.HasPrefix(id, "WebhookEventsRule") {
			continue // the schedules; every event to the webhooks' fan-out (webhooks_test.go)
		}
		if !refersTo(p["EventBusName"], busID) {
			t.Errorf("rule %s is not on Accrue's bus", id)
		}
		pattern, _ := p["EventPattern"].(map[string]any)
		detail, _ := pattern["detail"].(map[string]any)
		partners := list(detail["partner_id"])
		if !reflect.DeepEqual(list(pattern["source"]), []any{"accrue"}) || len(partners) != 1 || len(pattern) != 2 || len(detail) != 1 {
			t.Errorf("rule %s: pattern %s, want Accrue's events of one partner", id, jsonString(pattern))
			continue
		}
		partner := partners[0].(string)
		i := slices.IndexFunc(testPartnerBuses, func(b PartnerBus) bool { return b.Partner == partner })
		if i < 0 || rules[partner] {
			t.Errorf("rule %s for partner %s: not configured, or twice", id, partner)
			continue
		}
		rules[partner] = true
		targets := list(p["Targets"])
		if len(targets) != 1 {
			t.Fatalf("rule %s: %d targets", id, len(targets))
		}
		tg := targets[0].(map[string]any)
		if tg["Arn"] != testPartnerBuses[i].BusArn {
			t.Errorf("rule %s: target %s, want %s", id, jsonString(tg["Arn"]), testPartnerBuses[i].BusArn)
		}
		if dl, _ := tg["DeadLetterConfig"].(map[string]any); !refersTo(dl["Arn"], dlqID) {
			t.Errorf("rule %s: dead letters go to %s, want the partner events DLQ", id, jsonString(tg["DeadLetterConfig"]))
		}
		// The role: assumed by EventBridge only, allowed PutEvents on the partner's bus only.
		roleID := referencedID(tg["RoleArn"])
		role := s.json.Resources[roleID]
		if role.Type != "AWS::IAM::Role" || !strings.Contains(jsonString(role.Properties["AssumeRolePolicyDocument"]), `"Service":"events.amazonaws.com"`) {
			t.Errorf("rule %s: role %s %s", id, roleID, jsonString(role.Properties))
		}
		var sts []statement
		for pid, pr := range s.json.Resources {
			if pr.Type == "AWS::IAM::Policy" && refersTo(pr.Properties["Roles"], roleID) {
				sts = append(sts, policyStatements(t, s.json, pid)...)
			}
		}
		sts = append(sts, policyStatements(t, s.json, roleID)...)
		if len(sts) != 1 || !slices.Equal(sts[0].Actions, []string{"events:PutEvents"}) || !reflect.DeepEqual(sts[0].Resources, []any{testPartnerBuses[i].BusArn}) {
			t.Errorf("rule %s: the role may %+v, want events:PutEvents on %s only", id, sts, testPartnerBuses[i].BusArn)
		}
	}
	if len(rules) != len(testPartnerBuses) {
		t.Errorf("forwarding rules for %v, want one per partner bus", rules)
	}

	// EventBridge may send dead letters to the DLQ, from these rules only.
	var policy string
	for _, id := range s.json.ofType("AWS::SQS::QueuePolicy") {
		if refersTo(s.json.Resources[id].Properties["Queues"], dlqID) {
			policy = jsonString(s.json.Resources[id].Properties["PolicyDocument"])
		}
	}
	if !strings.Contains(policy, `"Service":"events.amazonaws.com"`) || !strings.Contains(policy, "aws:SourceArn") {
		t.Errorf("partner events DLQ policy %s", policy)
	}

	found := false
	for _, id := range s.json.ofType("AWS::CloudWatch::Alarm") {
		p := s.json.Resources[id].Properties
		if p["AlarmName"] == "accrue-dev-partner-events-dlq-not-empty" {
			found = true
			if !strings.Contains(jsonString(p["Dimensions"]), dlqID) {
				t.Errorf("the partner events DLQ alarm watches %s", jsonString(p["Dimensions"]))
			}
		}
	}
	if !found {
		t.Error("no alarm on the partner events DLQ")
	}

	_, reg := s.json.only(t, "AWS::EventSchemas::RegistryPolicy")
	doc := reg.Properties["Policy"].(map[string]any)
	sts := list(doc["Statement"])
	if len(sts) != 1 {
		t.Fatalf("registry policy %s", jsonString(doc))
	}
	st := sts[0].(map[string]any)
	var principals []string
	for _, p := range list(st["Principal"].(map[string]any)["AWS"]) {
		principals = append(principals, jsonString(p))
	}
	sort.Strings(principals)
	if len(principals) != 2 || !strings.Contains(principals[0], ":iam::111122223333:root") || !strings.Contains(principals[1], ":iam::444455556666:root") {
		t.Errorf("registry readers %v, want the partners' two accounts", principals)
	}
	if !reflect.DeepEqual(list(st["Action"]), RegistryReadActions) || st["Effect"] != "Allow" {
		t.Errorf("registry policy statement %s", jsonString(st))
	}
	for _, a := range RegistryReadActions {
		if v := a.(string); !strings.HasPrefix(v, "schemas:Describe") && !strings.HasPrefix(v, "schemas:List") &&
			!strings.HasPrefix(v, "schemas:Get") && v != "schemas:ExportSchema" && v != "schemas:SearchSchemas" {
			t.Errorf("partners may %s in the registry: only reads", v)
		}
	}

	for _, o := range []string{"PartnerBusRoleTelco", "PartnerBusRoleBank2", "PartnerBusRoleTelcoB2b", "PartnerEventsDLQUrl"} {
		if _, ok := s.json.Outputs[o]; !ok {
			t.Errorf("no output %s", o)
		}
	}
	for level, ms := range nagFindings(s.stack) {
		if len(ms) > 0 {
			t.Errorf("%d cdk-nag %ss:\n%s", len(ms), level, strings.Join(ms, "\n"))
		}
	}

	// Without partner buses, none of it.
	stages(t, func(t *testing.T, s *synthStack, _ Stage) {
		if n := len(s.json.ofType("AWS::EventSchemas::RegistryPolicy")); n > 0 {
			t.Errorf("%d registry policies without partner buses", n)
		}
		for id := range s.json.Resources {
			if strings.HasPrefix(id, "PartnerBus") || strings.HasPrefix(id, "PartnerEventsDLQ") {
				t.Errorf("%s without partner buses", id)
			}
		}
	})
}

func TestParsePartnerBuses(t *testing.T) {
	want := []PartnerBus{
		{Partner: "bank-2", BusArn: "arn:aws:events:eu-west-1:444455556666:event-bus/loyalty"},
		{Partner: "telco", BusArn: "arn:aws:events:eu-west-1:111122223333:event-bus/accrue-events"},
	}
	for name, v := range map[string]any{
		"cdk.json object": map[string]any{"telco": want[1].BusArn, "bank-2": want[0].BusArn},
		"-c string":       `{"telco":"` + want[1].BusArn + `","bank-2":"` + want[0].BusArn + `"}`,
	} {
		got, err := ParsePartnerBuses(v)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, %v", name, got, err)
		}
	}
	for _, none := range []any{nil, ""} {
		if got, err := ParsePartnerBuses(none); err != nil || got != nil {
			t.Errorf("%#v: %v, %v", none, got, err)
		}
	}
	for name, v := range map[string]any{
		"not JSON":       `{"telco":`,
		"a list":         []any{"x"},
		"not a string":   map[string]any{"telco": 5},
		"bad partner id": map[string]any{"Telco": want[1].BusArn},
		"a queue ARN":    map[string]any{"telco": "arn:aws:sqs:eu-west-1:111122223333:q"},
		"no account":     map[string]any{"telco": "arn:aws:events:eu-west-1::event-bus/x"},
	} {
		if got, err := ParsePartnerBuses(v); err == nil {
			t.Errorf("%s: accepted %v", name, got)
		}
	}
	if err := ValidatePartnerBuses([]PartnerBus{want[0], want[0]}); err == nil {
		t.Error("a partner twice")
	}
}
