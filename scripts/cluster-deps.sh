#!/usr/bin/env bash
# The one place that knows how to run the cluster's two servers for tests: a throwaway
# PostgreSQL cluster and a single-node Garage (S3-compatible object store), both on loopback
# ports of their own, both kept in one folder.
#
#   scripts/cluster-deps.sh start DIR      install what is missing, start both, write DIR/env
#   scripts/cluster-deps.sh stop DIR       stop both; nothing of DIR is left running
#   scripts/cluster-deps.sh pg-stop DIR    stop DIR's PostgreSQL (the data stays)
#   scripts/cluster-deps.sh pg-start DIR   start it again on the same port and data
#   scripts/cluster-deps.sh install-garage `cargo install garage --locked`, only when missing
#
# DIR/env holds `export` lines to `source`: KOHONEN_TEST_DATABASE_URL and KOHONEN_TEST_STORE
# (named so that a test run's own servers stay in folder mode unless a test passes them on),
# the AWS_* variables the object store client reads, and KOHONEN_TEST_DEPS_DIR (DIR itself,
# for scripts that restart the database). Several DIRs can run at once: every start takes
# free ports. Each step is one line on stderr; anything not up within $DEADLINE seconds (60)
# fails the command with a message and the server's log.
#
# PostgreSQL comes from the distribution's `postgresql` package (installed with apt-get when
# no initdb is found) and runs as its `postgres` user when this runs as root, since PostgreSQL
# refuses to run as root. Garage is built with cargo when no `garage` is on the PATH or in
# ~/.cargo/bin (about 13 minutes on 2 cores).
set -euo pipefail

DEADLINE=${DEADLINE:-60}
BUCKET=kohonen
PG_USER_FALLBACK=kohonen-pg

