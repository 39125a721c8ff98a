#!/usr/bin/env bash
# Creates the skeleton of one workspace project: package.json, project.json,
# tsconfig.json, README and src/index.ts. Usage: new-project.sh libs/model "scope:x,type:y" "summary"
set -euo pipefail
dir=$1 tags=$2 summary=$3
name=$(basename "$dir")
kind=$(dirname "$dir")
mkdir -p "$dir/src"
root_rel=$(realpath --relative-to="$dir" .)
if [ ! -f "$dir/package.json" ]; then
cat > "$dir/package.json" <<JSON
{
  "name": "@svcnet/$name",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "main": "./src/index.ts",
  "types": "./src/index.ts",
  "exports": { ".": "./src/index.ts" }
}
JSON
fi
tag_json=$(printf '%s' "$tags" | awk -F, '{for(i=1;i<=NF;i++){printf "%s\"%s\"", (i>1?", ":""), $i}}')
if [ ! -f "$dir/project.json" ]; then
cat > "$dir/project.json" <<JSON
{
  "name": "$name",
  "\$schema": "$root_rel/node_modules/nx/schemas/project-schema.json",
  "sourceRoot": "$dir/src",
  "projectType": "$([ "$kind" = apps ] && echo application || echo library)",
  "tags": [$tag_json],
  "targets": {
    "typecheck": { "command": "tsc -p {projectRoot}/tsconfig.json --noEmit" },
    "lint": { "command": "eslint {projectRoot}" },
    "test": { "command": "vitest run --project unit {projectRoot}/" }
  }
}
JSON
fi
[ -f "$dir/tsconfig.json" ] || cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "$root_rel/tsconfig.base.json",
  "include": ["src/**/*.ts"]
}
JSON
[ -f "$dir/README.md" ] || printf '# @svcnet/%s\n\n%s\n' "$name" "$summary" > "$dir/README.md"
[ -f "$dir/src/index.ts" ] || printf '// Public API of @svcnet/%s: named exports only.\nexport {};\n' "$name" > "$dir/src/index.ts"
