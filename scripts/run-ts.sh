#!/usr/bin/env bash
# Developer helper: run a TypeScript file under plain Node (bundled by esbuild into out/tmp/).
set -euo pipefail
cd "$(dirname "$0")/.."
out="out/tmp/$(basename "${1%.ts}").mjs"
npx esbuild "$1" --bundle --platform=node --format=esm --packages=external --log-level=warning --outfile="$out"
shift
node "$out" "$@"
