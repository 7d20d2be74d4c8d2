# The Elastic Common Schema, the field names and types Elasticsearch expects of log events:
# tests/test_deploy_e2e.py checks the service's real log lines, as the generated Filebeat
# config renames them, against it (no field where ECS has an object, each ECS field with
# its type). The schema ships in the @elastic/ecs npm package (generated/ecs_flat.js);
# node writes it out as JSON once per pinned version.
ECS_NPM_PACKAGE="@elastic/ecs@9.4.0"
POST_INSTALL+=(ecs_schema)

ecs_schema() {
  local dir="$TOOLS_BIN/../ecs" out tmp
  out="$dir/ecs_flat.json"
  if [ -s "$out" ] && [ "$(cat "$dir/.version" 2>/dev/null)" = "$ECS_NPM_PACKAGE" ]; then
    return 0
  fi
  command -v npm >/dev/null || { log "npm is needed for the ECS schema"; return 1; }
  mkdir -p "$dir"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$ECS_NPM_PACKAGE" >/dev/null 2>&1 && tar xzf ./*.tgz)
  node -e 'const m = require(process.argv[1]); process.stdout.write(JSON.stringify(m.EcsFlat))' \
    "$tmp/package/generated/ecs_flat.js" > "$out.new"
  mv "$out.new" "$out"
  echo "$ECS_NPM_PACKAGE" > "$dir/.version"
  rm -rf "$tmp"
  log "ECS schema ($ECS_NPM_PACKAGE) in $out"
}
