#!/usr/bin/env bash
# `npm test`: installs what the tests need, checks generated code, builds,
# lints, typechecks, then runs every test (unit, then e2e on real kernels).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/setup/prereqs.sh
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
echo "== codegen is up to date"
bash tools/codegen/generate.sh
git diff --exit-code --stat -- libs/api/src/gen || { echo "libs/api/src/gen is stale: run npm run codegen and commit"; exit 1; }
echo "== proto/ stays compatible with the last release (wire and JSON)"
release=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)
if [ -n "$release" ]; then
  npx buf breaking --against ".git#tag=$release"
  echo "buf breaking: compatible with $release"
else
  echo "buf breaking: NOT CHECKED, this clone has no release tag (git fetch --tags)"
fi
echo "== build, lint, typecheck"
npx nx run-many -t build lint typecheck --outputStyle=static
echo "== tests"
report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`svcnet tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
rm -f "$report"
exit $status
