package stack

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventschemas"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/accrue/accrue/shared/eventschema"
	"github.com/accrue/accrue/shared/payment"
	"github.com/accrue/accrue/shared/queue"
)

// PartnerBus is a partner's own EventBridge bus, in the partner's AWS
// account, that receives the partner's domain events: the stack forwards
// them there with a rule on Accrue's bus, and the partner subscribes with
// rules on its own bus.
//
// Why Accrue's rule and not the partner's: EventBridge lets another account
// create rules on a bus (through the bus's resource policy), but nothing in
// that policy can restrict a rule's pattern to one partner's events (its
// condition keys name the source and detail-type, not detail.partner_id), so
// a partner's rule on Accrue's bus could read every partner's events.
type PartnerBus struct {
	// Partner is the partner id (payment.ValidPartnerID).
	Partner string
	// BusArn is arn:aws:events:<region>:<account>:event-bus/<name>.
	BusArn string
}

// PartnerBusesContext is the CDK context key of the partner buses: a JSON
// object, partner id → bus ARN (cdk.json, or -c partnerBuses='{...}').
const PartnerBusesContext = "partnerBuses"

var busArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:events:[a-z0-9-]+:([0-9]{12}):event-bus/[A-Za-z0-9._\-]{1,256}$`)

// ParsePartnerBuses reads the partnerBuses context value (nil: none): a JSON
// object of partner id → bus ARN, given as an object (cdk.json) or as a
// string holding one (-c on the command line).
func ParsePartnerBuses(v any) ([]PartnerBus, error) {
	var m map[string]string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		if err := json.Unmarshal([]byte(x), &m); err != nil {
			return nil, fmt.Errorf("%s: want a JSON object of partner id → event bus ARN: %w", PartnerBusesContext, err)
		}
	case map[string]any:
		m = map[string]string{}
		for k, a := range x {
			s, ok := a.(string)
			if !ok {
				return nil, fmt.Errorf("%s.%s: want an event bus ARN, got %v", PartnerBusesContext, k, a)
			}
			m[k] = s
		}
	default:
		return nil, fmt.Errorf("%s: want a JSON object of partner id → event bus ARN, got %T", PartnerBusesContext, v)
	}
	var out []PartnerBus
	for p, arn := range m {
		out = append(out, PartnerBus{Partner: p, BusArn: arn})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partner < out[j].Partner })
	return out, ValidatePartnerBuses(out)
}

// ValidatePartnerBuses checks each partner id and bus ARN, and that no partner
// is listed twice.
func ValidatePartnerBuses(buses []PartnerBus) error {
	seen := map[string]bool{}
	for _, b := range buses {
		switch {
		case !payment.ValidPartnerID(b.Partner):
			return fmt.Errorf("%s: %q is not a partner id (lower-case letters, digits and dashes, 2 to 63)", PartnerBusesContext, b.Partner)
		case !busArnRE.MatchString(b.BusArn):
			return fmt.Errorf("%s.%s: %q is not an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)", PartnerBusesContext, b.Partner, b.BusArn)
		case seen[b.Partner]:
			return fmt.Errorf("%s: partner %s listed twice", PartnerBusesContext, b.Partner)
		}
		seen[b.Partner] = true
	}
	return nil
}

// PartnerEventPattern is the pattern of a partner's forwarding rule: Accrue's
// events of that partner, and nothing else.
func PartnerEventPattern(partner string) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source: jsii.Strings(eventschema.Source),
		Detail: &map[string]any{"partner_id": []any{partner}},
	}
}

// newPartnerForwarding forwards each partner's events to its bus: per
// partner, a rule on Accrue's bus matching only that partner's events, whose
// target is the partner's bus, put with a role of its own that may
// events:PutEvents on that one bus. What EventBridge cannot deliver after its
// retries (24 hours; at once when the partner's bus refuses: its policy does
// not allow the role) goes to PartnerEventsDLQ, which is alarmed. The
// partners' accounts may also read the schema registry (and so download code
// bindings). Nothing is created without partner buses.
func (r *resources) newPartnerForwarding(buses []PartnerBus, registry awseventschemas.CfnRegistry) {
	if len(buses) == 0 {
		return
	}
	stack := r.stack
	r.partnerDLQ = awssqs.NewQueue(stack, jsii.String("PartnerEventsDLQ"), &awssqs.QueueProps{
		RetentionPeriod: duration(queue.DLQRetention),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	suppress(r.partnerDLQ, "AwsSolutions-SQS3", nagPartnerEventsDLQ)
	var accounts []string
	for _, b := range buses {
		id := "PartnerBus" + constructID(b.Partner)
		// The target grants it events:PutEvents on the partner's bus, and
		// nothing else (its default policy).
		role := awsiam.NewRole(stack, jsii.String(id+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
			Description: jsii.String("Puts partner " + b.Partner + "'s Accrue events on its own event bus " + b.BusArn),
		})
		r.partnerRoles = append(r.partnerRoles, partnerRole{partner: b.Partner, role: role})
		awsevents.NewRule(stack, jsii.String(id+"Rule"), &awsevents.RuleProps{
			EventBus:     r.bus,
			Description:  jsii.String("Partner " + b.Partner + "'s events, to its event bus"),
			EventPattern: PartnerEventPattern(b.Partner),
			Targets: &[]awsevents.IRuleTarget{awseventstargets.NewEventBus(
				awsevents.EventBus_FromEventBusArn(stack, jsii.String(id), jsii.String(b.BusArn)),
				&awseventstargets.EventBusProps{Role: role, DeadLetterQueue: r.partnerDLQ},
			)},
		})
		accounts = append(accounts, busArnRE.FindStringSubmatch(b.BusArn)[1])
	}
	sort.Strings(accounts)
	principals := []any{}
	for i, a := range accounts {
		if i == 0 || accounts[i-1] != a {
			principals = append(principals, "arn:"+*awscdk.Aws_PARTITION()+":iam::"+a+":root")
		}
	}
	registryArn := fmt.Sprintf("arn:%s:schemas:%s:%s:registry/%s", *awscdk.Aws_PARTITION(), *stack.Region(), *stack.Account(), *registry.AttrRegistryName())
	schemaArns := fmt.Sprintf("arn:%s:schemas:%s:%s:schema/%s/*", *awscdk.Aws_PARTITION(), *stack.Region(), *stack.Account(), *registry.AttrRegistryName())
	awseventschemas.NewCfnRegistryPolicy(stack, jsii.String("EventSchemaRegistryPartners"), &awseventschemas.CfnRegistryPolicyProps{
		RegistryName: registry.AttrRegistryName(),
		Policy: map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Sid":       "PartnersReadTheCatalogue",
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": principals},
				"Action":    RegistryReadActions,
				"Resource":  []any{registryArn, schemaArns},
			}},
		},
	})
}

// RegistryReadActions are what partners' accounts may do in the schema
// registry: read it, its schemas and their versions, and their code bindings.
var RegistryReadActions = []any{
	"schemas:DescribeRegistry", "schemas:ListSchemas", "schemas:SearchSchemas",
	"schemas:DescribeSchema", "schemas:ListSchemaVersions", "schemas:ExportSchema",
	"schemas:DescribeCodeBinding", "schemas:GetCodeBindingSource",
}

type partnerRole struct {
	partner string
	role    awsiam.Role
}
