// Command imports is the Lambda function that runs bulk imports of members
// from the files partners upload (the imports queue, fed by the bucket's
// event notifications). Wiring only: the logic is in shared/imports.
package main

import (
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/startup"
)

func main() { startup.TableConfig(imports.Lambda) }