say() { printf 'cluster-deps: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

usage() {
    sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Runs "$@" until it succeeds or $DEADLINE seconds have passed, then says `done`.
wait_for() {
    local done=$1
    shift
    local until=$((SECONDS + DEADLINE))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$until" ] || return 1
        sleep 0.5
    done
    say "$done"
}

# Prints N distinct TCP ports that are free on 127.0.0.1 right now (the kernel's choice).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

# --- PostgreSQL ------------------------------------------------------------------------------

# Sets PGBIN to the folder of the newest installed server's binaries (the distribution keeps
# them off the PATH, in a folder per major version), or to nothing when there is none.
find_postgres() {
    local initdb
    initdb=$(find /usr/lib/postgresql/*/bin -maxdepth 1 -name initdb 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$initdb" ]; then
        initdb=$(command -v initdb || true)
    fi
    PGBIN=""
    if [ -n "$initdb" ]; then
        PGBIN=$(dirname "$initdb")
    fi
}

install_postgres() {
    find_postgres
    if [ -n "$PGBIN" ]; then
        say "PostgreSQL found: $PGBIN"
        return
    fi
    say "no PostgreSQL server found: apt-get install postgresql"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    find_postgres
    [ -n "$PGBIN" ] || die "apt-get installed postgresql but no initdb was found"
}

# Sets PG_AS to the command prefix that runs a PostgreSQL binary as a non-root user: nothing
# when this is not root, else the `postgres` user (made by the package) or a system user made
# here when there is none.
pg_user() {
    PG_AS=()
    PG_OWNER=$(id -un)
    if [ "$(id -u)" = 0 ]; then
        PG_OWNER=postgres
        if ! id -u "$PG_OWNER" >/dev/null 2>&1; then
            PG_OWNER=$PG_USER_FALLBACK
            if ! id -u "$PG_OWNER" >/dev/null 2>&1; then
                say "no postgres user: useradd --system $PG_OWNER"
                useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OWNER"
            fi
        fi
        PG_AS=(runuser -u "$PG_OWNER" --)
    fi
}

pg_start() {
    local dir=$1 port
    port=$(cat "$dir/pg.port")
    say "starting PostgreSQL on 127.0.0.1:$port (data $dir/pg, log $dir/pg.log)"
    # -w waits until it accepts connections, up to -t seconds.
    if ! "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg-run/pg.log" -w -t "$DEADLINE" \
        -o "-p $port -k $dir/pg-run -c listen_addresses=127.0.0.1" start >/dev/null; then
        tail -n 20 "$dir/pg-run/pg.log" >&2 || true
        die "PostgreSQL did not start within ${DEADLINE}s"
    fi
    wait_for "PostgreSQL on port $port answers" "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" ||
        die "PostgreSQL on port $port did not answer within ${DEADLINE}s"
}

pg_stop() {
    local dir=$1
    [ -f "$dir/pg/postmaster.pid" ] || return 0
    [ -n "$PGBIN" ] || die "$dir has a PostgreSQL but no pg_ctl is installed to stop it"
    # A pid file left by a crash names no running server.
    "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1 || return 0
    say "stopping PostgreSQL of $dir"
    "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$dir/pg" -m fast -w -t "$DEADLINE" stop >/dev/null ||
        die "PostgreSQL of $dir did not stop within ${DEADLINE}s"
}

pg_init() {
    local dir=$1 port=$2
    echo "$port" >"$dir/pg.port"
    mkdir -p "$dir/pg" "$dir/pg-run"
    # The server's user must reach its folders: DIR is often a root-only mktemp -d.
    chmod 0755 "$dir"
    chown "$PG_OWNER" "$dir/pg" "$dir/pg-run"
    chmod 0700 "$dir/pg"
    ln -sf pg-run/pg.log "$dir/pg.log"
    say "initdb $dir/pg as $PG_OWNER (trust, superuser postgres)"
    "${PG_AS[@]}" "$PGBIN/initdb" -D "$dir/pg" -A trust -U postgres --no-sync >"$dir/pg-run/initdb.log" 2>&1 ||
        { cat "$dir/pg-run/initdb.log" >&2; die "initdb failed"; }
    pg_start "$dir"
    say "createdb kohonen"
    "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres kohonen
}

# --- Garage ----------------------------------------------------------------------------------

# Sets GARAGE to the garage binary, or to nothing when there is none.
find_garage() {
    GARAGE=$(type -P garage || true)
    local cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin/garage
    if [ -z "$GARAGE" ] && [ -x "$cargo_bin" ]; then
        GARAGE=$cargo_bin
    fi
}

install_garage() {
    find_garage
    if [ -n "$GARAGE" ]; then
        say "garage found: $GARAGE"
        return
    fi
    say "no garage found: cargo install garage --locked (about 13 minutes on 2 cores)"
    cargo install garage --locked
    find_garage
    [ -n "$GARAGE" ] || die "cargo install garage finished but no garage binary was found"
}

# Garage's command line on DIR's node; every call is bounded, since a CLI call can wait on a
# node that is not up yet.
garage_cli() { timeout 10 "$GARAGE" -c "$DIR/garage/garage.toml" "$@"; }

garage_start() {
    local dir=$1 rpc=$2 s3=$3 admin=$4
    mkdir -p "$dir/garage/meta" "$dir/garage/data"
    echo "$s3" >"$dir/garage.port"
    cat >"$dir/garage/garage.toml" <<TOML
metadata_dir = "$dir/garage/meta"
data_dir = "$dir/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(openssl rand -hex 32)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
    say "starting Garage: S3 on 127.0.0.1:$s3, RPC $rpc, admin $admin (log $dir/garage.log)"
    # Its own session, so that the caller's terminal signals and pipes do not reach it.
    setsid "$GARAGE" -c "$dir/garage/garage.toml" server </dev/null >"$dir/garage.log" 2>&1 &
    echo $! >"$dir/garage.pid"
    wait_for "Garage's RPC answers" garage_cli status ||
        { tail -n 20 "$dir/garage.log" >&2; die "Garage did not answer within ${DEADLINE}s"; }
    local node
    node=$(garage_cli node id -q 2>/dev/null | cut -d@ -f1)
    [ -n "$node" ] || die "Garage did not tell its node id"
    say "layout: node ${node:0:16}… in zone dc1, 1 GB, version 1"
    garage_cli layout assign -z dc1 -c 1G "$node" >/dev/null
    garage_cli layout apply --version 1 >/dev/null
    say "bucket $BUCKET and key kohonen-test (read, write, owner)"
    garage_cli bucket create "$BUCKET" >/dev/null
    local key
    key=$(garage_cli key create kohonen-test)
    KEY_ID=$(awk -F': *' '/Key ID/ { print $2; exit }' <<<"$key" | tr -d '[:space:]')
    KEY_SECRET=$(awk -F': *' '/Secret key/ { print $2; exit }' <<<"$key" | tr -d '[:space:]')
    if [ -z "$KEY_ID" ] || [ -z "$KEY_SECRET" ]; then
        die "could not read the key from: $key"
    fi
    garage_cli bucket allow --read --write --owner "$BUCKET" --key kohonen-test >/dev/null
    wait_for "Garage's S3 API on port $s3 answers" bash -c "exec 3<>/dev/tcp/127.0.0.1/$s3" ||
        die "Garage's S3 API on port $s3 did not answer within ${DEADLINE}s"
}

garage_stop() {
    local dir=$1 pid
    [ -f "$dir/garage.pid" ] || return 0
    pid=$(cat "$dir/garage.pid")
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping Garage of $dir (pid $pid)"
        kill "$pid"
        if ! wait_for "Garage stopped" bash -c "! kill -0 $pid"; then
            say "Garage ignored SIGTERM for ${DEADLINE}s: SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/garage.pid"
}

# --- Commands --------------------------------------------------------------------------------

start() {
    local dir=$1
    command -v python3 >/dev/null || die "python3 is needed to find free ports"
    install_postgres
    pg_user
    install_garage
    if [ -e "$dir/pg" ] || [ -e "$dir/garage" ]; then
        die "$dir already holds a cluster: stop it or use a new folder"
    fi
    # A failed start leaves nothing running.
    trap 'say "start failed: stopping what started"; stop "$dir"' EXIT
    local ports
    read -r -a ports <<<"$(free_ports 4)"
    pg_init "$dir" "${ports[0]}"
    garage_start "$dir" "${ports[1]}" "${ports[2]}" "${ports[3]}"
    trap - EXIT
    cat >"$dir/env" <<ENV
export KOHONEN_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:${ports[0]}/kohonen
export KOHONEN_TEST_STORE=s3://$BUCKET/test
export KOHONEN_TEST_DEPS_DIR=$dir
export AWS_ENDPOINT_URL=http://127.0.0.1:${ports[2]}
export AWS_ACCESS_KEY_ID=$KEY_ID
export AWS_SECRET_ACCESS_KEY=$KEY_SECRET
export AWS_REGION=garage
export AWS_ALLOW_HTTP=true
ENV
    say "ready: source $dir/env"
}

stop() {
    local dir=$1
    garage_stop "$dir"
    pg_stop "$dir"
}

[ $# -ge 1 ] || usage
command=$1
if [ "$command" = install-garage ]; then
    [ $# -eq 1 ] || usage
    install_garage
    exit 0
fi
[ $# -eq 2 ] || usage
mkdir -p "$2"
DIR=$(cd "$2" && pwd)
case "$command" in
start) start "$DIR" ;;
stop)
    find_postgres
    pg_user
    stop "$DIR"
    ;;
pg-stop)
    find_postgres
    pg_user
    pg_stop "$DIR"
    ;;
pg-start)
    find_postgres
    pg_user
    [ -f "$DIR/pg.port" ] || die "$DIR has no PostgreSQL: run start first"
    pg_start "$DIR"
    ;;
*) usage ;;
esac
