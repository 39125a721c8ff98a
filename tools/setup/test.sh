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
