# shellcheck shell=bash
# Parley's local stack: small functions sourced by scripts/run and scripts/test.
#
# Every server runs from project-local data, listens on 127.0.0.1 only and is
# started here, never by systemd. Each function does one job and returns
# non-zero on failure, so callers can use them under `set -euo pipefail`.
#
#   ensure_packages                         install missing Debian packages
#   start_postgres DIR PORT [throwaway]     cluster in DIR/pgdata, database parley
#   stop_postgres DIR
#   start_redis DIR PORT [throwaway]        data in DIR/redis
#   stop_redis DIR PORT [throwaway]
#   start_redis_cluster DIR FIRST_PORT [MASTERS]   MASTERS (3) masters + a replica each, DIR/redis-cluster
#   stop_redis_cluster DIR
#   upstream_block NAME HOST:PORT...        a native "upstream NAME { ... }" block
#   render_nginx TEMPLATE OUT NAME=VALUE... via nginx/render.sh (its variables)
#   start_nginx CONF / stop_nginx CONF      CONF lives in its runtime dir
#   spawn NAME CMD...                       background CMD, output prefixed [NAME]
#   stop_pids PID...                        SIGTERM, wait, SIGKILL stragglers
#   remember_pid DIR NAME PID / stop_remembered DIR   services left by a killed run
#   wait_http URL TIMEOUT [PID...]          until URL answers 200
#   wait_port PORT TIMEOUT [PID...]         until 127.0.0.1:PORT accepts
#   generate_keys FILE WEBSITE_BIN          TOKEN_*_KEY lines from `website keygen`
#   service_env SERVICE LISTEN_ADDR         the environment website/chat read
#   service_env_args SERVICE LISTEN_ADDR    the same as `env` arguments

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_SUPERUSER=postgres
PG_DATABASE=parley

log() { printf '[%s] %s\n' "${LOG_TAG:-stack}" "$*" >&2; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    log "need root for: $* (and sudo is not installed)"
    return 1
  fi
}

# Runs a Postgres binary: as the postgres user when we are root (the
# binaries refuse root), as ourselves otherwise. From / so a cwd the
# postgres user cannot enter does not matter.
pg_as_owner() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

