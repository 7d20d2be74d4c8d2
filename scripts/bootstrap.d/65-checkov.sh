# checkov (issue 6): a second policy checker for the Kubernetes manifests, the Dockerfile
# and the GitHub Actions workflows (tests/test_checkov.py), run offline.
# It lives in its own venv, not in .venv: checkov pins packaging<24 and pytest 9 needs
# packaging>=24, so one resolver cannot satisfy both. The venv sits next to the Go tools
# and $TOOLS_BIN/checkov links to its entry point.
CHECKOV_SPEC="checkov==3.3.30"
POST_INSTALL+=(checkov_venv)

checkov_venv() {
  local venv marker
  venv="$(dirname "$TOOLS_BIN")/checkov-venv"
  marker="$venv/.bootstrap-spec"
  if [ ! -x "$venv/bin/checkov" ] || [ "$(cat "$marker" 2>/dev/null)" != "$CHECKOV_SPEC" ]; then
    log "pip install $CHECKOV_SPEC into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$CHECKOV_SPEC"
    echo "$CHECKOV_SPEC" > "$marker"
  fi
  ln -sf "$venv/bin/checkov" "$TOOLS_BIN/checkov"
}
