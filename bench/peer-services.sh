# Vendored from the shared peer harness (../shared/bench/tools/services.sh);
# sourced by scripts/bench --peers with its own STATE, PGDATA, PGPORT, REDIS_PORT.
# Sourced by run-peers.sh. Starts/stops the measurement infrastructure.
# Every process started here is recorded in $STATE/pids and stopped by PID.
# Everything listens on 127.0.0.1 only.
BENCH=${BENCH:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
STATE=${STATE:-/tmp/bench-state}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGDATA=${PGDATA:-/tmp/benchpg}
PGPORT=${PGPORT:-5440}
REDIS_PORT=${REDIS_PORT:-6390}
JWT_SECRET=${JWT_SECRET:-bench-secret-not-for-production}
export JWT_SECRET
mkdir -p "$STATE"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

wait_port() { # host port timeout_s
  local i
  for ((i = 0; i < ${3:-30} * 10; i++)); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  log "timeout waiting for $1:$2"; return 1
}

record_pid() { echo "$1 $2" >>"$STATE/pids"; }   # name pid

start_redis() {
  command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools; }
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" --dir "$STATE" --maxclients 10000
  wait_port 127.0.0.1 "$REDIS_PORT" 10 || return 1
  sleep 0.2
  record_pid redis "$(cat "$STATE/redis.pid")"
  log "redis on 127.0.0.1:$REDIS_PORT pid $(cat "$STATE/redis.pid")"
}

start_postgres() {
  id benchpg >/dev/null 2>&1 || useradd -m benchpg
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    # Made here and handed over: benchpg may not write to its parent.
    rm -rf "$PGDATA" && mkdir -p "$PGDATA" && chown benchpg "$PGDATA" && chmod 700 "$PGDATA"
    runuser -u benchpg -- "$PGBIN/initdb" -D "$PGDATA" -U benchpg -A trust >"$STATE/initdb.log" 2>&1 || { cat "$STATE/initdb.log"; return 1; }
  fi
  # default durability settings (fsync on, synchronous_commit on): as deployed
  touch "$STATE/postgres.log" && chown benchpg "$STATE/postgres.log"
  runuser -u benchpg -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$STATE/postgres.log" -w \
    -o "-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null || return 1
  local pid; pid=$(head -1 "$PGDATA/postmaster.pid")
  record_pid postgres "$pid"
  runuser -u benchpg -- psql -h 127.0.0.1 -p "$PGPORT" -U benchpg -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='bench'" | grep -q 1 ||
    runuser -u benchpg -- psql -h 127.0.0.1 -p "$PGPORT" -U benchpg -d postgres -qc "CREATE DATABASE bench" || return 1
  runuser -u benchpg -- psql -h 127.0.0.1 -p "$PGPORT" -U benchpg -d bench -qc "DROP TABLE IF EXISTS messages" 2>/dev/null
  log "postgres 15 on 127.0.0.1:$PGPORT pid $pid ($PGDATA)"
}

start_socketio() { # port...
  [ -d "$BENCH/peers/socketio/node_modules/socket.io" ] || (cd "$BENCH/peers/socketio" && npm install --no-audit --no-fund >/dev/null)
  local port
  for port in "$@"; do
    (cd "$BENCH/peers/socketio" && PORT=$port REDIS_URL=redis://127.0.0.1:$REDIS_PORT exec node server.js) >"$STATE/socketio-$port.log" 2>&1 &
    record_pid "socketio-$port" $!
    wait_port 127.0.0.1 "$port" 30 || return 1
    log "socketio peer on 127.0.0.1:$port pid $!"
  done
}

start_fastapi() { # port...
  local venv="$BENCH/peers/fastapi/.venv"
  if [ ! -x "$venv/bin/uvicorn" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q -r "$BENCH/peers/fastapi/requirements.txt" || return 1
  fi
  local port
  for port in "$@"; do
    (cd "$BENCH/peers/fastapi" && DATABASE_URL=postgresql://benchpg@127.0.0.1:$PGPORT/bench \
      REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 exec "$venv/bin/uvicorn" app:app --host 127.0.0.1 --port "$port" \
      --no-access-log --log-level warning --backlog 4096) >"$STATE/fastapi-$port.log" 2>&1 &
    record_pid "fastapi-$port" $!
    wait_port 127.0.0.1 "$port" 30 || return 1
    log "fastapi peer on 127.0.0.1:$port pid $!"
  done
}

start_ceiling() { # port
  local bin="$BENCH/peer-loadgen/target/release/wsceiling"
  "$bin" --addr "127.0.0.1:$1" --threads 2 >"$STATE/wsceiling-$1.log" 2>&1 &
  record_pid "wsceiling-$1" $!
  wait_port 127.0.0.1 "$1" 10 || return 1
  log "wsceiling on 127.0.0.1:$1 pid $!"
}

pid_of() { awk -v n="$1" '$1==n {p=$2} END {print p}' "$STATE/pids" 2>/dev/null; }

stop_one() { # name
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] || return 0
  if [ "$1" = postgres ]; then
    runuser -u benchpg -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null
  elif kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    local i; for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  awk -v n="$1" '$1!=n' "$STATE/pids" >"$STATE/pids.tmp" && mv "$STATE/pids.tmp" "$STATE/pids"
  log "stopped $1 ($pid)"
}

stop_all() {
  [ -f "$STATE/pids" ] || return 0
  local n
  for n in $(awk '{print $1}' "$STATE/pids" | tac); do stop_one "$n"; done
}
