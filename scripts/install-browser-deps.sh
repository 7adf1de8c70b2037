#!/usr/bin/env bash
# What the MCP Apps browser tests need besides Python packages: Debian's Chromium (apt) and the npm packages pinned
# in tests/browser/package-lock.json, installed into a cache folder. Afterwards the tests run offline.
# Re-running is cheap: npm runs only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

deps="${KLING_MCP_BROWSER_DEPS:-$HOME/.cache/kling-mcp/browser-deps}"

if [ ! -x "${KLING_MCP_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "installing chromium (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

mkdir -p "$deps"
if ! cmp -s tests/browser/package-lock.json "$deps/package-lock.json" || [ ! -d "$deps/node_modules" ]; then
  echo "installing npm packages for the browser tests into $deps"
  cp tests/browser/package.json tests/browser/package-lock.json "$deps/"
  # esbuild's own install script only re-checks its binary, which npm installs as @esbuild/<platform>.
  (cd "$deps" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
