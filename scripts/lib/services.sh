# Throwaway PostgreSQL and Redis servers on loopback for the tests, each in its own temporary
# directory. PostgreSQL refuses to run as root, so when the scripts run as root the cluster is
# created and run by Debian's unprivileged `postgres` system user. Both are stopped and removed
# by stop_services (scripts/test calls it on exit).
#
# What a test reads:
#   PRYNT_TEST_DATABASE_URL  postgres://prynt@127.0.0.1:PORT/postgres (superuser `prynt`, trust auth)
#   PRYNT_TEST_PG_DATA       the cluster's data directory (for a test that restarts PostgreSQL)
#   PRYNT_TEST_PG_BIN        the directory of pg_ctl and friends
#   PRYNT_TEST_PG_USER       the user that must run pg_ctl (`postgres`, or empty: the caller)
#   PRYNT_TEST_REDIS_URL     redis://127.0.0.1:PORT
#   PRYNT_TEST_REDIS_BIN     redis-server (for a test that stops and restarts Redis)

pg_bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

ensure_postgres() {
    if [ -z "$(pg_bindir)" ] || [ ! -x "$(pg_bindir)/initdb" ]; then
        echo "==> installing PostgreSQL from Debian's packages"
        apt_install postgresql
    fi
}

ensure_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "==> installing Redis from Debian's packages"
        apt_install redis-server
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a command as the PostgreSQL user when we are root, else as ourselves.
as_pg_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_postgres() {
    local bin dir port
    bin=$(pg_bindir)
    dir=$(mktemp -d /tmp/prynt-pg.XXXXXX)
    chmod 0755 "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        PRYNT_TEST_PG_USER=postgres
    else
        PRYNT_TEST_PG_USER=
    fi
    as_pg_user "$bin/initdb" -D "$dir/data" -U prynt --auth=trust -E UTF8 --no-instructions >/dev/null
    port=$(free_port)
    as_pg_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400" start
    export PRYNT_TEST_DATABASE_URL="postgres://prynt@127.0.0.1:$port/postgres"
    export PRYNT_TEST_PG_DATA="$dir/data"
    export PRYNT_TEST_PG_BIN="$bin"
    export PRYNT_TEST_PG_USER
    echo "==> PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)"
}

stop_postgres() {
    if [ -n "${PRYNT_TEST_PG_DATA:-}" ] && [ -d "$PRYNT_TEST_PG_DATA" ]; then
        as_pg_user "$PRYNT_TEST_PG_BIN/pg_ctl" -D "$PRYNT_TEST_PG_DATA" -m immediate -s stop || true
        rm -rf "$(dirname "$PRYNT_TEST_PG_DATA")"
    fi
}

start_redis() {
    local dir port
    dir=$(mktemp -d /tmp/prynt-redis.XXXXXX)
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    for _ in $(seq 50); do
        if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
        sleep 0.1
    done
    export PRYNT_TEST_REDIS_URL="redis://127.0.0.1:$port"
    export PRYNT_TEST_REDIS_BIN="$(command -v redis-server)"
    PRYNT_TEST_REDIS_DIR="$dir"
    echo "==> Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$port ($dir)"
}

stop_redis() {
    if [ -n "${PRYNT_TEST_REDIS_URL:-}" ]; then
        redis-cli -u "$PRYNT_TEST_REDIS_URL" shutdown nosave >/dev/null 2>&1 || true
    fi
    if [ -n "${PRYNT_TEST_REDIS_DIR:-}" ]; then
        rm -rf "$PRYNT_TEST_REDIS_DIR"
    fi
}

stop_services() {
    stop_postgres
    stop_redis
}
