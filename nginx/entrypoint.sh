#!/bin/sh
# The nginx container's entry point: renders the template with the same
# renderer as scripts/run (the values come from the image's ENV and the
# compose file), sends nginx's logs to the container's output, runs nginx.
set -eu
mkdir -p "$NGINX_RUNTIME_DIR"
ln -sf /dev/stderr "$NGINX_RUNTIME_DIR/error.log"
ln -sf /dev/stdout "$NGINX_RUNTIME_DIR/access.log"
parley-render-nginx /etc/parley/parley.conf.template "$NGINX_RUNTIME_DIR/nginx.conf"
exec nginx -c "$NGINX_RUNTIME_DIR/nginx.conf" -p "$NGINX_RUNTIME_DIR/" -e /dev/stderr
