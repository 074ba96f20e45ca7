// Package jsiienv quiets jsii's Node.js version warnings. Import it for its
// side effect, blank, from every package that uses the CDK:
//
//	import _ "github.com/accrue/accrue/infra/internal/jsiienv"
//
// The jsii runtime starts its Node.js process while the CDK packages
// initialize, before main or TestMain run, so the variables must be set by an
// init function that runs earlier. Go initializes ready packages in import
// path order (spec, "Package initialization"), and this package (only "os")
// sorts before github.com/aws/..., so its init runs first.
//
// Node 20 is what the machines here have. jsii deprecated it, then declared it
// end-of-life (2026-10-30); it still works. Variables already set in the
// environment win.
package jsiienv

import "os"

func init() {
	for k, v := range map[string]string{
		"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION":  "1",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
	} {
		if _, ok := os.LookupEnv(k); !ok {
			os.Setenv(k, v)
		}
	}
}
