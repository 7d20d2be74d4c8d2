# Filebeat, to run the generated filebeat.yml: `filebeat test config` for each output and
# the real pipeline (parsers, the ECS renames) over the service's real log lines. No
# Filebeat 9 can be had here (its images and packages come from Elastic's own servers;
# from 8.0 on the beats tags are no versions of its /v7 module path, and the module proxy
# here refused v9.1.0, the 9.1 branch and main), so this builds the
# newest 7.17 release from the module proxy: the same config format, inputs, parsers,
# processors and output options the generated file uses. `go install` refuses a module
# with replace directives, so it is built inside a copy of the module.
FILEBEAT_MODULE="github.com/elastic/beats/v7@v7.17.29"
POST_INSTALL+=(filebeat_build)

filebeat_build() {
  local bin="$TOOLS_BIN/filebeat" marker="$TOOLS_BIN/.filebeat.version" dir tmp
  if [ -x "$bin" ] && [ "$(cat "$marker" 2>/dev/null)" = "$FILEBEAT_MODULE" ]; then
    return 0
  fi
  log "building filebeat from $FILEBEAT_MODULE (a few minutes, once)"
  dir=$(go mod download -json "$FILEBEAT_MODULE" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  tmp=$(mktemp -d)
  cp -r "$dir/." "$tmp/"
  chmod -R u+w "$tmp"
  (cd "$tmp" && GOFLAGS=-buildvcs=false go build -trimpath -o "$bin.new" ./filebeat)
  mv "$bin.new" "$bin"
  echo "$FILEBEAT_MODULE" > "$marker"
  rm -rf "$tmp"
}
