# Accrue — developer entry points. `make help` lists the targets.
#
# Tests run against real emulators (SPEC §9): DynamoDB Local (Java, from the
# npm package amplify-dynamodb-simulator) and moto_server. cmd/testenv starts
# both on free ports of 127.0.0.1, runs `go test` with their endpoints in the
# environment, and stops them afterwards.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO       ?= go
PKGS     ?= ./...
# Extra flags for go test, e.g. make test GOTESTFLAGS='-run TestLedger -v'
GOTESTFLAGS ?=
# How long each benchmark runs (make bench).
BENCHTIME ?= 3s

TESTENV  := bin/testenv
DDB_JAR  := .local/dynamodb-local/DynamoDBLocal.jar

TEST_FLAGS := -race -count=1
ifeq ($(CI),true)
TEST_FLAGS += -timeout 12m
endif

GO_MOD_VERSION := $(shell sed -n 's/^go \([0-9][0-9.]*\).*/\1/p' go.mod)

.PHONY: help
help: ## List the targets
	@echo "Usage: make TARGET"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: PKGS=$(PKGS)  GOTESTFLAGS='$(GOTESTFLAGS)'  CI=$(CI)"

.PHONY: test
test: check-go lint tools testenv ## Lint, then run every test against DynamoDB Local + moto (-race; -timeout 12m when CI=true)
	$(TESTENV) -- $(GO) test $(TEST_FLAGS) $(GOTESTFLAGS) $(PKGS)

# make lint: what make test checks first. go vet and staticcheck look at
# $(PKGS) (every package unless narrowed); gofmt and go mod tidy at the whole
# module. staticcheck is pinned by the tool directive in go.mod (go tool runs
# that version: no separate install).
.PHONY: lint
lint: check-go fmt-check tidy-check vet staticcheck ## gofmt check, go mod tidy -diff, go vet and staticcheck (pinned in go.mod)

.PHONY: staticcheck
staticcheck: check-go ## Run staticcheck (the version go.mod's tool directive pins)
	$(GO) tool staticcheck $(PKGS)

.PHONY: tidy-check
tidy-check: check-go ## Fail if go.mod / go.sum are not tidy (go mod tidy -diff)
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy (run go mod tidy):"; $(GO) mod tidy -diff; exit 1; }

.PHONY: bench
bench: check-go tools testenv ## Run the benchmarks against the emulators; write BENCHMARKS.md and BENCHMARKS.json
	@mkdir -p .local
	$(TESTENV) -- $(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) -timeout 60m $(GOTESTFLAGS) ./shared/... | tee .local/bench.txt
	@# The ingest/bare ratio is the median of 5 pairs, each pair run back to back.
	for i in 1 2 3 4; do $(TESTENV) -- $(GO) test -run='^$$' -bench='^Benchmark(Ingest|BareTransaction|BareTransactionInFlight)$$' -benchtime=$(BENCHTIME) ./shared/ingest; done | tee -a .local/bench.txt
	$(GO) run ./cmd/benchreport -in .local/bench.txt -out BENCHMARKS.md -cmd "make bench BENCHTIME=$(BENCHTIME)"
	@cat BENCHMARKS.md

GO_FILES = $$(find . -name '*.go' -not -path './.local/*' -not -path '*/node_modules/*' -not -path './cdk.out/*')

# make dev: the whole system on this machine (see README). ADDR, FRESH=1,
# WEBHOOK_SCHEDULE=5s,30s,2m (the webhook retries' waits; default AWS's).
ADDR ?= 127.0.0.1:8080
WEBHOOK_SCHEDULE ?=
.PHONY: dev
dev: check-go tools ## Run the whole system locally: emulators, API on $(ADDR), queue consumer, schedules (Ctrl-C stops)
	@$(GO) build -o bin/accrue-local ./cmd/accrue-local
	bin/accrue-local -addr $(ADDR) $(if $(FRESH),-fresh,) $(if $(WEBHOOK_SCHEDULE),-webhook-schedule $(WEBHOOK_SCHEDULE),)

.PHONY: invoke
invoke: check-go ## Run one handler on a sample event against a running make dev: make invoke FN=ingest EVENT=events/sqs-payment.json
	@[[ -n "$(FN)" && -n "$(EVENT)" ]] || { echo "usage: make invoke FN=<function> EVENT=events/<file>.json" >&2; exit 2; }
	@$(GO) run ./cmd/accrue-local -invoke $(FN) -event $(EVENT)

# ---- Lambda binaries and the CDK stack (infra/, SPEC §8) --------------------
# make build: every functions/<name>/ into bin/lambda/<name>/bootstrap, the
# provided.al2023 arm64 layout the stack deploys. make synth runs offline once
# the pinned cdk CLI is installed (infra/package-lock.json, into .local/).
STAGE      ?= dev
LAMBDA_DIR := bin/lambda
FUNCTIONS   = $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
CDK        := .local/node_modules/.bin/cdk
# jsii (the CDK's Go bindings run on Node.js) warns about Node 20 on every run.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION ?= 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
# Offline synth: no version check, telemetry or EC2 metadata lookups.
CDK_OFFLINE := CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
# Partners' own event buses their events are forwarded to (README, "Events for
# partners"): PARTNER_BUSES='{"telco":"arn:aws:events:REGION:ACCOUNT:event-bus/NAME"}'.
PARTNER_BUSES ?=
CDK_CONTEXT = -c stage=$(STAGE) $(if $(PARTNER_BUSES),-c partnerBuses='$(PARTNER_BUSES)',)

