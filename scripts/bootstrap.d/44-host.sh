# The bare host's systemd units and deploys over SSH (issue 14). tests/test_systemd.py checks
# the units with systemd-analyze (systemd's own package, there without systemd running) and
# the log rotation with logrotate; tests/test_host_deploy.py deploys over a real sshd on
# loopback (sshd, ssh, scp), checks the sudo rules with visudo and the release script's
# readiness polls use curl, as on a host.
APT_PACKAGES+=(systemd logrotate openssh-server openssh-client sudo curl)
