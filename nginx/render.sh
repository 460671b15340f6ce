#!/bin/sh
# Renders nginx/parley.conf.template into an nginx.conf, substituting only
# Parley's variables (nginx's own, like $host, stay). Used by scripts/run,
# scripts/test and the nginx container alike, so all three run the same
# config. Every variable must be set (it may be empty where noted):
#   NGINX_LISTEN       address:port to listen on
#   WEBSITE_UPSTREAM   an "upstream website { ... }" block, or empty
#   WEBSITE_BACKEND    where / goes: http://website (the block above) or
#                      http://HOST:PORT, re-resolved through NGINX_RESOLVER
#   CHAT_UPSTREAM      an "upstream chat { ... }" block, or empty
#   CHAT_BACKEND       where /ws goes, likewise
#   NGINX_RESOLVER     a "resolver ...;" directive, or empty
#   STATIC_ROOT        the website's static files (served as /static/)
#   NGINX_RUNTIME_DIR  pid file, logs and temp files
# and optionally:
#   NGINX_CONN_PER_ADDRESS  open connections one client address may hold (100)
#   NGINX_BODY_MAX          the largest request body nginx passes on (64k, the website's limit)
#   NGINX_UPLOAD_MAX        the largest upload request (256m: UPLOAD_MAX_FILES
#                           files of UPLOAD_MAX_BYTES each, with room to spare)
#   NGINX_TRUSTED_PROXIES   comma-separated addresses/CIDRs of the proxies in
#                           front (a TLS terminator) whose X-Forwarded-For names
#                           the client; empty: the peer is the client
#   NGINX_REQ_PER_SEC, NGINX_REQ_BURST  requests per second one client address
#                           may make to the website, and at once (20, 40)
#   NGINX_WS_PER_SEC, NGINX_WS_BURST    WebSocket upgrades likewise (2, 10)
# usage: render.sh TEMPLATE OUT
set -eu
[ $# -eq 2 ] || { echo "usage: render.sh TEMPLATE OUT" >&2; exit 2; }
names="NGINX_LISTEN WEBSITE_UPSTREAM WEBSITE_BACKEND CHAT_UPSTREAM CHAT_BACKEND NGINX_RESOLVER STATIC_ROOT NGINX_RUNTIME_DIR"
list=""
for name in $names; do
  is_set=$(eval "echo \${$name+set}")
  [ "$is_set" = set ] || { echo "render.sh: $name is not set" >&2; exit 2; }
  list="$list \${$name}"
done
NGINX_CONN_PER_ADDRESS=${NGINX_CONN_PER_ADDRESS:-100}
case $NGINX_CONN_PER_ADDRESS in
  '' | *[!0-9]* | 0) echo "render.sh: NGINX_CONN_PER_ADDRESS must be a positive number" >&2; exit 2 ;;
esac
export NGINX_CONN_PER_ADDRESS
list="$list \${NGINX_CONN_PER_ADDRESS}"
NGINX_BODY_MAX=${NGINX_BODY_MAX:-64k}
case $NGINX_BODY_MAX in
  '' | *[!0-9kKmM]* | [kKmM]*) echo "render.sh: NGINX_BODY_MAX must be a size such as 64k" >&2; exit 2 ;;
esac
export NGINX_BODY_MAX
list="$list \${NGINX_BODY_MAX}"
NGINX_UPLOAD_MAX=${NGINX_UPLOAD_MAX:-256m}
case $NGINX_UPLOAD_MAX in
  '' | *[!0-9kKmMgG]* | [kKmMgG]*) echo "render.sh: NGINX_UPLOAD_MAX must be a size such as 256m" >&2; exit 2 ;;
esac
export NGINX_UPLOAD_MAX
list="$list \${NGINX_UPLOAD_MAX}"
positive() { # NAME DEFAULT: exports NAME (default if unset), a positive number
  value=$(eval "echo \${$1:-$2}")
  case $value in
    '' | *[!0-9]* | 0) echo "render.sh: $1 must be a positive number" >&2; exit 2 ;;
  esac
  export "$1=$value"
  list="$list \${$1}"
}
positive NGINX_REQ_PER_SEC 20
positive NGINX_REQ_BURST 40
positive NGINX_WS_PER_SEC 2
positive NGINX_WS_BURST 10
# One set_real_ip_from per trusted proxy: then $remote_addr, and with it
# X-Real-IP and every per-address limit, is the client the proxy names.
NGINX_REAL_IP=""
for proxy in $(echo "${NGINX_TRUSTED_PROXIES:-}" | tr ',' ' '); do
  case $proxy in
    *[!0-9a-fA-F.:/]*) echo "render.sh: NGINX_TRUSTED_PROXIES: '$proxy' is not an address or CIDR" >&2; exit 2 ;;
  esac
  NGINX_REAL_IP="${NGINX_REAL_IP}set_real_ip_from $proxy; "
done
[ -z "$NGINX_REAL_IP" ] || NGINX_REAL_IP="${NGINX_REAL_IP}real_ip_header X-Forwarded-For; real_ip_recursive on;"
export NGINX_REAL_IP
list="$list \${NGINX_REAL_IP}"
mkdir -p "$(dirname "$2")" "$NGINX_RUNTIME_DIR"
envsubst "$list" <"$1" >"$2.tmp"
mv "$2.tmp" "$2"
