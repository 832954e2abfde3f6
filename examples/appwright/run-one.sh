#!/usr/bin/env bash
# Run ONE spec file through AppWright, the way qgjob does it.
#   ./run-one.sh tests/smoke/math.spec.js local /tmp/out
# Writes OUT_DIR/report.json (Playwright JSON) and OUT_DIR/junit.xml.
# Exit code: 0 = all passed, 1 = anything else (AppWright maps every non-zero to 1).
set -euo pipefail
spec=$1; project=$2; out=$(realpath -m "$3")
cd "$(dirname "$0")"                 # appwright.config.ts and npx resolve from cwd
abs=$(realpath -m "$spec")
case "$abs$out" in *" "*) echo "paths must not contain spaces (appwright splits argv on ' ')" >&2; exit 2;; esac
# Playwright treats the file argument as a case-insensitive regex over the
# absolute path: escape it and anchor both ends so only this file matches.
re="^$(printf '%s' "$abs" | sed 's/[][\\.*^$()+?{}|]/\\&/g')\$"
mkdir -p "$out"
PLAYWRIGHT_JSON_OUTPUT_FILE="$out/report.json" \
PLAYWRIGHT_JUNIT_OUTPUT_FILE="$out/junit.xml" \
exec ./node_modules/.bin/appwright test "$re" --project "$project" \
  --workers=1 --retries=0 --reporter=list,json,junit --output="$out/artifacts"
