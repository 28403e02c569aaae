#!/usr/bin/env bash
# Services the test suite needs, started by .ci/run before `make test`:
# a throwaway PostgreSQL server on 127.0.0.1 for the distributed-search test.
#
# Installs PostgreSQL with apt when its programs are missing, initdb's a cluster into a
# temporary folder, starts it as an unprivileged user (CI runs as root; postgres refuses
# root), creates a database and writes
#   export TFSELECT_TEST_POSTGRES_URL=postgresql+psycopg2://...
# to .ci/postgres.env, which .ci/run sources. Idempotent: if the server recorded in
# .ci/postgres.env still answers, it only says so. Any failure leaves no env file, so the
# PostgreSQL test is skipped rather than the whole run failing.
set -uo pipefail
cd "$(dirname "$0")/.."
ENV_FILE=.ci/postgres.env
STATE=${TFSELECT_PG_DIR:-/tmp/tfselect-ci-postgres}
PORT=${TFSELECT_PG_PORT:-55432}
DB=tfselect_test
mkdir -p .ci

say() { echo "ci-services: $*" >&2; }

find_bin() {  # directory holding pg_ctl/initdb (Debian keeps them out of PATH)
    # (a pg_ctl on PATH may be a lone symlink: use the folder it points into, which also
    # holds psql, createdb and pg_isready)
    local d
    if command -v pg_ctl >/dev/null 2>&1; then
        d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
        if [ -x "$d/initdb" ] && [ -x "$d/psql" ]; then echo "$d"; return 0; fi
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then echo "$d"; return 0; fi
    return 1
}

BIN=$(find_bin || true)
if [ -z "$BIN" ]; then
    say "installing postgresql (apt)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null 2>&1
    BIN=$(find_bin || true)
fi
if [ -z "$BIN" ]; then
    say "no PostgreSQL programs; the PostgreSQL test will be skipped"
    rm -f "$ENV_FILE"
    exit 0
fi

# The server runs as a non-root user; `postgres` when it exists, else `nobody`.
if [ "$(id -u)" = 0 ]; then
    if id postgres >/dev/null 2>&1; then RUN_AS=postgres; else RUN_AS=nobody; fi
    as_user() { su -s /bin/sh "$RUN_AS" -c "$*"; }
else
    RUN_AS=$(id -un)
    as_user() { sh -c "$*"; }
fi
URL="postgresql+psycopg2://$RUN_AS@127.0.0.1:$PORT/$DB"

if [ -f "$STATE/data/postmaster.pid" ] && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
    say "PostgreSQL already running on 127.0.0.1:$PORT"
else
    # A server of an earlier run that no longer answers: stop it before wiping its folder.
    if [ -f "$STATE/data/postmaster.pid" ]; then
        as_user "'$BIN/pg_ctl' -D '$STATE/data' -m immediate -w stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$STATE"
    mkdir -p "$STATE"
    chown "$RUN_AS" "$STATE" 2>/dev/null || true
    chmod 700 "$STATE"
    # trust auth on loopback only: a throwaway test server, never reachable from outside.
    if ! as_user "'$BIN/initdb' -D '$STATE/data' -A trust -U '$RUN_AS' >'$STATE/initdb.log' 2>&1"; then
        say "initdb failed (see $STATE/initdb.log); the PostgreSQL test will be skipped"
        rm -f "$ENV_FILE"
        exit 0
    fi
    if ! as_user "'$BIN/pg_ctl' -D '$STATE/data' -l '$STATE/server.log' -w -t 60 \
            -o \"-h 127.0.0.1 -p $PORT -k '$STATE' -c fsync=off\" start >/dev/null"; then
        say "server did not start (see $STATE/server.log); the PostgreSQL test will be skipped"
        rm -f "$ENV_FILE"
        exit 0
    fi
    say "PostgreSQL started on 127.0.0.1:$PORT (data in $STATE)"
fi

if ! as_user "'$BIN/psql' -h 127.0.0.1 -p $PORT -U '$RUN_AS' -d postgres -tAc \
        \"SELECT 1 FROM pg_database WHERE datname='$DB'\"" | grep -q 1; then
    as_user "'$BIN/createdb' -h 127.0.0.1 -p $PORT -U '$RUN_AS' '$DB'" || {
        say "createdb failed; the PostgreSQL test will be skipped"
        rm -f "$ENV_FILE"
        exit 0
    }
fi
echo "export TFSELECT_TEST_POSTGRES_URL=$URL" >"$ENV_FILE"
say "wrote $ENV_FILE"
