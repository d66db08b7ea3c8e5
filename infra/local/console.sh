#!/usr/bin/env bash
# Builds the marketer console (console/) into internal/console/dist/, which
# the api embeds. npm ci installs exactly what console/package-lock.json pins,
# from the npm registry; esbuild bundles. Each step is skipped when its
# inputs did not change, so `make run` and `make test` can call it every time.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "console: $*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  echo "console: npm is needed to build the console: install Node.js 20 (apt-get install nodejs npm) and run make again." >&2
  exit 1
fi

lock=console/package-lock.json
stamp=console/node_modules/.memberflow-lock
if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
  say "installing the console's packages (npm ci, pinned by $lock)"
  (cd console && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$lock" "$stamp"
fi

out=internal/console/dist
built=$out/.built
# Rebuilt also when index.html is gone (a build that failed half-way, or
# dist/ cleaned by hand) though the stamp is newer than every input.
if [ ! -f "$built" ] || [ ! -f "$out/index.html" ] || [ -n "$(find console -path console/node_modules -prune -o -type f -newer "$built" -print -quit)" ]; then
  say "building into $out/"
  (cd console && node build.mjs)
  touch "$built"
fi
