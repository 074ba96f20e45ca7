package stack

// Helpers to read a synthesized CloudFormation template as JSON. Resources are
// found by their type and properties (tags, references), never by their
// hashed logical ids.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
)

type cfnTemplate struct {
	Metadata  map[string]any         `json:"Metadata"`
	Resources map[string]cfnResource `json:"Resources"`
	Outputs   map[string]struct {
		Value any `json:"Value"`
	} `json:"Outputs"`
}

type cfnResource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	Metadata            map[string]any `json:"Metadata"`
	DependsOn           any            `json:"DependsOn"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
}

// ofType returns the logical ids of the resources of type typ, sorted.
func (t cfnTemplate) ofType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// only returns the one resource of type typ.
func (t cfnTemplate) only(tb testing.TB, typ string) (string, cfnResource) {
	tb.Helper()
	ids := t.ofType(typ)
	if len(ids) != 1 {
		tb.Fatalf("want exactly one %s, have %d", typ, len(ids))
	}
	return ids[0], t.Resources[ids[0]]
}

// function returns the Lambda function made from the Functions entry name
// (found by its FunctionTag).
func (t cfnTemplate) function(tb testing.TB, name string) (string, cfnResource) {
	tb.Helper()
	for _, id := range t.ofType("AWS::Lambda::Function") {
		r := t.Resources[id]
		for _, tag := range list(r.Properties["Tags"]) {
			m := tag.(map[string]any)
			if m["Key"] == FunctionTag && m["Value"] == name {
				return id, r
			}
		}
	}
	tb.Fatalf("no Lambda function tagged %s=%s", FunctionTag, name)
	return "", cfnResource{}
}

// eventSourceMapping returns the one event source mapping of the function
// with logical id fnID.
func (t cfnTemplate) eventSourceMapping(tb testing.TB, fnID string) cfnResource {
	tb.Helper()
	var found []cfnResource
	for _, id := range t.ofType("AWS::Lambda::EventSourceMapping") {
		if r := t.Resources[id]; reflect.DeepEqual(r.Properties["FunctionName"], ref(fnID)) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("function %s has %d event source mappings, want 1", fnID, len(found))
	}
	return found[0]
}

// statement is one IAM policy statement, normalized.
type statement struct {
	Sid       string
	Actions   []string
	Resources []any
	Condition any
}

// roleStatements returns every statement of the role's inline policies and of
// the AWS::IAM::Policy resources attached to it, and the role itself.
func (t cfnTemplate) roleStatements(tb testing.TB, roleID string) ([]statement, cfnResource) {
	tb.Helper()
	role, ok := t.Resources[roleID]
	if !ok || role.Type != "AWS::IAM::Role" {
		tb.Fatalf("%s is not a role of the template", roleID)
	}
	var docs []any
	for _, p := range list(role.Properties["Policies"]) {
		docs = append(docs, p.(map[string]any)["PolicyDocument"])
	}
	for _, id := range t.ofType("AWS::IAM::Policy") {
		p := t.Resources[id].Properties
		for _, r := range list(p["Roles"]) {
			if reflect.DeepEqual(r, ref(roleID)) {
				docs = append(docs, p["PolicyDocument"])
			}
		}
	}
	var sts []statement
	for _, d := range docs {
		for _, s := range list(d.(map[string]any)["Statement"]) {
			m := s.(map[string]any)
			if m["Effect"] != "Allow" {
				tb.Errorf("role %s: unexpected %v statement", roleID, m["Effect"])
			}
			st := statement{Condition: m["Condition"], Resources: list(m["Resource"])}
			st.Sid, _ = m["Sid"].(string)
			for _, a := range list(m["Action"]) {
				st.Actions = append(st.Actions, a.(string))
			}
			sts = append(sts, st)
		}
	}
	return sts, role
}

// list returns v as a list: CloudFormation allows a single value or a list.
func list(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

func ref(id string) any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

// refersTo reports whether v (any template value) contains a Ref or GetAtt of
// logical id.
func refersTo(v any, id string) bool {
	switch v := v.(type) {
	case map[string]any:
		if v["Ref"] == id {
			return true
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) > 0 && ga[0] == id {
			return true
		}
		for _, x := range v {
			if refersTo(x, id) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(v, func(x any) bool { return refersTo(x, id) })
	}
	return false
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// check runs an assertions-library check, which panics (through jsii) on
// mismatch, and turns the panic into a test error.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s:\n%v", what, r)
		}
	}()
	assertion()
}

// stages runs fn for the dev and the prod stack as subtests.
func stages(t *testing.T, fn func(t *testing.T, s *synthStack, stage Stage)) {
	for _, name := range []string{"dev", "prod"} {
		t.Run(name, func(t *testing.T) { fn(t, synthesized[name], Stages[name]) })
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