.PHONY: build
build: check-go ## Build the Lambda binaries into bin/lambda/<function>/bootstrap (linux/arm64)
	@for fn in $(FUNCTIONS); do \
		echo "go build ./functions/$$fn -> $(LAMBDA_DIR)/$$fn/bootstrap"; \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
			-o $(LAMBDA_DIR)/$$fn/bootstrap ./functions/$$fn; \
	done

$(CDK): infra/package.json infra/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm not found: install Node.js 20+ and npm (the cdk CLI comes from the npm registry)" >&2; exit 1; }
	@mkdir -p .local
	cp infra/package.json infra/package-lock.json .local/
	cd .local && npm ci --no-audit --no-fund --loglevel=error
	@touch $(CDK)

.PHONY: cdk-cli
cdk-cli: $(CDK) ## Install the pinned AWS CDK CLI into .local/node_modules (once; npm registry)

.PHONY: synth
synth: build cdk-cli ## Synthesize the stack into cdk.out/ (offline): STAGE=dev|prod [PARTNER_BUSES=...]
	$(CDK_OFFLINE) $(CDK) synth --quiet --no-notices $(CDK_CONTEXT)
	@echo "cdk.out/accrue-$(STAGE).template.json"

.PHONY: cdk-test
cdk-test: check-go ## Run the infra tests only (CDK assertions, cfn-lint; no emulators)
	$(GO) test -count=1 $(GOTESTFLAGS) ./infra/...

.PHONY: diff
diff: build cdk-cli ## Show what cdk deploy would change in your AWS account: STAGE=dev|prod
	$(CDK) diff $(CDK_CONTEXT)

.PHONY: deploy
deploy: build cdk-cli ## Deploy the stack with your AWS credentials: STAGE=dev|prod [ALARM_EMAIL=...] [PARTNER_BUSES=...]
	$(CDK) deploy $(CDK_CONTEXT) $(if $(ALARM_EMAIL),-c alarmEmail=$(ALARM_EMAIL),)

# make generate: what is made from the sources of truth: the Go client from
# shared/api/openapi.json (oapi-codegen, pinned by go.mod's tool directive,
# through cmd/openapi30's OpenAPI 3.0 view) and docs/problems.md from the
# problem table of shared/api/problem.go. Tests fail while either is stale.
.PHONY: generate
generate: check-go ## Regenerate shared/client/client.gen.go and docs/problems.md
	$(GO) generate ./shared/client
	$(GO) test ./shared/api -run '^TestProblemsDoc$$' -count=1 -args -update

.PHONY: fmt
fmt: ## Format the Go code (gofmt -s -w)
	@gofmt -s -w $(GO_FILES)

.PHONY: fmt-check
fmt-check: ## List Go files that need gofmt; fail if any
	@out=$$(gofmt -s -l $(GO_FILES)); [[ -z "$$out" ]] || { echo "needs gofmt (run make fmt):"; echo "$$out"; exit 1; }

.PHONY: vet
vet: check-go ## Run go vet
	$(GO) vet $(PKGS)

.PHONY: tools
tools: ## Install/check the test tools: DynamoDB Local (into .local/), java, moto_server
	@scripts/fetch-dynamodb-local.sh
	@command -v moto_server >/dev/null || { echo "make: moto_server not found: pip install 'moto[server]'" >&2; exit 1; }

# Built rather than `go run`: go run turns every non-zero exit into 1 and does
# not pass SIGTERM on, while testenv forwards signals and returns the tests'
# own exit code. go build's cache makes this a no-op when nothing changed.
.PHONY: testenv
testenv: check-go
	@$(GO) build -o $(TESTENV) ./cmd/testenv

.PHONY: clean
clean: ## Remove build output, emulator logs and the DynamoDB Local install (.local/)
	rm -rf bin/ cdk.out/ .local/
	$(GO) clean -testcache

.PHONY: check-go
check-go:
	@command -v $(GO) >/dev/null || { echo "make: go not found: install Go $(GO_MOD_VERSION) or newer (https://go.dev/dl/)" >&2; exit 1; }
	@have=$$($(GO) env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9][0-9.]*\).*/\1/p'); want="$(GO_MOD_VERSION)"; \
		if [[ -z "$$have" ]] || [[ "$$(printf '%s\n%s\n' "$$want" "$$have" | sort -V | head -n1)" != "$$want" ]]; then \
			echo "make: this repo needs Go $$want or newer (go.mod), but '$(GO)' is $${have:-unknown}: install Go $$want+ (https://go.dev/dl/)" >&2; exit 1; \
		fi
