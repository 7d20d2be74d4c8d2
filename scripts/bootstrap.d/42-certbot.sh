# Certificates on a bare host (issue 14): the generated Nginx serves certbot's HTTP-01
# challenges and deploy/nginx/certbot-deploy-hook.sh reloads it after a renewal.
# tests/test_certbot.py issues and renews a real certificate with Debian's certbot against
# Pebble, Let's Encrypt's ACME test server, whose DNS (pebble-challtestsrv) sends every
# name to 127.0.0.1, where the generated Nginx answers the challenge.
APT_PACKAGES+=(certbot)
GO_TOOLS+=(
  "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1"
  "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.1"
)