ensure_packages() {
  local missing=()
  [[ -x $PG_BIN/pg_ctl && -x $PG_BIN/psql ]] || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  { command -v nginx >/dev/null 2>&1 && [[ -f /etc/nginx/mime.types ]]; } || missing+=(nginx-light)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v envsubst >/dev/null 2>&1 || missing+=(gettext-base)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  # libpq is needed only to build diesel_cli for scripts/check-schema.
  [[ -f /usr/include/postgresql/libpq-fe.h ]] || missing+=(libpq-dev)
  # libopus (through pkg-config) encodes and decodes Opus audio (crates/media).
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  [[ -f /usr/include/opus/opus.h ]] || missing+=(libopus-dev)
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    missing+=(postgresql) # its package creates the postgres user
  fi
  ((${#missing[@]} == 0)) && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" || return 1
  [[ -x $PG_BIN/pg_ctl ]] || { log "no Postgres binaries in $PG_BIN"; return 1; }
}

# The tools the tests make their media with: speech (espeak-ng), tones and
# lengths (sox), WebM/Opus, Ogg, M4A and MP3 like browsers record (ffmpeg).
ensure_media_tools() {
  local missing=()
  command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
  command -v sox >/dev/null 2>&1 || missing+=(sox)
  command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
  ((${#missing[@]} == 0)) && return 0
  log "installing Debian packages for the media tests: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Fails with a clear message when PORT is taken.
require_free_port() { # PORT WHAT
  if port_open "$1"; then
    log "port $1 (for $2) is already in use on 127.0.0.1; stop whatever holds it or pick another port"
    return 1
  fi
}

# True while PID runs. A zombie (exited, not yet reaped by its parent) counts
# as gone.
pid_alive() {
  local stat
  [[ ${1:-} =~ ^[0-9]+$ ]] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# True while PID runs the program NAME (a pid file may be stale and its pid
# reused by something else).
pid_runs() { # PID NAME
  pid_alive "$1" && [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2"* ]]
}

# Waits up to TIMEOUT seconds for PID to exit.
wait_pid_gone() { # PID TIMEOUT
  local deadline=$((SECONDS + $2))
  while pid_alive "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Lock FILE holds the pid of the script using a data dir: refuses when that
# script still runs, so two runs never stop or wipe each other's servers.
claim_lock() { # FILE
  local other
  other=$(cat "$1" 2>/dev/null || true)
  if [[ -n $other && $other != "$$" ]] && pid_alive "$other"; then
    log "another instance (pid $other) is using this data directory ($1)"
    return 1
  fi
  mkdir -p "$(dirname "$1")" && echo $$ >"$1"
}

# --- Postgres ----------------------------------------------------------------

# The directory the cluster really lives in. Normally DIR itself, owned by
# the server's user. When we are root and the postgres user cannot reach DIR
# (a checkout under /root, say), DIR becomes a symlink to a directory under
# /var/tmp, since Postgres cannot run as root.
pg_home() { # DIR
  local dir real
  dir=$(realpath -m "$1")
  if [[ -L $dir ]]; then
    readlink -f "$dir"
    return
  fi
  mkdir -p "$(dirname "$dir")" || return 1
  if [[ $EUID -ne 0 ]]; then
    install -d -m 755 "$dir" && echo "$dir"
    return
  fi
  if runuser -u postgres -- test -x "$(dirname "$dir")" 2>/dev/null; then
    install -d -m 755 -o postgres -g postgres "$dir" && echo "$dir"
    return
  fi
  real=/var/tmp/parley-postgres-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)
  log "the postgres user cannot reach $(dirname "$dir"): keeping the cluster in $real"
  install -d -m 755 -o postgres -g postgres "$real" || return 1
  rmdir "$dir" 2>/dev/null || true
  ln -sfn "$real" "$dir" && echo "$real"
}

# Starts (initialising if needed) a cluster in DIR/pgdata on 127.0.0.1:PORT,
# with its socket in DIR/sock and its log in DIR/postgres.log, and creates
# the database parley. "throwaway" trades durability for speed (tests).
start_postgres() { # DIR PORT [throwaway]
  local home port=$2 mode=${3:-} opts sock attempt out
  home=$(pg_home "$1") || return 1
  if [[ ! -f $home/pgdata/PG_VERSION ]]; then
    log "initialising a Postgres cluster in $home/pgdata"
    # Sorting stays C (bytes, fast); character classes are Unicode's
    # (C.UTF-8), so lower(), ILIKE and full-text search fold any script.
    pg_as_owner "$PG_BIN/initdb" -D "$home/pgdata" -A trust -E UTF8 --locale=C --lc-ctype=C.UTF-8 -N \
      -U "$PG_SUPERUSER" >"$home/initdb.log" 2>&1 || {
      log "initdb failed:"; tail -n 20 "$home/initdb.log" >&2; return 1
    }
  fi
  stop_postgres "$1" || return 1 # one left running by a killed run
  require_free_port "$port" Postgres || return 1
  sock=$home/sock
  if [[ $EUID -eq 0 ]]; then install -d -m 755 -o postgres -g postgres "$sock"; else install -d -m 755 "$sock"; fi
  # A socket path longer than 107 bytes is refused: go TCP-only then.
  ((${#sock} + 16 <= 107)) || sock=
  opts="-c listen_addresses=127.0.0.1 -p $port -k '$sock'"
  if [[ $mode == throwaway ]]; then
    opts+=" -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
  fi
  # Extra server options of the caller's (the benchmark loads pg_stat_statements).
  [[ -n ${PARLEY_POSTGRES_OPTS:-} ]] && opts+=" $PARLEY_POSTGRES_OPTS"
  log "starting Postgres on 127.0.0.1:$port (log: $home/postgres.log)"
  # A client socket can hold PORT for a moment (it is in the ephemeral
  # range): a failed bind is retried.
  for attempt in 1 2 3 4 5; do
    out=$(pg_as_owner "$PG_BIN/pg_ctl" -D "$home/pgdata" -l "$home/postgres.log" -o "$opts" -w -t 60 \
      start 2>&1) && break
    if ! tail -n 5 "$home/postgres.log" | grep -q 'could not bind'; then
      log "Postgres did not start: $out"; tail -n 20 "$home/postgres.log" >&2; return 1
    fi
    if ((attempt == 5)); then
      log "Postgres could not bind 127.0.0.1:$port: a connection elsewhere holds it as its local port (ss -tanp | grep :$port); try another port"
      return 1
    fi
    log "port $port was busy for a moment; trying again"
    sleep 1
  done
  pg_create_database "$port"
}

pg_create_database() { # PORT
  local exists
  exists=$(PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$1" -U "$PG_SUPERUSER" -d postgres \
    -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'") || return 1
  [[ $exists == 1 ]] && return 0
  log "creating database $PG_DATABASE"
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$1" -U "$PG_SUPERUSER" "$PG_DATABASE"
}

# Fast shutdown of the cluster in DIR; fine when it is not running or absent.
stop_postgres() { # DIR
  local home
  [[ -e $1 ]] || return 0
  home=$(readlink -f "$1")
  [[ -f $home/pgdata/PG_VERSION ]] || return 0
  pg_as_owner "$PG_BIN/pg_ctl" -D "$home/pgdata" status >/dev/null 2>&1 || return 0
  log "stopping Postgres"
  pg_as_owner "$PG_BIN/pg_ctl" -D "$home/pgdata" -m fast -w -t 60 stop >/dev/null
}

# --- Redis -------------------------------------------------------------------

# Starts Redis on 127.0.0.1:PORT with its data, pid file and log in DIR/redis.
# Persistent (AOF) unless "throwaway". It requires a password (Redis is a
# trust boundary: whoever can publish can forge frames): generated once into
# DIR/redis/password, set through a config file (not argv), and exported as
# REDIS_PASSWORD for the caller's redis:// URLs.
start_redis() { # DIR PORT [throwaway]
  local dir=$1/redis port=$2 mode=${3:-} args deadline
  mkdir -p "$dir" || return 1
  stop_redis "$1" "$port" "$mode" || return 1 # one left running by a killed run
  require_free_port "$port" Redis || return 1
  if [[ ! -s $dir/password ]]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/password") || return 1
  fi
  REDIS_PASSWORD=$(cat "$dir/password")
  export REDIS_PASSWORD
  (umask 077 && printf 'requirepass %s\n' "$REDIS_PASSWORD" >"$dir/redis.conf") || return 1
  args=("$dir/redis.conf" --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log")
  if [[ $mode == throwaway ]]; then
    args+=(--save '' --appendonly no)
  else
    args+=(--appendonly yes)
  fi
  log "starting Redis on 127.0.0.1:$port (log: $dir/redis.log)"
  redis-server "${args[@]}" || return 1
  deadline=$((SECONDS + 15))
  until [[ $(REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; do
    if ((SECONDS >= deadline)); then
      log "Redis did not answer on port $port:"; tail -n 20 "$dir/redis.log" >&2; return 1
    fi
    sleep 0.1
  done
}

# Stops the Redis whose pid file is in DIR/redis (never another one on PORT):
# SHUTDOWN SAVE, or NOSAVE when "throwaway"; fine when it is not running.
stop_redis() { # DIR PORT [throwaway]
  local dir=$1/redis port=$2 how=save pid
  [[ ${3:-} == throwaway ]] && how=nosave
  pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
  pid_runs "$pid" redis-server || return 0
  log "stopping Redis"
  local auth
  auth=$(cat "$dir/password" 2>/dev/null || true)
  if [[ $(REDISCLI_AUTH=$auth redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p') == "$pid" ]]; then
    REDISCLI_AUTH=$auth redis-cli -p "$port" shutdown "$how" >/dev/null 2>&1 || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  wait_pid_gone "$pid" 30 && return 0
  log "Redis (pid $pid) did not stop; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# --- Redis Cluster -----------------------------------------------------------

# Starts a Redis Cluster of MASTERS masters (3 when not given) with one
# replica each on 127.0.0.1:FIRST_PORT..FIRST_PORT+2*MASTERS-1 (masters
# first), their cluster bus on each port + 1000 (Redis's usual + 10000 would
# fall among the ephemeral ports, where an outgoing connection can hold one),
# each node's config,
# nodes.conf, pid file and log in DIR/redis-cluster/PORT. The slots are split
# evenly between the masters. Throwaway by design: no persistence, and the
# cluster is created afresh on every start (Redis holds only state that is
# rebuilt or expires). The password is $REDIS_PASSWORD when set (start_redis
# exports it), else one generated once into DIR/redis-cluster/password and
# exported as REDIS_PASSWORD; replicas use it as masterauth. A node is
# suspected after PARLEY_REDIS_CLUSTER_NODE_TIMEOUT_MS (2000; a replica then
# takes over in about 4 s). Sets REDIS_CLUSTER_SEEDS to every node's
# redis:// URL, comma-separated (the services' REDIS_CLUSTER_NODES). Returns
# when every node says cluster_state:ok and every replica is in sync.
#
# Made by hand rather than with `redis-cli --cluster create`, which wants
# three masters at least: slots, a config epoch each, MEET, REPLICATE.
REDIS_CLUSTER_BUS_OFFSET=1000 # a node's cluster bus port is its port + this

start_redis_cluster() { # DIR FIRST_PORT [MASTERS]
  local dir=$1/redis-cluster first=$2 masters=${3:-3} port node deadline i lo hi id
  local -a ports=() urls=()
  [[ $masters =~ ^[1-9][0-9]*$ ]] || { log "start_redis_cluster: MASTERS must be a positive number"; return 1; }
  mkdir -p "$dir" || return 1
  stop_redis_cluster "$1" || return 1 # one left running by a killed run
  for ((port = first; port < first + 2 * masters; port++)); do
    require_free_port "$port" "a Redis Cluster node" || return 1
    require_free_port "$((port + REDIS_CLUSTER_BUS_OFFSET))" "a Redis Cluster node's bus" || return 1
    ports+=("$port")
  done
  if [[ -z ${REDIS_PASSWORD:-} ]]; then
    if [[ ! -s $dir/password ]]; then
      (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/password") || return 1
    fi
    REDIS_PASSWORD=$(cat "$dir/password")
  fi
  export REDIS_PASSWORD
  log "starting a Redis Cluster ($masters masters, $masters replicas) on 127.0.0.1:${ports[0]}-${ports[-1]} (logs: $dir/PORT/redis.log)"
  for port in "${ports[@]}"; do
    node=$dir/$port
    rm -rf "$node" && mkdir -p "$node" || return 1
    # The password through a config file, not argv (ps shows argv).
    (umask 077 && printf 'requirepass %s\nmasterauth %s\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD" >"$node/redis.conf") ||
      return 1
    redis-server "$node/redis.conf" --port "$port" --bind 127.0.0.1 --dir "$node" --daemonize yes \
      --pidfile "$node/redis.pid" --logfile "$node/redis.log" --save '' --appendonly no \
      --cluster-enabled yes --cluster-config-file "$node/nodes.conf" \
      --cluster-port "$((port + REDIS_CLUSTER_BUS_OFFSET))" \
      --cluster-node-timeout "${PARLEY_REDIS_CLUSTER_NODE_TIMEOUT_MS:-2000}" || return 1
    urls+=("redis://:$REDIS_PASSWORD@127.0.0.1:$port")
  done
  deadline=$((SECONDS + 15))
  for port in "${ports[@]}"; do
    until [[ $(redis_cluster_cli "$port" ping) == PONG ]]; do
      if ((SECONDS >= deadline)); then
        log "Redis Cluster node $port did not answer:"; tail -n 20 "$dir/$port/redis.log" >&2; return 1
      fi
      sleep 0.1
    done
  done
  # Masters: an even share of the 16384 slots and a config epoch of their own.
  for ((i = 0; i < masters; i++)); do
    lo=$((16384 * i / masters)) hi=$((16384 * (i + 1) / masters - 1))
    redis_cluster_cli "${ports[i]}" cluster addslotsrange "$lo" "$hi" >/dev/null &&
      redis_cluster_cli "${ports[i]}" cluster set-config-epoch "$((i + 1))" >/dev/null || {
      log "Redis Cluster node ${ports[i]} refused its slots"; return 1
    }
  done
  for port in "${ports[@]:1}"; do
    redis_cluster_cli "${ports[0]}" cluster meet 127.0.0.1 "$port" "$((port + REDIS_CLUSTER_BUS_OFFSET))" >/dev/null ||
      return 1
  done
  redis_cluster_wait_known "$dir" 30 "${ports[@]}" || return 1
  for ((i = 0; i < masters; i++)); do
    id=$(redis_cluster_cli "${ports[i]}" cluster myid)
    redis_cluster_cli "${ports[masters + i]}" cluster replicate "$id" >/dev/null || {
      log "Redis Cluster node ${ports[masters + i]} did not become ${ports[i]}'s replica"; return 1
    }
  done
  redis_cluster_wait_ok "$dir" 60 "${ports[@]}" || return 1
  REDIS_CLUSTER_SEEDS=$(IFS=,; echo "${urls[*]}")
}

# redis-cli against the cluster node on PORT, with the password; the reply
# without carriage returns.
redis_cluster_cli() { # PORT ARG...
  local port=$1
  shift
  REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$port" "$@" 2>/dev/null | tr -d '\r'
}

# Waits up to TIMEOUT seconds until every node on PORT... knows all of them
# (the MEETs went round).
redis_cluster_wait_known() { # DIR TIMEOUT PORT...
  local dir=$1 timeout=$2 deadline=$((SECONDS + $2)) port ok
  shift 2
  while :; do
    ok=1
    for port in "$@"; do
      if [[ $(redis_cluster_cli "$port" cluster info) != *"cluster_known_nodes:$#"* ]] ||
        redis_cluster_cli "$port" cluster nodes | grep -q handshake; then
        ok=0 && break
      fi
    done
    ((ok)) && return 0
    if ((SECONDS >= deadline)); then
      log "the Redis Cluster's nodes did not meet within $timeout s (node $port)"
      tail -n 10 "$dir/$port/redis.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

# Waits up to TIMEOUT seconds until every node on PORT... says
# cluster_state:ok and knows all the others, and every replica's link to its
# master is up.
redis_cluster_wait_ok() { # DIR TIMEOUT PORT...
  local dir=$1 timeout=$2 deadline=$((SECONDS + $2)) port info ok
  shift 2
  while :; do
    ok=1
    for port in "$@"; do
      info=$(REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$port" cluster info 2>/dev/null | tr -d '\r')
      if [[ $info != *cluster_state:ok* || $info != *"cluster_known_nodes:$#"* ]]; then
        ok=0 && break
      fi
      info=$(REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$port" info replication 2>/dev/null | tr -d '\r')
      if [[ $info == *role:slave* && $info != *master_link_status:up* ]]; then
        ok=0 && break
      fi
    done
    ((ok)) && return 0
    if ((SECONDS >= deadline)); then
      log "the Redis Cluster did not settle within $timeout s (node $port: $(tr '\n' ' ' <<<"$info" | head -c 300))"
      tail -n 10 "$dir/$port/redis.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# Stops every node whose pid file is under DIR/redis-cluster (never another
# Redis on their ports): SHUTDOWN NOSAVE, SIGTERM when the port answers with
# another process, SIGKILL after 30 s; fine when none runs.
stop_redis_cluster() { # DIR
  local dir=$1/redis-cluster node pid port auth pids=()
  for node in "$dir"/*/; do
    pid=$(cat "$node/redis.pid" 2>/dev/null || true)
    pid_runs "$pid" redis-server || continue
    port=$(basename "$node")
    auth=$(sed -n 's/^requirepass //p' "$node/redis.conf" 2>/dev/null || true)
    if [[ $(REDISCLI_AUTH=$auth redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p') == "$pid" ]]; then
      REDISCLI_AUTH=$auth redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    else
      kill -TERM "$pid" 2>/dev/null || true
    fi
    pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  log "stopping the Redis Cluster (${#pids[@]} nodes)"
  for pid in "${pids[@]}"; do
    wait_pid_gone "$pid" 30 && continue
    log "Redis Cluster node (pid $pid) did not stop; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# --- nginx -------------------------------------------------------------------

# "server HOST:PORT;" lines for an upstream block.
# A native upstream block NAME over HOST:PORT..., balanced by open
# connections, keeping idle connections briefly (below the services' own idle
# timeout, so nginx never reuses one a service is closing).
upstream_block() { # NAME HOST:PORT...
  local out="upstream $1 {"$'\n        least_conn;' hp
  shift
  for hp in "$@"; do out+=$'\n        '"server $hp;"; done
  printf '%s\n        keepalive 16;\n        keepalive_timeout 4s;\n    }\n' "$out"
}

# Renders TEMPLATE into OUT with nginx/render.sh (the renderer the container
# uses too). NAME=VALUE gives each of its variables.
render_nginx() { # TEMPLATE OUT NAME=VALUE...
  local template=$1 out=$2
  shift 2
  env "$@" "$ROOT/nginx/render.sh" "$template" "$out"
}

# Checks and starts nginx in the background (the conf says `daemon off`),
# with the directory holding CONF as its prefix/runtime dir; sets NGINX_PID.
# As root, nginx's workers run as nobody. When nobody cannot reach the
# runtime dir (a checkout under /root, say), they run as root instead.
start_nginx() { # CONF
  local conf runtime args
  conf=$(realpath "$1") || return 1
  runtime=$(dirname "$conf")
  args=(-c "$conf" -p "$runtime/" -e "$runtime/error.log")
  if [[ $EUID -eq 0 ]] && ! runuser -u nobody -- test -x "$runtime" 2>/dev/null; then
    log "nginx workers cannot run as nobody: $runtime is out of its reach; running them as root"
    args+=(-g 'user root;')
  fi
  stop_nginx "$conf" || return 1 # one left running by a killed run
  nginx -t -q "${args[@]}" || return 1
  log "starting nginx (logs: $runtime/access.log, $runtime/error.log)"
  spawn nginx nginx "${args[@]}"
  NGINX_PID=$SPAWNED_PID
}

# Stops the nginx whose pid file sits next to CONF; fine when none runs.
stop_nginx() { # CONF
  local pid
  pid=$(cat "$(dirname "$1")/nginx.pid" 2>/dev/null || true)
  [[ -n ${NGINX_PID:-} ]] && pid_alive "$NGINX_PID" && pid=$NGINX_PID
  pid_runs "$pid" nginx || return 0
  log "stopping nginx"
  stop_pids "$pid"
}

# --- processes ---------------------------------------------------------------

# Runs CMD in the background, every output line prefixed with [NAME], and
# sets SPAWNED_PID to CMD's own pid. CMD gets a session of its own and the
# prefixer ignores SIGINT, so a Ctrl-C reaches only the script, which then
# stops everything in order with every last log line shown.
# (For scripts: in a shell with job control, setsid would fork.)
spawn() { # NAME CMD...
  local tag
  printf -v tag '%-10s' "[$1]"
  shift
  setsid "$@" > >(trap '' INT && exec sed -u "s/^/${tag//\//\\/}/") 2>&1 &
  SPAWNED_PID=$!
}

# The start time of PID (in clock ticks since boot): with the pid, it names
# one process for good, whatever pid reuse happens later.
proc_start_time() { # PID
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  printf '%s\n' "${20}"
}

# Notes PID as service NAME in DIR, for stop_remembered after a crash.
remember_pid() { # DIR NAME PID
  mkdir -p "$1" && printf '%s %s\n' "$3" "$(proc_start_time "$3")" >"$1/$2.pid"
}

# Stops the processes remember_pid noted in DIR that still run (left by a
# run that was killed), and forgets them all.
stop_remembered() { # DIR
  local file pid start
  for file in "$1"/*.pid; do
    [[ -f $file ]] || continue
    read -r pid start <"$file" || true
    if [[ -n ${start:-} && $(proc_start_time "$pid") == "$start" ]]; then
      log "stopping $(basename "$file" .pid) (pid $pid), left running by an earlier run"
      stop_pids "$pid"
    fi
    rm -f "$file"
  done
}

# SIGTERM to each PID, up to 20 s for them to exit, then SIGKILL.
stop_pids() { # PID...
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    if ! wait_pid_gone "$pid" 20; then
      log "pid $pid did not stop in 20 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true # reap it when it is our child
  done
}

# Polls URL until it answers 200, for up to TIMEOUT seconds; fails early
# when one of the PIDs exits.
wait_http() { # URL TIMEOUT [PID...]
  local url=$1 timeout=$2 code='' pid deadline
  shift 2
  deadline=$((SECONDS + timeout))
  while :; do
    code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null) || true
    [[ $code == 200 ]] && return 0
    for pid in "$@"; do
      pid_alive "$pid" || { log "pid $pid exited while waiting for $url"; return 1; }
    done
    if ((SECONDS >= deadline)); then
      log "$url did not answer 200 within ${timeout}s (last status: ${code:-none})"
      return 1
    fi
    sleep 0.2
  done
}

# Waits up to TIMEOUT seconds for 127.0.0.1:PORT to accept connections;
# fails early when one of the PIDs exits.
wait_port() { # PORT TIMEOUT [PID...]
  local port=$1 deadline=$((SECONDS + $2)) pid
  shift 2
  until port_open "$port"; do
    for pid in "$@"; do pid_alive "$pid" || return 1; done
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# --- keys and the services' environment --------------------------------------

# Writes FILE (mode 600) with TOKEN_SIGNING_KEY= and TOKEN_VERIFYING_KEY=
# lines from `WEBSITE_BIN keygen`, unless FILE exists.
generate_keys() { # FILE WEBSITE_BIN
  local file=$1 out
  [[ -s $file ]] && return 0
  out=$("$2" keygen) || { log "'$2 keygen' failed"; return 1; }
  if ! grep -q '^TOKEN_SIGNING_KEY=.' <<<"$out" || ! grep -q '^TOKEN_VERIFYING_KEY=.' <<<"$out"; then
    log "'$2 keygen' did not print TOKEN_SIGNING_KEY= and TOKEN_VERIFYING_KEY= lines"
    return 1
  fi
  mkdir -p "$(dirname "$file")" || return 1
  (umask 077 && grep -E '^TOKEN_(SIGNING|VERIFYING)_KEY=' <<<"$out" >"$file.tmp") &&
    chmod 600 "$file.tmp" && mv "$file.tmp" "$file" && log "generated token keys in $file"
}

# The value of NAME in an env FILE of NAME=VALUE lines.
env_file_value() { # FILE NAME
  local line
  line=$(grep -m1 "^$2=" "$1") || { log "$2 is missing from $1"; return 1; }
  printf '%s\n' "${line#*=}"
}

# THE list of variables the website, chat and worker services read, printed as
# NAME=VALUE lines (usable with `env`, or as an env file for a container).
# Deployment-wide inputs come from these variables, set by the caller:
#   STACK_DATABASE_URL  STACK_REDIS_URL  STACK_PUBLIC_ORIGIN  STACK_STATIC_DIR
#   STACK_KEYS_FILE     (the file generate_keys wrote)
#   STACK_REDIS_CLUSTER_NODES  (optional) a Redis Cluster's seed URLs,
#                       comma-separated; STACK_REDIS_URL must then be one of them
# Only the website gets TOKEN_SIGNING_KEY.
service_env() { # SERVICE LISTEN_ADDR
  local service=$1 listen=$2
  case $service in website | chat | worker) ;; *) log "service_env: unknown service '$service'"; return 1 ;; esac
  : "${STACK_DATABASE_URL:?}" "${STACK_REDIS_URL:?}" "${STACK_PUBLIC_ORIGIN:?}" "${STACK_STATIC_DIR:?}" "${STACK_KEYS_FILE:?}"
  printf '%s\n' \
    "DATABASE_URL=$STACK_DATABASE_URL" \
    "REDIS_URL=$STACK_REDIS_URL" \
    "REDIS_CLUSTER_NODES=${STACK_REDIS_CLUSTER_NODES:-}" \
    "PUBLIC_ORIGIN=$STACK_PUBLIC_ORIGIN" \
    "LISTEN_ADDR=$listen" \
    "STATIC_DIR=$STACK_STATIC_DIR" \
    "RUST_LOG=${RUST_LOG:-info}" \
    "TRUSTED_PROXIES=127.0.0.1,::1" || return 1
  # Uploaded files: one directory both the website and the worker reach
  # (or the caller's FILES_S3_* bucket, which they inherit).
  if [[ $service != chat ]]; then
    printf 'FILES_DIR=%s\n' "${STACK_FILES_DIR:?}" || return 1
  fi
  if [[ $service == website ]]; then
    printf 'TOKEN_SIGNING_KEY=%s\n' "$(env_file_value "$STACK_KEYS_FILE" TOKEN_SIGNING_KEY)" || return 1
  fi
  # The assistant's language model: none unless the caller's environment
  # names one (README "The assistant").
  # The website asks the worker for semantic search.
  if [[ $service == website ]]; then
    printf 'WORKER_URL=http://127.0.0.1:%s\n' "${STACK_WORKER_PORT:-8095}" || return 1
  fi
  if [[ $service == worker ]]; then
    # One thread of the embedding model: the chat service keeps the cores.
    printf '%s\n' \
      "RAYON_NUM_THREADS=1" \
      "ASSISTANT_BASE_URL=${ASSISTANT_BASE_URL:-}" \
      "ASSISTANT_MODEL=${ASSISTANT_MODEL:-}" \
      "ASSISTANT_API_KEY=${ASSISTANT_API_KEY:-}" || return 1
  fi
  printf 'TOKEN_VERIFYING_KEY=%s\n' "$(env_file_value "$STACK_KEYS_FILE" TOKEN_VERIFYING_KEY)"
}

# Sets SERVICE_ENV_ARGS to `env` arguments that give a command exactly
# service_env's variables for SERVICE on top of ours, minus any token key of
# ours (the chat service must never see the signing key):
#   service_env_args chat 127.0.0.1:8091 && spawn chat env "${SERVICE_ENV_ARGS[@]}" BIN
service_env_args() { # SERVICE LISTEN_ADDR
  local lines
  lines=$(service_env "$1" "$2") || return 1
  mapfile -t SERVICE_ENV_ARGS <<<"$lines"
  SERVICE_ENV_ARGS=(-u TOKEN_SIGNING_KEY -u TOKEN_VERIFYING_KEY "${SERVICE_ENV_ARGS[@]}")
}

# Removes a throwaway data DIR, including a Postgres home that pg_home moved
# to /var/tmp.
wipe_data_dir() { # DIR
  local dir=$1 link target
  [[ -n $dir && $dir != / ]] || return 1
  [[ -e $dir || -L $dir ]] || return 0
  while IFS= read -r -d '' link; do
    target=$(readlink -f "$link")
    [[ $target == /var/tmp/parley-postgres-* ]] && rm -rf "$target"
  done < <(find "$dir" -maxdepth 1 -type l -print0)
  rm -rf "$dir"
}

# Keeps HTTP clients (curl, reqwest) from sending loopback traffic to a proxy.
no_proxy_for_loopback() {
  local extra=127.0.0.1,localhost,::1
  export NO_PROXY="${NO_PROXY:+$NO_PROXY,}$extra" no_proxy="${no_proxy:+$no_proxy,}$extra"
}

# Starts the application behind nginx: the token keys (made once), the
# migrations and seed, the website, one chat instance per port, the worker
# (on STACK_WORKER_PORT, 8095 when unset), then nginx; returns when /healthz
# answers through nginx. STACK_DATABASE_URL,
# STACK_REDIS_URL, STACK_PUBLIC_ORIGIN and STACK_STATIC_DIR must be set.
# Calls TRACK NAME PID for every process it starts; their output goes to
# APP_LOG when that is set, else to the terminal.
start_app() { # DATA BIN_DIR NGINX_PORT WEBSITE_PORT "CHAT_PORT..." TRACK
  local data=$1 bin=$2 nginx_port=$3 website_port=$4 track=$6
  local out=${APP_LOG:-/dev/stdout} i port
  local -a chat_ports upstreams=() pids=()
  read -r -a chat_ports <<<"$5"
  STACK_KEYS_FILE=$data/keys.env
  STACK_FILES_DIR=${STACK_FILES_DIR:-$data/files}
  generate_keys "$STACK_KEYS_FILE" "$bin/website"
  # The services run from the data dir: a developer's .env in the repo root
  # (read by `cargo run`) must not leak into them.
  service_env_args website "127.0.0.1:$website_port"
  # As the schema's owner (STACK_ADMIN_DATABASE_URL), making the services'
  # own login (parley_app) when they use one.
  env -C "$data" "${SERVICE_ENV_ARGS[@]}" "DATABASE_URL=${STACK_ADMIN_DATABASE_URL:-$STACK_DATABASE_URL}" \
    "APP_DATABASE_ROLE=${STACK_APP_ROLE-parley_app}" \
    "$bin/website" migrate 2>&1 | sed -u 's/^/[migrate]  /' >>"$out"
  spawn website env -C "$data" "${SERVICE_ENV_ARGS[@]}" "$bin/website" >>"$out"
  "$track" website "$SPAWNED_PID"
  pids+=("$SPAWNED_PID")
  for i in "${!chat_ports[@]}"; do
    port=${chat_ports[i]}
    service_env_args chat "127.0.0.1:$port"
    spawn "chat-$((i + 1))" env -C "$data" "${SERVICE_ENV_ARGS[@]}" "$bin/chat" >>"$out"
    "$track" "chat-$((i + 1))" "$SPAWNED_PID"
    pids+=("$SPAWNED_PID")
    wait_port "$port" 30 "$SPAWNED_PID" || { log "chat-$((i + 1)) is not listening on $port"; return 1; }
    upstreams+=("127.0.0.1:$port")
  done
  port=${STACK_WORKER_PORT:-8095}
  if [[ -x $bin/worker ]]; then
    service_env_args worker "127.0.0.1:$port"
    # In the idle scheduling class, niced too: its followers (embedding
    # above all) are background work that runs only on CPU nothing else
    # wants (storage held 2,000 msgs/s so, 1,000 at nice 19; PERFORMANCE.md).
    spawn worker chrt --idle 0 nice -n 19 env -C "$data" "${SERVICE_ENV_ARGS[@]}" "$bin/worker" >>"$out"
    "$track" worker "$SPAWNED_PID"
    pids+=("$SPAWNED_PID")
    wait_port "$port" 30 "$SPAWNED_PID" || { log "the worker is not listening on $port"; return 1; }
  else # a benchmark's baseline from before the worker existed
    log "no worker in $bin: running without one"
  fi
  render_nginx "$ROOT/nginx/parley.conf.template" "$data/nginx/nginx.conf" \
    "NGINX_LISTEN=127.0.0.1:$nginx_port" \
    "WEBSITE_UPSTREAM=$(upstream_block website "127.0.0.1:$website_port")" \
    "WEBSITE_BACKEND=http://website" \
    "CHAT_UPSTREAM=$(upstream_block chat "${upstreams[@]}")" \
    "CHAT_BACKEND=http://chat" \
    "NGINX_RESOLVER=" \
    "STATIC_ROOT=$STACK_STATIC_DIR" \
    "NGINX_RUNTIME_DIR=$data/nginx"
  start_nginx "$data/nginx/nginx.conf" >>"$out"
  "$track" nginx "$NGINX_PID"
  wait_http "http://127.0.0.1:$nginx_port/healthz" 60 "${pids[@]}" "$NGINX_PID"
}
