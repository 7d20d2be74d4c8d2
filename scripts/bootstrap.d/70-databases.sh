# Databases (issue 10): the tests run real PostgreSQL, MariaDB (MySQL protocol) and Redis
# servers from these packages, each started by the test suite in a temporary directory on a
# free loopback port (tests/dbservers.py), never the system's own instances. The packages
# bring the clients the tests use too: psql (postgresql-client), mariadb (mariadb-client),
# redis-cli (redis-tools).
DB_APT_PACKAGES=(postgresql mariadb-server redis-server)
APT_PACKAGES+=("${DB_APT_PACKAGES[@]}")
POST_INSTALL+=(databases_no_system_services)

# Packages of this file that are not installed yet when bootstrap starts (read only here):
# the services they bring are the ones this run installs, and the only ones it stops.
DB_NEWLY_INSTALLED=()
for _pkg in "${DB_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$_pkg" 2>/dev/null | grep -q 'install ok installed' || DB_NEWLY_INSTALLED+=("$_pkg")
done
unset _pkg

# Debian's postinst scripts start and enable the system services (unless a policy-rc.d
# forbids it, as in most containers). The tests start their own instances: stop and disable
# those this run installed, so nothing listens on 5432/3306/6379 behind the tests' back. A
# machine whose admin had installed them before keeps its services as they are.
databases_no_system_services() {
  local pkg svc sudo=""
  [ ${#DB_NEWLY_INSTALLED[@]} -gt 0 ] || return 0
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  for pkg in "${DB_NEWLY_INSTALLED[@]}"; do
    case $pkg in
      postgresql) svc=postgresql ;;
      mariadb-server) svc=mariadb ;;
      redis-server) svc=redis-server ;;
      *) continue ;;
    esac
    if [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
    else
      $sudo service "$svc" stop >/dev/null 2>&1 || true
      $sudo update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
    log "$pkg installed; its system service ($svc) is stopped and disabled: the tests run their own"
  done
}
