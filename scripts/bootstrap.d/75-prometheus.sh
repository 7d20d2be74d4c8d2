# Observability (issue 11): the tests run a real Prometheus (Debian's 2.42) that scrapes the
# generated service's admin port and evaluates every query the generated rules, dashboard
# and canary analysis use (tests/promserver.py, tests/test_observability_e2e.py); promtool
# (same package) checks and unit-tests the rules. Each run starts its own prometheus on a
# free loopback port with a temporary config and storage directory, never the system's.
# The OTLP test receiver (tests/otlp.py) decodes traces with opentelemetry-proto, a
# pyproject.toml test dependency that `pip install -e .[dev]` brings.
PROM_APT_PACKAGES=(prometheus)
APT_PACKAGES+=("${PROM_APT_PACKAGES[@]}")
POST_INSTALL+=(prometheus_no_system_service)

# Whether this run installs it (read before the install): only then is its service ours to stop.
PROM_NEWLY_INSTALLED=()
for _pkg in "${PROM_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$_pkg" 2>/dev/null | grep -q 'install ok installed' || PROM_NEWLY_INSTALLED+=("$_pkg")
done
unset _pkg

# Debian's postinst starts and enables prometheus on :9090 (unless a policy-rc.d forbids it,
# as in most containers), and it would scrape itself and fill /var/lib/prometheus. The tests
# start their own: stop and disable the one this run installed. A machine whose admin had
# installed it before keeps its service as it is.
prometheus_no_system_service() {
  local sudo=""
  [ ${#PROM_NEWLY_INSTALLED[@]} -gt 0 ] || return 0
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  else
    $sudo service prometheus stop >/dev/null 2>&1 || true
    $sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  log "prometheus installed; its system service is stopped and disabled: the tests run their own"
}
