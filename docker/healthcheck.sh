#!/usr/bin/env bash
# switchyard-healthcheck [PATH] [HOST:PORT]: exits 0 when `GET PATH` answers 200, else 1.
#
#   PATH       default /readyz (ready: config loaded, a provider usable, not draining); /healthz = alive
#   HOST:PORT  default $SWITCHYARD_LISTEN (the image sets 0.0.0.0:8080); a wildcard host means 127.0.0.1
#
# The runtime image is debian:bookworm-slim without curl or wget, and installing curl only for this would
# add a TLS client and ~20 libraries to every container. Bash is there, and its /dev/tcp speaks enough
# HTTP/1.1 for a status line. docker/Dockerfile's HEALTHCHECK runs it; docker-compose.yml also mounts it
# into the nginx load balancer (also Debian, also with bash) to check /readyz through the balancer.
set -u

path=${1:-/readyz}
addr=${2:-${SWITCHYARD_LISTEN:-127.0.0.1:8080}}
port=${addr##*:}
host=${addr%:*}
host=${host#[}
host=${host%]}
case "$host" in "" | 0.0.0.0 | :: | "*") host=127.0.0.1 ;; esac

# Connection refused fails at once; an accepted connection that never answers is cut by read -t (and by
# the HEALTHCHECK timeout around this script).
# What it prints ends up in `docker inspect`'s health log.
if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
  echo "switchyard-healthcheck: cannot connect to $host:$port"
  exit 1
fi
printf 'GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: switchyard-healthcheck\r\nConnection: close\r\n\r\n' \
  "$path" "$host" >&3 2>/dev/null || { echo "switchyard-healthcheck: $host:$port closed the connection"; exit 1; }
status=
IFS=' ' read -r -t "${HEALTHCHECK_TIMEOUT:-3}" _ status _ <&3
exec 3<&-
if [[ "$status" != 200 ]]; then
  echo "switchyard-healthcheck: GET $path on $host:$port: ${status:-no answer}"
  exit 1
fi
