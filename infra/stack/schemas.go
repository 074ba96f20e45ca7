package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventschemas"
	"github.com/aws/jsii-runtime-go"

	"github.com/accrue/accrue/shared/eventschema"
)

// SchemaType is the Type of every registered schema. An EventBridge registry
// takes "OpenApi3" or "JSONSchemaDraft4" (AWS::EventSchemas::Schema), not
// JSON Schema 2020-12: the catalogue's schemas are converted to draft 4
// (eventschema.Schema.EventBridgeDraft4, which wraps each in the EventBridge
// envelope it arrives in), from the same embedded files the API serves.
const SchemaType = "JSONSchemaDraft4"

// SchemaName is the registry name of a version of an event type's schema:
// EventBridge's "source@detail-type" naming, with the version, e.g.
// accrue@points.earned-v1.
func SchemaName(s eventschema.Schema) string {
	return fmt.Sprintf("%s@%s-v%d", eventschema.Source, s.Type, s.Version)
}

// newSchemaRegistry registers the event catalogue (shared/eventschema) in an
// EventBridge schema registry accrue-<stage>: one schema per version of each
// event type. The registry versions each schema itself on every change of its
// content (a deploy after an additive change of the catalogue).
func newSchemaRegistry(stack awscdk.Stack, stage Stage) awseventschemas.CfnRegistry {
	reg := awseventschemas.NewCfnRegistry(stack, jsii.String("EventSchemaRegistry"), &awseventschemas.CfnRegistryProps{
		RegistryName: jsii.String("accrue-" + stage.Name),
		Description:  jsii.String("Accrue's domain events (bus accrue-" + stage.Name + "): one schema per event type and version"),
	})
	for _, s := range eventschema.All() {
		content, err := s.EventBridgeDraft4()
		if err != nil {
			panic(fmt.Sprintf("event schema %s: %v", s.URI, err))
		}
		awseventschemas.NewCfnSchema(stack, jsii.String(fmt.Sprintf("EventSchema%sV%d", eventschema.DefinitionName(s.Type), s.Version)), &awseventschemas.CfnSchemaProps{
			RegistryName: reg.AttrRegistryName(),
			SchemaName:   jsii.String(SchemaName(s)),
			Type:         jsii.String(SchemaType),
			Content:      jsii.String(string(content)),
			Description:  jsii.String(fmt.Sprintf("%s v%d (%s)", s.Type, s.Version, s.URI)),
		})
	}
	return reg
}
