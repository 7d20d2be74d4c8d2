# Elasticsearch's API types, to check the generated index template and ILM policy
# (deploy/logstash/, tests/test_logstash.py) without an Elasticsearch: the official
# JavaScript client's request types are generated from Elasticsearch's API specification,
# and TypeScript's compiler checks the two JSON files against them (an unknown key, a
# misspelt field type, a number where a duration goes). Both npm packages are unpacked
# once per pinned version; nothing is installed globally.
ES_TYPES_PACKAGES=("@elastic/elasticsearch@9.5.1" "typescript@5.9.3")
POST_INSTALL+=(es_types)

es_types() {
  local dir="$TOOLS_BIN/../es-types" tmp want
  want="${ES_TYPES_PACKAGES[*]}"
  if [ -s "$dir/typescript/bin/tsc" ] && [ "$(cat "$dir/.version" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  command -v npm >/dev/null || { log "npm is needed for Elasticsearch's API types"; return 1; }
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "${ES_TYPES_PACKAGES[@]}" >/dev/null 2>&1)
  rm -rf "$dir.new" && mkdir -p "$dir.new/elasticsearch" "$dir.new/typescript"
  tar xzf "$tmp"/elastic-elasticsearch-*.tgz -C "$dir.new/elasticsearch" --strip-components=1
  tar xzf "$tmp"/typescript-*.tgz -C "$dir.new/typescript" --strip-components=1
  echo "$want" > "$dir.new/.version"
  rm -rf "$dir" && mv "$dir.new" "$dir"
  rm -rf "$tmp"
  log "Elasticsearch API types and tsc (${want}) in $dir"
}
